"""Issue 17 on the plugin's reload: items 4 (a long reload stopped the reads of
stdin), 7 and 8 (a bad rule or config value on SIGHUP killed the plugin) and
13 (a rule file caught half-written vanished). Class: every reload error
keeps the old state, and a reload never stops the plugin draining stdin.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import SEED
from harness.procs import stop_process, wait_for
from harness.records import exec_event
from test_daemon import MATCHES, Plugin, events, write_config


def _rule_file(path: Path, i: int) -> None:
    path.write_text(f"""[metadata]
maturity = "production"
[rule]
rule_id = "bulk-{i}"
name = "bulk rule {i}"
type = "eql"
language = "eql"
risk_score = 21
severity = "low"
query = '''
process where process.name == "prog{i}" and process.args : ("-x{i}", "*--y{i}*")
'''
""")
    path.chmod(0o644)


def _broken(what: str) -> Callable[[Path, Path], None]:
    """Writers of what a careless admin or a half-done copy leaves behind."""
    def write(rules: Path, config: Path) -> None:
        if what == "risk_score = inf":
            text = SEED.read_text().replace("risk_score = 21", "risk_score = inf")
            assert text != SEED.read_text()
            (rules / "inf.toml").write_text(text.replace(
                "41284ba3-ed1a-4598-bfba-a97f75d9aba2", "00000000-0000-4000-8000-0000000000aa"))
        elif what == "empty rule file":
            (rules / "copying.toml").write_text("")
        elif what == "FIFO":
            os.mkfifo(rules / "fifo.toml")
        elif what == "not UTF-8":
            (rules / "latin1.toml").write_bytes(b"# caf\xe9\n" + SEED.read_bytes())
        elif what == "remote = [1]":
            config.write_text(config.read_text() + "[output]\nremote = [1]\n")
        elif what == "event_timeout = 1e10":
            config.write_text(config.read_text().replace(
                "[plugin]\n", "[plugin]\nevent_timeout = 1e10\n"))
        for path in rules.iterdir():
            if path.is_file():
                path.chmod(0o644)
    return write


@pytest.mark.parametrize("what, logged", [
    ("risk_score = inf", "risk_score must be an integer from 0 to 100, not inf"),
    ("empty rule file", "empty rule file"),
    ("FIFO", "not a regular file (FIFO)"),
    ("not UTF-8", "not UTF-8 text"),
    ("remote = [1]", "expected [[output.remote]] tables"),
    ("event_timeout = 1e10", "event_timeout: must be a finite number from 1 to 86400"),
])
def test_sighup_with_a_bad_file_keeps_the_old_state_running(tmp_path: Path, what: str,
                                                            logged: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "seed.toml").write_text(SEED.read_text())
    (rules / "seed.toml").chmod(0o644)
    config = write_config(tmp_path, rules=rules)
    plugin = Plugin(tmp_path, config)
    try:
        plugin.wait_log("started: 1 rules loaded")
        _broken(what)(rules, config)
        plugin.proc.send_signal(signal.SIGHUP)
        refused = plugin.wait_log("reload failed, keeping the old")
        assert logged in refused, refused
        plugin.send(events(MATCHES[:1], 900))
        assert wait_for(lambda: len(plugin.alerts()) == 1, 15.0), plugin.alerts()
        assert plugin.proc.poll() is None
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


RULE_FILES = 3000
STALL_DEADLINE = 1.5   # seconds; the reload itself takes twice that or more


def test_a_long_reload_never_stops_the_reads_of_stdin(tmp_path: Path) -> None:
    """3000 rule files: the reload takes seconds (10 000 took 30 s, in the loop,
    auditd's queue overflowing meanwhile). Records come at a steady pace into a
    small socket buffer; no send may wait for the plugin longer than the
    deadline while the reload runs, and every record is read."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for i in range(RULE_FILES):
        _rule_file(rules / f"r{i:05d}.toml", i)
    (rules / "seed.toml").write_text(SEED.read_text())
    (rules / "seed.toml").chmod(0o644)
    plugin = Plugin(tmp_path, write_config(tmp_path, rules=rules))
    try:
        plugin.stdin.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        plugin.wait_log(f"started: {RULE_FILES + 1} rules loaded", timeout=300)
        sent = 0
        longest = 0.0

        def send_one() -> None:
            nonlocal sent, longest
            sent += 1
            data = b"".join(exec_event(sent, ["ls", "-l", str(sent)], "/bin/ls",
                                       pid=10_000 + sent))
            start = time.monotonic()
            plugin.send(data)
            longest = max(longest, time.monotonic() - start)

        plugin.proc.send_signal(signal.SIGHUP)
        reloaded = lambda: any("reloaded" in m for m in plugin.syslog_lines())  # noqa: E731
        deadline = time.monotonic() + 600
        while not reloaded() and time.monotonic() < deadline:
            send_one()
            time.sleep(0.002)          # ~400 execs/s, as a busy host
        assert reloaded(), plugin.syslog_lines()[-3:]
        assert longest < STALL_DEADLINE, f"stdin not read for {longest:.1f} s during a reload"
        assert sent > 200, "the reload was too quick to show anything"
        plugin.send(events(MATCHES[:1], sent + 1))   # the new rules run
        assert wait_for(lambda: len(plugin.alerts()) == 1, 30.0)
        assert plugin.close() == 0
        final = plugin.wait_log("end of input")
        assert int(re.search(r" events=(\d+)", final).group(1)) == sent + 1, final
    finally:
        stop_process(plugin.proc)

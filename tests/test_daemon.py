"""The plugin loop, run as the real program the way auditd runs it: empty
environment, stdin one end of a unix stream socketpair, signals ignored and
blocked. Records are the auditd string format (harness/records.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import ROOT, SEED
from harness.other_user import OtherUser
from harness.plugin_config import write_plugin_config
from harness.procs import stop_process, wait_for
from harness.records import exec_event


PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"
HOSTILE = "/run/evil\n<13>Jan  1 00:00:00 host forged: accepted\x1b[31m"

MATCHES = [  # (argv, exe) that the seed rule must alert on
    (["nc", "-U", "/run/app.sock"], "/usr/bin/nc.openbsd"),
    (["socat", "-", "UNIX-CLIENT:/var/run/docker.sock"], "/usr/bin/socat"),
    (["nc", "-U", HOSTILE], "/usr/bin/nc.openbsd"),
]
NEAR_MISSES = [
    (["nc", "-U", "/tmp/x"], "/usr/bin/nc.openbsd"),
    (["nc", "-U", "/var/run/libvirt/libvirt-sock"], "/usr/bin/nc.openbsd"),
    (["nc", "-l", "/run/app.sock"], "/usr/bin/nc.openbsd"),
    (["socat", "-", "UNIX-CONNECT:/run/x"], "/usr/bin/socat"),
    (["cat", "-U", "/run/x"], "/bin/cat"),
]


def write_config(tmp_path: Path, rules: str | Path = SEED, extra: str = "") -> Path:
    return write_plugin_config(tmp_path, [rules], tmp_path / "alerts.json",
                               syslog_socket=tmp_path / "log.sock", config_mode=0o644,
                               extra=extra)


def auditd_like_start() -> None:
    """What auditd 3.x does to a (restarted) plugin: all signals ignored, some blocked."""
    for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2,
                   signal.SIGINT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1,
                                              signal.SIGUSR2, signal.SIGCHLD, signal.SIGCONT})


class Plugin:
    def __init__(self, tmp_path: Path, config: Path, program: Path = PROGRAM) -> None:
        self.tmp_path = tmp_path
        self.syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.syslog.bind(str(tmp_path / "log.sock"))
        self.syslog.setblocking(False)
        self.messages: List[str] = []
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stdin = ours
        self.stderr_path = tmp_path / "plugin.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([str(program), "plugin", str(config)], env={},
                                         stdin=theirs, stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=auditd_like_start, cwd="/")
        theirs.close()
        self.alerts_path = tmp_path / "alerts.json"

    def send(self, data: bytes) -> None:
        self.stdin.sendall(data)

    def alerts(self) -> List[dict]:
        try:
            return [json.loads(line) for line in self.alerts_path.read_text().splitlines()]
        except FileNotFoundError:
            return []

    def syslog_lines(self) -> List[str]:
        while True:
            try:
                self.messages.append(self.syslog.recv(65536).decode())
            except BlockingIOError:
                return self.messages

    def wait_log(self, text: str, timeout: float = 15.0) -> str:
        if not wait_for(lambda: any(text in m for m in self.syslog_lines()), timeout):
            pytest.fail(f"no syslog message with {text!r}; got {self.syslog_lines()}\n"
                        f"stderr: {self.stderr_path.read_text()}")
        return next(m for m in self.messages if text in m)

    def close(self) -> int:
        """End of input, as when auditd goes away; the plugin's exit status."""
        self.stdin.close()
        try:
            return self.proc.wait(20)
        finally:
            stop_process(self.proc)


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Plugin]:
    running = Plugin(tmp_path, write_config(tmp_path))
    try:
        yield running
    finally:
        stop_process(running.proc)
        running.syslog.close()


def events(cases: list, first_serial: int) -> bytes:
    return b"".join(b"".join(exec_event(first_serial + i, argv, exe, pid=5000 + i))
                    for i, (argv, exe) in enumerate(cases))


def test_seed_alerts_only_on_matches_then_clean_exit_at_eof(plugin: Plugin) -> None:
    plugin.wait_log("started: 1 rules loaded")
    plugin.send(events(NEAR_MISSES + MATCHES, 100))
    assert plugin.close() == 0, plugin.stderr_path.read_text()
    alerts = plugin.alerts()
    assert [a["process"]["args"] for a in alerts] == [argv for argv, _ in MATCHES]
    assert {a["rule"]["uuid"] for a in alerts} == {"41284ba3-ed1a-4598-bfba-a97f75d9aba2"}
    assert alerts[2]["process"]["args"][2] == HOSTILE  # lossless, and one line in the file
    assert len(plugin.alerts_path.read_text().splitlines()) == 3
    syslog_alerts = [m for m in plugin.syslog_lines() if "rule_id=41284ba3" in m]
    assert len(syslog_alerts) == 3
    assert all(m.isprintable() for m in syslog_alerts)
    assert syslog_alerts[0].startswith(f"<{10 * 8 + 5}>")  # authpriv.notice: "low"
    end = plugin.wait_log("end of input")
    assert "alerts=3" in end and "rules=1" in end


def test_partial_lines_across_reads(plugin: Plugin) -> None:
    data = events(MATCHES[:1] + NEAR_MISSES[:1], 200) * 1
    for i in range(0, len(data), 7):  # bytes trickle in, lines split anywhere
        plugin.send(data[i:i + 7])
    assert plugin.close() == 0
    assert [a["process"]["args"] for a in plugin.alerts()] == [MATCHES[0][0]]


def test_event_without_eoe_is_aged_while_input_stays_open(plugin: Plugin) -> None:
    plugin.wait_log("started")
    argv, exe = MATCHES[0]
    plugin.send(b"".join(exec_event(300, argv, exe, eoe=False)))
    # No EOE and no later event: only the ageing clock can complete it.
    assert wait_for(lambda: len(plugin.alerts()) == 1, 15.0), plugin.stderr_path.read_text()
    assert plugin.proc.poll() is None
    assert plugin.close() == 0


def test_sigterm_evaluates_pending_and_exits_zero(plugin: Plugin) -> None:
    plugin.wait_log("started")
    argv, exe = MATCHES[1]
    plugin.send(b"".join(exec_event(400, argv, exe, eoe=False)))
    plugin.proc.send_signal(signal.SIGTERM)  # ignored+blocked by "auditd": must work anyway
    assert plugin.proc.wait(20) == 0
    assert [a["process"]["args"] for a in plugin.alerts()] == [argv]
    plugin.wait_log("stopping")


def test_bad_input_is_reported_and_processing_goes_on(plugin: Plugin) -> None:
    plugin.wait_log("started")
    plugin.send(b"this is not an audit record\n\x00\xff garbage \x1b[2J\n")
    plugin.send(events(MATCHES[:1], 500))
    assert plugin.close() == 0
    assert len(plugin.alerts()) == 1
    warning = plugin.wait_log("bad input (#1)")
    assert warning.isprintable()
    assert "parse_errors=2" in plugin.wait_log("end of input")


def test_sighup_reload_keeps_old_rules_when_new_ones_are_broken(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "seed.toml").write_text(SEED.read_text())
    config = write_config(tmp_path, rules=rules_dir)
    plugin = Plugin(tmp_path, config)
    try:
        plugin.wait_log("started: 1 rules loaded")
        broken = rules_dir / "broken.toml"
        broken.write_text('[rule]\nname = "x"\nquery = """process where (("""\n')
        plugin.proc.send_signal(signal.SIGHUP)
        refused = plugin.wait_log("reload failed, keeping the old rules")
        assert "broken.toml" in refused
        plugin.send(events(MATCHES[:1], 600))
        assert wait_for(lambda: len(plugin.alerts()) == 1, 15.0)
        # Fixed: the reload goes through; the config change (no file output) applies.
        broken.unlink()
        config.write_text(config.read_text().replace("enabled = true", "enabled = false"))
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_log("reloaded")
        plugin.send(events(MATCHES[:1], 700))
        assert wait_for(lambda: sum("rule_id=" in m for m in plugin.syslog_lines()) == 2, 15.0)
        assert len(plugin.alerts()) == 1  # the file output is gone after the reload
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


def test_rate_limit_collapses_a_burst(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra="[ratelimit]\nburst = 2\ninterval = 3600\n")
    plugin = Plugin(tmp_path, config)
    try:
        plugin.send(events(MATCHES[:1] * 10, 800))
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)
    alerts = plugin.alerts()
    assert [a.get("audisp_eql", {}).get("suppressed") for a in alerts] == [None, None, 8]


def test_rate_limit_summary_arrives_when_the_window_ends_without_a_new_alert(
        tmp_path: Path) -> None:
    """The suppressed count must not wait for the rule's next alert (which may
    never come) or for exit: the loop emits it once the window is over."""
    config = write_config(tmp_path, extra="[ratelimit]\nburst = 1\ninterval = 3\n")
    plugin = Plugin(tmp_path, config)
    try:
        # The near miss behind them lets auparse hand over the third match now
        # (it holds the newest event until another starts or input idles).
        plugin.send(events(MATCHES[:1] * 3 + NEAR_MISSES[:1], 850))
        assert wait_for(lambda: len(plugin.alerts()) == 2, 15.0), plugin.alerts()
        assert [a.get("audisp_eql", {}).get("suppressed") for a in plugin.alerts()] == [None, 2]
        assert sum("suppressed=2" in m for m in plugin.syslog_lines()) == 1
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


def test_sighup_with_a_config_syntax_error_keeps_running(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    plugin = Plugin(tmp_path, config)
    try:
        plugin.wait_log("started: 1 rules loaded")
        good = config.read_text()
        config.write_text(good + "[plugin\n")
        plugin.proc.send_signal(signal.SIGHUP)
        refused = plugin.wait_log("reload failed, keeping the old configuration")
        assert f"{config}:{len(good.splitlines()) + 1}: TOML syntax" in refused
        plugin.send(events(MATCHES[:1], 870))
        assert wait_for(lambda: len(plugin.alerts()) == 1, 15.0)
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


def test_sighup_reopens_outputs_even_when_the_reload_fails(tmp_path: Path) -> None:
    """logrotate's postrotate sends SIGHUP; a config being edited at that moment
    must not keep the plugin writing into the rotated file."""
    config = write_config(tmp_path)
    plugin = Plugin(tmp_path, config)
    try:
        plugin.send(events(MATCHES[:1], 880))
        assert wait_for(lambda: len(plugin.alerts()) == 1, 15.0)
        plugin.alerts_path.rename(tmp_path / "alerts.json.1")
        config.write_text(config.read_text() + "[plugin\n")
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_log("reload failed, keeping the old configuration")
        open_files = {os.readlink(fd) for fd in Path(f"/proc/{plugin.proc.pid}/fd").iterdir()}
        assert str(plugin.alerts_path) in open_files
        assert str(tmp_path / "alerts.json.1") not in open_files
        plugin.send(events(MATCHES[:1], 890))
        assert wait_for(lambda: len(plugin.alerts()) == 1, 15.0)
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


def test_bad_config_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra="[output.stdout]\nformat = \"yaml\"\n")
    result = subprocess.run([str(PROGRAM), "plugin", str(config)], env={}, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    line = config.read_text().splitlines().index('format = "yaml"') + 1
    assert f"{config}:{line}: output.stdout.format" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_privilege_drop_after_outputs_are_open(other_user: OtherUser) -> None:
    workdir = other_user.workdir("plugin")
    rules = workdir / SEED.name
    shutil.copy(SEED, rules)   # ../shared may be as unreachable for nobody as the checkout
    config = write_config(workdir, rules=rules)
    config.write_text(config.read_text().replace(
        "[plugin]\n", f"[plugin]\nuser = \"{other_user.name}\"\n"))
    plugin = Plugin(workdir, config, program=other_user.program)
    try:
        running = plugin.wait_log("running as uid")
        assert f"uid {other_user.uid}" in running
        status = Path(f"/proc/{plugin.proc.pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids == [str(other_user.uid)] * 4
        gids = next(line for line in status.splitlines() if line.startswith("Gid:")).split()[1:]
        assert gids == [str(other_user.gid)] * 4
        groups = next(line for line in status.splitlines() if line.startswith("Groups:"))
        assert groups.split()[1:] == []  # root's supplementary groups are gone too
        plugin.send(events(MATCHES[:1], 900))
        assert plugin.close() == 0
        assert len(plugin.alerts()) == 1  # written through the fd opened as root
    finally:
        stop_process(plugin.proc)


def test_started_line_cuts_a_long_rule_path_list() -> None:
    """One path per rule file (as the benchmark configures) must not make a
    start-up log line of tens of kilobytes."""
    from audisp_eql.daemon import _paths_text
    assert _paths_text(["/a", "/b"]) == "/a, /b"
    many = [f"/rules/{i}.toml" for i in range(204)]
    assert _paths_text(many) == "/rules/0.toml, /rules/1.toml, /rules/2.toml and 201 more paths"

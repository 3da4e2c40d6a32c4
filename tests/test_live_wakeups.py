"""The plugin loop's wake-ups (wakeups.py): gathering records after a small read
and sleeping until something is due give the same alerts as reading every
record as it comes (the plain path, limits.LIVE_GATHER_SECONDS = 0), and an
idle plugin has nothing due."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List

import pytest

from conftest import CORPUS, LOGS, ROOT, SEED
from harness.plugin_config import write_plugin_config
from harness.procs import stop_process
from harness.records import exec_event

from audisp_eql import limits, wakeups

# The plugin with its gathering switched off: every readable record is read at once.
PLAIN = ("import sys; from audisp_eql import limits; limits.LIVE_GATHER_SECONDS = 0; "
         "from audisp_eql.cli import main; sys.exit(main())")
GATHERED = "import sys; from audisp_eql.cli import main; sys.exit(main())"
VOLATILE = ("created",)          # event.created: when the alert was made


def _stable(alert: Any) -> Any:
    if isinstance(alert, dict):
        return {k: _stable(v) for k, v in alert.items() if k not in VOLATILE}
    if isinstance(alert, list):
        return [_stable(v) for v in alert]
    return alert


def _records() -> List[bytes]:
    """A real host's log (every kind of event) and the seed rule's matches, one
    record per line, as auditd writes them to a plugin."""
    lines = (LOGS / "debian12-auditd" / "accounts-logins-files-network.log").read_bytes() \
        .splitlines(keepends=True)
    serial = 900000
    for argv, exe in [(["nc", "-U", "/run/app.sock"], "/usr/bin/nc.openbsd"),
                      (["socat", "-", "UNIX-CLIENT:/var/run/docker.sock"], "/usr/bin/socat")]:
        serial += 1
        lines += exec_event(serial, argv, exe, sec=1800000000)
    return lines


def _run(tmp_path: Path, program: str, records: List[bytes]) -> List[Any]:
    """The plugin as auditd runs it (a unix stream socket on stdin), fed one
    record per send with a pause now and then (a quiet host's stream), to EOF."""
    tmp_path.mkdir()
    alerts = tmp_path / "alerts.jsonl"
    config = write_plugin_config(tmp_path, [SEED, CORPUS, ROOT / "rules"], alerts, burst=0,
                                 parent_from_proc=False)
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-c", program, "plugin", str(config)],
                            stdin=theirs, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "stderr", "wb"), cwd=ROOT)
    theirs.close()
    try:
        for i, record in enumerate(records):
            ours.sendall(record)
            if i % 97 == 0:
                time.sleep(0.01)
        ours.close()
        assert proc.wait(timeout=300) == 0, (tmp_path / "stderr").read_text()
    finally:
        ours.close()
        stop_process(proc, timeout=10)
    return sorted((_stable(json.loads(line)) for line in alerts.read_text().splitlines()),
                  key=lambda a: json.dumps(a, sort_keys=True))


def test_gathered_reads_give_the_alerts_of_the_plain_path(tmp_path: Path) -> None:
    records = _records()
    plain = _run(tmp_path / "plain", PLAIN, records)
    gathered = _run(tmp_path / "gathered", GATHERED, records)
    assert len(plain) >= 2      # the seed's matches at least
    assert gathered == plain


def test_gather_reads_at_once_when_enough_is_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: List[float] = []
    monkeypatch.setattr(wakeups.time, "sleep", sleeps.append)
    ours, theirs = socket.socketpair()
    try:
        ours.sendall(b"x" * limits.LIVE_GATHER_BYTES)
        wakeups.gather(theirs.fileno(), lambda: False)
        assert sleeps == []
        theirs.recv(1 << 20)
        ours.sendall(b"type=EOE msg=audit(1.000:1): \n")
        wakeups.gather(theirs.fileno(), lambda: False)
        steps = int(limits.LIVE_GATHER_SECONDS / limits.LIVE_GATHER_STEP_SECONDS)
        assert sleeps == [limits.LIVE_GATHER_STEP_SECONDS] * steps
        sleeps.clear()
        wakeups.gather(theirs.fileno(), lambda: True)     # a signal came: read now
        assert sleeps == []
    finally:
        ours.close()
        theirs.close()


def test_queued_bytes_of_a_pipe_and_of_what_cannot_say(tmp_path: Path) -> None:
    r, w = os.pipe()
    try:
        os.write(w, b"abc")
        assert wakeups.queued_bytes(r) == 3
    finally:
        os.close(r)
        os.close(w)
    with open(os.devnull, "rb") as f:
        assert wakeups.queued_bytes(f.fileno()) is None     # gather then reads at once


def test_timeout_is_the_earliest_due_time_or_none() -> None:
    assert wakeups.timeout([None, None], 100.0) is None
    assert wakeups.timeout([None, 103.0, 101.5], 100.0) == 1.5
    assert wakeups.timeout([99.0], 100.0) == 0.0


class _Output:
    def __init__(self, held: int, retry_at: Any = None) -> None:
        self.held = held
        if retry_at is not None:
            self.retry_at = retry_at

    def pending(self) -> int:
        return self.held


def test_an_output_is_due_only_while_it_holds_messages() -> None:
    assert wakeups.output_due(_Output(0, 150.0), 100.0) is None
    assert wakeups.output_due(_Output(2, 150.0), 100.0) == 150.0     # its back-off
    assert wakeups.output_due(_Output(2, 0.0), 100.0) == 100.0       # retry now
    assert wakeups.output_due(_Output(2), 100.0) == 100.0 + wakeups.TICK_SECONDS


def test_an_idle_plugin_has_nothing_due_and_a_pending_event_is(tmp_path: Path) -> None:
    from audisp_eql.config import load_config
    from audisp_eql.daemon import Plugin
    from audisp_eql.diagnostics import Diagnostics

    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.bind(str(tmp_path / "log.sock"))
    try:
        config = write_plugin_config(tmp_path, [SEED], tmp_path / "alerts.jsonl",
                                     syslog_socket=tmp_path / "log.sock", burst=0)
        cfg = load_config(str(config))
        diag = Diagnostics(cfg.syslog.socket, cfg.log_facility, cfg.syslog.tag)
        plugin = Plugin(cfg, diag)
        try:
            assert [t for t in plugin.due(100.0) if t is not None] == []
            plugin.pipeline.feed(b"".join(exec_event(1, ["true"], "/bin/true", eoe=False)))
            assert min(t for t in plugin.due(100.0) if t is not None) == \
                100.0 + wakeups.TICK_SECONDS
            plugin.pipeline.flush()
            assert [t for t in plugin.due(100.0) if t is not None] == []
        finally:
            plugin.sink.close()
            diag.close()
    finally:
        log.close()

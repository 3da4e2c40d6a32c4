"""Faults around a running plugin process: its outputs fail, its syslog daemon goes
away, its rule directory breaks. It must report, keep reading stdin, count what
it loses, and resume by itself.

Real parts only: the plugin is the installed program on a unix socketpair stdin;
the disk is a tmpfs mounted here (256 kB, unmounted in a finally); syslog is a
private rsyslogd (tests/harness) stopped and restarted by PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator, List, Sequence

import pytest

from conftest import ROOT
from fuzz.catchall import write_catchall
from harness.logsocket import DatagramLog
from harness.plugin_config import dropin_text, write_plugin_config
from harness.procs import stop_process, wait_for
from harness.records import exec_event
from harness.rsyslogd import running_rsyslogd

PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"


class RunningPlugin:
    """`audisp-eql plugin CONFIG` with stdin a socketpair, stderr to a file;
    `wrapper` runs it through a command that execs it (same PID), e.g. unshare."""

    def __init__(self, workdir: Path, config: Path, program: Path = PROGRAM, *,
                 wrapper: Sequence[str] = ()) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stdin = ours
        self.stderr_path = workdir / "plugin.stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([*wrapper, str(program), "plugin", str(config)], env={},
                                         stdin=theirs, stdout=subprocess.DEVNULL, stderr=err,
                                         cwd="/")
        theirs.close()
        self.serial = 1000

    def send_execs(self, count: int, arg: str = "x") -> None:
        data = b""
        for _ in range(count):
            self.serial += 1
            data += b"".join(exec_event(self.serial, ["sh", "-c", f"{arg} {self.serial}"],
                                        "/bin/sh", pid=self.serial))
        self.stdin.sendall(data)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_stderr(self, text: str, timeout: float = 15.0) -> None:
        if not wait_for(lambda: text in self.stderr(), timeout):
            pytest.fail(f"plugin stderr never said {text!r}:\n{self.stderr()}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> int:
        self.stdin.close()
        try:
            return self.proc.wait(30)
        finally:
            stop_process(self.proc)


def plugin_config(workdir: Path, rules: Path, syslog_socket: Path | None, alerts: Path,
                  extra: str = "") -> Path:
    """Syslog output to `syslog_socket` (None: disabled) and a JSON-lines file."""
    return write_plugin_config(workdir, [rules], alerts, syslog_socket=syslog_socket,
                               syslog_format="json", burst=0, parent_from_proc=False,
                               file_mode="0600", extra=extra)


def alert_args(path: Path) -> List[str]:
    """The distinguishing argument of every alert in a JSON-lines file; every line must parse."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line)["process"]["args"][2] for line in lines]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir(mode=0o755)
    write_catchall(directory)
    return directory


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs",
                             str(mount_point)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_is_reported_reading_continues_output_resumes(
        tmp_path: Path, rules_dir: Path, small_disk: Path) -> None:
    alerts = small_disk / "alerts.json"
    filler = small_disk / "filler"
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, None,
                                                   alerts))
    try:
        plugin.wait_stderr("started")
        plugin.send_execs(3, "before")
        assert wait_for(lambda: len(alert_args(alerts)) == 3, 15.0), plugin.stderr()
        # Fill the disk: the next alerts cannot be written.
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        plugin.send_execs(20, "while-full")
        # The plugin is still reading: a status request is answered, naming the error.
        assert wait_for(lambda: "while-full" not in "".join(alert_args(alerts)) and
                        plugin.alive(), 2.0)
        plugin.proc.send_signal(signal.SIGUSR1)
        plugin.wait_stderr(f"output error: {alerts}")
        assert "No space left on device" in plugin.stderr() or "short write" in plugin.stderr()
        assert plugin.alive()
        filler.unlink()
        plugin.send_execs(3, "after")
        assert wait_for(lambda: sum(a.startswith("after") for a in alert_args(alerts)) == 3,
                        15.0), plugin.stderr()
        assert plugin.close() == 0
        # Nothing half-written: every line parses (alert_args), and the loss is counted.
        written = alert_args(alerts)
        lost = 20 - sum(a.startswith("while-full") for a in written)
        assert lost > 0
        assert f"dropped={lost}" in plugin.stderr().rsplit("end of input", 1)[1], plugin.stderr()
    finally:
        stop_process(plugin.proc)


def test_removed_output_file_is_recreated(tmp_path: Path, rules_dir: Path) -> None:
    alerts = tmp_path / "out" / "alerts.json"
    alerts.parent.mkdir()
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, None,
                                                   alerts))
    try:
        plugin.wait_stderr("started")
        plugin.send_execs(2, "first")
        assert wait_for(lambda: len(alert_args(alerts)) == 2, 15.0), plugin.stderr()
        alerts.unlink()
        # The file output notices within about a second; keep sending until it has.
        assert wait_for(lambda: (plugin.send_execs(1, "second"), alerts.exists())[1], 15.0,
                        interval=0.3), plugin.stderr()
        assert plugin.close() == 0
        assert all(a.startswith("second") for a in alert_args(alerts))
        assert oct(alerts.stat().st_mode & 0o777) == oct(0o600)
    finally:
        stop_process(plugin.proc)


def test_syslog_daemon_down_and_restarted(tmp_path: Path, rules_dir: Path) -> None:
    """rsyslogd stops while alerts keep coming: the plugin keeps reading (the file
    output shows it), buffers for syslog, and delivers when rsyslogd is back."""
    alerts = tmp_path / "alerts.json"
    with running_rsyslogd(tmp_path) as rs:
        plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, rs.socket_path,
                                                       alerts))
        try:
            plugin.wait_stderr("started")
            plugin.send_execs(2, "up")
            rs.wait_for_lines("local", lambda lines: sum('"up ' in l for l in lines) == 2)
            stop_process(rs.proc)
            plugin.send_execs(5, "down")
            assert wait_for(lambda: sum(a.startswith("down") for a in alert_args(alerts)) == 5,
                            15.0), plugin.stderr()
            assert plugin.alive()
        except BaseException:
            stop_process(plugin.proc)
            raise
    # Same directory, same socket path: a restarted system rsyslogd.
    with running_rsyslogd(tmp_path) as rs:
        try:
            lines = rs.wait_for_lines("local", lambda ls: sum('"down ' in l for l in ls) == 5,
                                      timeout=60.0)
            plugin.send_execs(2, "back")
            lines = rs.wait_for_lines("local", lambda ls: sum('"back ' in l for l in ls) == 2)
            assert plugin.close() == 0
            final = plugin.stderr().rsplit("end of input", 1)[1]
            assert "dropped=0" in final, plugin.stderr()
            assert len([l for l in lines if "Any process start" in l]) == 9
        finally:
            stop_process(plugin.proc)


def test_sighup_with_untrusted_rule_file_keeps_rules(tmp_path: Path, rules_dir: Path) -> None:
    """SIGHUP after someone made a rule world-writable: refused, old rules kept."""
    alerts = tmp_path / "alerts.json"
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, None,
                                                   alerts))
    try:
        plugin.wait_stderr("started: 1 rules loaded")
        (rules_dir / "catchall.toml").chmod(0o666)
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_stderr("reload failed")
        assert "refusing to load: world-writable" in plugin.stderr(), plugin.stderr()
        plugin.send_execs(1, "still")
        assert wait_for(lambda: alert_args(alerts) == [f"still {plugin.serial}"], 15.0), \
            plugin.stderr()
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


def _signal_mask(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _children(pid: int) -> List[int]:
    """Processes whose parent is `pid` (the plugins of the auditd we started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_plugin_killed_and_restarted_by_auditd(tmp_path: Path, rules_dir: Path) -> None:
    """SIGKILL the plugin under a real auditd: auditd restarts it; the new one has
    its signals deliverable, alerts again, and repeats no alert of the old one."""
    from harness.auditd import EXEC_RULES, running_auditd
    marker = f"h6-restart-{os.getpid()}"
    alerts = tmp_path / "alerts.json"
    log = DatagramLog(tmp_path / "log.sock")
    syslog = log.text

    config = plugin_config(tmp_path, rules_dir, tmp_path / "log.sock", alerts)
    config.chmod(0o644)
    dropin = dropin_text(PROGRAM, config)

    def ours() -> List[str]:
        found = []
        for line in alerts.read_text().splitlines() if alerts.exists() else []:
            args = json.loads(line)["process"].get("args", [])
            found += [a for a in args if a.startswith(marker)]
        return found

    def run_marked(n: int) -> None:
        subprocess.run(["/bin/sh", "-c", f"true {marker}-{n}", f"{marker}-{n}"], timeout=20)

    try:
        with running_auditd(tmp_path, plugins={"audisp-eql": dropin}) as ad:
            assert wait_for(lambda: syslog().count("started:") == 1, 30), ad.stderr_text()
            ad.add_rules(EXEC_RULES)
            run_marked(1)
            assert wait_for(lambda: f"{marker}-1" in ours(), 20), syslog()
            [first] = _children(ad.pid)
            os.kill(first, signal.SIGKILL)   # auditd's child, started by the auditd we started

            def restarted() -> bool:
                # auditd notices a dead plugin when it next writes to it: keep
                # events coming (on an idle machine nothing else would).
                run_marked(2)
                return syslog().count("started:") == 2
            assert wait_for(restarted, 30), ad.stderr_text()
            [second] = _children(ad.pid)
            assert second != first
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
                bit = 1 << (sig - 1)
                assert not _signal_mask(second, "SigBlk") & bit, f"{sig!r} blocked"
                assert not _signal_mask(second, "SigIgn") & bit, f"{sig!r} ignored"
            assert _signal_mask(second, "SigCgt") & (1 << (signal.SIGHUP - 1))
            run_marked(3)
            assert wait_for(lambda: f"{marker}-3" in ours(), 20), syslog()
            assert ad.stop() == 0
        found = ours()
        assert found.count(f"{marker}-1") == 1, found   # not replayed by the new plugin
        assert found.count(f"{marker}-3") == 1, found
    finally:
        log.close()


def test_alerts_still_queued_at_exit_are_reported_lost(tmp_path: Path, rules_dir: Path) -> None:
    """Syslog never came up: what is still queued when input ends is lost, and said so."""
    alerts = tmp_path / "alerts.json"
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, tmp_path / "absent.sock",
                                                   alerts))
    try:
        plugin.wait_stderr("started")
        plugin.send_execs(3, "queued")
        assert wait_for(lambda: len(alert_args(alerts)) == 3, 15.0), plugin.stderr()
        assert plugin.close() == 0
        tail = plugin.stderr().rsplit("end of input", 1)[1]
        assert "3 alert(s) could not be delivered" in tail, plugin.stderr()
        assert "absent.sock" in tail
    finally:
        stop_process(plugin.proc)

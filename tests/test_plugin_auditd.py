"""The plugin under a real auditd (foreground, private config dir), with real
program starts and a real rsyslogd: the seed rule's alerts, and only those,
reach the JSON file and syslog; SIGHUP reloads; stopping auditd ends the
plugin cleanly. The kernel's audit state is restored whatever happens."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import ROOT, SEED
from harness.plugin_config import dropin_text, write_exceptions, write_plugin_config
from harness.auditd import EXEC_RULES, running_auditd, unavailable_reason
from harness.procs import wait_for
from harness.rsyslogd import running_rsyslogd


PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"
SEED_ID = "41284ba3-ed1a-4598-bfba-a97f75d9aba2"


@pytest.fixture
def run_socket() -> Iterator[Path]:
    """A listening unix socket under /run that accepts and hangs up."""
    path = Path(f"/run/audisp-eql-test-{os.getpid()}.sock")
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join(5)
        server.close()
        path.unlink(missing_ok=True)


def run(argv: List[str]) -> None:
    # The exit status does not matter (near misses connect to nothing); the exec does.
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=20)


def alerts(path: Path) -> List[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return []


@pytest.mark.skipif(unavailable_reason(False) is not None, reason=str(unavailable_reason(False)))
def test_seed_rule_alerts_under_real_auditd(tmp_path: Path, run_socket: Path) -> None:
    if not (Path("/usr/bin/nc").exists() and Path("/usr/bin/socat").exists()):
        pytest.skip("nc and socat are needed (tools/bootstrap.sh installs them)")
    marker = run_socket.stem  # unique to this run: ignore other activity on the host
    alerts_path = tmp_path / "alerts.json"
    with running_rsyslogd(tmp_path) as rs:
        config = write_plugin_config(tmp_path, [SEED], alerts_path,
                                     syslog_socket=rs.socket_path, config_mode=0o644)
        dropin = dropin_text(PROGRAM, config)
        with running_auditd(tmp_path, plugins={"audisp-eql": dropin}) as ad:
            rs.wait_for_lines("local", lambda ls: any("started: 1 rules" in x for x in ls), 30)
            ad.add_rules(EXEC_RULES)

            matches = [["nc", "-U", str(run_socket)],
                       ["socat", "-", f"UNIX-CLIENT:{run_socket}"]]
            near_misses = [["nc", "-U", f"/tmp/{marker}"],
                           ["nc", "-U", "/var/run/libvirt/libvirt-sock", marker],
                           ["socat", "-", f"UNIX-CLIENT:/tmp/{marker}"],
                           ["ls", "-U", str(run_socket)]]
            for argv in near_misses + matches:
                run(argv)

            def ours() -> List[List[str]]:
                return [a["process"]["args"] for a in alerts(alerts_path)
                        if any(marker in arg for arg in a["process"]["args"])]

            assert wait_for(lambda: len(ours()) >= 2, 20), (ours(), ad.stderr_text())
            assert sorted(ours()) == sorted(matches)
            for alert in alerts(alerts_path):
                if marker in json.dumps(alert):
                    assert alert["rule"]["uuid"] == SEED_ID
                    assert alert["process"]["name"] in ("nc", "nc.openbsd", "socat")
                    assert alert["process"]["pid"] > 0 and alert["event"]["id"]
                    # The test auditd keeps Debian's name_format = NONE: no node=, so
                    # the alert names this machine itself.
                    assert alert["host"]["name"] == socket.gethostname()
                    assert alert["host"]["id"] == Path("/etc/machine-id").read_text().strip()
                    assert alert["host"]["os"]["type"] == "linux"

            lines = rs.wait_for_lines(
                "local", lambda ls: sum(marker in x and "rule_id=" in x for x in ls) >= 2)
            syslog_alerts = [x for x in lines if marker in x and "rule_id=" in x]
            assert len(syslog_alerts) == 2
            assert all(x.startswith(f"{10 * 8 + 5}|audisp-eql|") for x in syslog_alerts)

            # auditd forwards SIGHUP to its plugins: a reload, then still alerting.
            os.kill(ad.pid, signal.SIGHUP)
            rs.wait_for_lines("local", lambda ls: any("reloaded" in x for x in ls), 20)
            run(["nc", "-U", str(run_socket)])
            assert wait_for(lambda: len(ours()) >= 3, 20), ours()

            plugin_pids = ad.children()
            assert plugin_pids, "auditd has no plugin child"
            assert ad.stop() == 0
        # Stopping auditd ended the plugin cleanly, with its last status line.
        final = rs.wait_for_lines("local", lambda ls: any("stopping;" in x or "end of input;" in x
                                                          for x in ls), 20)
        assert any("rules=1" in x for x in final if "status:" in x)
        # The status line is logged on the way out; exiting takes a moment more
        # (closing outputs, interpreter shutdown), longer on a loaded machine.
        def plugin_running(pid: int) -> bool:
            try:
                return "audisp-eql" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
            except OSError:
                return False
        assert wait_for(lambda: not any(plugin_running(pid) for pid in plugin_pids), 20), \
            [pid for pid in plugin_pids if plugin_running(pid)]
    assert sorted(ours()) == sorted(matches + [matches[0]])


@pytest.mark.skipif(unavailable_reason(False) is not None, reason=str(unavailable_reason(False)))
def test_exception_suppresses_a_real_alert_and_the_status_line_counts_it(
        tmp_path: Path, run_socket: Path) -> None:
    """Under a real auditd: of two real program starts the seed rule alerts on,
    the one an exception covers never becomes an alert, and SIGUSR1's status
    line counts it for that exception."""
    if not (Path("/usr/bin/nc").exists() and Path("/usr/bin/socat").exists()):
        pytest.skip("nc and socat are needed (tools/bootstrap.sh installs them)")
    marker = run_socket.stem
    alerts_path = tmp_path / "alerts.json"
    exceptions = tmp_path / "exceptions.d"
    exceptions.mkdir(mode=0o755)
    write_exceptions(exceptions / "local.toml",
                     '[[exception]]\nname = "the deploy job uses nc"\n'
                     f'rule_ids = ["{SEED_ID}"]\nentries = [\n'
                     '  { field = "process.name", operator = "matches", value = "nc*" },\n'
                     f'  {{ field = "process.args", operator = "is", value = "{run_socket}" }},\n'
                     ']\n')
    with running_rsyslogd(tmp_path) as rs:
        config = write_plugin_config(tmp_path, [SEED], alerts_path, exceptions=[exceptions],
                                     syslog_socket=rs.socket_path, config_mode=0o644)
        with running_auditd(tmp_path, plugins={"audisp-eql": dropin_text(PROGRAM, config)}) as ad:
            rs.wait_for_lines("local", lambda ls: any("started: 1 rules loaded, 1 exceptions"
                                                      in x for x in ls), 30)
            ad.add_rules(EXEC_RULES)
            run(["nc", "-U", str(run_socket)])                     # covered by the exception
            run(["socat", "-", f"UNIX-CLIENT:{run_socket}"])       # alerts

            def ours() -> List[dict]:
                return [a for a in alerts(alerts_path)
                        if any(marker in arg for arg in a["process"]["args"])]

            assert wait_for(lambda: len(ours()) >= 1, 20), ad.stderr_text()
            [plugin_pid] = ad.children()
            os.kill(plugin_pid, signal.SIGUSR1)
            lines = rs.wait_for_lines("local", lambda ls: any(
                "status:" in x and "by_exception=local.toml:1:1" in x for x in ls), 20)
            status = next(x for x in lines if "by_exception=local.toml:1:1" in x)
            assert "excepted=1" in status
            assert ad.stop() == 0
    assert [a["process"]["name"] for a in ours()] == ["socat"]

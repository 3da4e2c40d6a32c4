"""The plugin program with a remote syslog output over TLS to a real rsyslogd:
a refused certificate in the plugin's own log, alerts queued (bounded) and
counted; mutual TLS after a privilege drop, across a collector restart."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness.certs import Ca, make_ca
from harness.procs import stop_process, wait_for
from harness.plugin_config import write_plugin_config
from harness.rsyslogd import running_rsyslogd
from test_faults import RunningPlugin, alert_args, rules_dir  # noqa: F401 - a fixture
from test_syslog_tls import ca, server_tls  # noqa: F401 - a fixture


def tls_plugin_config(workdir: Path, rules: Path, alerts: Path, port: int, remote: str,
                      plugin: str = "") -> Path:
    """Stderr diagnostics only (no syslog), the alert file, and one TLS remote."""
    return write_plugin_config(workdir, [rules], alerts, burst=0, parent_from_proc=False,
                               file_mode="0600", plugin_extra=plugin, extra=f"""
[[output.remote]]
host = "127.0.0.1"
port = {port}
protocol = "tls"
format = "json"
{remote}
""")


def test_refused_server_certificate_is_logged_and_alerts_queue_bounded(
        tmp_path: Path, rules_dir: Path, ca: Ca) -> None:  # noqa: F811
    other = make_ca(tmp_path / "other-pki", "other CA")
    alerts = tmp_path / "alerts.json"
    with running_rsyslogd(tmp_path, tls=server_tls(ca, signer=other)) as rs:
        config = tls_plugin_config(tmp_path, rules_dir, alerts, rs.tls_port,
                                   f'ca_file = "{ca.cert}"\nserver_name = "syslog.test"',
                                   plugin="queue_size = 4")
        plugin = RunningPlugin(tmp_path, config)
        try:
            plugin.wait_stderr("started")
            plugin.send_execs(6, "queued")
            # Input is read and the file output flows while the remote is refused.
            assert wait_for(lambda: len(alert_args(alerts)) == 6, 15.0), plugin.stderr()
            remote = f"tls://127.0.0.1:{rs.tls_port} (server name syslog.test)"
            refusal = (f"{remote}: connect: TLS handshake failed: certificate verify failed: "
                       "unable to get local issuer certificate")
            plugin.wait_stderr(f"{refusal}; alerts wait in the queue")
            # Retried with a back-off, said once.
            assert wait_for(lambda: plugin.stderr().count("certificate verify failed") == 1
                            and plugin.alive(), 2.0)
            plugin.proc.send_signal(signal.SIGUSR1)
            plugin.wait_stderr("queued: remote=4")
            status = plugin.stderr().rsplit("status:", 1)[1]
            assert "remote=0/2" in status and "file=6/0" in status, status
            plugin.wait_stderr(f"output error: {refusal}")
            assert plugin.close() == 0
            tail = plugin.stderr().rsplit("end of input", 1)[1]
            assert f"4 alert(s) could not be delivered before exit: {refusal}" in tail, tail
            assert not any("audisp-eql" in line for line in rs.lines("tls"))
        finally:
            stop_process(plugin.proc)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_mutual_tls_after_privilege_drop_survives_a_collector_restart(
        tmp_path: Path, rules_dir: Path, ca: Ca) -> None:  # noqa: F811
    """The client key is root's (mode 0600): loaded before the drop to nobody,
    it still serves the reconnect after rsyslogd restarts; nothing is lost."""
    client = ca.issue("client", dns=["client.test"], client=True)
    assert (client.key.stat().st_uid, client.key.stat().st_mode & 0o777) == (0, 0o600)
    tls = server_tls(ca, mutual=True)
    alerts = tmp_path / "alerts.json"
    with running_rsyslogd(tmp_path / "one", tls=tls) as rs:
        port = rs.tls_port
        config = tls_plugin_config(
            tmp_path, rules_dir, alerts, port,
            f'ca_file = "{ca.cert}"\ncert_file = "{client.cert}"\nkey_file = "{client.key}"\n'
            'server_name = "syslog.test"', plugin='user = "nobody"')
        plugin = RunningPlugin(tmp_path, config)
        try:
            plugin.wait_stderr("running as uid 65534")
            plugin.send_execs(2, "up")
            rs.wait_for_lines("tls", lambda ls: sum('"up ' in x for x in ls) == 2)
        except BaseException:
            stop_process(plugin.proc)
            raise
    try:
        plugin.send_execs(3, "down")
        assert wait_for(lambda: len(alert_args(alerts)) == 5, 15.0), plugin.stderr()
        plugin.wait_stderr(f"tls://127.0.0.1:{port} (server name syslog.test): ")
        # Every thread dropped root, the remote output's sender (which reconnects) too.
        tasks = sorted(Path(f"/proc/{plugin.proc.pid}/task").iterdir())
        assert len(tasks) >= 2, tasks
        for task in tasks:
            uid_line = next(line for line in (task / "status").read_text().splitlines()
                            if line.startswith("Uid:"))
            assert uid_line.split()[1:] == ["65534"] * 4, (task, uid_line)
        with running_rsyslogd(tmp_path / "two", tls=tls, tls_port=port) as rs:
            plugin.proc.send_signal(signal.SIGUSR2)   # reconnect now, not after the back-off
            rs.wait_for_lines("tls", lambda ls: sum('"down ' in x for x in ls) == 3, timeout=40)
            plugin.send_execs(1, "back")
            lines = rs.wait_for_lines("tls", lambda ls: sum('"back ' in x for x in ls) == 1)
            plugin.wait_stderr("delivering again after")
            assert plugin.close() == 0
        final = plugin.stderr().rsplit("end of input", 1)[1]
        assert "dropped=0" in final and "remote=6/0" in final, plugin.stderr()
        assert sum('"down ' in x for x in lines) == 3
    finally:
        stop_process(plugin.proc)

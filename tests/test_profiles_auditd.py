"""Under a real auditd with every profile of conf/profiles/ loaded, real
commands (a cron file dropped, renamed, removed; curl to the kubelet port on
127.0.0.1 and to a local web server; a unix socket; a module load attempt;
a real-time signal; an environment that disables shell history; new ids and
a session) become the ECS documents and the alerts of Elastic's rules.

The plugin runs as auditd starts it, with the corpus and our rule pack; the
commands run under their own audit login uid so that this machine's other
jobs never count. Documents are checked on the records auditd wrote, alerts
on the plugin's alert file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import CORPUS, ROOT
from harness.auditd import auditctl, running_auditd, unavailable_reason
from harness.pipelines import documents_of
from harness.plugin_config import dropin_text, write_plugin_config
from harness.procs import wait_for
from harness.profiles import (LOGIN_UID, events_of_login_uid, keep_login_uid, profile_rules,
                              records_written)

PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"
RULES = {
    "Cron Job Created or Modified": "linux/persistence_cron_job_creation.toml",
    "Kubelet API Connection Attempt to Internal IP":
        "linux/lateral_movement_kubelet_api_connection_attempt_internal_ip.toml",
    "Kernel Driver Load": "linux/persistence_kernel_driver_load.toml",
    "Unusual Kill Signal": "linux/defense_evasion_unsual_kill_signal.toml",
    "Shell History Clearing via Environment Variables":
        "linux/defense_evasion_shell_history_clearing_via_environment_variables.toml",
}
SEED_RULE = ROOT / "rules" / "execution_unix_socket_client.toml"


def _run(argv: List[str], input: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=input, capture_output=True, timeout=30,
                          preexec_fn=keep_login_uid)


def _alerts(path: Path) -> List[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return []


def _ours(path: Path) -> List[dict]:
    return [a for a in _alerts(path) if a.get("user", {}).get("audit", {}).get("id") ==
            str(LOGIN_UID)]


@pytest.fixture
def cron_dir() -> Iterator[Path]:
    """/etc/cron.d, made for the test (and removed again) where cron is not installed."""
    path = Path("/etc/cron.d")
    made = not path.is_dir()
    if made:
        path.mkdir(mode=0o755)
    try:
        yield path
    finally:
        if made:
            shutil.rmtree(path, ignore_errors=True)


def _rule_files(tmp_path: Path) -> Path:
    """The corpus rules the test expects, and our pack's unix socket rule."""
    directory = tmp_path / "rules"
    directory.mkdir()
    for relative in RULES.values():
        shutil.copy(CORPUS / "rules" / relative, directory / Path(relative).name)
    shutil.copy(SEED_RULE, directory / SEED_RULE.name)
    return directory


@pytest.mark.skipif(unavailable_reason(False) is not None, reason=str(unavailable_reason(False)))
def test_real_commands_become_documents_and_corpus_alerts(tmp_path: Path, cron_dir: Path,
                                                          shared: Path) -> None:
    for tool in ("curl", "nc", "socat", "insmod", "setpriv", "setsid"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is needed (tools/bootstrap.sh installs it)")
    marker = f"aeql-{os.getpid()}"
    job = cron_dir / marker
    alerts_path = tmp_path / "alerts.json"
    config = write_plugin_config(tmp_path, [_rule_files(tmp_path)], alerts_path,
                                 config_mode=0o644, plugin_extra="already_running = false")
    with running_auditd(tmp_path, plugins={"audisp-eql": dropin_text(PROGRAM, config)}) as ad:
        for rule in profile_rules():
            auditctl(*rule.split())
        sock = tmp_path / "ctl.sock"
        listener = subprocess.Popen(["socat", f"UNIX-LISTEN:{sock},fork", "/dev/null"],
                                    preexec_fn=keep_login_uid)
        port = _free_port()
        server = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1",
                                   str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, preexec_fn=keep_login_uid)
        history = None
        try:
            # The plugin is up once the unix socket client's exec alerts (rules loaded).
            assert wait_for(lambda: sock.exists(), 10)
            _run(["nc", "-N", "-U", str(sock)], input=b"hi\n")
            assert wait_for(lambda: any(a["rule"]["name"].startswith("Local Unix Socket")
                                        for a in _ours(alerts_path)), 60), ad.stderr_text()
            # Files: a cron job dropped, renamed, removed.
            _run(["bash", "-c", f"echo '* * * * * root true' > {job}"])
            _run(["mv", str(job), f"{job}.2"])
            _run(["rm", "-f", f"{job}.2"])
            # Network: the kubelet port on this host (refused), a local web server.
            _run(["curl", "-s", "-m", "5", "http://127.0.0.1:10250/pods"])
            assert wait_for(lambda: _run(["curl", "-s", "-m", "5", "-o", "/dev/null",
                                          f"http://127.0.0.1:{port}/"]).returncode == 0, 20)
            # A module load attempt (not a module: refused, still audited).
            (tmp_path / "aeql_bogus.ko").write_bytes(b"\0" * 256)
            _run(["insmod", str(tmp_path / "aeql_bogus.ko")])
            # An environment that turns shell history off; alive while the plugin reads it.
            history = subprocess.Popen(["sleep", "60"], preexec_fn=keep_login_uid,
                                       env={"PATH": "/usr/bin:/bin", "HISTFILE": "/dev/null"})
            # A real-time signal, new user and group ids, a new session.
            victim = subprocess.Popen(["sleep", "60"], preexec_fn=keep_login_uid)
            _run(["kill", "-s", "RTMIN+1", str(victim.pid)])
            victim.wait(10)
            _run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "true"])
            _run(["setsid", "true"])

            wanted = set(RULES)
            assert wait_for(lambda: wanted <= {a["rule"]["name"] for a in _ours(alerts_path)},
                            60), ({a["rule"]["name"] for a in _ours(alerts_path)},
                                  ad.stderr_text())
        finally:
            for proc in (listener, server, history):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(10)
        time.sleep(0.5)
        ad.stop()
        records = events_of_login_uid(records_written(ad.directory))

    alerts = {}
    for alert in _ours(alerts_path):
        alerts.setdefault(alert["rule"]["name"], []).append(alert)
    cron = alerts["Cron Job Created or Modified"]
    assert {a["file"]["path"] for a in cron} == {str(job), f"{job}.2"}
    kubelet = alerts["Kubelet API Connection Attempt to Internal IP"][0]
    assert kubelet["destination"]["port"] == 10250 and kubelet["process"]["name"] == "curl"
    assert alerts["Kernel Driver Load"][0]["process"]["name"] == "insmod"
    assert alerts["Unusual Kill Signal"][0]["auditd"]["data"]["syscall"] == "kill"
    assert "HISTFILE=/dev/null" in alerts["Shell History Clearing via Environment Variables"][0][
        "process"]["env_vars"]

    docs = documents_of(records.encode())
    by_action: dict[str, list[dict]] = {}
    for doc in docs:
        actions = doc["event"]["action"]
        for action in actions if isinstance(actions, list) else [actions]:
            by_action.setdefault(action, []).append(doc)
    (deleted,) = [d for d in by_action["deletion"] if d["file"]["path"] == f"{job}.2"]
    assert deleted["process"]["name"] == "rm"
    (renamed,) = by_action["rename"]
    assert renamed["file"]["Ext"]["original"]["path"] == str(job)
    unix = [d for d in by_action["connected-to"]
            if d["destination"].get("address") == str(sock)]
    assert unix and unix[0]["process"]["name"] in ("nc", "nc.openbsd")
    accepted = [d for d in by_action["connection_accepted"]
                if d["destination"].get("port") == port]
    assert accepted and accepted[0]["source"]["ip"] == "127.0.0.1"
    assert accepted[0]["process"]["name"] == "python3"
    assert by_action["uid_change"] and by_action["gid_change"] and by_action["session_id_change"]
    assert all(d["user"]["audit"]["id"] == str(LOGIN_UID) for d in docs
               if d["event"]["category"] != ["process"] or d["event"]["action"] != "exec")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

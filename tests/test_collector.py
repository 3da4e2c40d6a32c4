"""The collector, for real, on this machine.

    kernel ─► host auditd (harness/auditd.py, name_format = user, name = host-a)
                 └─ audisp-remote ──TCP 127.0.0.1──┐
    captured log (node=replayed-01) ─► audisp-remote ──┤
                                                       ▼
             collector auditd (local_events = no, tcp_listen_port)
                 └─ audisp-eql plugin ─► alerts.json

Checked: the alerts of each node, with its own host.name and host.id; the
replayed node's alerts are exactly what the same rules give on that log;
and stopping the collector, running programs on the host meanwhile (their
records wait in audisp-remote's queue) and starting it again loses nothing:
every event the host auditd dispatched (a recording plugin beside
audisp-remote lists them) reaches the collector's plugin.

Skipped, with the reason, where the kernel audit interface, auditd or
audisp-remote is unavailable.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from audisp_eql.ecs.host import node_id
from audisp_eql.rules import load_rules
from conftest import ROOT
from harness import collector as coll
from harness import pipelines
from harness.auditd import running_auditd, unavailable_reason
from harness.plugin_config import dropin_text, write_plugin_config
from harness.procs import wait_for

sys.path.insert(0, str(ROOT))
from bench.fleet import node_log  # noqa: E402

PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"
RULES = ROOT / "rules"
HOST = "host-a"
REPLAYED = "replayed-01"
# Only cat's execs are audited: other work on this machine stays out of the stream.
CAT_RULES = ("-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/cat -k collector-test",)


def _reason() -> str | None:
    return unavailable_reason(False) or coll.unavailable_reason()


def alerts_in(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def run_cat(marker: Path) -> None:
    # cat /etc/shadow: our credential-access rule fires on it; the marker file
    # names the run so that other programs on this machine are never counted.
    subprocess.run(["/usr/bin/cat", "/etc/shadow", str(marker)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=20)


def host_alerts(path: Path, prefix: str) -> list[dict]:
    return [a for a in alerts_in(path) if a.get("host", {}).get("name") == HOST
            and any(str(arg).startswith(prefix) for arg in a.get("process", {}).get("args", []))]


def recorded_exec_ids(path: Path, prefix: str) -> set[str]:
    """Event ids of the host's execs of marker files whose names start with `prefix`."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return set()
    ids = set()
    hexed = prefix.encode().hex().upper()
    for line in text.splitlines():
        if "type=EXECVE" in line and (prefix in line or hexed in line):
            found = re.search(r"msg=audit\((\d+\.\d+:\d+)\)", line)
            if found:
                ids.add(found.group(1))
    return ids


@pytest.mark.skipif(_reason() is not None, reason=str(_reason()))
def test_collector_alerts_per_node_and_loses_nothing_across_a_restart(
        tmp_path: Path, shared: Path) -> None:
    port = coll.free_port()
    alerts = tmp_path / "alerts.json"
    config = write_plugin_config(tmp_path, [RULES], alerts, parent_from_proc=False, burst=0)
    recorded = tmp_path / "host-records.log"
    sender_conf = coll.write_remote_conf(tmp_path / "host-remote.conf", port)
    host_plugins = {
        "remote": (f"active = yes\ndirection = out\n"
                   f"path = {coll.sender_wrapper(tmp_path, sender_conf)}\n"
                   f"type = always\nformat = string\n"),
        "record": coll.record_plugin(tmp_path, recorded),
    }
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()

    def marker(name: str) -> Path:
        path = marker_dir / name
        path.write_text("x\n")
        return path

    with coll.running_collector(tmp_path, port, {"audisp-eql": dropin_text(PROGRAM, config)}) \
            as collector, \
            running_auditd(tmp_path, host_plugins,
                           extra_conf=f"name_format = user\nname = {HOST}\n") as host:
        host.add_rules(CAT_RULES)

        # 1. The host's own execs reach the collector with node=host-a.
        for i in range(5):
            run_cat(marker(f"up-{i}"))
        assert wait_for(lambda: len(host_alerts(alerts, str(marker_dir / "up-"))) == 5, 60.0), \
            collector.stderr_text() + host.stderr_text()

        # 2. A second node: a captured log replayed by another audisp-remote.
        replay = b"".join(node_log(shared, REPLAYED, 400, seed=7))
        replay_conf = coll.write_remote_conf(tmp_path / "replay-remote.conf", port)
        feed = subprocess.run(coll.sender_command(replay_conf), input=replay,
                              capture_output=True, timeout=120)
        assert feed.returncode == 0, feed.stderr
        rules = load_rules([RULES]).rules
        expected = {(a["event"]["id"], a["rule"]["id"])
                    for a in pipelines.alerts_of(replay, rules, parser="auto",
                                                 parent_from_proc=False)}
        assert expected, "the replayed log makes no rule fire: nothing would be checked"

        def replayed() -> set[tuple[str, str]]:
            return {(a["event"]["id"], a["rule"]["id"]) for a in alerts_in(alerts)
                    if a.get("host", {}).get("name") == REPLAYED}

        assert wait_for(lambda: replayed() == expected, 90.0), \
            (len(replayed()), len(expected), collector.stderr_text())

        # Each node's alerts carry its own identity.
        for alert in alerts_in(alerts):
            name = alert.get("host", {}).get("name")
            if name in (HOST, REPLAYED):
                assert alert["host"]["id"] == node_id(name)
                assert alert["host"]["hostname"] == name

        # 3. The collector goes away; the host goes on; nothing is lost.
        collector.stop()
        for i in range(8):
            run_cat(marker(f"down-{i}"))
        down_ids = recorded_exec_ids(recorded, "down-")
        assert wait_for(lambda: len(recorded_exec_ids(recorded, "down-")) == 8, 30.0)
        collector.start()
        # audisp-remote reconnects when its next record comes (remote_ending_action = reconnect).
        run_cat(marker("after-0"))
        down_ids = recorded_exec_ids(recorded, "down-")

        def arrived() -> set[str]:
            return {a["event"]["id"] for a in host_alerts(alerts, str(marker_dir / "down-"))}

        assert wait_for(lambda: arrived() == down_ids, 90.0), \
            (sorted(down_ids - arrived()), collector.stderr_text())
        assert wait_for(lambda: len(host_alerts(alerts, str(marker_dir / "after-"))) == 1, 60.0)
        # No alert twice: what was delivered before the stop is not sent again.
        ids = [(a["host"]["name"], a["event"]["id"], a["rule"]["id"]) for a in alerts_in(alerts)
               if a.get("host", {}).get("name") in (HOST, REPLAYED)]
        assert len(ids) == len(set(ids))

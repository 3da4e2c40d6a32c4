"""Corpus sequences that join a program start with a later file or network
event of the same process (`by process.entity_id`), from audit records
through the whole pipeline: the file and network documents carry the entity
id of the exec that started their process, so the join holds; and near
misses (another process, a condition one event misses, a late event) stay
quiet."""

from __future__ import annotations

from typing import Optional

import pytest

from audisp_eql.rules import load_rules
from conftest import CORPUS
from harness.pipelines import run
from harness.records import exec_event, syscall_event

SEC = 1_700_000_000
UNLINKAT, CONNECT = 263, 42
SELF_DELETION = "rules/linux/defense_evasion_execution_followed_by_self_deletion.toml"
TELNET_OUT = "rules/linux/lateral_movement_telnet_network_activity_external.toml"


def _rule(path: str):  # type: ignore[no-untyped-def]
    [rule] = load_rules([CORPUS / path]).rules
    return rule


def _sockaddr_v4(ip: str, port: int) -> str:
    octets = "".join(f"{int(o):02X}" for o in ip.split("."))
    return f"SOCKADDR saddr=0200{port:04X}{octets}0000000000000000"


def _event_id(sec: int, serial: int) -> str:
    return f"{sec}.000:{serial}"


def test_file_and_network_documents_carry_the_entity_id_of_their_process() -> None:
    data = b"".join(exec_event(10, ["/tmp/x"], "/tmp/x", pid=200, ppid=1, sec=SEC))
    data += b"".join(syscall_event(11, UNLINKAT, 'PATH item=0 name="/tmp/x" inode=9 dev=fe:00 '
                                   'mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=DELETE',
                                   args=("ffffff9c", "1", "0", "0"), pid=200, ppid=1,
                                   comm="x", exe="/tmp/x", sec=SEC + 1))
    # Another image at the same pid later: a different entity id.
    data += b"".join(exec_event(12, ["/usr/bin/telnet"], "/usr/bin/telnet", pid=200, ppid=1,
                                sec=SEC + 2))
    data += b"".join(syscall_event(13, CONNECT, _sockaddr_v4("8.8.8.8", 23), pid=200, ppid=1,
                                   args=("3", "7ffd", "10", "0"), comm="telnet",
                                   exe="/usr/bin/telnet", sec=SEC + 3))
    docs, _alerts, _pipeline = run(data, hostname="testhost")
    by_category = [(d["event"]["category"], d["process"].get("entity_id")) for d in docs]
    [(_, first), (_, deleting), (_, second), (_, connecting)] = by_category
    assert first and second and first != second
    assert deleting == first and connecting == second


def _self_deletion(miss: Optional[str]) -> tuple[bytes, list[str]]:
    exe = "/usr/bin/x" if miss == "not_tmp" else "/tmp/dropper"
    data = b"".join(exec_event(20, [exe], exe, pid=300, ppid=1, sec=SEC))
    deleter, deleter_exe = 300, exe
    if miss == "other_process":     # `rm /tmp/dropper` by someone else: not self-deletion
        deleter, deleter_exe = 301, "/usr/bin/rm"
        data += b"".join(exec_event(21, ["rm", exe], deleter_exe, pid=301, ppid=1, sec=SEC))
    path = "/tmp/other" if miss == "other_file" else exe
    late = 31 if miss == "late" else 2
    data += b"".join(syscall_event(22, UNLINKAT, f'PATH item=0 name="{path}" inode=9 '
                                   'dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 '
                                   'nametype=DELETE', args=("ffffff9c", "1", "0", "0"),
                                   pid=deleter, ppid=1, comm=deleter_exe.rsplit("/", 1)[1],
                                   exe=deleter_exe, sec=SEC + late))
    return data, [_event_id(SEC, 20), _event_id(SEC + late, 22)]


def _telnet(miss: Optional[str]) -> tuple[bytes, list[str]]:
    data = b"".join(exec_event(40, ["telnet", "h"], "/usr/bin/telnet", pid=400, ppid=1,
                               sec=SEC))
    ip = "10.1.2.3" if miss == "internal" else "8.8.8.8"
    pid = 401 if miss == "unseen_process" else 400
    data += b"".join(syscall_event(41, CONNECT, _sockaddr_v4(ip, 23), pid=pid, ppid=1,
                                   args=("3", "7ffd", "10", "0"), comm="telnet",
                                   exe="/usr/bin/telnet", sec=SEC + 5))
    return data, [_event_id(SEC, 40), _event_id(SEC + 5, 41)]


CASES = {
    "self_deletion": (SELF_DELETION, _self_deletion,
                      ("not_tmp", "other_process", "other_file", "late")),
    "telnet": (TELNET_OUT, _telnet, ("internal", "unseen_process")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fires_with_the_events_in_order(name: str) -> None:
    path, build, _misses = CASES[name]
    data, expected = build(None)
    _docs, alerts, _pipeline = run(data, rules=[_rule(path)], hostname="testhost")
    assert [[a["id"] for a in alert["kibana"]["alert"]["ancestors"]] for alert in alerts] \
        == [expected]


@pytest.mark.parametrize("name,miss", [(n, m) for n, (_p, _b, ms) in sorted(CASES.items())
                                       for m in ms])
def test_near_miss_stays_quiet(name: str, miss: str) -> None:
    path, build, _misses = CASES[name]
    data, _expected = build(miss)
    docs, alerts, _pipeline = run(data, rules=[_rule(path)], hostname="testhost")
    assert len(docs) >= 2 and alerts == []

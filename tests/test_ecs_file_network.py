"""File and network documents (ecs/file.py, ecs/network.py): what each call
becomes, what makes no document, and corpus rules firing on real records
captured under a private auditd (tests/data/records/profiles-capture.log)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from audisp_eql import limits
from audisp_eql.rules import load_rules
from conftest import CORPUS, ROOT
from harness.pipelines import documents_of, run
from harness.records import syscall_event

DATA = ROOT / "tests" / "data" / "records"
OPENAT, OPENAT2, RENAME, RENAMEAT2, UNLINKAT = 257, 437, 82, 316, 263
CONNECT, ACCEPT4, BIND = 42, 288, 49


def _docs(*events: list[bytes]) -> list[dict]:
    return documents_of(b"".join(line for event in events for line in event))


def _path(item: int, name: str, nametype: str, inode: int = 7, mode: str = "0100644") -> str:
    return (f'PATH item={item} name="{name}" inode={inode} dev=fe:00 mode={mode} ouid=0 ogid=0 '
            f'rdev=00:00 nametype={nametype}')


def test_openat_classification() -> None:
    cwd = 'CWD cwd="/etc"'
    created = syscall_event(1, OPENAT, cwd, _path(0, "cron.d/", "PARENT", mode="040755"),
                            _path(1, "cron.d/job", "CREATE"), args=("ffffff9c", "1", "241", "1b6"))
    append = syscall_event(2, OPENAT, cwd, _path(0, "cron.d/job", "NORMAL"),
                           args=("ffffff9c", "1", "441", "0"))      # O_WRONLY|O_CREAT|O_APPEND
    read_creat = syscall_event(3, OPENAT, cwd, _path(0, "cron.d/job", "NORMAL"), key="files",
                               args=("ffffff9c", "1", "40", "0"))   # O_RDONLY|O_CREAT, existed
    read_other_key = syscall_event(7, OPENAT, cwd, _path(0, "cron.d/job", "NORMAL"), key="all",
                                   args=("ffffff9c", "1", "0", "0"))  # a read, not ours to see
    other_dir = syscall_event(4, OPENAT, cwd, _path(0, "job", "CREATE"),
                              args=("5", "1", "241", "1b6"))        # relative to fd 5
    failed = syscall_event(5, OPENAT, cwd, _path(0, "cron.d/x", "UNKNOWN"), success=False,
                           exit=-13, args=("ffffff9c", "1", "241", "1b6"))
    nameless = syscall_event(6, OPENAT, cwd, _path(0, "/etc/", "PARENT"),
                             args=("ffffff9c", "1", "241", "1b6"))
    docs = _docs(created, append, read_creat, other_dir, failed, nameless, read_other_key)
    assert [d["event"]["action"] for d in docs] == [
        ["creation", "opened-file"], ["modification", "opened-file"], ["open", "opened-file"],
        ["creation", "opened-file"]]
    assert [d["event"]["type"] for d in docs] == [["creation"], ["change"], ["access"],
                                                  ["creation"]]
    assert docs[0]["file"]["path"] == "/etc/cron.d/job" and docs[0]["file"]["directory"] == \
        "/etc/cron.d"
    assert "path" not in docs[3]["file"] and docs[3]["file"]["name"] == "job"
    assert docs[0]["auditd"]["paths"][1]["nametype"] == "CREATE"


def test_openat2_flags_come_from_its_own_record() -> None:
    item = _path(0, "/etc/passwd", "NORMAL")
    with_flags = syscall_event(1, OPENAT2, item, "OPENAT2 oflag=0102002 mode=0 resolve=0x0",
                               args=("ffffff9c", "7ffd0", "7ffe0", "18"))
    without = syscall_event(2, OPENAT2, item, args=("ffffff9c", "7ffd0", "7ffe0", "18"),
                            key="files")
    docs = _docs(with_flags, without)
    assert [d["event"]["action"][0] for d in docs] == ["modification", "open"]


def test_rename_new_path_and_original_and_a_replaced_target() -> None:
    cwd = 'CWD cwd="/etc"'
    chpasswd = syscall_event(1, RENAME, cwd, _path(0, "/etc/", "PARENT", mode="040755"),
                             _path(1, "/etc/", "PARENT", mode="040755"),
                             _path(2, "nshadow", "DELETE", 819), _path(3, "shadow", "DELETE", 42),
                             _path(4, "shadow", "CREATE", 819), comm="chpasswd",
                             exe="/usr/sbin/chpasswd")
    exchange = syscall_event(2, RENAMEAT2, _path(0, "/a/", "PARENT"), _path(1, "/b/", "PARENT"),
                             _path(2, "/a/x", "NORMAL"), _path(3, "/b/y", "NORMAL"),
                             args=("ffffff9c", "1", "ffffff9c", "2"))
    docs = _docs(chpasswd, exchange)
    assert docs[0]["file"]["path"] == "/etc/shadow" and docs[0]["file"]["inode"] == "819"
    assert docs[0]["file"]["Ext"]["original"] == {"path": "/etc/nshadow", "name": "nshadow",
                                                  "directory": "/etc"}
    assert docs[0]["event"]["action"] == ["rename", "renamed"]
    assert docs[1]["file"]["path"] == "/b/y"


def test_calls_that_name_no_file_make_no_document() -> None:
    ftruncate = syscall_event(1, 77, _path(0, "(null)", "NORMAL"))
    unlink_failed = syscall_event(2, UNLINKAT, _path(0, "/etc/x", "UNKNOWN"), success=False,
                                  exit=-2, args=("ffffff9c", "1", "0", "0"))
    no_paths = syscall_event(3, UNLINKAT, args=("ffffff9c", "1", "0", "0"))
    assert _docs(ftruncate, unlink_failed, no_paths) == []


def _connect(serial: int, saddr: str, exit: int = 0, comm: str = "curl", arch: str = "c000003e",
             syscall: int = CONNECT, args=("3", "7ffd", "10", "0"), pid: int = 4000) -> list:
    return syscall_event(serial, syscall, f"SOCKADDR saddr={saddr}", success=exit == 0,
                         exit=exit, comm=comm, exe=f"/usr/bin/{comm}", arch=arch, args=args,
                         pid=pid)


KUBELET = "0200280A" "7F000001" "0000000000000000"    # 127.0.0.1:10250


def test_connect_outcomes() -> None:
    docs = _docs(_connect(1, KUBELET), _connect(2, KUBELET, -115), _connect(3, KUBELET, -111),
                 _connect(4, KUBELET, -9), _connect(5, KUBELET, -111, arch="c0000008"),
                 _connect(6, "00000000000000000000000000000000"),
                 _connect(7, "100000000000000000000000"))
    assert [d["event"]["outcome"] for d in docs] == ["success", "unknown", "failure"]
    doc = docs[0]
    assert doc["destination"] == {"ip": "127.0.0.1", "address": "127.0.0.1", "port": 10250}
    assert doc["network"] == {"type": "ipv4", "direction": "egress"}
    assert doc["event"]["action"] == ["connection_attempted", "connected-to"]
    assert doc["auditd"]["data"]["socket"] == {"family": "ipv4", "addr": "127.0.0.1",
                                               "port": "10250"}


def test_i386_socketcall_connect() -> None:
    (doc,) = _docs(_connect(1, KUBELET, arch="40000003", syscall=102, args=("3", "ffd0", "0", "0")))
    assert doc["auditd"]["data"]["syscall"] == "socketcall"
    assert doc["destination"]["port"] == 10250


def test_accept_gets_its_local_port_from_the_bind_even_in_a_forked_child() -> None:
    bound = syscall_event(1, BIND, "SOCKADDR saddr=02002CAA000000000000000000000000",
                          args=("3", "7ffd", "10", "0"), pid=500, comm="ollama")
    accepted = syscall_event(2, ACCEPT4, "SOCKADDR saddr=0200D4317B0A0B0C0000000000000000",
                             exit=7, args=("3", "7ffd", "7ffe", "80800"), pid=501, ppid=500,
                             comm="ollama")
    docs = _docs(bound, accepted)
    assert docs[0]["event"]["action"] == ["bound-socket"]
    doc = docs[1]
    assert doc["source"] == {"ip": "123.10.11.12", "address": "123.10.11.12", "port": 54321}
    assert doc["destination"] == {"port": 11434}           # bound to 0.0.0.0: the port only
    assert doc["network"]["transport"] == "tcp" and doc["network"]["direction"] == "ingress"
    rules = [r for r in load_rules([CORPUS]).rules if r.name ==
             "Ollama API Accessed from External Network"]
    _d, alerts, _p = run(b"".join(bound + accepted), rules=rules)
    assert [a["rule"]["name"] for a in alerts] == ["Ollama API Accessed from External Network"]


def test_bound_socket_table_is_bounded_and_counts_evictions() -> None:
    events = [syscall_event(i, BIND, "SOCKADDR saddr=02001F90000000000000000000000000",
                            args=("3", "1", "10", "0"), pid=1000 + i) for i in range(1, 6)]
    with limits.lowered(MAX_BOUND_SOCKETS=2):
        _docs_, _alerts, pipeline = run(b"".join(line for e in events for line in e))
        stats = pipeline.builders.stats()
    assert stats["bound_sockets"] == 2 and stats["bound_sockets_evicted"] == 3


def test_unix_socket_connect_is_a_network_document_with_the_path() -> None:
    (doc,) = _docs(_connect(1, "01002F7661722F72756E2F646F636B65722E736F636B00", comm="nc"))
    assert doc["event"]["category"] == ["network"]
    assert doc["event"]["action"] == ["connected-to"]
    assert doc["destination"] == {"address": "/var/run/docker.sock"}
    assert doc["auditd"]["data"]["socket"] == {"family": "unix", "path": "/var/run/docker.sock"}


@pytest.fixture(scope="module")
def corpus_alerts() -> dict[str, list[dict]]:
    """Corpus and shipped rules on the records of real commands (profiles-capture.log)."""
    ruleset = load_rules([CORPUS, ROOT / "rules"])
    documents, alerts, _p = run((DATA / "profiles-capture.log").read_bytes(),
                                rules=ruleset.rules)
    by_rule: dict[str, list[dict]] = {}
    for alert in alerts:
        by_rule.setdefault(alert["rule"]["name"], []).append(alert)
    return by_rule


def test_corpus_rules_fire_on_real_file_module_and_signal_records(corpus_alerts) -> None:
    cron = corpus_alerts["Cron Job Created or Modified"]
    # Dropped by the shell, renamed by mv, and every other creation there (link, symlink,
    # fifo, directory); not the chmod, chown, truncate or deletions.
    assert {a["file"]["path"] for a in cron} == {f"/etc/cron.d/aeql-{n}" for n in (
        "job", "job2", "hard", "sym", "fifo", "dir")}
    assert {tuple(a["event"]["action"]) for a in cron} == {
        ("creation", "opened-file"), ("rename", "renamed"), ("creation", "linked"),
        ("creation", "symlinked"), ("creation", "make-device"), ("creation", "created-directory")}
    (driver, *more) = corpus_alerts["Kernel Driver Load"]
    assert driver["process"]["name"] == "insmod" and driver["event"]["outcome"] == "failure"
    (kill,) = corpus_alerts["Unusual Kill Signal"]
    assert kill["auditd"]["data"]["a1"] == "23"            # RTMIN+1 = 35
    assert "Local Unix Socket Opened by Netcat or Socat" in corpus_alerts


def test_events_on_the_shared_debian_capture(shared: Path) -> None:
    """`events` on the real Debian 12 capture: its PATH and SOCKADDR records
    become file and network documents (and its execs stay as they were)."""
    log = shared / "logs" / "debian12-auditd" / "accounts-logins-files-network.log"
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "audisp-eql"), "events", str(log)],
                         capture_output=True, text=True, check=True).stdout
    docs = [json.loads(line) for line in out.splitlines()]
    seen = {(d["event"]["category"][0], d["event"]["action"][0]
             if isinstance(d["event"]["action"], list) else d["event"]["action"]) for d in docs}
    assert {("file", "creation"), ("file", "rename"), ("file", "deletion"),
            ("file", "modification"), ("network", "connection_attempted"),
            ("network", "connection_accepted"), ("network", "bound-socket"),
            ("network", "connected-to"), ("process", "exec")} <= seen
    cron = [d for d in docs if d.get("file", {}).get("path") == "/etc/cron.d/cap2-job2"]
    assert [d["event"]["action"][0] for d in cron] == ["rename", "deletion"]
    accepted = [d for d in docs if d["event"]["action"][0:1] == ["connection_accepted"]]
    assert accepted[0]["destination"]["port"] == 42200       # from sshd's bind of fd 3
    for doc in docs:
        if doc["event"]["action"] == "exec":
            assert "env_vars" not in doc["process"] and "Ext" not in doc["process"]


def test_negated_event_action_tests_of_the_corpus_still_exclude_renames() -> None:
    """The corpus negates event.action twice, both times `rename`: a rename
    document (["rename", "renamed"]) stays excluded, a write is not."""
    rule = next(r for r in load_rules([CORPUS]).rules if r.name == "Hosts File Modified")
    cwd = 'CWD cwd="/etc"'
    written = syscall_event(1, OPENAT, cwd, _path(0, "/etc/hosts", "NORMAL"),
                            args=("ffffff9c", "1", "241", "1b6"), comm="python3",
                            exe="/usr/bin/python3.11")
    renamed = syscall_event(2, RENAME, cwd, _path(0, "/etc/", "PARENT"),
                            _path(1, "/etc/", "PARENT"), _path(2, "/etc/hosts.new", "DELETE"),
                            _path(3, "/etc/hosts", "CREATE"), comm="python3",
                            exe="/usr/bin/python3.11")
    _docs_, alerts, _p = run(b"".join(written + renamed), rules=[rule])
    assert [a["event"]["action"] for a in alerts] == [["modification", "opened-file"]]

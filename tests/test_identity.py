"""Process identities (ecs/identity.py, ecs/entity.py): one entity id per
program image and host, the same value wherever that image appears."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from audisp_eql.ecs.entity import audit_start, entity_id, proc_start
from audisp_eql.ecs.identity import acting_process, leaders
from audisp_eql.ecs.proctable import ProcessTable
from harness.pipelines import documents_of
from harness.records import exec_event, fork_event

SEC = 1_700_000_000


def test_the_recipe_is_documented_and_stable() -> None:
    import base64
    import hashlib
    expected = base64.b64encode(hashlib.sha256(b"abc|42|1700000000.005:77").digest()).decode()[:24]
    assert entity_id("abc", 42, audit_start(SEC, 5, 77)) == expected
    assert entity_id("abc", 42, "x") != entity_id("abd", 42, "x") != entity_id("abc", 43, "x")
    assert proc_start(1234.9, 77) == "boot1234+77"


def test_same_image_same_id_everywhere_and_a_new_one_at_each_exec() -> None:
    data = b"".join([
        *exec_event(10, ["bash"], "/usr/bin/bash", pid=100, ppid=1, sec=SEC),
        *exec_event(11, ["ls"], "/usr/bin/ls", pid=101, ppid=100, sec=SEC, msec=5),
        *exec_event(12, ["cat", "x"], "/usr/bin/cat", pid=102, ppid=100, sec=SEC, msec=9),
        # pid 100 runs another program: a new image, a new id for its later children
        *exec_event(13, ["zsh"], "/usr/bin/zsh", pid=100, ppid=1, sec=SEC + 1),
        *exec_event(14, ["id"], "/usr/bin/id", pid=103, ppid=100, sec=SEC + 2),
    ])
    docs = documents_of(data, hostname="box")
    bash, ls, cat, zsh, id_ = docs
    host = bash["host"]["id"]
    assert bash["process"]["entity_id"] == entity_id(host, 100, f"{SEC}.000:10")
    assert ls["process"]["parent"]["entity_id"] == cat["process"]["parent"]["entity_id"] \
        == bash["process"]["entity_id"]
    assert zsh["process"]["entity_id"] != bash["process"]["entity_id"]
    assert id_["process"]["parent"]["entity_id"] == zsh["process"]["entity_id"]
    assert len({d["process"]["entity_id"] for d in docs}) == 5


def test_ids_are_per_host() -> None:
    one = documents_of(b"".join(exec_event(10, ["ls"], "/usr/bin/ls", pid=5, sec=SEC)),
                       hostname="a")[0]
    two = documents_of(b"".join(exec_event(10, ["ls"], "/usr/bin/ls", pid=5, sec=SEC)),
                       hostname="b")[0]
    assert one["process"]["entity_id"] != two["process"]["entity_id"]
    node = b"node=c " + b"node=c ".join(exec_event(10, ["ls"], "/usr/bin/ls", pid=5, sec=SEC))
    three = documents_of(node, hostname="a")[0]
    assert three["host"]["name"] == "c"
    assert three["process"]["entity_id"] == entity_id(three["host"]["id"], 5, f"{SEC}.000:10")


def test_a_forked_child_is_its_own_process_until_it_execs() -> None:
    data = b"".join([
        *exec_event(10, ["bash"], "/usr/bin/bash", pid=100, ppid=1, sec=SEC),
        *fork_event(11, parent=100, child=200, sec=SEC, msec=1),
        # the fork child (still bash) starts a program of its own: its parent is the
        # forked child, not the original bash
        *exec_event(12, ["sleep", "1"], "/usr/bin/sleep", pid=201, ppid=200, sec=SEC, msec=2),
        *exec_event(13, ["ls"], "/usr/bin/ls", pid=200, ppid=100, sec=SEC, msec=3),
    ])
    bash, sleep, ls = documents_of(data, hostname="box")
    forked = entity_id(bash["host"]["id"], 200, f"{SEC}.001:11")
    assert sleep["process"]["parent"]["entity_id"] == forked != bash["process"]["entity_id"]
    assert sleep["process"]["parent"]["name"] == "bash"
    assert ls["process"]["entity_id"] not in (forked, bash["process"]["entity_id"])
    assert ls["process"]["parent"]["entity_id"] == bash["process"]["entity_id"]


def test_a_failed_exec_starts_no_image() -> None:
    lines = exec_event(10, ["nope"], "/usr/bin/nope", pid=7, sec=SEC)
    lines[0] = lines[0].replace(b"success=yes exit=0", b"success=no exit=-2")
    [doc] = documents_of(b"".join(lines), include_failed=True)
    assert "entity_id" not in doc["process"]


def test_acting_process_for_other_builders() -> None:
    """What file/network builders call for the process doing a syscall."""
    data = b"".join([*exec_event(10, ["bash"], "/usr/bin/bash", pid=100, ppid=1, sec=SEC),
                     *exec_event(11, ["curl"], "/usr/bin/curl", pid=101, ppid=100, sec=SEC)])
    from audisp_eql.pipeline import PipelineOptions, build_pipeline
    docs: list[dict] = []
    pipeline = build_pipeline(PipelineOptions(parser="python", hostname="box"),
                              on_document=docs.append)
    pipeline.feed(data)
    pipeline.flush()
    table = pipeline.builders.builders[0].context.table
    found = acting_process(table, None, 101, 100, SEC + 1.0)
    assert found == {"entity_id": docs[1]["process"]["entity_id"],
                     "parent": {"entity_id": docs[0]["process"]["entity_id"]}}
    assert acting_process(table, None, 999, 100, SEC) == {
        "parent": {"entity_id": docs[0]["process"]["entity_id"]}}
    assert acting_process(None, None, 1, 1, SEC) == {}


def test_proc_fallback_ids_and_leaders_of_a_live_process(tmp_path) -> None:
    """A process this stream never showed: its id comes from /proc (start time),
    the same every time it is met; leaders from /proc/PID/stat."""
    child = subprocess.Popen([sys.executable, "-c", "import os,time; os.setsid(); time.sleep(30)"])
    try:
        time.sleep(0.3)
        table = ProcessTable(proc_fallback=True, host_id="hostid")
        now = time.time()
        info = table.get(None, child.pid, now)
        assert info is not None and info.entity_id is not None
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        assert info.entity_id == entity_id("hostid", child.pid, proc_start(table._boot(), ticks))
        assert ProcessTable(proc_fallback=True, host_id="hostid").get(
            None, child.pid, now).entity_id == info.entity_id
        found = leaders(table, None, child.pid, now)
        # it called setsid(): leader of its own session and group
        assert found["session_leader"]["pid"] == found["group_leader"]["pid"] == child.pid
        assert found["session_leader"]["entity_id"] == info.entity_id
        # a process that started after the event is not the one the event was about
        assert table.stat_ids(child.pid, now - 60) is None
        assert leaders(table, "remote-node", child.pid, now) == {}
        assert leaders(ProcessTable(), None, child.pid, now) == {}   # offline: none
    finally:
        child.kill()
        child.wait()


def test_exec_documents_carry_leaders_in_live_mode() -> None:
    """An exec record of a live process, as the plugin sees it (parent_from_proc).

    The process is a child that called setsid(), so it leads its own session
    and group whatever session the test runner has (a CI runner may have
    session id 0, which names no leader)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    try:
        data = b"".join(exec_event(10, ["python3"], sys.executable, pid=child.pid,
                                   ppid=os.getpid(), sec=int(time.time()) + 1))
        [doc] = documents_of(data, parent_from_proc=True)
        assert doc["process"]["session_leader"]["pid"] == child.pid
        assert doc["process"]["group_leader"]["pid"] == child.pid
        # it leads both: the leader is this very image, not a /proc reading of it
        assert doc["process"]["session_leader"]["entity_id"] == doc["process"]["entity_id"]
        assert doc["process"]["group_leader"]["entity_id"] == doc["process"]["entity_id"]
        [offline] = documents_of(data)
        assert "session_leader" not in offline["process"]
    finally:
        child.kill()
        child.wait()


def test_session_id_zero_names_no_leader(tmp_path) -> None:
    """A process in session 0 (started by the kernel, or by a runner that
    never called setsid) has no session leader to name: the field is left
    out, the group leader is still given. Read from a /proc-shaped tree."""
    (tmp_path / "stat").write_text("cpu 0 0 0 0\nbtime 1700000000\n")
    for pid, group, session in ((300, 300, 0), (301, 300, 0)):
        (tmp_path / str(pid)).mkdir()
        # pid (comm) state ppid pgrp session ... starttime is field 22
        fields = ["S", "1", str(group), str(session)] + ["0"] * 15 + ["100"]
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (a b) " + " ".join(fields) + "\n")
        (tmp_path / str(pid) / "cmdline").write_bytes(b"worker\0")
        (tmp_path / str(pid) / "comm").write_text("worker\n")
    table = ProcessTable(proc_fallback=True, proc_root=str(tmp_path), host_id="hostid")
    found = leaders(table, None, 301, 1_700_000_100.0)
    assert "session_leader" not in found
    assert found["group_leader"]["pid"] == 300
    assert found["group_leader"]["name"] == "worker"
    # a process that started after the event is not the one it was about
    assert leaders(table, None, 301, 1_699_999_000.0) == {}

"""process.parent.* from /proc in live mode: real processes, pid-reuse guard, cache."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audisp_eql.ecs.proctable import ProcessTable
from harness.pipelines import documents_of
from harness.records import exec_event


@pytest.fixture
def parent_process():
    """A real process with a recognisable command line, stopped by PID."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "audisp-eql-parent-marker"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_unseen_parent_is_read_from_proc(parent_process) -> None:
    table = ProcessTable(proc_fallback=True)
    info = table.get(None, parent_process.pid, time.time())
    assert info is not None
    assert info.args[-1] == "audisp-eql-parent-marker"
    assert info.executable == os.path.realpath(sys.executable)
    assert info.name == Path(sys.executable).name[:15]   # comm: the name it was run as


def test_child_document_carries_the_live_parent(parent_process) -> None:
    """Through the builder: an exec whose parent's exec was never seen."""
    now = int(time.time())
    lines = exec_event(1, ["id"], "/usr/bin/id", pid=999999, ppid=parent_process.pid, sec=now)
    [doc] = documents_of(b"".join(lines), parent_from_proc=True)
    parent = doc["process"]["parent"]
    assert parent["pid"] == parent_process.pid
    assert parent["args"][-1] == "audisp-eql-parent-marker"
    assert "audisp-eql-parent-marker" in parent["command_line"]
    # /proc shows the image running now, never a "previous" one.
    assert "previous" not in doc["process"]


def test_parent_started_after_the_event_is_not_used(parent_process) -> None:
    """pid reuse: a process that started after the event is not its parent."""
    table = ProcessTable(proc_fallback=True)
    long_ago = time.time() - 3600
    assert table.get(None, parent_process.pid, long_ago) is None


def test_fallback_is_off_by_default_and_for_other_nodes(parent_process) -> None:
    assert ProcessTable().get(None, parent_process.pid, time.time()) is None
    # Records forwarded from another host (node=) name pids of that host.
    table = ProcessTable(proc_fallback=True)
    assert table.get("otherhost", parent_process.pid, time.time()) is None


def _fake_proc(root: Path, pid: int, start_ticks: int, args: list[bytes]) -> None:
    d = root / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    # Fields after "(comm) ": state is field 3; starttime is field 22, index 19 here.
    rest = ["S"] + ["0"] * 18 + [str(start_ticks)] + ["0"] * 10
    (d / "stat").write_bytes(f"{pid} (x) ) y) ".encode() + " ".join(rest).encode())
    (d / "cmdline").write_bytes(b"\0".join(args) + b"\0")
    (d / "comm").write_bytes(args[0] + b"\n")


def test_proc_reads_are_cached_per_process_and_renewed_when_the_pid_is_reused(tmp_path) -> None:
    """A busy parent's cmdline is read once per process; a new process under the
    same pid (another start time) is read afresh, not served from the cache."""
    (tmp_path / "stat").write_text("btime 1000\n")
    table = ProcessTable(proc_fallback=True, proc_root=str(tmp_path))
    _fake_proc(tmp_path, 42, 100, [b"first", b"-x"])
    assert table.get(None, 42, 5000.0).args == ("first", "-x")
    # Same process (same start time): a changed cmdline on disk is not re-read.
    (tmp_path / "42" / "cmdline").write_bytes(b"changed\0")
    assert table.get(None, 42, 5000.0).args == ("first", "-x")
    # The pid is reused by a later process: new start time, read afresh.
    _fake_proc(tmp_path, 42, 200, [b"second"])
    assert table.get(None, 42, 5000.0).args == ("second",)
    # comm with ") " inside is parsed from the last parenthesis.
    assert table.get(None, 42, 5000.0).name == "second"

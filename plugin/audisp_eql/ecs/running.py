"""Processes already running when the plugin starts -> `already_running`
documents (Elastic Defend's snapshot at sensor start), from /proc.

The kernel audits a process's start, not its existence: a shell started by
rc.local or by a boot-time unit before auditd ran has no exec record. The
plugin reads /proc once at start (at most limits.MAX_RUNNING_PROCESSES
processes, kernel threads left out) and makes one document per process:
event.category process, event.type info, event.action already_running,
the process and its parent as /proc shows them then. They also enter the
process table, so that their children's exec documents name them.
A process that ends while it is read is skipped.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, Optional

from .. import limits
from .common import BuildContext, timestamp
from .proctable import ProcessInfo
from .registry import Document, EventBuilder

_FIELDS = frozenset("""
@timestamp event.kind event.category event.type event.action event.id
host.name host.hostname host.id host.architecture
host.os.type host.os.family host.os.platform host.os.name host.os.version host.os.full
host.os.codename host.os.kernel
process.pid process.executable process.name process.args process.args_count
process.command_line process.working_directory process.interactive
process.user.id process.real_user.id process.group.id process.real_group.id
process.parent.pid process.parent.name process.parent.executable process.parent.args
process.parent.args_count process.parent.command_line process.parent.user.id
process.parent.group.id process.parent.working_directory process.parent.interactive
user.id user.effective.id group.id
""".split())


class RunningProcessKind(EventBuilder):
    """Declares the snapshot documents for `check`; takes no audit events (the
    plugin makes them with `running_documents`)."""

    kind = "already_running"
    categories = ("process",)
    fields = _FIELDS
    constants = {"event.kind": "event", "host.os.type": "linux", "event.category": ["process"],
                 "event.type": ["info"], "event.action": ["already_running"]}

    def build(self, event: Any, syscall: Any) -> list[Document]:
        return []


class _Proc:
    __slots__ = ("pid", "ppid", "name", "exe", "args", "cwd", "uids", "gids", "tty", "start")

    def __init__(self, pid: int, ppid: int, name: str, exe: Optional[str], args: tuple,
                 cwd: Optional[str], uids: list[str], gids: list[str], tty: bool,
                 start: str) -> None:
        self.pid, self.ppid, self.name, self.exe, self.args = pid, ppid, name, exe, args
        self.cwd, self.uids, self.gids, self.tty, self.start = cwd, uids, gids, tty, start

    def info(self) -> ProcessInfo:
        return ProcessInfo(self.exe, self.name, self.args, self.uids[1], self.gids[1], self.cwd,
                           self.tty)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _read(pid: int, root: str) -> Optional[_Proc]:
    base = f"{root}/{pid}"
    try:
        with open(base + "/stat", "rb") as f:
            stat = f.read()
        close = stat.rindex(b")")
        name = _text(stat[stat.index(b"(") + 1:close])
        fields = stat[close + 2:].split()
        ppid, tty_nr, flags, start = int(fields[1]), int(fields[4]), int(fields[6]), fields[19]
        if flags & 0x00200000 or pid == 2 or ppid == 2:     # PF_KTHREAD: no user process
            return None
        with open(base + "/cmdline", "rb") as f:
            raw = f.read(limits.MAX_ENVIRON_BYTES)
        uids = gids = ["0", "0"]
        with open(base + "/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    uids = [_text(v) for v in line.split()[1:3]]
                elif line.startswith(b"Gid:"):
                    gids = [_text(v) for v in line.split()[1:3]]
    except (OSError, ValueError, IndexError):
        return None
    exe = cwd = None
    try:
        exe = os.readlink(base + "/exe")
        cwd = os.readlink(base + "/cwd")
    except OSError:
        pass
    args = tuple(_text(a) for a in raw.rstrip(b"\0").split(b"\0")) if raw else ()
    return _Proc(pid, ppid, name, exe, args, cwd, uids, gids, tty_nr != 0, _text(start))


def _process(proc: _Proc) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pid": proc.pid, "name": proc.name, "interactive": proc.tty,
        "user": {"id": proc.uids[1]}, "real_user": {"id": proc.uids[0]},
        "group": {"id": proc.gids[1]}, "real_group": {"id": proc.gids[0]},
    }
    if proc.exe is not None:
        out["executable"] = proc.exe
    if proc.cwd is not None:
        out["working_directory"] = proc.cwd
    if proc.args:
        out["args"] = list(proc.args)
        out["args_count"] = len(proc.args)
        out["command_line"] = " ".join(proc.args)
    return out


def running_documents(context: BuildContext, proc_root: str = "/proc",
                      now: Optional[float] = None) -> Iterator[Document]:
    """One already_running document per user process in /proc (bounded); each
    also enters the process table."""
    try:
        pids = sorted(int(n) for n in os.listdir(proc_root) if n.isdigit())
    except OSError:
        return
    procs: dict[int, _Proc] = {}
    for pid in pids[:limits.MAX_RUNNING_PROCESSES]:
        found = _read(pid, proc_root)
        if found is not None:
            procs[pid] = found
    when = time.time() if now is None else now
    stamp = timestamp(int(when), int(when * 1000) % 1000)
    table = context.table
    host = context.host_fields(None)
    for pid, proc in procs.items():
        if table is not None:
            table.put(None, pid, proc.info())
        process = _process(proc)
        parent = procs.get(proc.ppid)
        process["parent"] = {"pid": proc.ppid} if parent is None else \
            parent.info().as_parent(proc.ppid)
        yield {
            "@timestamp": stamp,
            "event": {"kind": "event", "category": ["process"], "type": ["info"],
                      "action": ["already_running"], "id": f"running:{pid}:{proc.start}"},
            "host": host,
            "process": process,
            "user": {"id": proc.uids[0], "effective": {"id": proc.uids[1]}},
            "group": {"id": proc.gids[0]},
        }

"""What we know about running processes, keyed by (node, pid).

Filled from the exec events of the same stream (and fork/clone events, whose
child starts as a copy of its parent), so a process start can name its
parent's image and arguments. Bounded (limits.MAX_PROCESSES): when full,
the node holding the most entries loses its least recently used one
(fairshare.py: on a collector one host's process churn cannot push out
another host's processes while that host stays within its share).
Optionally, in live mode only, falls back to /proc for a parent whose exec
was not seen.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Optional, Sequence

from .. import limits
from ..fairshare import NodeCounts
from .entity import entity_id, proc_start

# Entries share their strings: most processes run one of a few images, as a few
# users, in a few directories, with common arguments, so entries point at one
# copy instead of each holding its own (about a third of an entry's memory);
# bounded by limits.MAX_SHARED_STRINGS, since the input decides how many exist.


class ProcessInfo:
    """What a child's document needs of its parent (process.parent.*) and of
    the image it replaces (process.previous.executable). Compact, as the table
    holds thousands: args as a tuple, the command line rebuilt on use."""

    __slots__ = ("executable", "name", "args", "user_id", "group_id",
                 "working_directory", "interactive", "entity_id")

    def __init__(self, executable: Optional[str], name: Optional[str], args: Sequence[str],
                 user_id: Optional[str] = None, group_id: Optional[str] = None,
                 working_directory: Optional[str] = None,
                 interactive: Optional[bool] = None, entity_id: Optional[str] = None) -> None:
        self.executable = executable
        self.name = name
        self.args = args
        self.user_id = user_id              # effective uid, as in process.user.id
        self.group_id = group_id
        self.working_directory = working_directory
        self.interactive = interactive
        self.entity_id = entity_id          # of this image (identity.py)

    def with_entity(self, ident: str) -> "ProcessInfo":
        """The same image under another entity id (a forked child's own)."""
        return ProcessInfo(self.executable, self.name, self.args, self.user_id, self.group_id,
                           self.working_directory, self.interactive, ident)

    def __reduce__(self) -> tuple:
        # (scan --jobs sends entries between processes: by their fields, at C speed)
        return (ProcessInfo, (self.executable, self.name, self.args, self.user_id,
                              self.group_id, self.working_directory, self.interactive,
                              self.entity_id))

    def same(self, other: Optional["ProcessInfo"]) -> bool:
        """Whether `other` describes the process exactly as this one does
        (what a document built from either would show)."""
        return other is self or (other is not None and all(
            getattr(self, name) == getattr(other, name) for name in ProcessInfo.__slots__))

    @property
    def command_line(self) -> str:
        return " ".join(self.args)

    def as_parent(self, pid: int) -> dict:
        """The process.parent object of a child of this process."""
        args = self.args
        parent: dict = {"pid": pid}
        if self.entity_id is not None:
            parent["entity_id"] = self.entity_id
        if self.executable is not None:
            parent["executable"] = self.executable
        if self.name is not None:
            parent["name"] = self.name
        parent["args"] = list(args)
        parent["args_count"] = len(args)
        parent["command_line"] = " ".join(args)
        if self.user_id is not None:
            parent["user"] = {"id": self.user_id}
        if self.group_id is not None:
            parent["group"] = {"id": self.group_id}
        if self.working_directory is not None:
            parent["working_directory"] = self.working_directory
        if self.interactive is not None:
            parent["interactive"] = self.interactive
        return parent


class ProcessTable:
    """Processes by (node, pid); when full, the least recently used entry of
    the node holding the most is evicted (counted in `evicted`); `max_entries`
    0: limits.MAX_PROCESSES."""

    def __init__(self, max_entries: int = 0, proc_fallback: bool = False,
                 proc_root: str = "/proc", host_id: Optional[str] = None) -> None:
        # node -> pid -> entry, each node's entries in use order (oldest first)
        self._nodes: dict[Optional[str], OrderedDict[int, ProcessInfo]] = {}
        self._counts: NodeCounts[Optional[str]] = NodeCounts()
        self._size = 0
        self._max = max_entries or limits.MAX_PROCESSES
        self._max_shared = limits.MAX_SHARED_STRINGS
        self._max_proc_cache = limits.MAX_PROC_CACHE
        self._proc_fallback = proc_fallback
        self._proc_root = proc_root
        self.host_id = host_id     # this machine's host.id: entity ids of /proc processes
        self.evicted = 0
        self._shared: dict[Optional[str], Optional[str]] = {}
        self._boot_time: Optional[float] = None
        self._ticks = os.sysconf("SC_CLK_TCK") if proc_fallback else 100
        self._proc_cache: dict[int, tuple[int, ProcessInfo]] = {}

    def __len__(self) -> int:
        return self._size

    def held(self, node: Optional[str]) -> int:
        """Entries of one node."""
        return self._counts.count(node)

    def get(self, node: Optional[str], pid: int, event_time: float = 0.0,
            from_proc: bool = True) -> Optional[ProcessInfo]:
        entries = self._nodes.get(node)
        info = entries.get(pid) if entries is not None else None
        if info is not None:
            entries.move_to_end(pid)  # type: ignore[union-attr]
            return info
        if from_proc and self._proc_fallback and node is None:
            return self._from_proc(pid, event_time)
        return None

    def peek(self, node: Optional[str], pid: int) -> Optional[ProcessInfo]:
        """The entry `get` would return, without using it (no LRU move, no /proc)."""
        entries = self._nodes.get(node)
        return entries.get(pid) if entries is not None else None

    def put(self, node: Optional[str], pid: int, info: ProcessInfo) -> None:
        shared = self._shared
        if len(shared) > self._max_shared:
            shared.clear()
        share = shared.setdefault
        info.executable = share(info.executable, info.executable)
        info.name = share(info.name, info.name)
        args = info.args
        info.args = tuple(map(share, args, args))  # C-level loop: no frame per argument
        info.user_id = share(info.user_id, info.user_id)
        info.group_id = share(info.group_id, info.group_id)
        info.working_directory = share(info.working_directory, info.working_directory)
        entries = self._nodes.get(node)
        if entries is None:
            entries = self._nodes[node] = OrderedDict()
        if pid in entries:
            entries[pid] = info
            entries.move_to_end(pid)
            return
        entries[pid] = info
        self._counts.add(node)
        self._size += 1
        if self._size > self._max:
            self._evict()

    def _evict(self) -> None:
        """The node holding the most loses its least recently used entry."""
        node = self._counts.largest()
        entries = self._nodes[node]
        entries.popitem(last=False)
        if not entries:
            del self._nodes[node]
        self._counts.remove(node)
        self._size -= 1
        self.evicted += 1

    def fork(self, node: Optional[str], parent: int, child: int,
             child_entity: Optional[str] = None) -> None:
        """A fork/clone child runs its parent's image until it execs, as its
        own process (`child_entity`: its entity id)."""
        entries = self._nodes.get(node)
        info = entries.get(parent) if entries is not None else None
        if info is not None:
            self.put(node, child, info if child_entity is None else info.with_entity(child_entity))

    @property
    def proc_fallback(self) -> bool:
        return self._proc_fallback

    # -- live mode -------------------------------------------------------------
    def _boot(self) -> float:
        if self._boot_time is None:
            self._boot_time = 0.0
            try:
                with open(os.path.join(self._proc_root, "stat"), "rb") as f:
                    for line in f:
                        if line.startswith(b"btime "):
                            self._boot_time = float(line.split()[1])
            except OSError:
                pass
        return self._boot_time

    def _stat_fields(self, pid: int, event_time: float) -> Optional[list[bytes]]:
        """/proc/PID/stat's fields after the name (fields 3...), unless that
        process started after the event (the pid was reused since).

        Start time = boot time (whole seconds in /proc/stat) + starttime ticks,
        so the comparison allows one second of slack."""
        try:
            with open(f"{self._proc_root}/{pid}/stat", "rb") as f:
                stat = f.read()
            # comm may hold spaces and parentheses: fields follow the last ')'.
            fields = stat[stat.rindex(b")") + 2:].split()
            if self._boot() + int(fields[19]) / self._ticks > event_time + 1.0:
                return None
        except (OSError, ValueError, IndexError):
            return None
        return fields

    def stat_ids(self, pid: int, event_time: float) -> Optional[tuple[int, int]]:
        """(process group id, session id) of `pid` from /proc (live mode)."""
        fields = self._stat_fields(pid, event_time) if self._proc_fallback else None
        try:
            return (int(fields[2]), int(fields[3])) if fields is not None else None
        except (ValueError, IndexError):
            return None

    def _from_proc(self, pid: int, event_time: float) -> Optional[ProcessInfo]:
        """Read /proc/PID, unless that process started after the event (pid reused)."""
        fields = self._stat_fields(pid, event_time)
        if fields is None:
            return None
        base = f"{self._proc_root}/{pid}"
        try:
            start_ticks = int(fields[19])
            # A busy parent (a shell loop, a build) has many children: read its
            # cmdline/comm/exe once per (pid, start time), i.e. per process.
            cached = self._proc_cache.get(pid)
            if cached is not None and cached[0] == start_ticks:
                return cached[1]
            with open(os.path.join(base, "cmdline"), "rb") as f:
                raw_args = f.read()
            with open(os.path.join(base, "comm"), "rb") as f:
                comm = f.read().rstrip(b"\n")
            try:
                exe: Optional[str] = os.readlink(os.path.join(base, "exe"))
            except OSError:
                exe = None
        except (OSError, ValueError, IndexError):
            return None
        args = tuple(a.decode("utf-8", "backslashreplace")
                     for a in raw_args.rstrip(b"\0").split(b"\0")) if raw_args else ()
        info = ProcessInfo(executable=exe, name=comm.decode("utf-8", "backslashreplace"),
                           args=args, entity_id=entity_id(
                               self.host_id, pid, proc_start(self._boot(), start_ticks)))
        if len(self._proc_cache) >= self._max_proc_cache:
            self._proc_cache.clear()
        self._proc_cache[pid] = (start_ticks, info)
        return info

"""What we know about running processes, keyed by (node, pid).

Filled from the exec events of the same stream (and fork/clone events, whose
child starts as a copy of its parent), so a process start can name its
parent's image and arguments. Bounded in entries (limits.MAX_PROCESSES) and
in characters (limits.MAX_PROCESS_TABLE_CHARS): argv, executable and working
directory are kept cut (ecs/truncate.py), so that an attacker's long argv
cannot grow the table. When full, the node holding the most entries loses its
least recently used one (fairshare.py: on a collector one host's process
churn cannot push out another host's processes while that host stays within
its share); when over the character bound, the node that just added an entry
loses its own oldest if it holds more than its fair share of the characters.
Optionally, in live mode only, falls back to /proc for a parent whose exec
was not seen.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from typing import Optional, Sequence

from .. import limits
from ..fairshare import NodeCounts, fair_share
from .entity import entity_id, proc_start
from .truncate import cut_args, cut_text

# Entries share their strings: most processes run one of a few images, as a few
# users, in a few directories, with common arguments, so entries point at one
# copy instead of each holding its own (about a third of an entry's memory);
# bounded by limits.MAX_SHARED_STRINGS strings of at most
# limits.MAX_SHARED_STRING_CHARS, since the input decides how many exist.


class ProcessInfo:
    """What a child's document needs of its parent (process.parent.*) and of
    the image it replaces (process.previous.executable). Compact, as the table
    holds thousands: args as a tuple, the command line rebuilt on use."""

    __slots__ = ("executable", "name", "args", "user_id", "group_id",
                 "working_directory", "interactive", "args_count", "truncated", "size",
                 "entity_id")

    def __init__(self, executable: Optional[str], name: Optional[str], args: Sequence[str],
                 user_id: Optional[str] = None, group_id: Optional[str] = None,
                 working_directory: Optional[str] = None,
                 interactive: Optional[bool] = None, entity_id: Optional[str] = None) -> None:
        # Kept beyond its event: cut to the stored bounds, measured in `size`.
        self.args_count = len(args)
        args_chars = sum(map(len, args))
        truncated = False
        if args_chars > limits.MAX_ARGS_CHARS_STORED:
            args = cut_args(args, limits.MAX_ARGS_CHARS_STORED,   # type: ignore[assignment]
                            limits.MAX_ARGS_CHARS_STORED) or args
            args_chars = sum(map(len, args))
            truncated = True
        self.args = args
        texts = (executable, name, user_id, group_id, working_directory)
        text_chars = sum(len(v) for v in texts if v is not None)
        limit = limits.MAX_PATH_CHARS_STORED
        if text_chars > limit:      # one of them may be too long: cut each
            cut = [cut_text(v, limit) for v in texts]
            texts = tuple(v for v, _ in cut)     # type: ignore[assignment]
            truncated = truncated or any(was_cut for _, was_cut in cut)
            text_chars = sum(len(v) for v in texts if v is not None)
        (self.executable, self.name, self.user_id,    # user: effective uid (process.user.id)
         self.group_id, self.working_directory) = texts
        self.interactive = interactive
        self.entity_id = entity_id          # of this image (identity.py)
        self.truncated = truncated
        self.size = limits.PROCESS_ENTRY_OVERHEAD + args_chars + text_chars

    def with_entity(self, ident: str) -> "ProcessInfo":
        """The same image under another entity id (a forked child's own)."""
        twin = copy.copy(self)
        twin.entity_id = ident
        return twin

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
        parent["args_count"] = self.args_count
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


def _shared(share, value: Optional[str], longest: int) -> Optional[str]:  # type: ignore[no-untyped-def]
    return value if value is None or len(value) > longest else share(value, value)


class ProcessTable:
    """Processes by (node, pid); when there are more than `max_entries` (0:
    limits.MAX_PROCESSES), the least recently used entry of the node holding
    the most is evicted; when their text passes limits.MAX_PROCESS_TABLE_CHARS,
    that of the node adding one if it holds more than its fair share of the
    characters, else again of the node holding the most entries. Evictions are
    counted in `evicted`."""

    def __init__(self, max_entries: int = 0, proc_fallback: bool = False,
                 proc_root: str = "/proc", host_id: Optional[str] = None) -> None:
        # node -> pid -> entry, each node's entries in use order (oldest first)
        self._nodes: dict[Optional[str], OrderedDict[int, ProcessInfo]] = {}
        self._counts: NodeCounts[Optional[str]] = NodeCounts()
        self._size = 0
        self._max = max_entries or limits.MAX_PROCESSES
        self._max_chars = limits.MAX_PROCESS_TABLE_CHARS
        self.chars = 0                       # sizes of the entries held
        self._node_chars: dict[Optional[str], int] = {}   # ... per node
        self._max_shared = limits.MAX_SHARED_STRINGS
        self._max_shared_chars = limits.MAX_SHARED_STRING_CHARS
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

    def put(self, node: Optional[str], pid: int, info: ProcessInfo) -> None:
        shared = self._shared
        if len(shared) > self._max_shared:
            shared.clear()
        share = shared.setdefault
        longest = self._max_shared_chars
        info.executable = _shared(share, info.executable, longest)
        info.name = _shared(share, info.name, longest)
        args = info.args
        if info.size - limits.PROCESS_ENTRY_OVERHEAD <= longest:
            info.args = tuple(map(share, args, args))  # C-level loop: no frame per argument
        else:
            info.args = tuple(a if len(a) > longest else share(a, a) for a in args)
        info.user_id = _shared(share, info.user_id, longest)
        info.group_id = _shared(share, info.group_id, longest)
        info.working_directory = _shared(share, info.working_directory, longest)
        entries = self._nodes.get(node)
        if entries is None:
            entries = self._nodes[node] = OrderedDict()
        node_chars = self._node_chars
        old = entries.get(pid)
        entries[pid] = info
        if old is not None:
            entries.move_to_end(pid)
            grown = info.size - old.size
        else:
            self._counts.add(node)
            self._size += 1
            grown = info.size
        self.chars += grown
        node_chars[node] = node_chars.get(node, 0) + grown
        if self._size > self._max:
            self._evict(self._counts.largest())
        while self.chars > self._max_chars and self._size > 1:
            # The node adding text beyond its fair share of it gives up its own first.
            own = node in self._nodes and len(self._nodes[node]) > 1 and \
                node_chars[node] > fair_share(self._max_chars, len(self._counts))
            self._evict(node if own else self._counts.largest())

    def _evict(self, node: Optional[str]) -> None:
        """`node` loses its least recently used entry."""
        entries = self._nodes[node]
        _pid, gone = entries.popitem(last=False)
        self.chars -= gone.size
        left = self._node_chars[node] - gone.size
        if entries:
            self._node_chars[node] = left
        else:
            del self._nodes[node]
            del self._node_chars[node]
        self._counts.remove(node)
        self._size -= 1
        self.evicted += 1

    def fork(self, node: Optional[str], parent: int, child: int,
             child_entity: Optional[str] = None) -> None:
        """A fork/clone child runs its parent's image until it execs, as its
        own process (`child_entity`: its entity id)."""
        # The child's entry shares the parent's strings, counted again: conservative.
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
        # Bounded like any entry (ProcessInfo cuts the argv; read at most what it keeps).
        args = tuple(a.decode("utf-8", "backslashreplace")
                     for a in raw_args.rstrip(b"\0").split(b"\0")) if raw_args else ()
        info = ProcessInfo(executable=exe, name=comm.decode("utf-8", "backslashreplace"),
                           args=args, entity_id=entity_id(
                               self.host_id, pid, proc_start(self._boot(), start_ticks)))
        if len(self._proc_cache) >= self._max_proc_cache:
            self._proc_cache.clear()
        self._proc_cache[pid] = (start_ticks, info)
        return info

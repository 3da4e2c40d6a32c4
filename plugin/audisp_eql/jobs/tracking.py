"""The builders' state (process table, bound sockets) as `scan --jobs` splits it.

A worker builds the documents of its batch of events against a *speculative*
copy of that state: its `base` is the true state as of the batches the
merging process has already settled (their operations are forwarded to it,
in order), and an `overlay` holds what the worker's own batch wrote. Every
call the builders make is logged per event, with what the reads returned.

The merging process keeps the true state (`Recording*`). For each event, in
input order, it checks the worker's reads against the true state (`verify`,
without touching it); when they all agree, the worker's documents are
exactly those a single process would have built (a builder's output is a
function of its event and of what its reads returned), and the event's
calls are replayed on the true state (`apply`: the same LRU moves, puts and
evictions as one process). Otherwise the merging process builds that event
itself. The true state logs every call it receives, for the workers.

Operations, as tuples (code first):
    GET   node pid [result]
    PUT   node pid info
    FORK  node parent child entity [parent found]
    BIND  node pid fd address
    LOCAL node pid ppid fd [result]
(the bracketed result only in a worker's log)
"""

from __future__ import annotations

from typing import Any, Optional

from ..ecs.bound import BoundSockets
from ..ecs.proctable import ProcessInfo, ProcessTable
from ..ecs.sockaddr import SocketAddress

GET, PUT, FORK, BIND, LOCAL = range(5)
Op = tuple[Any, ...]


class RecordingTable(ProcessTable):
    """The true process table; every call is logged in `log` (when set)."""

    log: Optional[list[Op]] = None

    def get(self, node: Optional[str], pid: int, event_time: float = 0.0,
            from_proc: bool = True) -> Optional[ProcessInfo]:
        if self.log is not None:
            self.log.append((GET, node, pid))
        return super().get(node, pid, event_time, from_proc)

    def put(self, node: Optional[str], pid: int, info: ProcessInfo) -> None:
        if self.log is not None:
            self.log.append((PUT, node, pid, info))
        super().put(node, pid, info)

    def fork(self, node: Optional[str], parent: int, child: int,
             child_entity: Optional[str] = None) -> None:
        if self.log is not None:
            self.log.append((FORK, node, parent, child, child_entity))
        entries = self._nodes.get(node)
        info = entries.get(parent) if entries is not None else None
        if info is not None:   # (ProcessTable.fork, without logging its put twice)
            ProcessTable.put(self, node, child,
                             info if child_entity is None else info.with_entity(child_entity))


class RecordingBound(BoundSockets):
    """The true bound-socket table; every call is logged in `log` (when set)."""

    log: Optional[list[Op]] = None

    def bind(self, node: Optional[str], pid: int, fd: int, address: SocketAddress) -> None:
        if self.log is not None:
            self.log.append((BIND, node, pid, fd, address))
        super().bind(node, pid, fd, address)

    def local(self, node: Optional[str], pid: int, ppid: Optional[int],
              fd: int) -> Optional[SocketAddress]:
        if self.log is not None:
            self.log.append((LOCAL, node, pid, ppid, fd))
        return super().local(node, pid, ppid, fd)


class SpeculativeTable(ProcessTable):
    """A worker's process table: the settled `base` under this batch's `overlay`;
    reads never move the base's entries (only forwarded calls do)."""

    def __init__(self, base: ProcessTable) -> None:
        super().__init__()
        self.base = base
        self.overlay: dict[tuple[Optional[str], int], ProcessInfo] = {}
        self.log: list[Op] = []

    def _find(self, node: Optional[str], pid: int) -> Optional[ProcessInfo]:
        found = self.overlay.get((node, pid))
        return found if found is not None else self.base.peek(node, pid)

    def get(self, node: Optional[str], pid: int, event_time: float = 0.0,
            from_proc: bool = True) -> Optional[ProcessInfo]:
        found = self._find(node, pid)
        self.log.append((GET, node, pid, found))
        return found

    def peek(self, node: Optional[str], pid: int) -> Optional[ProcessInfo]:
        return self._find(node, pid)

    def put(self, node: Optional[str], pid: int, info: ProcessInfo) -> None:
        info.args = tuple(info.args)     # as ProcessTable.put stores them
        self.log.append((PUT, node, pid, info))
        self.overlay[(node, pid)] = info

    def fork(self, node: Optional[str], parent: int, child: int,
             child_entity: Optional[str] = None) -> None:
        info = self._find(node, parent)
        self.log.append((FORK, node, parent, child, child_entity, info))
        if info is not None:
            self.overlay[(node, child)] = info if child_entity is None else \
                info.with_entity(child_entity)


class SpeculativeBound(BoundSockets):
    """A worker's bound-socket table, as SpeculativeTable."""

    def __init__(self, base: BoundSockets, log: list[Op]) -> None:
        super().__init__()
        self.base = base
        self.overlay: dict[tuple[Optional[str], int, int], SocketAddress] = {}
        self.log = log

    def bind(self, node: Optional[str], pid: int, fd: int, address: SocketAddress) -> None:
        self.log.append((BIND, node, pid, fd, address))
        self.overlay[(node, pid, fd)] = address

    def local(self, node: Optional[str], pid: int, ppid: Optional[int],
              fd: int) -> Optional[SocketAddress]:
        found: Optional[SocketAddress] = None
        for owner in (pid, ppid):
            if owner is not None:
                found = self.overlay.get((node, owner, fd))
                if found is None:
                    found = self.base.peek_local(node, owner, None, fd)
                if found is not None:
                    break
        self.log.append((LOCAL, node, pid, ppid, fd, found))
        return found


def verify(table: ProcessTable, bound: Optional[BoundSockets], ops: list[Op]) -> bool:
    """Whether every read of a worker's event log returns the same on the true
    state (looked at, not used). A read after a write of the same event is
    not checked: such an event is rebuilt (none of our builders does that)."""
    wrote = False
    for op in ops:
        code = op[0]
        if code == GET:
            found = op[3]
            true = table.peek(op[1], op[2])
            if wrote or (true is not found and (true is None or not true.same(found))):
                return False
        elif code == PUT or code == BIND:
            wrote = True
        elif code == FORK:
            found = op[5]
            true = table.peek(op[1], op[2])
            if wrote or (true is not found and (true is None or not true.same(found))):
                return False
            wrote = True
        elif code == LOCAL:
            if wrote or bound is None or bound.peek_local(op[1], op[2], op[3], op[4]) != op[5]:
                return False
    return True


def apply(table: ProcessTable, bound: Optional[BoundSockets], ops: list[Op]) -> None:
    """The calls of an event log (a worker's, verified; or forwarded true ones),
    made on `table` and `bound` in order."""
    for op in ops:
        code = op[0]
        if code == GET:
            table.get(op[1], op[2], 0.0, False)
        elif code == PUT:
            table.put(op[1], op[2], op[3])
        elif code == FORK:
            table.fork(op[1], op[2], op[3], op[4])
        elif code == BIND:
            bound.bind(op[1], op[2], op[3], op[4])   # type: ignore[union-attr]
        elif code == LOCAL:
            bound.local(op[1], op[2], op[3], op[4])  # type: ignore[union-attr]


def bound_of(builders: Any) -> Optional[tuple[Any, BoundSockets]]:
    """The builder keeping bound sockets (network.py) and its table, if registered."""
    for builder in builders.builders:
        found = getattr(builder, "bound", None)
        if isinstance(found, BoundSockets):
            return builder, found
    return None

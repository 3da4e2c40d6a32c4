"""Records of many hosts through one stream: one grouping state per node.

A collector's auditd hands its plugins the records of every sender, each
line prefixed with `node=NAME`. Grouping them in one state goes wrong in
three ways, all of which auparse and auparse's rules (assemble.py) share:

- stream time: an event is complete once a record `timeout` seconds newer
  arrives; one node whose clock runs ahead completes (splits) every other
  node's events in progress;
- order: events are handed out oldest first over all nodes, so one node's
  event that never completes holds every other node's events back;
- bounds: past the pending bound, the oldest events (whoever's) are
  completed early, so one node's flood splits another node's events.

`NodeRoutedSource` splits each read's lines by their `node=` name (bytes,
before any parsing) and feeds each node's lines to that node's own grouping
source (`make_source`: auparse or Python), so stream time, order and
timeouts are per node. Ageing by arrival is per node too. The bounds:

- what all nodes hold together (`pending_limit`: events for the Python
  source, records for auparse): past it, the node holding the most gives
  up its oldest (fairshare.py); a node alone keeps its own source's bound;
- the bytes of the records all nodes hold (limits.MAX_PENDING_BYTES_TOTAL;
  each source bounds its own too): past it, the node holding the most bytes
  gives up its oldest, so that many nodes of long records stay bounded;
- the number of nodes with a grouping state (limits.MAX_NODE_SOURCES): past
  it, the node fed least recently is completed (its events handed out,
  counted in `evicted_pending`) and forgotten (`evicted_nodes`).

The same pass drops the lines of nodes another shard evaluates (shard.py),
counted in `skipped_other_shards`. Lines keep their numbers for errors.
Records without `node=` are one more node (None): a host that reads only
its own records pays one substring test per read.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Optional, Protocol

from .. import limits
from .event import AuditEvent
from .framing import LineError, Lines, LineSplitter, Stats
from .shard import Shard


class GroupingSource(Protocol):
    """What nodes.py needs of a record source (both sources are one)."""

    stats: Stats
    errors: list[LineError]
    _source: str

    @property
    def pending_limit(self) -> int: ...
    def pending(self) -> int: ...
    def pending_bytes(self) -> int: ...
    def shed(self) -> list[AuditEvent]: ...
    def age(self, now: Optional[float] = None) -> list[AuditEvent]: ...
    def _consume(self, lines: Lines) -> list[AuditEvent]: ...
    def _drain(self) -> list[AuditEvent]: ...


Node = Optional[bytes]
_NODE_PREFIX = b"node="


class NodeRoutedSource(LineSplitter):
    """One grouping source per node behind one line splitter; see the module doc."""

    def __init__(self, make_source: Callable[[], GroupingSource], pending_limit: int,
                 max_line: int, on_error: Optional[Callable[[LineError], None]],
                 shard: Shard = Shard()) -> None:
        super().__init__(max_line, limits.MAX_REPORTED_LINE_ERRORS, on_error)
        self._make_source = make_source
        self._limit = pending_limit
        self._max_nodes = limits.MAX_NODE_SOURCES
        self._shard = shard
        # node -> its source, least recently fed first
        self._nodes: OrderedDict[Node, GroupingSource] = OrderedDict()
        self._pending: dict[Node, int] = {}   # nodes holding anything -> how much
        self._total = 0
        self._bytes: dict[Node, int] = {}     # ... and the bytes of their records
        self._total_bytes = 0
        self._max_bytes = limits.MAX_PENDING_BYTES_TOTAL
        self._owned = limits.BoundedCache("MAX_SHARD_ANSWERS")   # node -> this shard's?

    # -- routing ------------------------------------------------------------------
    def _consume(self, lines: Lines) -> list[AuditEvent]:
        if lines.count:
            block = lines.block
            if not (block.startswith(_NODE_PREFIX) or b"\nnode=" in block):
                # No node= at all: this machine's records (or a sender's without names).
                if not self._shard.owns(None):
                    self.stats.skipped_other_shards += lines.count
                    return []
                return self._feed_node(None, lines)
            numbered = zip(lines.numbers if lines.numbers is not None else
                           range(lines.first, lines.first + lines.count), block.split(b"\n"))
        else:
            numbered = iter(lines.numbered)
        # Each node's lines of this read, in order of first appearance.
        groups: dict[Node, tuple[list[int], list[bytes]]] = {}
        owned = self._owned
        skipped = 0
        for number, line in numbered:
            if line.startswith(_NODE_PREFIX):
                end = line.find(b" ", 5)
                node: Node = line[5:end] if end >= 0 else line[5:]
            else:
                node = None
            mine = owned.get(node)
            if mine is None:
                mine = self._shard.owns(node)
                owned.remember(node, mine)
            if not mine:
                skipped += 1
                continue
            group = groups.get(node)
            if group is None:
                group = groups[node] = ([], [])
            group[0].append(number)
            group[1].append(line)
        self.stats.skipped_other_shards += skipped
        done: list[AuditEvent] = []
        for node, (numbers, texts) in groups.items():
            done += self._feed_node(node, Lines(block=b"\n".join(texts), first=numbers[0],
                                                count=len(texts), numbers=numbers))
        return done

    def _feed_node(self, node: Node, lines: Lines) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        source = self._nodes.get(node)
        if source is None:
            if len(self._nodes) >= self._max_nodes:
                done += self._forget_least_recent()
            source = self._nodes[node] = self._make_source()
            source.stats = self.stats        # one set of counters for the stream
            source.errors = self.errors
            source._source = self._source
        else:
            self._nodes.move_to_end(node)
        done += source._consume(lines)
        self._update(node, source)
        while self._total > self._limit and len(self._pending) > 1:
            done += self._shed_largest()
        while self._total_bytes > self._max_bytes and len(self._bytes) > 1:
            before = self._total_bytes
            done += self._shed_largest(self._bytes)
            if self._total_bytes >= before:
                break                        # nothing that node holds can be given up
        return done

    # -- bounds ---------------------------------------------------------------------
    def _update(self, node: Node, source: GroupingSource) -> None:
        held = source.pending()
        before = self._pending.get(node, 0)
        if held:
            self._pending[node] = held
        elif before:
            del self._pending[node]
        self._total += held - before
        held_bytes = source.pending_bytes()
        before = self._bytes.get(node, 0)
        if held_bytes:
            self._bytes[node] = held_bytes
        elif before:
            del self._bytes[node]
        self._total_bytes += held_bytes - before

    def total_pending_bytes(self) -> int:
        return self._total_bytes

    def pending_bytes_of(self, node: Node) -> int:
        source = self._nodes.get(node)
        return source.pending_bytes() if source is not None else 0

    def _shed_largest(self, held: Optional[dict[Node, int]] = None) -> list[AuditEvent]:
        """The node holding the most (events, or of `held`) gives up its oldest (fairshare.py)."""
        held = self._pending if held is None else held
        node = max(held, key=held.__getitem__)
        source = self._nodes[node]
        events = source.shed()
        self._update(node, source)
        return events

    def _forget_least_recent(self) -> list[AuditEvent]:
        node, source = self._nodes.popitem(last=False)
        events = source._drain()
        self.stats.evicted_pending += len(events)
        self.stats.evicted_nodes += 1
        self._total -= self._pending.pop(node, 0)
        self._total_bytes -= self._bytes.pop(node, 0)
        return events

    # -- the rest of the interface ------------------------------------------------------
    def start_source(self, name: str) -> list:
        done = super().start_source(name)
        for source in self._nodes.values():
            source._source = name
        return done

    def age(self, now: Optional[float] = None) -> list[AuditEvent]:
        """Each node's own ageing (by arrival), for the nodes holding anything."""
        done: list[AuditEvent] = []
        for node in list(self._pending):
            source = self._nodes[node]
            done += source.age(now)       # counted by the node's source
            self._update(node, source)
        return done

    def _drain(self) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        for source in self._nodes.values():
            done += source._drain()
        self._pending.clear()
        self._total = 0
        return done

    def waiting(self) -> bool:
        """Does any node hold records or events (that ageing may complete)?"""
        return bool(self._pending)

    def nodes(self) -> int:
        """Nodes with a grouping state."""
        return len(self._nodes)

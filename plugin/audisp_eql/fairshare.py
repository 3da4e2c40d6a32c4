"""Per-node fair share of a bounded structure: one definition for all of them.

A collector's plugin reads the records of many hosts (nodes) through one
stream, and its state (pending events, the process table, pending partial
matches, rate-limit windows) is bounded. A bound shared naively lets one
host's flood push every other host's state out. So every structure shared
by nodes evicts by the same rule:

    When the structure is full, the node holding the most entries gives up
    its own oldest (least recently used) entry.

A node's fair share is `limit / active nodes` (the nodes holding at least
one entry). When the structure is full, the node holding the most holds at
least that much, so the rule gives this guarantee: **a node holding no more
than its fair share loses nothing while another node holds more than it.**
A flooding node evicts its own state first; a quiet node keeps all of its
state as long as it stays within its share. (This is max-min fairness; it
needs no floor: only where nodes outnumber the bound's entries can a node be
cut to nothing, and then no per-node guarantee can hold.)

The nodes are the `node=` names of the records (None for records without
one: this machine's). A sender that writes many node names gets a share per
name: the fairness is between names, as the collector receives them.

`NodeCounts` keeps the entries per node with the node holding the most at
hand in O(1), so eviction costs the same with 5 or 5000 nodes.
"""

from __future__ import annotations

from typing import Generic, Hashable, Iterator, Optional, TypeVar

Node = TypeVar("Node", bound=Optional[Hashable])


def fair_share(limit: int, active_nodes: int) -> int:
    """Entries a node may hold of a full structure of `limit` entries shared
    by `active_nodes` nodes without being the one that gives up an entry."""
    return limit // max(active_nodes, 1)


class NodeCounts(Generic[Node]):
    """Entries per node of one structure; `largest()` is O(1).

    Counts change by one (`add`, `remove`): nodes are kept in buckets by
    count, and the highest non-empty bucket moves by at most one step."""

    __slots__ = ("_count", "_buckets", "_top")

    def __init__(self) -> None:
        self._count: dict[Node, int] = {}
        # count -> the nodes holding that many (insertion-ordered: on a tie the
        # node that reached the count first gives up an entry first)
        self._buckets: dict[int, dict[Node, None]] = {}
        self._top = 0

    def __len__(self) -> int:
        """Active nodes: those holding at least one entry."""
        return len(self._count)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._count)

    def count(self, node: Node) -> int:
        return self._count.get(node, 0)

    def add(self, node: Node) -> None:
        """`node` holds one entry more."""
        before = self._count.get(node, 0)
        if before:
            self._leave(before, node)
        after = before + 1
        self._count[node] = after
        self._buckets.setdefault(after, {})[node] = None
        if after > self._top:
            self._top = after

    def remove(self, node: Node) -> None:
        """`node` holds one entry less (it must hold one)."""
        before = self._count[node]
        self._leave(before, node)
        after = before - 1
        if after:
            self._count[node] = after
            self._buckets.setdefault(after, {})[node] = None
        else:
            del self._count[node]
        if before == self._top and before not in self._buckets:
            self._top = after

    def largest(self) -> Node:
        """The node holding the most entries (the structure must not be empty)."""
        return next(iter(self._buckets[self._top]))

    def over_share(self, node: Node, limit: int) -> bool:
        """Does `node` hold more than its fair share of `limit`?"""
        return self.count(node) > fair_share(limit, len(self._count))

    def _leave(self, count: int, node: Node) -> None:
        bucket = self._buckets[count]
        del bucket[node]
        if not bucket:
            del self._buckets[count]

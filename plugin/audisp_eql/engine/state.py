"""Where stateful rules keep what they remember between documents.

A stateful matcher (a sequence, a sample) keeps pending partial matches in
`PendingStore`s, keyed by (host, join-key values): one store per thing it
remembers (for a sequence: per stage). All stores of an engine draw on one
`StateBudget`. Three bounds, each counted where it bites:

- per store: at most `limit` entries (limits.MAX_PENDING_PER_RULE); when
  full, the host holding the most entries in that store loses its oldest
  (fairshare.py: one host's flood evicts its own state first, not another
  host's);
- all stores: at most limits.MAX_PENDING_TOTAL entries; when full, the host
  holding the most entries over all stores gives up one: its oldest in the
  store being written to when it has any there, else in the store where it
  holds the most (the same fair share across rules: a host flooding one
  rule cannot push out a quiet host's state of another rule);
- time: every entry carries the event time it started at; it is dropped
  once its host's event time has moved more than `span` seconds past that
  (the rule's maxspan, or limits.MAX_STATE_SECONDS for a rule without
  one). Each host has its own clock (the newest event time seen from it),
  so a host whose clock lags or leaps never expires another host's state.

Evictions change results (a sequence that would have completed no longer
does), so they are counted (`evicted`) and shown in the status line and the
scan summary; expiry by time is the rule's own semantics (`expired`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, Hashable, Optional, TypeVar

from .. import limits
from ..fairshare import NodeCounts

Value = TypeVar("Value")
Host = Optional[str]


class _Entry(Generic[Value]):
    __slots__ = ("started", "value")

    def __init__(self, started: float, value: Value) -> None:
        self.started = started
        self.value = value


class StateBudget:
    """The state all stateful rules of one engine may hold together."""

    def __init__(self) -> None:
        self.limit = limits.MAX_PENDING_TOTAL
        self.used = 0
        self.evicted = 0
        self.stores: list[PendingStore[Any]] = []
        self.hosts: NodeCounts[Host] = NodeCounts()   # entries per host, all stores

    def make_room(self, store: "PendingStore[Any]") -> None:
        """Before `store` adds an entry: evict until the budget has room."""
        while self.used >= self.limit and self.used:
            host = self.hosts.largest()
            victim = store if store.held(host) else max(self.stores, key=lambda s: s.held(host))
            victim.evict_oldest_of(host)
            self.evicted += 1


class PendingStore(Generic[Value]):
    """One kind of pending state of one rule, by (host, key); see the module doc."""

    def __init__(self, name: str, budget: StateBudget, span: Optional[float]) -> None:
        self.name = name
        self.budget = budget
        self.span = limits.MAX_STATE_SECONDS if span is None else min(
            span, limits.MAX_STATE_SECONDS)
        self.limit = limits.MAX_PENDING_PER_RULE
        self._hosts: dict[Host, OrderedDict[Hashable, _Entry[Value]]] = {}
        self._counts: NodeCounts[Host] = NodeCounts()
        self._size = 0
        self.evicted = 0
        self.expired = 0
        budget.stores.append(self)

    def __len__(self) -> int:
        return self._size

    def held(self, host: Host) -> int:
        """Entries of one host in this store."""
        return self._counts.count(host)

    def get(self, host: Host, key: Hashable, now: float) -> Optional[Value]:
        """The live entry for `key` (None when absent or past its span at `now`)."""
        entries = self._hosts.get(host)
        if entries is None:
            return None
        entry = entries.get(key)
        if entry is None:
            return None
        if now - entry.started > self.span:
            self._drop(host, entries, key)
            self.expired += 1
            return None
        return entry.value

    def started(self, host: Host, key: Hashable) -> Optional[float]:
        entries = self._hosts.get(host)
        entry = entries.get(key) if entries is not None else None
        return None if entry is None else entry.started

    def put(self, host: Host, key: Hashable, value: Value, started: float) -> None:
        """Set the entry for `key` (replacing one that is there: it becomes the newest)."""
        entries = self._hosts.get(host)
        if entries is not None and key in entries:
            entries[key] = _Entry(started, value)
            entries.move_to_end(key)
            return
        if self._size >= self.limit:
            self.evict_oldest()
        self.budget.make_room(self)
        # (fetched again: making room may have emptied, and so removed, the host's entries)
        entries = self._hosts.get(host)
        if entries is None:
            entries = self._hosts[host] = OrderedDict()
        entries[key] = _Entry(started, value)
        self._size += 1
        self._counts.add(host)
        self.budget.used += 1
        self.budget.hosts.add(host)

    def pop(self, host: Host, key: Hashable) -> Optional[Value]:
        entries = self._hosts.get(host)
        if entries is None or key not in entries:
            return None
        value = entries[key].value
        self._drop(host, entries, key)
        return value

    def expire(self, host: Host, now: float) -> int:
        """Drop the host's entries older than the span at `now`, oldest first
        (stops at the first live one: entries are kept in the order set)."""
        entries = self._hosts.get(host)
        dropped = 0
        while entries:
            key, entry = next(iter(entries.items()))
            if now - entry.started <= self.span:
                break
            self._drop(host, entries, key)
            dropped += 1
        self.expired += dropped
        return dropped

    def evict_oldest(self) -> None:
        """The host holding the most entries here loses its oldest one (counted)."""
        if self._size:
            self.evict_oldest_of(self._counts.largest())

    def evict_oldest_of(self, host: Host) -> None:
        """`host` (which holds entries here) loses its oldest one (counted)."""
        entries = self._hosts[host]
        self._drop(host, entries, next(iter(entries)))
        self.evicted += 1

    def items(self, host: Host) -> list[tuple[Hashable, Value]]:
        """The host's entries, oldest first (a copy: callers may change the store)."""
        entries = self._hosts.get(host)
        return [(k, e.value) for k, e in entries.items()] if entries else []

    def _drop(self, host: Host, entries: "OrderedDict[Hashable, _Entry[Value]]",
              key: Hashable) -> None:
        del entries[key]
        self._size -= 1
        self._counts.remove(host)
        self.budget.used -= 1
        self.budget.hosts.remove(host)
        if not entries:
            del self._hosts[host]

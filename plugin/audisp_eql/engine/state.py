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
- documents: entries hold the documents they matched; all stores together
  hold documents of at most limits.MAX_PENDING_BYTES (estimated, weight.py;
  a document held by several entries, of one rule or several, counts once),
  evicted as for the entry bound; one heavier than
  limits.MAX_HELD_DOCUMENT_BYTES is held as a trimmed copy
  (`StateBudget.keep`), never refused: a huge argument must not let an
  event slip past a sequence;
- time: every entry carries the event time it started at; it is dropped
  once its host's event time has moved more than `span` seconds past that
  (the rule's maxspan or look-back window, never more than
  limits.MAX_STATE_SECONDS). Each host has its own clock (the newest event time seen from it),
  so a host whose clock lags or leaps never expires another host's state.

Evictions change results (a sequence that would have completed no longer
does), so they are counted (`evicted`, and `dropped` for losses outside the
stores: join keys past limits.MAX_KEY_COMBINATIONS...) and shown in the
status line and the scan summary; expiry by time is the rule's own
semantics (`expired`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, Hashable, Optional, Sequence, TypeVar

from .. import limits
from ..fairshare import NodeCounts
from .weight import held_form, weight

Value = TypeVar("Value")
Host = Optional[str]
Document = dict[str, Any]
_NO_DOCUMENTS: tuple[Document, ...] = ()


class _Entry(Generic[Value]):
    __slots__ = ("started", "value", "documents")

    def __init__(self, started: float, value: Value, documents: Sequence[Document]) -> None:
        self.started = started
        self.value = value
        self.documents = documents


class StateBudget:
    """The state all stateful rules of one engine may hold together."""

    def __init__(self, byte_limit: int = 0) -> None:
        """`byte_limit`: bytes of documents held (0: limits.MAX_PENDING_BYTES;
        a collector of many hosts sets more, `sequence_memory_mib`)."""
        self.limit = limits.MAX_PENDING_TOTAL
        self.byte_limit = byte_limit or limits.MAX_PENDING_BYTES
        self.heavy = limits.MAX_HELD_DOCUMENT_BYTES
        self.used = 0
        self.bytes = 0
        self.evicted = 0
        self.dropped = 0      # partial matches lost outside the stores
        self.trimmed = 0      # documents held as a trimmed copy
        self.stores: list[PendingStore[Any]] = []
        self.hosts: NodeCounts[Host] = NodeCounts()   # entries per host, all stores
        # host -> the stores holding entries of it (eviction looks at those only)
        self.holders: dict[Host, dict[PendingStore[Any], None]] = {}
        # id(document) -> [entries holding it, its weight]; the entries keep
        # the document alive, so its id cannot be reused while it is here.
        self._held: dict[int, list[int]] = {}
        self._last: tuple[Any, int] = (None, 0)     # the copy keep() just made, its weight
        self._kept: tuple[Any, Any] = (None, None)  # ... and the document it was made of

    def keep(self, doc: Document) -> Document:
        """The document to hold for `doc`: a copy of it (weight.held_form),
        trimmed when heavy; the same copy for every rule that keeps `doc`."""
        if id(doc) in self._held:        # already a held copy (advancing a sequence)
            return doc
        original, copy = self._kept
        if original is doc:              # kept by another rule a moment ago
            return copy
        copy, size, cut = held_form(doc, self.heavy)
        self.trimmed += cut
        self._kept, self._last = (doc, copy), (copy, size)
        return copy

    def _weight(self, doc: Document) -> int:
        last, size = self._last
        return size if last is doc else weight(doc)

    def incoming(self, documents: Sequence[Document]) -> int:
        """What holding `documents` would add (those not held yet)."""
        held = self._held
        return sum(self._weight(d) for d in documents if id(d) not in held)

    def hold(self, documents: Sequence[Document]) -> None:
        held = self._held
        for doc in documents:
            record = held.get(id(doc))
            if record is not None:
                record[0] += 1
            else:
                size = self._weight(doc)
                held[id(doc)] = [1, size]
                self.bytes += size

    def release(self, documents: Sequence[Document]) -> None:
        held = self._held
        for doc in documents:
            record = held[id(doc)]
            record[0] -= 1
            if not record[0]:
                del held[id(doc)]
                self.bytes -= record[1]

    def make_room(self, store: "PendingStore[Any]", incoming: int = 0) -> None:
        """Before `store` adds an entry holding `incoming` more bytes of
        documents: evict until the budget has room."""
        while (self.used >= self.limit or self.bytes + incoming > self.byte_limit) \
                and self.used:
            host = self.hosts.largest()
            # The store adding, else the one holding the most of the host's
            # entries (the first registered among equals).
            victim = store if store.held(host) else max(
                self.holders[host], key=lambda s: (s.held(host), -s.position))
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
        self.position = len(budget.stores)
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

    def put(self, host: Host, key: Hashable, value: Value, started: float,
            documents: Sequence[Document] = _NO_DOCUMENTS) -> None:
        """Set the entry for `key` (replacing one that is there: it becomes the
        newest). `documents`: those `value` holds (from `StateBudget.keep`),
        counted in the budget while the entry lives."""
        budget = self.budget
        entries = self._hosts.get(host)
        if entries is not None and key in entries:
            self._drop(host, entries, key)     # replaced: the new one is the newest
        if self._size >= self.limit:
            self.evict_oldest()
        budget.make_room(self, budget.incoming(documents))
        # (fetched again: making room may have emptied, and so removed, the host's entries)
        entries = self._hosts.get(host)
        if entries is None:
            entries = self._hosts[host] = OrderedDict()
            budget.holders.setdefault(host, {})[self] = None
        budget.hold(documents)
        entries[key] = _Entry(started, value, documents)
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

    def entries(self, host: Host) -> Optional[dict]:
        """The host's entries by key (read-only; None when it has none)."""
        return self._hosts.get(host)

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

    def hosts(self) -> list[Host]:
        return list(self._hosts)

    def _drop(self, host: Host, entries: "OrderedDict[Hashable, _Entry[Value]]",
              key: Hashable) -> None:
        entry = entries.pop(key)
        self.budget.release(entry.documents)
        self._size -= 1
        self._counts.remove(host)
        self.budget.used -= 1
        self.budget.hosts.remove(host)
        if not entries:
            del self._hosts[host]
            holders = self.budget.holders
            stores = holders[host]
            del stores[self]
            if not stores:
                del holders[host]

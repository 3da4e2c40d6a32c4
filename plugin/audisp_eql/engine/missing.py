"""Missing events `![q]` in `sequence` rules, with Elasticsearch's semantics.

Timestamps are compared strictly, as Elasticsearch does, per host and join
key (integer milliseconds of the host's own clock):

- between two steps, a q event of the key strictly between them dooms the
  sequence, which still advances and replaces (as in ES, the check is at
  completion);
- before the first step, the latest q before it (L) rejects the match when
  the last event is within maxspan of L;
- after the last step, the match waits until the host's time passes the
  window (first event + maxspan, or L + maxspan) and is dropped by a q event
  after its last event inside the window, emitted otherwise (at end of input
  at the latest: `flush`).

The matcher (sequence.py) owns the stores and decides when a completed
sequence must wait; `MissingEvents` does the rest.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Optional

from .. import limits
from ..eql.sequence import JoinKey
from ..rules import Rule
from .engine import Match
from .partial import Partial
from .state import Host, PendingStore, StateBudget


class _Waiting:
    """A completed sequence waiting on its trailing window (ms)."""

    __slots__ = ("partial", "deadline")

    def __init__(self, partial: Partial, deadline: int) -> None:
        self.partial = partial
        self.deadline = deadline


class MissingEvents:
    """The `![q]` steps of one sequence rule, on the matcher's stores: its
    pending sequences per step (`pending`), the leading misses seen per key
    (`leads`: the two latest distinct times), the matches waiting on a
    trailing window (`waiting`); `leads` and `waiting` are None when the rule
    has no such step."""

    def __init__(self, rule: Rule, budget: StateBudget, span: int,
                 pending: list[PendingStore[Any]], leads: Optional[PendingStore[Any]],
                 waiting: Optional[PendingStore[Any]]) -> None:
        self.rule = rule
        self.budget = budget
        self.span = span
        self._pending = pending
        self._leads = leads
        self._waiting = waiting
        # Trailing deadlines per host, soonest first: (deadline ms, ticket, key).
        self._due: dict[Host, list[tuple[int, int, JoinKey]]] = {}
        self._tickets = itertools.count()

    # -- between steps, before the first, after the last -----------------------------------
    def miss_between(self, host: Host, keys: list[JoinKey], gap: int, now: float,
                     now_ms: int) -> None:
        store = self._pending[gap]
        for key in keys:
            partial = store.get(host, key, now)
            if partial is not None and partial.miss_after is None and now_ms > partial.last:
                partial.miss_after = now_ms

    def miss_before(self, host: Host, keys: list[JoinKey], now: float, now_ms: int) -> None:
        leads = self._leads
        assert leads is not None
        for key in keys:
            seen = leads.get(host, key, now)
            if seen is None:
                leads.put(host, key, (now_ms, None), now)
            elif seen[0] != now_ms:   # the two latest distinct times
                leads.put(host, key, (now_ms, seen[0]), now)

    def lead_before(self, host: Host, key: JoinKey, now: float, now_ms: int) -> Optional[int]:
        assert self._leads is not None
        seen = self._leads.get(host, key, now)
        if seen is None:
            return None
        latest, previous = seen
        if latest < now_ms:
            return latest
        return previous if previous is not None and previous < now_ms else None

    def miss_after(self, host: Host, keys: list[JoinKey], now: float, now_ms: int) -> None:
        waiting = self._waiting
        assert waiting is not None
        for key in keys:
            entries = waiting.pop(host, key)
            if entries is None:
                continue
            kept = [e for e in entries if not e.partial.last < now_ms <= e.deadline]
            if kept:
                self._put_waiting(host, key, kept)

    # -- matches waiting on a trailing window ---------------------------------------------
    def wait(self, host: Host, key: JoinKey, partial: Partial, deadline: int) -> None:
        waiting = self._waiting
        assert waiting is not None
        entry = _Waiting(partial, deadline)
        entries = waiting.pop(host, key) or []
        entries.append(entry)
        if len(entries) > limits.MAX_UNCONFIRMED_PER_KEY:
            del entries[0]
            self.budget.dropped += 1
        self._put_waiting(host, key, entries)
        due = self._due.setdefault(host, [])
        heapq.heappush(due, (entry.deadline, next(self._tickets), key))
        if len(due) > 4 * len(waiting) + 64:   # drop tickets of entries gone meanwhile
            due[:] = [(e.deadline, next(self._tickets), k)
                      for k, es in waiting.items(host) for e in es]
            heapq.heapify(due)

    def _put_waiting(self, host: Host, key: JoinKey, entries: list[_Waiting]) -> None:
        assert self._waiting is not None
        base = min(e.deadline for e in entries) - self.span
        held = tuple(d for e in entries for d in e.partial.events)
        self._waiting.put(host, key, entries, base / 1000, held)

    def confirm(self, host: Host, now_ms: int) -> list[Match]:
        """The matches whose trailing window ended before `now_ms`."""
        due = self._due.get(host)
        matches: list[Match] = []
        waiting = self._waiting
        assert waiting is not None
        while due and due[0][0] < now_ms:
            _deadline, _ticket, key = heapq.heappop(due)
            entries = waiting.pop(host, key)
            if entries is None:
                continue
            for entry in sorted(entries, key=lambda e: e.deadline):
                if entry.deadline < now_ms:
                    matches.append(Match(self.rule, entry.partial.events, key))
            rest = [e for e in entries if e.deadline >= now_ms]
            if rest:
                self._put_waiting(host, key, rest)
        if due is not None and not due:
            del self._due[host]
        return matches

    def flush(self) -> list[Match]:
        """End of input: every match still waiting on a trailing window stands."""
        waiting = self._waiting
        if waiting is None:
            return []
        found: list[tuple[int, int, Match]] = []
        for host in waiting.hosts():
            for key, entries in waiting.items(host):
                waiting.pop(host, key)
                for entry in entries:
                    found.append((entry.deadline, len(found),
                                  Match(self.rule, entry.partial.events, key)))
        self._due.clear()
        return [match for _, _, match in sorted(found, key=lambda f: f[:2])]

"""The engine: a stream of ECS documents in, matches out.

    engine = Engine(rules)
    for doc in documents:              # in order (per host: event time order)
        for match in engine.process(doc):
            ... match.rule, match.documents ...
    for match in engine.flush():       # end of input
        ...

A `Match` is a rule and the documents it was made from, in order: one for a
single-event rule, one per matched stage for a sequence. Single-event rules
all go through one `SingleEventMatcher` (gates, index, residuals); a rule
whose query kind needs memory gets the stateful matcher registered for that
kind in `STATEFUL_MATCHERS`, with its state in `PendingStore`s drawn from
the engine's one `StateBudget` (state.py: bounds, eviction, expiry by event
time per host).

Matches of one document come in load order of the single-event rules,
then those of the stateful rules in load order.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple, Optional, Protocol

from .. import limits
from ..rules import Rule
from .clock import event_time
from .rule_errors import RuleErrors
from .single import SingleEventMatcher
from .state import StateBudget

Document = dict[str, Any]


class Match(NamedTuple):
    rule: Rule
    documents: tuple[Document, ...]


class StatefulMatcher(Protocol):
    """One rule whose matches span documents."""

    rule: Rule

    def process(self, doc: Document, host: Optional[str], now: float) -> list[Match]:
        """`doc` arrived from `host` at event time `now` (seconds): matches it completes."""

    def flush(self) -> list[Match]:
        """End of input: matches that only the end decides (none for most kinds)."""


MatcherFactory = Callable[[Rule, StateBudget, RuleErrors], StatefulMatcher]
# Query kind (`ast.SequenceQuery.kind`, ...) -> the matcher for rules of that kind.
STATEFUL_MATCHERS: dict[str, MatcherFactory] = {}


def host_of(doc: Document) -> Optional[str]:
    """Whose clock and state a document belongs to: host.id, else host.name."""
    host = doc.get("host")
    if host.__class__ is not dict:
        return None
    ident = host.get("id")
    if ident.__class__ is str:
        return ident
    name = host.get("name")
    return name if name.__class__ is str else None


class Engine:
    """Every loaded rule over a stream of documents."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: list[Rule] = [r for r in rules if r.compiled is not None]
        self.errors = RuleErrors()
        self.budget = StateBudget()
        single: list[Rule] = []
        self._stateful: list[StatefulMatcher] = []
        for rule in self.rules:
            factory = STATEFUL_MATCHERS.get(getattr(rule.compiled.query, "kind", "event"))
            if factory is None:
                single.append(rule)
            else:
                self._stateful.append(factory(rule, self.budget, self.errors))
        self.single = SingleEventMatcher(single, self.errors)
        # host -> newest event time seen, least recently seen host first
        self._clocks: dict[Optional[str], float] = {}
        self._max_clocks = limits.MAX_HOST_CLOCKS
        self.forgotten_clocks = 0

    @property
    def error_count(self) -> int:
        return self.errors.total

    def process(self, doc: Document) -> list[Match]:
        """The matches `doc` completes."""
        matches = [Match(rule, (doc,)) for rule in self.single.match(doc)]
        if self._stateful:
            host = host_of(doc)
            now = event_time(doc)
            clock = self._clocks.pop(host, None)   # re-added below: the newest seen
            # A document without a time, or older than its host's newest, is
            # taken at the host's clock: time never runs backwards for a host.
            if now is None or (clock is not None and now < clock):
                now = clock if clock is not None else 0.0
            if clock is None and len(self._clocks) >= self._max_clocks:
                # Host names come from the input: the host seen least recently
                # is forgotten (each holds one clock: no host holds more than
                # its share, fairshare.py), never an active one.
                del self._clocks[next(iter(self._clocks))]
                self.forgotten_clocks += 1
            self._clocks[host] = now
            for matcher in self._stateful:
                matches.extend(matcher.process(doc, host, now))
        return matches

    def flush(self) -> list[Match]:
        matches: list[Match] = []
        for matcher in self._stateful:
            matches.extend(matcher.flush())
        return matches

    def stats(self) -> dict[str, int]:
        """Counters for the status line and the scan summary."""
        stores = self.budget.stores
        return {"rule_errors": self.errors.total,
                "pending_partial_matches": self.budget.used,
                # (a store counts every eviction from it, the budget's included)
                "evicted_partial_matches": sum(s.evicted for s in stores),
                "expired_partial_matches": sum(s.expired for s in stores),
                "forgotten_host_clocks": self.forgotten_clocks}

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

A stateful matcher that lists `conditions` (the compiled event queries of
its steps; sequence.py says how a step that needs state carries a state
term) has them evaluated by the same SingleEventMatcher as the single-event
rules, as stand-in rules: one index lookup per document serves every rule,
and the matcher is called (`hits`) only for documents that match one of
them, with which ones. One without `conditions` sees every document
(`process`). `Engine.guards.enabled = False` turns the state terms off
(tests compare the index with a plain interpreter on the conditions).

Matches of one document come in load order of the single-event rules,
then those of the stateful rules in load order.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple, Optional, Protocol, Sequence

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
    # The join key values a sequence or sample matched on (None: single event).
    join_key: Optional[tuple[Any, ...]] = None


class StatefulMatcher(Protocol):
    """One rule whose matches span documents."""

    rule: Rule

    def process(self, doc: Document, host: Optional[str], now: float) -> list[Match]:
        """`doc` arrived from `host` at event time `now` (seconds): matches it completes."""

    def flush(self) -> list[Match]:
        """End of input: matches that only the end decides (none for most kinds)."""


class IndexedMatcher(Protocol):
    """A stateful rule whose steps are event queries the engine's index evaluates."""

    rule: Rule
    conditions: Sequence[Any]   # compiled event queries the index evaluates for it
    timed: bool                 # wants `hits` on every event (a time window to confirm)

    def hits(self, doc: Document, host: Optional[str], now: float,
             which: list[int]) -> list[Match]:
        """`doc` matched `conditions[i]` for each i in `which` (maybe none: the
        rule is timed): the matches it completes."""

    def advance(self, host: Optional[str], now: float) -> list[Match]:
        """The host's event time is `now`: expire state; matches only time decides."""

    def flush(self) -> list[Match]:
        """End of input."""


MatcherFactory = Callable[[Rule, StateBudget, RuleErrors], StatefulMatcher]
# Query kind (`ast.SequenceQuery.kind`, ...) -> the matcher for rules of that kind.
STATEFUL_MATCHERS: dict[str, MatcherFactory] = {}


class Guards:
    """The switch for the state terms of guarded sequence steps (sequence.py);
    tests turn it off to compare the index with a plain interpreter."""

    enabled = True


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
    """Every loaded rule over a stream of documents.

    `never_fires`: when every document comes from audisp-eql's own builders
    (audit records in, not `--input ecs`), the pipeline says which rules no
    such document can match (coverage.py, as `check` reports cannot_fire,
    for the pipeline's settings): they stay loaded but are not evaluated. The
    analysis is sound, so no match is lost, and a sequence whose later step
    can never match no longer holds state for nothing."""

    def __init__(self, rules: Iterable[Rule],
                 never_fires: Optional[Callable[[Rule], bool]] = None,
                 state_bytes: int = 0) -> None:
        """`state_bytes`: the documents stateful rules may hold together
        (0: limits.MAX_PENDING_BYTES)."""
        self.rules: list[Rule] = [r for r in rules if r.compiled is not None]
        self.errors = RuleErrors()
        self.budget = StateBudget(state_bytes)
        single: list[Rule] = []
        self._stateful: list[Any] = []
        self.skipped = 0      # rules loaded but never evaluated (never_fires)
        for rule in self.rules:
            if never_fires is not None and never_fires(rule):
                self.skipped += 1
                continue
            factory = STATEFUL_MATCHERS.get(getattr(rule.compiled.query, "kind", "event"))
            if factory is None:
                single.append(rule)
            else:
                self._stateful.append(factory(rule, self.budget, self.errors))
        # The steps of indexed matchers, as stand-in rules of the single-event
        # matcher (same rule_id and name: their errors count for the rule).
        self._steps: dict[Rule, tuple[int, int]] = {}
        for number, matcher in enumerate(self._stateful):
            owner = matcher.rule
            for index, condition in enumerate(getattr(matcher, "conditions", ())):
                stand_in = Rule(rule_id=owner.rule_id, name=owner.name, path=owner.path,
                                query=owner.query, compiled=condition)
                self._steps[stand_in] = (number, index)
        self.guards = Guards()
        for matcher in self._stateful:
            if hasattr(matcher, "guards"):
                matcher.guards = self.guards
        self.single_rules = single
        self.single = SingleEventMatcher(single + list(self._steps), self.errors)
        self._plain = [m for m in self._stateful if not hasattr(m, "conditions")]
        self._timed = [(n, m) for n, m in enumerate(self._stateful)
                       if getattr(m, "timed", False)]
        self._expiring = [(n, m) for n, m in enumerate(self._stateful)
                          if hasattr(m, "advance") and not getattr(m, "timed", False)]
        # host -> newest event time seen, least recently seen host first
        self._clocks: dict[Optional[str], float] = {}
        self._max_clocks = limits.MAX_HOST_CLOCKS
        self.forgotten_clocks = 0

    @property
    def error_count(self) -> int:
        return self.errors.total

    def process(self, doc: Document) -> list[Match]:
        """The matches `doc` completes."""
        found = self.single.match(doc)
        if not self._stateful:
            return [Match(rule, (doc,)) for rule in found]
        matches, hits = self.split(doc, found)
        return self.stateful(doc, matches, hits)

    @property
    def needs_every_document(self) -> bool:
        """Whether some stateful matcher wants documents no condition matched
        (a timed window, or a matcher without conditions)."""
        return bool(self._timed or self._plain)

    def split(self, doc: Document,
              found: list[Rule]) -> tuple[list[Match], Optional[dict[int, list[int]]]]:
        """The index's answer for `doc` as the single-event rules' matches and
        the steps of stateful matchers it matched (matcher -> conditions; None: none)."""
        steps = self._steps
        matches: list[Match] = []
        hits: Optional[dict[int, list[int]]] = None
        for rule in found:
            step = steps.get(rule)
            if step is None:
                matches.append(Match(rule, (doc,)))
            else:
                if hits is None:
                    hits = {}
                hits.setdefault(step[0], []).append(step[1])
        return matches, hits

    def stateful(self, doc: Document, matches: list[Match],
                 hits: Optional[dict[int, list[int]]]) -> list[Match]:
        """After the index: the stateful matchers' part for `doc` (its clock,
        expiry, `hits`), appended to the single-event `matches`."""
        if hits is None and not self._timed and not self._plain:
            return matches       # no stateful rule looks at this document
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
        if clock is not None and int(now) != int(clock):
            self._advance(host, now, hits, matches)     # once per second of a host's time
        for matcher in self._plain:
            matches.extend(matcher.process(doc, host, now))
        if hits is not None or self._timed:
            called = self._indexed(doc, host, now, hits or {})
            if called:
                matches.extend(called)
        return matches

    def stateful_matcher(self, number: int) -> Any:
        """The stateful matcher a `split` hit names by number."""
        return self._stateful[number]

    def _indexed(self, doc: Document, host: Optional[str], now: float,
                 hits: dict[int, list[int]]) -> list[Match]:
        out: list[Match] = []
        numbers: Any = hits
        if self._timed:
            numbers = sorted(set(hits).union(n for n, _ in self._timed))
        for number in numbers:
            matcher = self._stateful[number]
            try:
                out.extend(matcher.hits(doc, host, now, hits.get(number, ())))
            except Exception as err:  # noqa: BLE001 - one rule's bug must not stop the others
                self.errors.count(matcher.rule, err)
        return out

    def _advance(self, host: Optional[str], now: float, hits: Optional[dict[int, list[int]]],
                 matches: list[Match]) -> None:
        """Time passed for `host`: every indexed matcher not called for this
        document drops what expired (and emits what only time decides)."""
        for number, matcher in self._expiring:
            if not (hits and number in hits):
                try:
                    matches.extend(matcher.advance(host, now))
                except Exception as err:  # noqa: BLE001
                    self.errors.count(matcher.rule, err)

    def flush(self) -> list[Match]:
        matches: list[Match] = []
        for matcher in self._stateful:
            matches.extend(matcher.flush())
        return matches

    def stats(self) -> dict[str, int]:
        """Counters for the status line and the scan summary."""
        budget = self.budget
        stores = budget.stores
        return {"rule_errors": self.errors.total,
                "pending_partial_matches": budget.used,
                "pending_bytes": budget.bytes,
                # (a store counts every eviction from it, the budget's included;
                # `dropped`: losses outside the stores, e.g. join keys past a bound)
                "evicted_partial_matches": sum(s.evicted for s in stores) + budget.dropped,
                "expired_partial_matches": sum(s.expired for s in stores),
                "forgotten_host_clocks": self.forgotten_clocks}

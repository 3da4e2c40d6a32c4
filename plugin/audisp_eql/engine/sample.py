"""`sample` rules on a live stream.

Elasticsearch: a sample is one distinct event per filter, all with the same
join key, in any order and with no time window of its own; a search gives
at most one sample per key. A stream has no search, so here:

- candidates of a key count while the host's time is within the rule's
  look-back window (`from = "now-9m"`: 9 minutes) of them;
- after each new candidate the key is tested for a sample: one distinct
  event per filter (a document matching two filters fills one of them);
- a sample found is emitted (events in filter order), the key's candidates
  cleared, and the key rests for one look-back window (events of it are
  ignored meanwhile): about one alert per key per window, as Kibana's runs
  give, instead of one per further event.

Only the latest n candidates per filter are kept (n filters): when a filter
has more, any n of them leave one free for it, and the latest live longest,
so this finds a sample exactly when keeping every candidate would.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from .. import limits
from ..eql.sequence import CompiledSample, Stage
from ..rules import Rule
from .engine import Match
from .rule_errors import RuleErrors
from .sequence import bounded_keys
from .state import Host, PendingStore, StateBudget

Document = dict[str, Any]
Candidates = list[list[tuple[int, Document]]]   # per filter: (time in ms, document), oldest first
_SLACK = 0.002


def distinct_representatives(candidates: Candidates) -> Optional[list[Document]]:
    """One document per filter, no document twice, or None: a bipartite
    matching by augmenting paths (polynomial whatever the rule), trying the
    newest candidates first."""
    owner: dict[int, int] = {}            # id(document) -> filter using it
    chosen: list[Optional[Document]] = [None] * len(candidates)

    def place(index: int, seen: set[int]) -> bool:
        for _, doc in reversed(candidates[index]):
            ident = id(doc)
            if ident in seen:
                continue
            seen.add(ident)
            if ident not in owner or place(owner[ident], seen):
                owner[ident] = index
                chosen[index] = doc
                return True
        return False

    for index in range(len(candidates)):
        if not place(index, set()):
            return None
    return chosen  # type: ignore[return-value]


class SampleMatcher:
    """One sample rule; the engine gives it the events matching its filters."""

    def __init__(self, rule: Rule, budget: StateBudget, errors: RuleErrors) -> None:
        compiled: CompiledSample = rule.compiled
        self.rule = rule
        self.budget = budget
        self.conditions = compiled.conditions
        self.horizon = int(min(rule.lookback, limits.MAX_STATE_SECONDS) * 1000)
        span = self.horizon / 1000 + _SLACK
        self._candidates = PendingStore(f"{rule.rule_id}/candidates", budget, span)
        self._resting = PendingStore(f"{rule.rule_id}/resting", budget, span)
        self._filters: dict[int, tuple[Stage, ...]] = {}
        for stage in compiled.stages:
            self._filters[stage.condition] = self._filters.get(stage.condition, ()) + (stage,)
        self._count = len(compiled.stages)
        self.timed = False

    def hits(self, doc: Document, host: Host, now: float, which: Iterable[int]) -> list[Match]:
        now_ms = int(round(now * 1000))
        matches: list[Match] = []
        stages = sorted((s for c in which for s in self._filters.get(c, ())),
                        key=lambda s: s.position)
        kept: Optional[Document] = None
        for stage in stages:
            for key in bounded_keys(stage, doc, self.budget):
                rested = self._resting.get(host, key, now)
                if rested is not None and now_ms - rested <= self.horizon:
                    continue
                if kept is None:
                    kept = self.budget.keep(doc)
                found = self._add(host, key, stage.position, kept, now, now_ms)
                if found is not None:
                    events = tuple(doc if d is kept else d for d in found)
                    matches.append(Match(self.rule, events, key))
                    self._resting.put(host, key, now_ms, now)
        return matches

    def _add(self, host: Host, key: Any, position: int, kept: Document, now: float,
             now_ms: int) -> Optional[list[Document]]:
        store = self._candidates
        previous = store.pop(host, key)
        horizon = self.horizon
        candidates: Candidates = [[c for c in filt if now_ms - c[0] <= horizon]
                                  for filt in previous] if previous is not None \
            else [[] for _ in range(self._count)]
        mine = candidates[position]
        if all(d is not kept for _, d in mine):
            mine.append((now_ms, kept))
            if len(mine) > self._count:
                del mine[0]
        found = distinct_representatives(candidates)
        if found is None:
            held: dict[int, Document] = {id(d): d for filt in candidates for _, d in filt}
            store.put(host, key, candidates, now, tuple(held.values()))
        return found

    def advance(self, host: Host, now: float) -> list[Match]:
        self._candidates.expire(host, now)
        self._resting.expire(host, now)
        return []

    def flush(self) -> list[Match]:
        return []

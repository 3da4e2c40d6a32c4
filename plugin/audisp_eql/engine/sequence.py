"""`sequence` rules on a live stream, with Elasticsearch's semantics.

For one rule, per host and join key (the host's documents in arrival order,
time in integer milliseconds of each host's own clock):

- an event matching the first positive step starts a pending sequence,
  replacing the one pending there for that key; one matching step i takes
  the sequence pending at step i-1 (which leaves that step whatever
  happens), drops it if the event is more than `maxspan` after its first
  event (inclusive window), else extends it: complete after the last step,
  else pending at step i, replacing what was there. Steps are offered an
  event from the last to the first, each against the state before the
  event, so an event never follows itself and `[A] with runs=3` over five
  A's gives (1,2,3), (2,3,4), (3,4,5). With single-valued keys an event
  completes at most one sequence of a rule; a multi-valued key field gives
  one key per value combination (at most limits.MAX_KEY_COMBINATIONS;
  the rest are dropped and counted), each its own sequence.
- `until`: an event matching it deletes every pending sequence of its key,
  after the steps had it (what it completes stands; what it starts or
  advances dies).
- missing events `![q]` between, before or after the steps: missing.py.
- A rule without maxspan is bounded by its look-back window (`from`).

State lives in PendingStores (state.py) the matcher owns: one per step but
the last (a `Partial` per key, partial.py), one for leading misses, one for
matches waiting on a trailing window (these two only missing.py reads).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any, Iterable

from .. import limits
from ..eql import ast
from ..eql.sequence import CompiledSequence, JoinKey, Stage
from ..rules import Rule
from .engine import Guards, Match, host_of
from .missing import MissingEvents
from .partial import Partial
from .rule_errors import RuleErrors
from .state import Host, PendingStore, StateBudget

Document = dict[str, Any]
_SLACK = 0.002   # seconds: stores expire a little late; the exact test is in milliseconds

# The order in which one event's steps act: misses, then positive steps from
# the last to the first, then until.
_TRAILING, _MIDDLE, _LEADING, _POSITIVE, _UNTIL = range(5)


def bounded_keys(stage: Stage, doc: Document, budget: StateBudget) -> list[JoinKey]:
    """The event's join keys for `stage`, at most limits.MAX_KEY_COMBINATIONS."""
    keys = stage.keys(doc)
    if keys.__class__ is list and len(keys) <= 1:   # type: ignore[arg-type]
        return keys                                   # type: ignore[return-value]
    if keys.__class__ is tuple and len(keys) <= 1:   # type: ignore[arg-type]
        return list(keys)
    limit = limits.MAX_KEY_COMBINATIONS
    taken = list(itertools.islice(keys, limit + 1))
    if len(taken) > limit:
        budget.dropped += 1
        del taken[limit:]
    return taken


def _guarded(condition: Any, has_state: Any) -> Any:
    """`condition` and the step's state term (see SequenceMatcher)."""
    predicate = condition.predicate
    return replace(condition, predicate=lambda doc: predicate(doc) and has_state(doc),
                   conjuncts=condition.conjuncts + ((STATE_TERM, has_state),))


class _Act:
    """What one step does with an event, in the order of `_plan`."""

    __slots__ = ("kind", "order", "step", "stage", "index", "guard")

    def __init__(self, kind: int, order: int, step: int, stage: Stage) -> None:
        self.kind, self.order, self.step, self.stage = kind, order, step, stage
        self.index = -1                                # its condition in `conditions`
        self.guard: tuple[PendingStore[Any], ...] = ()  # state it needs (none: starts some)


# The state term of a guarded step, as the index sees it: a field no document
# has, so that it is a residual term (never a cached gate or key term), cheap.
STATE_TERM = ast.Field(("@sequence", "state"))


class SequenceMatcher:
    """One sequence rule; the engine gives it the events matching its steps.

    Every step is a condition of the engine's index (`conditions`). A step
    that starts state (the first positive step, a leading miss) is the plain
    condition; any other step can only act on state already there for the
    event's key (a sequence pending at the step before, one waiting in a gap
    or on a trailing window), so its condition carries one more `and` term,
    "this event's key has that state", which the index's adaptive `and`
    learns to test first: a broad later step (`[process where true]`)
    costs one dictionary lookup per event. The state term reads the state
    before the event (the index runs before `hits`), which is what each
    step sees in Elasticsearch's order; `until`, which must see the
    sequences the same event started, is a plain condition."""

    def __init__(self, rule: Rule, budget: StateBudget, errors: RuleErrors) -> None:
        compiled: CompiledSequence = rule.compiled
        self.rule = rule
        self.budget = budget
        span = compiled.maxspan_ms
        self.span = span if span is not None else int(min(
            rule.lookback, limits.MAX_STATE_SECONDS) * 1000)
        store_span = self.span / 1000 + _SLACK
        positives = [s for s in compiled.stages if not s.missing]
        self._last_step = len(positives) - 1
        name = rule.rule_id
        self._pending = [PendingStore(f"{name}/{i}", budget, store_span)
                         for i in range(self._last_step)]
        first, last = positives[0].position, positives[-1].position
        acts = []
        for stage in compiled.stages:
            if not stage.missing:
                acts.append(_Act(_POSITIVE, -stage.position, positives.index(stage), stage))
            elif stage.position < first:
                acts.append(_Act(_LEADING, 0, 0, stage))
            elif stage.position > last:
                acts.append(_Act(_TRAILING, 0, 0, stage))
            else:   # the sequence waiting in the gap is pending at the previous positive step
                gap = sum(p.position < stage.position for p in positives) - 1
                acts.append(_Act(_MIDDLE, 0, gap, stage))
        if compiled.until is not None:
            acts.append(_Act(_UNTIL, 0, 0, compiled.until))
        kinds = {a.kind for a in acts}
        self._leads = PendingStore(f"{name}/lead", budget, store_span) \
            if _LEADING in kinds else None
        self._waiting = PendingStore(f"{name}/waiting", budget, store_span) \
            if _TRAILING in kinds else None
        self._plan = tuple(sorted(acts, key=lambda a: (a.kind, a.order, a.step)))
        self.guards = Guards()   # the engine may share one switch among matchers
        self.conditions = self._wire(compiled.conditions)
        # The `![q]` steps act on these same stores; the hot path below keeps
        # its own references to them and asks `_missing` only for those steps.
        self._missing = MissingEvents(rule, budget, self.span, self._pending,
                                      self._leads, self._waiting)
        self.timed = self._waiting is not None   # called on every event: windows to confirm
        self._stores = [s for s in (*self._pending, self._leads, self._waiting) if s is not None]

    def _wire(self, compiled: tuple[Any, ...]) -> tuple[Any, ...]:
        """The conditions the index evaluates: plain ones shared between steps,
        a guarded one per step that needs state."""
        conditions: list[Any] = []
        plain: dict[int, int] = {}
        for act in self._plan:
            kind = act.kind
            if kind in (_LEADING, _UNTIL) or (kind == _POSITIVE and act.step == 0):
                act.index = plain.get(act.stage.condition, -1)
                if act.index < 0:
                    act.index = plain[act.stage.condition] = len(conditions)
                    conditions.append(compiled[act.stage.condition])
        for act in self._plan:
            kind = act.kind
            if act.index >= 0:
                continue
            act.guard = ((self._waiting,) if kind == _TRAILING else   # type: ignore[assignment]
                         (self._pending[act.step - 1],) if kind == _POSITIVE else
                         (self._pending[act.step],))
            if act.stage.condition in plain:
                # the same condition as a step that starts state (`with runs=N`):
                # evaluated once, plainly; `hits` checks the state
                act.index = plain[act.stage.condition]
                continue
            act.index = len(conditions)
            conditions.append(_guarded(compiled[act.stage.condition], self._state_term(act)))
        return tuple(conditions)

    def _state_term(self, act: _Act) -> Any:
        store = act.guard[0]
        keys = act.stage.keys
        limit = limits.MAX_KEY_COMBINATIONS

        def has_state(doc: Document) -> bool:
            if not self.guards.enabled:     # (the engine's switch, set after construction)
                return True
            entries = store.entries(host_of(doc))
            if not entries:
                return False
            return any(k in entries for k in itertools.islice(keys(doc), limit))
        return has_state

    # -- the engine's interface -------------------------------------------------------
    def hits(self, doc: Document, host: Host, now: float, which: Iterable[int]) -> list[Match]:
        """`doc` (event time `now`, seconds) matched the `conditions` in
        `which` (maybe none: the rule waits on a trailing window)."""
        now_ms = int(round(now * 1000))
        # Expiry is the engine's periodic `advance` (and exact, in ms, below); a
        # match waiting on a trailing window is confirmed before anything else.
        matches = self._missing.confirm(host, now_ms) if self._waiting else []
        budget = self.budget
        for act in self._plan:
            if act.index not in which:
                continue
            keys = bounded_keys(act.stage, doc, budget)
            if act.guard:   # only the keys that have state (the index saw one)
                entries = act.guard[0].entries(host)
                keys = [k for k in keys if k in entries] if entries else []
            if not keys:
                continue
            kind = act.kind
            if kind == _POSITIVE:
                for key in keys:
                    self._step(host, key, act.step, doc, now, now_ms, matches)
            elif kind == _MIDDLE:
                self._missing.miss_between(host, keys, act.step, now, now_ms)
            elif kind == _LEADING:
                self._missing.miss_before(host, keys, now, now_ms)
            elif kind == _TRAILING:
                self._missing.miss_after(host, keys, now, now_ms)
            else:
                for key in keys:
                    for store in self._pending:
                        store.pop(host, key)
        return matches

    def advance(self, host: Host, now: float) -> list[Match]:
        """The host's time is `now`: matches whose trailing window has passed,
        and state past its span dropped."""
        matches = self._missing.confirm(host, int(round(now * 1000))) if self._waiting else []
        for store in self._stores:
            store.expire(host, now)
        return matches

    def flush(self) -> list[Match]:
        """End of input: every match still waiting on a trailing window stands."""
        return self._missing.flush()

    # -- positive steps ----------------------------------------------------------------
    def _step(self, host: Host, key: JoinKey, step: int, doc: Document,
              now: float, now_ms: int, matches: list[Match]) -> None:
        # What state holds of `doc` (`StateBudget.keep`: maybe a bounded copy) is
        # only asked for when it will be held: a step matching every exec must
        # not weigh every exec.
        last_step = self._last_step
        if step == 0:
            lead = self._missing.lead_before(host, key, now, now_ms) if self._leads else None
            if last_step == 0:
                self._complete(host, key, Partial((doc,), now_ms, now_ms, False, lead),
                               doc, now, matches)
            else:
                partial = Partial((self.budget.keep(doc),), now_ms, now_ms, False, lead)
                self._pending[0].put(host, key, partial, now, partial.events)
            return
        below = self._pending[step - 1]
        previous = below.pop(host, key)
        if previous is None:
            return
        if now_ms - previous.first > self.span:
            below.expired += 1
            return
        doomed = previous.doomed or (previous.miss_after is not None
                                     and previous.miss_after < now_ms)
        if step == last_step:
            partial = Partial(previous.events + (doc,), previous.first, now_ms, doomed,
                              previous.lead)
            self._complete(host, key, partial, doc, now, matches)
        else:
            partial = Partial(previous.events + (self.budget.keep(doc),), previous.first,
                              now_ms, doomed, previous.lead)
            self._pending[step].put(host, key, partial, previous.first / 1000, partial.events)

    def _complete(self, host: Host, key: JoinKey, partial: Partial, doc: Document,
                  now: float, matches: list[Match]) -> None:
        if partial.doomed:
            return
        lead = partial.lead
        if self._waiting is None:
            if lead is None or partial.last - lead > self.span:
                matches.append(Match(self.rule, partial.events, key))
            return
        if self._leads is not None and lead is None:
            matches.append(Match(self.rule, partial.events, key))
            return
        deadline = (lead if lead is not None else partial.first) + self.span
        if deadline <= partial.last:    # no event can come after the last one and still count
            matches.append(Match(self.rule, partial.events, key))
            return
        partial.events = partial.events[:-1] + (self.budget.keep(doc),)   # held now
        self._missing.wait(host, key, partial, deadline)

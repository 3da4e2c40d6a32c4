"""Compile `sequence` and `sample` queries: each step's condition and join keys.

The matching itself (state, time) belongs to the engine; this is the
language: what a step matches and which key a document has for it. The
checks are Elasticsearch's, so that a query it refuses is refused here:

- `maxspan` is a positive integer with a unit (ms, s, m, h, d);
- `with runs=N` (1 to 100) repeats the step, condition and keys, N times;
- join keys are fields; the top `by` fields come first, then the step's,
  and every step (and `until`) has the same number of them: keys compare by
  position, so different field names may join;
- a sequence has two steps or more after `runs`, at least one not missing;
  a missing step (`![...]`) needs `maxspan`; `until` cannot be missing;
- a sample has no `runs` and no missing step.

Join key values (`JoinKeys`): a field that is absent, null or an empty list
gives the document no key for that step, unless written `?field` (then null
is a value, and null equals null); a list gives one key per combination of
its distinct non-null values; values compare as `==` does, case-sensitively,
a string never equal to a number, `true` never equal to 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple

from . import ast
from .errors import EqlCompileError
from .values import getter

MAX_RUNS = 100
UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

KeyValue = Any          # str, int, float, ("bool", b), or None (a `?field`)
JoinKey = Tuple[KeyValue, ...]


def key_value(value: Any) -> Any:
    """The hashable form in which a join key value compares like `==` (None: not a key)."""
    cls = value.__class__
    if cls is str:
        return value
    if cls is int or cls is float:
        return value               # 1 == 1.0 as for ==; never equal to a string
    if cls is bool:
        return ("bool", value)     # True == 1 in Python, never in EQL
    return None                    # objects, nested lists, null: no key


_NULL: Tuple[None, ...] = (None,)


def _component(field: ast.Field) -> Callable[[dict], Sequence[KeyValue]]:
    """doc -> the distinct values one key field contributes (empty: no key)."""
    get = getter(field.path)
    absent = _NULL if field.optional else ()

    def values(doc: dict) -> Sequence[KeyValue]:
        raw = get(doc)
        if raw.__class__ is str:
            return (raw,)
        if raw.__class__ is list:
            found: list = []
            for item in raw:
                value = key_value(item)
                if value is not None and value not in found:
                    found.append(value)
            return found or absent
        value = key_value(raw) if raw is not None else None
        return absent if value is None else (value,)
    return values


class JoinKeys:
    """doc -> its join keys for one step (an empty iterable: none).

    The usual document has one string or integer per key field: that key is
    read directly (`_plain`); anything else (lists, null, other types) takes
    the general path, which gives the same key for such a document."""

    __slots__ = ("_parts", "_getters", "_plain")

    def __init__(self, fields: Sequence[ast.Field]) -> None:
        self._parts = tuple(_component(f) for f in fields)
        self._getters = tuple(getter(f.path) for f in fields)
        self._plain = _plain_reader(self._getters)

    def __call__(self, doc: dict) -> Iterable[JoinKey]:
        key = self._plain(doc)
        if key is not None:
            return [key]
        parts = [part(doc) for part in self._parts]
        if not all(parts):
            return ()
        if all(len(p) == 1 for p in parts):
            return (tuple(p[0] for p in parts),)
        return itertools.product(*parts)   # lazily: the engine bounds how many it takes


def _plain_reader(getters: Sequence[Callable[[dict], Any]]) -> Callable[[dict], Optional[tuple]]:
    """doc -> its key when every field holds one str or int (not bool), else None."""
    if len(getters) == 1:
        (g0,) = getters

        def one(doc: dict) -> Optional[tuple]:
            a = g0(doc)
            return (a,) if a.__class__ is str or a.__class__ is int else None
        return one
    if len(getters) == 2:
        g0, g1 = getters

        def two(doc: dict) -> Optional[tuple]:
            a, b = g0(doc), g1(doc)
            if (a.__class__ is str or a.__class__ is int) and \
                    (b.__class__ is str or b.__class__ is int):
                return (a, b)
            return None
        return two

    def many(doc: dict) -> Optional[tuple]:
        key = tuple(g(doc) for g in getters)
        for value in key:
            if not (value.__class__ is str or value.__class__ is int):
                return None
        return key
    return many


@dataclass(frozen=True)
class Stage:
    """One step after `runs` expansion (or the `until` step, position -1)."""
    position: int
    step: int                 # 1-based number of the step as written
    condition: int            # index into the query's `conditions`
    keys: JoinKeys
    missing: bool = False


@dataclass(frozen=True)
class CompiledSequence:
    query: ast.SequenceQuery
    conditions: Tuple[Any, ...]      # compiled single-event queries, one per distinct step
    stages: Tuple[Stage, ...]
    until: Optional[Stage]
    maxspan_ms: Optional[int]
    fields: frozenset
    category = None


@dataclass(frozen=True)
class CompiledSample:
    query: ast.SampleQuery
    conditions: Tuple[Any, ...]
    stages: Tuple[Stage, ...]
    fields: frozenset
    category = None


def maxspan_ms(span: Optional[Tuple[Any, Optional[str]]]) -> Optional[int]:
    if span is None:
        return None
    amount, unit = span
    if isinstance(amount, float):
        raise EqlCompileError(f"maxspan: decimal time interval {amount} not supported; "
                              "use a positive integer")
    if unit is None:
        raise EqlCompileError(f"maxspan: no time unit; did you mean {amount}s?")
    if amount <= 0:
        raise EqlCompileError(f"maxspan must be positive, found {amount}")
    return amount * UNITS_MS[unit]


def _key_fields(exprs: Sequence[ast.Expr], where: str) -> Tuple[ast.Field, ...]:
    for expr in exprs:
        if not isinstance(expr, ast.Field):
            raise EqlCompileError(f"{where}: join keys must be fields")
    return tuple(exprs)  # type: ignore[arg-type]


def keyed(event: ast.EventQuery, fields: Sequence[ast.Field]) -> ast.EventQuery:
    """The step's condition and `field != null` for each key field not written
    `?field`: an event without its key takes no part in the step anyway, and
    the engine's `and` learns to test a key that is never there first (a rule
    joining on a field our documents lack costs one lookup per document)."""
    present = tuple(ast.Compare("!=", f, ast.Literal(None)) for f in dict.fromkeys(fields)
                    if not f.optional)
    if not present:
        return event
    terms = event.condition.terms if isinstance(event.condition, ast.And) else (event.condition,)
    return ast.EventQuery(event.category, ast.And(terms + present))


class _Builder:
    """Shared by both query kinds: conditions compiled once per distinct step."""

    def __init__(self, compile_event: Callable[[ast.EventQuery], Any],
                 top: Sequence[ast.Expr]) -> None:
        self.compile_event = compile_event
        self.top = _key_fields(top, "by")
        self.conditions: list[Any] = []
        self._index: dict[ast.EventQuery, int] = {}
        self.width: Optional[int] = None

    def stage(self, sub: ast.SubQuery, position: int, step: int, what: str) -> Stage:
        fields = self.top + _key_fields(sub.by, what)
        if self.width is None:
            self.width = len(fields)
        elif len(fields) != self.width:
            raise EqlCompileError(f"{what}: inconsistent number of join keys; expected "
                                  f"{self.width - len(self.top)} but found "
                                  f"{len(fields) - len(self.top)}")
        event = keyed(sub.event, fields)
        index = self._index.get(event)
        if index is None:
            index = self._index[event] = len(self.conditions)
            self.conditions.append(self.compile_event(event))
        return Stage(position, step, index, JoinKeys(fields), sub.missing)


def _runs(sub: ast.SubQuery, what: str) -> int:
    if sub.runs is None:
        return 1
    if not 1 <= sub.runs <= MAX_RUNS:
        raise EqlCompileError(f"{what}: runs must be between 1 and {MAX_RUNS}, found {sub.runs}")
    return sub.runs


def compile_sequence(query: ast.SequenceQuery,
                     compile_event: Callable[[ast.EventQuery], Any]) -> CompiledSequence:
    span = maxspan_ms(query.maxspan)
    build = _Builder(compile_event, query.by)
    stages: list[Stage] = []
    for number, sub in enumerate(query.steps, 1):
        what = f"step {number}"
        for _ in range(_runs(sub, what)):
            stages.append(build.stage(sub, len(stages), number, what))
    until = None
    if query.until is not None:
        if query.until.missing:
            raise EqlCompileError("until: a missing-event step ![...] cannot end a sequence")
        if query.until.runs is not None:
            raise EqlCompileError("until: with runs is not allowed")
        until = build.stage(query.until, -1, 0, "until")
    if len(stages) < 2:
        raise EqlCompileError("a sequence needs at least two steps")
    if all(s.missing for s in stages):
        raise EqlCompileError("a sequence needs a step that is not a missing event")
    if span is None and any(s.missing for s in stages):
        raise EqlCompileError("a sequence with missing events ![...] needs maxspan")
    return CompiledSequence(query, tuple(build.conditions), tuple(stages), until, span,
                            query.fields)


def compile_sample(query: ast.SampleQuery,
                   compile_event: Callable[[ast.EventQuery], Any]) -> CompiledSample:
    build = _Builder(compile_event, query.by)
    stages: list[Stage] = []
    for number, sub in enumerate(query.steps, 1):
        what = f"step {number}"
        if sub.runs is not None:
            raise EqlCompileError(f"{what}: a sample has no runs")
        if sub.missing:
            raise EqlCompileError(f"{what}: a sample has no missing events")
        stages.append(build.stage(sub, len(stages), number, what))
    return CompiledSample(query, tuple(build.conditions), tuple(stages), query.fields)

"""The EQL syntax tree: immutable nodes built by grammar.py, read by compile.py.

Case-insensitive operators (`in~`, `:`/`like~`, `regex~`, `f~(...)`) carry
`insensitive=True`; `:` is stored as `like` with `insensitive=True`, which is
exactly its Elasticsearch meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Iterator, Optional, Tuple, Union

Scalar = Union[str, int, float, bool, None]


def _start() -> Optional[int]:
    return _field(default=None, compare=False, repr=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Field:
    path: Tuple[str, ...]
    optional: bool = False  # written `?field`; evaluated like `field`

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal:
    value: Scalar


@dataclass(frozen=True)
class Call:
    name: str  # canonical spelling, e.g. "startsWith"
    args: Tuple["Expr", ...]
    insensitive: bool = False  # written with the `~` suffix
    start: Optional[int] = _start()


@dataclass(frozen=True)
class Arith:
    op: str  # + - * / %
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: "Expr"
    right: "Expr"
    start: Optional[int] = _start()


@dataclass(frozen=True)
class InSet:
    expr: "Expr"
    values: Tuple[Literal, ...]
    insensitive: bool = False  # in~
    negated: bool = False  # not in
    start: Optional[int] = _start()


@dataclass(frozen=True)
class Match:
    kind: str  # "like" or "regex"
    expr: "Expr"
    patterns: Tuple[str, ...]
    insensitive: bool = False  # like~ / : / regex~
    start: Optional[int] = _start()


@dataclass(frozen=True)
class Not:
    term: "Expr"
    start: Optional[int] = _start()


@dataclass(frozen=True)
class And:
    terms: Tuple["Expr", ...]
    start: Optional[int] = _start()


@dataclass(frozen=True)
class Or:
    terms: Tuple["Expr", ...]
    start: Optional[int] = _start()


Expr = Union[Field, Literal, Call, Arith, Compare, InSet, Match, Not, And, Or]


def children(node: Expr) -> Tuple[Expr, ...]:
    """The direct sub-expressions of a node."""
    if isinstance(node, (Field, Literal)):
        return ()
    if isinstance(node, Call):
        return node.args
    if isinstance(node, (Arith, Compare)):
        return (node.left, node.right)
    if isinstance(node, (InSet, Match)):
        return (node.expr,)
    if isinstance(node, Not):
        return (node.term,)
    return node.terms


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def fields_of(*nodes: Expr) -> frozenset:
    return frozenset(n.name for node in nodes for n in walk(node) if isinstance(n, Field))


@dataclass(frozen=True)
class EventQuery:
    category: Optional[str]  # None for `any`
    condition: Expr
    kind = "event"

    @property
    def fields(self) -> frozenset:
        return fields_of(self.condition)


@dataclass(frozen=True)
class SubQuery:
    """One bracketed step of a sequence or sample, with its own join keys."""
    event: EventQuery
    by: Tuple[Expr, ...] = ()
    runs: Optional[int] = None


@dataclass(frozen=True)
class SequenceQuery:
    by: Tuple[Expr, ...]
    maxspan: Optional[Tuple[float, str]]  # (amount, unit) as written, e.g. (30, "s")
    steps: Tuple[SubQuery, ...]
    until: Optional[SubQuery] = None
    kind = "sequence"

    @property
    def fields(self) -> frozenset:
        steps = self.steps + ((self.until,) if self.until else ())
        return fields_of(*self.by, *(e for s in steps for e in (s.event.condition, *s.by)))


@dataclass(frozen=True)
class SampleQuery:
    by: Tuple[Expr, ...]
    steps: Tuple[SubQuery, ...]
    kind = "sample"

    @property
    def fields(self) -> frozenset:
        return fields_of(*self.by, *(e for s in self.steps for e in (s.event.condition, *s.by)))


Query = Union[EventQuery, SequenceQuery, SampleQuery]

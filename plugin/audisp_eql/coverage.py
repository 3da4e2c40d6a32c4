"""Can a rule ever fire on the documents audisp-eql produces?

What is produced comes from the registered event kinds (ecs/kinds.py,
through `Catalog`): their categories, their fields, and the fields that have
one value on all documents of a category; adding a kind changes this
analysis without touching this module.

A report, not a filter: the rule stays loaded because ECS documents read with
`scan --input ecs` may come from elsewhere. The condition is evaluated in
three-valued logic over what is known of every document the rule can see,
erring on the side of "may fire":

- a comparison that needs a field (`required_fields`: not under `!=`,
  `not in`, `null`, a function, or written `?field`) that our builders never
  set is false (a predicate on a missing field is false);
- a comparison that tests only fields with one value on all our documents
  (`event.action`, `event.type`, ...) is evaluated with the real compiled
  semantics;
- anything else is unknown; `and`, `or` and `not` combine as usual.

When the whole condition is false, the report names the first condition
that can never hold as it is written in the query, with its offset (a
false term of an `and`, else the whole `or` or `not`), and why. A sequence
or sample can never fire when one of its steps cannot, or when a join key
is a field never set (a missing key joins nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from .ecs.registry import Catalog
from .eql import ast
from .eql.grammar import source_span

_UNKNOWN = None  # third truth value


def _field_operand(node: ast.Expr) -> Optional[str]:
    if isinstance(node, ast.Field) and not node.optional:
        return node.name
    return None


def required_fields(node: ast.Expr) -> frozenset:
    """Fields that must be present for `node` to be true (a sound under-estimate)."""
    if isinstance(node, ast.And):
        out: frozenset = frozenset()
        for term in node.terms:
            out |= required_fields(term)
        return out
    if isinstance(node, ast.Or):
        sets = [required_fields(term) for term in node.terms]
        return frozenset.intersection(*sets) if sets else frozenset()
    if isinstance(node, ast.Compare):
        left, right = node.left, node.right
        if isinstance(left, ast.Literal) and left.value is None or \
                isinstance(right, ast.Literal) and right.value is None:
            # `f == null` is true on a missing f; `f != null` needs it.
            name = _field_operand(right if isinstance(left, ast.Literal) else left)
            return frozenset([name]) if node.op == "!=" and name else frozenset()
        if node.op == "!=":
            return frozenset()
        return frozenset(n for n in (_field_operand(left), _field_operand(right)) if n)
    if isinstance(node, ast.InSet):
        if node.negated or any(v.value is None for v in node.values):
            return frozenset()
        name = _field_operand(node.expr)
        return frozenset([name]) if name else frozenset()
    if isinstance(node, ast.Match):
        name = _field_operand(node.expr)
        return frozenset([name]) if name else frozenset()
    return frozenset()  # Not, Call, bare Field/Literal: nothing is certain


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return doc


@dataclass(frozen=True)
class Impossible:
    """Why a query can never fire, and where in the query text (an offset)."""

    message: str
    offset: Optional[int] = None

    def __str__(self) -> str:
        return self.message


class _Judge:
    """Three-valued evaluation of a condition on what every document shares."""

    def __init__(self, compile_query: Any, catalog: Catalog, scope: Optional[str]) -> None:
        self._compile = compile_query
        self.fields = catalog.fields(scope)
        self.constants = catalog.constants(scope)
        self._doc = _nest(self.constants)
        self.what = f"audisp-eql's {scope} documents" if scope else "audisp-eql's documents"
        self.why: dict[int, str] = {}     # id(leaf) -> why its value is known

    def _leaf(self, node: ast.Expr) -> Optional[bool]:
        missing = sorted(required_fields(node) - self.fields - self.constants.keys())
        if missing:
            self.why[id(node)] = f"{self.what} never have {', '.join(missing)}"
            return False
        names = ast.fields_of(node)
        if not names or not names <= self.constants.keys():
            return _UNKNOWN
        try:
            compiled = self._compile(ast.EventQuery(category=None, condition=node))
            value = bool(compiled.predicate(self._doc))
        except Exception:  # noqa: BLE001 - an unevaluable term is simply unknown
            return _UNKNOWN
        self.why[id(node)] = f"{self.what} have " + ", ".join(
            f"{name} {json.dumps(self.constants[name], ensure_ascii=False)}"
            for name in sorted(names))
        return value

    def evaluate(self, node: ast.Expr) -> Optional[bool]:
        if isinstance(node, ast.And):
            values = [self.evaluate(t) for t in node.terms]
            if False in values:
                return False
            return True if all(v is True for v in values) else _UNKNOWN
        if isinstance(node, ast.Or):
            values = [self.evaluate(t) for t in node.terms]
            if True in values:
                return True
            return False if all(v is False for v in values) else _UNKNOWN
        if isinstance(node, ast.Not):
            inner = self.evaluate(node.term)
            return _UNKNOWN if inner is None else not inner
        return self._leaf(node)

    def culprit(self, node: ast.Expr) -> ast.Expr:
        """The first condition in `node` (false) that can never hold."""
        while isinstance(node, ast.And):
            node = next(t for t in node.terms if self.evaluate(t) is False)
        return node

    def reasons(self, node: ast.Expr) -> str:
        found: dict[str, None] = {}
        for sub in ast.walk(node):
            if id(sub) in self.why:
                found.setdefault(self.why[id(sub)])
        return "; ".join(found)


def _quote(text: str, node: ast.Expr) -> tuple[str, Optional[int]]:
    span = source_span(text, node) if text else None
    if span is None:
        return "the condition on " + ", ".join(sorted(ast.fields_of(node))), None
    written = " ".join(text[span[0]:span[1]].split())
    if len(written) > 160:
        written = written[:157] + "..."
    return written, span[0]


def _event_query(query: ast.EventQuery, catalog: Catalog, compile_query: Any,
                 text: str) -> Optional[Impossible]:
    categories = catalog.categories
    if query.category is not None and query.category not in categories:
        return Impossible(f"category {query.category}: audisp-eql produces "
                          f"{'/'.join(categories)} events only", 0 if text else None)
    judge = _Judge(compile_query, catalog, query.category)
    if judge.evaluate(query.condition) is not False:
        return None
    culprit = judge.culprit(query.condition)
    written, offset = _quote(text, culprit)
    return Impossible(f"{written} can never hold: {judge.reasons(culprit)}", offset)


def _steps(query: Any, catalog: Catalog, compile_query: Any, text: str) -> Optional[Impossible]:
    """A sequence or sample: every (positive) step must be able to match and join."""
    for number, step in enumerate(query.steps, 1):
        if getattr(step, "missing", False):
            continue   # `![...]`: an event that must not happen
        found = _event_query(step.event, catalog, compile_query, text)
        if found is not None:
            return Impossible(f"{query.kind} step {number}: {found.message}", found.offset)
        category = step.event.category if step.event.category in catalog.categories else None
        produced = catalog.fields(category)
        for key in tuple(query.by) + tuple(step.by):
            if isinstance(key, ast.Field) and not key.optional and key.name not in produced:
                what = f"audisp-eql's {category} documents" if category else "audisp-eql's documents"
                return Impossible(f"{query.kind} step {number} can never join: {what} never "
                                  f"have {key.name} (a missing join key joins nothing; "
                                  f"?{key.name} would)")
    return None


def never_fires(query: Any, catalog: Catalog, compile_query: Any,
                text: str = "") -> list[Impossible]:
    """Why `query` (parsed from `text`) can never match our documents; empty: it may."""
    if isinstance(query, ast.EventQuery):
        found = _event_query(query, catalog, compile_query, text)
    elif hasattr(query, "steps"):
        found = _steps(query, catalog, compile_query, text)
    else:
        found = None
    return [found] if found is not None else []

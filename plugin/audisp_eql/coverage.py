"""Can a rule ever fire on the documents audisp-eql produces?

What is produced comes from the registered event kinds (ecs/kinds.py,
through `Catalog`): their categories, their fields, and the values their
fixed fields take (`constants`, and `variants`: event.action / event.type ...
per kind of record); adding a kind changes this analysis without touching
this module. A rule can fire when some kind of its category has a variant on
which its condition is not false.

A report, not a filter: the rule stays loaded because ECS documents read with
`scan --input ecs` may come from elsewhere. The condition is evaluated in
three-valued logic over what is known of every document the rule can see,
erring on the side of "may fire":

- a comparison that needs a field (`required_fields`: not under `!=`,
  `not in`, `null`, a function, or written `?field`) that our builders never
  set is false (a predicate on a missing field is false);
- a comparison that tests only fields with one value on all documents of
  that variant (`event.action`, `event.type`, ...; a list-valued event.action
  matches when any element does) is evaluated with the real compiled
  semantics;
- anything else is unknown; `and`, `or` and `not` combine as usual.

When the whole condition is false, the report names the first condition
that can never hold as it is written in the query, with its offset (a
false term of an `and`, else the whole `or` or `not`), and why. A sequence
or sample can never fire when one of its steps cannot, when a join key is
a field never set on the documents that step can match (a missing key joins
nothing), or when a later step of a sequence joins on a field that is new on
every document it can match (`fresh`: a process start's entity id, which no
earlier document can carry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from .ecs.registry import Catalog
from .eql import ast
from .eql.grammar import source_span
from .unreported import explain

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
    """Three-valued evaluation of a condition on what every document of one
    variant of one kind shares (its fields, its fixed values)."""

    def __init__(self, compile_query: Any, fields: frozenset[str], constants: dict[str, Any],
                 what: str, compiled: dict[int, Any]) -> None:
        self._compile = compile_query
        self.fields = fields
        self.constants = constants
        self._doc = _nest(constants)
        self.what = what
        self._compiled = compiled      # id(leaf) -> predicate, shared by the judges of a query
        # id(leaf) -> why its value is known: ("never", fields) or ("have", ((field, value), ...))
        self.why: dict[int, tuple[str, tuple[Any, ...]]] = {}

    def _leaf(self, node: ast.Expr) -> Optional[bool]:
        missing = sorted(required_fields(node) - self.fields - self.constants.keys())
        if missing:
            self.why[id(node)] = ("never", tuple(missing))
            return False
        names = ast.fields_of(node)
        if not names or not names <= self.constants.keys():
            return _UNKNOWN
        try:
            predicate = self._compiled.get(id(node))
            if predicate is None:
                predicate = self._compile(ast.EventQuery(category=None, condition=node)).predicate
                self._compiled[id(node)] = predicate
            value = bool(predicate(self._doc))
        except Exception:  # noqa: BLE001 - an unevaluable term is simply unknown
            return _UNKNOWN
        self.why[id(node)] = ("have", tuple((name, json.dumps(self.constants[name],
                                                              ensure_ascii=False))
                                            for name in sorted(names)))
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

    def reasons(self, node: ast.Expr) -> list[tuple[str, tuple[Any, ...]]]:
        found: dict[tuple[str, tuple[Any, ...]], None] = {}
        for sub in ast.walk(node):
            if id(sub) in self.why:
                found.setdefault(self.why[id(sub)])
        return list(found)


def _quote(text: str, node: ast.Expr) -> tuple[str, Optional[int]]:
    span = source_span(text, node) if text else None
    if span is None:
        return "the condition on " + ", ".join(sorted(ast.fields_of(node))), None
    written = " ".join(text[span[0]:span[1]].split())
    if len(written) > 160:
        written = written[:157] + "..."
    return written, span[0]


_SHOWN_VALUES = 4   # values of one field named in a reason; the rest are counted


def _describe(what: str, reasons: list[tuple[str, tuple[Any, ...]]]) -> str:
    """`<what> have event.action "exec" or "ran-command" ...; <what> never have x`:
    the values of each field over every kind of document, then the missing fields."""
    values: dict[str, list[str]] = {}
    missing: dict[str, None] = {}
    for kind, detail in reasons:
        if kind == "never":
            missing.update(dict.fromkeys(detail))
            continue
        for name, value in detail:
            if value not in values.setdefault(name, []):
                values[name].append(value)
    parts = []
    for name, seen in values.items():
        shown = " or ".join(seen[:_SHOWN_VALUES])
        more = len(seen) - _SHOWN_VALUES
        parts.append(f"{what} have {name} {shown}" + (f" (or {more} more)" if more > 0 else ""))
    if missing:
        parts.append(f"{what} never have {explain(list(missing))}")
    return "; ".join(parts)


def _judges(query: ast.EventQuery, catalog: Catalog, compile_query: Any) -> list[_Judge]:
    """One judge per variant of every kind the query can see (duplicates dropped)."""
    scope = query.category if query.category in catalog.categories else None
    what = f"audisp-eql's {scope} documents" if scope else "audisp-eql's documents"
    used = ast.fields_of(query.condition)
    compiled: dict[int, Any] = {}
    judges: list[_Judge] = []
    seen: set[tuple[frozenset[str], str]] = set()
    for kind in catalog.kinds_of(scope):
        fields = catalog.kind_fields(kind)
        for variant in catalog.kind_variants(kind, scope):
            # Only the fields the condition reads matter: one judge per projection.
            projected = {k: v for k, v in variant.items() if k in used}
            key = (fields & used, repr(sorted(projected.items())))
            if key not in seen:
                seen.add(key)
                judges.append(_Judge(compile_query, fields, projected, what, compiled))
    return judges


def possible_variants(query: Any, catalog: Catalog, compile_query: Any) -> list[dict[str, Any]]:
    """The fixed values of each kind of document `query` may match (for a
    sequence or sample: any of its steps'); the variants it can never match on
    are left out."""
    if not isinstance(query, ast.EventQuery):
        found: list[dict[str, Any]] = []
        for step in getattr(query, "steps", ()):
            if not getattr(step, "missing", False):
                found += possible_variants(step.event, catalog, compile_query)
        return found
    scope = query.category if query.category in catalog.categories else None
    compiled: dict[int, Any] = {}
    what = "documents"
    out = []
    for kind in catalog.kinds_of(scope):
        fields = catalog.kind_fields(kind)
        for variant in catalog.kind_variants(kind, scope):
            judge = _Judge(compile_query, fields, variant, what, compiled)
            if judge.evaluate(query.condition) is not False:
                out.append(variant)
    return out


def _event_query(query: ast.EventQuery, catalog: Catalog, compile_query: Any,
                 text: str) -> Optional[Impossible]:
    categories = catalog.categories
    if query.category is not None and query.category not in categories:
        return Impossible(f"category {query.category}: audisp-eql produces "
                          f"{'/'.join(categories)} events only", 0 if text else None)
    judges = _judges(query, catalog, compile_query)
    if not judges or any(j.evaluate(query.condition) is not False for j in judges):
        return None
    culprits = [judge.culprit(query.condition) for judge in judges]
    # One condition fails on every kind of document: name it; else the whole condition.
    culprit = culprits[0] if all(c is culprits[0] for c in culprits) else query.condition
    written, offset = _quote(text, culprit)
    reasons = [r for judge, c in zip(judges, culprits) for r in judge.reasons(c)]
    return Impossible(f"{written} can never hold: {_describe(judges[0].what, reasons)}", offset)


def _matching_kinds(query: ast.EventQuery, catalog: Catalog,
                    compile_query: Any) -> list[Any]:
    """The kinds with a variant on which `query`'s condition is not false."""
    scope = query.category if query.category in catalog.categories else None
    compiled: dict[int, Any] = {}
    found = []
    for kind in catalog.kinds_of(scope):
        fields = catalog.kind_fields(kind)
        if any(_Judge(compile_query, fields, variant, "documents", compiled)
               .evaluate(query.condition) is not False
               for variant in catalog.kind_variants(kind, scope)):
            found.append(kind)
    return found


def _steps(query: Any, catalog: Catalog, compile_query: Any, text: str) -> Optional[Impossible]:
    """A sequence or sample: every (positive) step must be able to match and join."""
    earlier = False
    for number, step in enumerate(query.steps, 1):
        if getattr(step, "missing", False):
            continue   # `![...]`: an event that must not happen
        found = _event_query(step.event, catalog, compile_query, text)
        if found is not None:
            return Impossible(f"{query.kind} step {number}: {found.message}", found.offset)
        category = step.event.category if step.event.category in catalog.categories else None
        kinds = _matching_kinds(step.event, catalog, compile_query)
        produced = frozenset().union(*(catalog.kind_fields(k) for k in kinds))
        names = "/".join(dict.fromkeys(k.kind for k in kinds))
        what = f"audisp-eql's {category} documents" if category else "audisp-eql's documents"
        for key in tuple(query.by) + tuple(step.by):
            if not isinstance(key, ast.Field) or key.optional:
                continue
            if key.name not in produced:
                return Impossible(f"{query.kind} step {number} can never join: {what} of "
                                  f"kind {names} (those it can match) never have {key.name} "
                                  f"(a missing join key joins nothing; ?{key.name} would)")
            if earlier and query.kind == "sequence" and all(key.name in k.fresh for k in kinds):
                return Impossible(f"{query.kind} step {number} can never join: {key.name} of "
                                  f"{what} of kind {names} is new on each of them (no earlier "
                                  f"step's document carries it)")
        earlier = True
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

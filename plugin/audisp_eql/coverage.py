"""Can a rule ever fire on the documents audisp-eql produces?

What is produced comes from the registered event kinds (ecs/kinds.py,
through `Catalog`): their categories, their fields, and the values their
fixed fields take (`constants`, and `variants`: event.action / event.type ...
per kind of record); adding a kind changes this analysis without touching
this module. A rule can fire when some kind of its category carries every
field it needs and the condition is not false on every variant of that kind.

A report, not a filter: the rule stays loaded because ECS documents read with
`scan --input ecs` may come from elsewhere. Two sound checks, both erring on
the side of "may fire":

- required fields: a field the condition cannot be true without (a term of an
  `and`, a field needed by every branch of an `or`), never one used only
  under `not`, in `!=`/`not in`, compared with `null`, inside a function, or
  written `?field`; when such a field is one our builder never sets, the
  rule cannot fire.
- constant gates: terms that test only fields whose value is fixed for a
  variant (`event.action`, `event.type`, ...; lists as produced, so a
  list-valued event.action matches when any element does) are evaluated with
  the real compiled semantics; the condition is then evaluated in three-valued
  logic, and if it is false whatever the other fields hold on every variant of
  every kind, it cannot fire.
"""

from __future__ import annotations

from typing import Any, Optional

from .ecs.registry import Catalog, kind_fields, kind_variants
from .eql import ast
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


class _ConstantEvaluator:
    """Three-valued evaluation of a condition on the fields known to be constant."""

    def __init__(self, compile_query: Any, constants: dict[str, Any],
                 compiled: Optional[dict[int, Any]] = None) -> None:
        self._compile = compile_query
        self._constants = constants
        self._doc = _nest(constants)
        self._compiled = compiled if compiled is not None else {}  # id(leaf) -> predicate
        self.decided_terms: list[ast.Expr] = []  # leaves with a known value

    def _leaf(self, node: ast.Expr) -> Optional[bool]:
        names = ast.fields_of(node)
        if not names or not names <= self._constants.keys():
            return _UNKNOWN
        try:
            predicate = self._compiled.get(id(node))
            if predicate is None:
                predicate = self._compile(ast.EventQuery(category=None, condition=node)).predicate
                self._compiled[id(node)] = predicate
            value = bool(predicate(self._doc))
        except Exception:  # noqa: BLE001 - an unevaluable term is simply unknown
            return _UNKNOWN
        self.decided_terms.append(node)
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


def _never_true(condition: ast.Expr, variants: list[dict[str, Any]], compile_query: Any,
                used: frozenset) -> Optional[list[dict[str, Any]]]:
    """The decided values that make `condition` false on every variant (None when
    some variant may satisfy it)."""
    compiled: dict[int, Any] = {}
    seen: set[str] = set()
    decided: list[dict[str, Any]] = []
    for variant in variants:
        # Only the fields the condition reads matter: evaluate each projection once.
        projected = {k: v for k, v in variant.items() if k in used}
        key = repr(sorted(projected.items()))
        if key in seen:
            continue
        seen.add(key)
        evaluator = _ConstantEvaluator(compile_query, projected, compiled)
        if evaluator.evaluate(condition) is not False:
            return None
        names = ast.fields_of(*evaluator.decided_terms)
        decided.append({name: projected[name] for name in sorted(names)})
    return decided


def _describe(decided: list[dict[str, Any]]) -> str:
    """`event.action = 'exec'`, or per field the values seen: `event.action in ('a', 'b')`."""
    if len(decided) == 1:
        return ", ".join(f"{name} = {value!r}" for name, value in decided[0].items())
    values: dict[str, list[Any]] = {}
    for entry in decided:
        for name, value in entry.items():
            if value not in values.setdefault(name, []):
                values[name].append(value)
    parts = []
    for name in sorted(values):
        shown = values[name]
        parts.append(f"{name} = {shown[0]!r}" if len(shown) == 1 else
                     f"{name} in ({', '.join(repr(v) for v in shown)})")
    return ", ".join(parts)


def never_fires(query: Any, catalog: Catalog, compile_query: Any) -> list[str]:
    """Reasons why `query` can never match one of our documents (empty: it may)."""
    if not isinstance(query, ast.EventQuery):
        return []
    reasons: list[str] = []
    categories = catalog.categories
    # The documents the query can see: those of its category; for `any`, or a
    # category nobody produces (already a reason), all of them.
    scope = query.category if query.category in categories else None
    if query.category is not None and scope is None:
        reasons.append(f"category {query.category}: audisp-eql produces "
                       f"{'/'.join(categories)} events only")
    required = required_fields(query.condition)
    missing = sorted(required - catalog.fields(scope))
    if missing:
        reasons.append("needs " + explain(missing))
    # Kind by kind: one that has every required field and a variant the
    # condition may hold on is enough for the rule to be able to fire.
    used = ast.fields_of(query.condition)
    decided: list[dict[str, Any]] = []
    lacking = False
    for kind in catalog.kinds_of(scope):
        if required - kind_fields(kind):
            lacking = True
            continue
        never = _never_true(query.condition, kind_variants(kind, scope), compile_query, used)
        if never is None:
            return reasons
        decided.extend(never)
    if decided:
        reasons.append(f"never true with {_describe(decided)}")
    elif lacking and not missing:
        reasons.append("no kind of event carries all of " + ", ".join(sorted(required)))
    return reasons

"""Can a rule ever fire on the documents audisp-eql produces?

What is produced comes from the registered event kinds (ecs/kinds.py,
through `Catalog`): their categories, their fields, and the fields that have
one value on all documents of a category; adding a kind changes this
analysis without touching this module.

A report, not a filter: the rule stays loaded because ECS documents read with
`scan --input ecs` may come from elsewhere. Two sound checks, both erring on
the side of "may fire":

- required fields: a field the condition cannot be true without (a term of an
  `and`, a field needed by every branch of an `or`), never one used only
  under `not`, in `!=`/`not in`, compared with `null`, inside a function, or
  written `?field`; when such a field is one our builder never sets, the
  rule cannot fire.
- constant gates: terms that test only fields whose value is the same on all
  our documents (`event.action`, `event.type`, ...) are evaluated with the
  real compiled semantics; the condition is then evaluated in three-valued
  logic, and if it is false whatever the other fields hold, it cannot fire.

A sequence or sample is judged step by step (see `never_fires`).
"""

from __future__ import annotations

from typing import Any, Optional

from .ecs.registry import Catalog
from .eql import ast

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

    def __init__(self, compile_query: Any, constants: dict[str, Any]) -> None:
        self._compile = compile_query
        self._constants = constants
        self._doc = _nest(constants)
        self.decided_terms: list[ast.Expr] = []  # leaves with a known value
        self.false_terms: list[ast.Expr] = []    # ... of which these are false

    def _leaf(self, node: ast.Expr) -> Optional[bool]:
        names = ast.fields_of(node)
        if not names or not names <= self._constants.keys():
            return _UNKNOWN
        try:
            compiled = self._compile(ast.EventQuery(category=None, condition=node))
            value = bool(compiled.predicate(self._doc))
        except Exception:  # noqa: BLE001 - an unevaluable term is simply unknown
            return _UNKNOWN
        self.decided_terms.append(node)
        if not value and node not in self.false_terms:
            self.false_terms.append(node)
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


def _describe(term: ast.Expr) -> str:
    """A constant-field leaf as EQL text (`event.action == "uid_change"`); "" for others."""
    def value(node: ast.Expr) -> str:
        if isinstance(node, ast.Literal):
            return "null" if node.value is None else \
                '"' + node.value + '"' if isinstance(node.value, str) else str(node.value)
        return node.name if isinstance(node, ast.Field) else "..."
    if isinstance(term, ast.Compare):
        return f"{value(term.left)} {term.op} {value(term.right)}"
    if isinstance(term, ast.InSet):
        op = ("not in" if term.negated else "in") + ("~" if term.insensitive else "")
        return f"{value(term.expr)} {op} ({', '.join(value(v) for v in term.values)})"
    if isinstance(term, ast.Match):
        op = term.kind + ("~" if term.insensitive else "")
        return f"{value(term.expr)} {op} ({', '.join(repr(p) for p in term.patterns)})"
    return ""


def never_fires(query: Any, catalog: Catalog, compile_query: Any) -> list[str]:
    """Reasons why `query` can never match one of our documents (empty: it may).

    A sequence or sample cannot fire when one of its steps (missing-event
    steps and `until` aside) never matches: the step's condition, or a join
    key field (not written `?field`) our documents never carry, since an
    event without its key takes no part in a step."""
    if isinstance(query, (ast.SequenceQuery, ast.SampleQuery)):
        reasons = []
        count = len(query.steps)
        for number, step in enumerate(query.steps, 1):
            if step.missing:
                continue
            keys = frozenset(f.name for f in (*query.by, *step.by)
                             if isinstance(f, ast.Field) and not f.optional)
            found = _event_reasons(step.event, catalog, compile_query, keys)
            if found:
                reasons.append(f"step {number} of {count}: " + "; ".join(found))
        return reasons
    if not isinstance(query, ast.EventQuery):
        return []
    return _event_reasons(query, catalog, compile_query, frozenset())


def _event_reasons(query: ast.EventQuery, catalog: Catalog, compile_query: Any,
                   keys: frozenset) -> list[str]:
    reasons: list[str] = []
    categories = catalog.categories
    # The documents the query can see: those of its category; for `any`, or a
    # category nobody produces (already a reason), all of them.
    scope = query.category if query.category in categories else None
    if query.category is not None and scope is None:
        reasons.append(f"category {query.category}: audisp-eql produces "
                       f"{'/'.join(categories)} events only")
    constants = catalog.constants(scope)
    produced = catalog.fields(scope) | constants.keys()
    missing = sorted(required_fields(query.condition) - produced)
    if missing:
        reasons.append("needs " + ", ".join(missing))
    absent_keys = sorted(keys - produced)
    if absent_keys:
        reasons.append("join key never set: " + ", ".join(absent_keys))
    evaluator = _ConstantEvaluator(compile_query, constants)
    if evaluator.evaluate(query.condition) is False:
        gated = sorted(ast.fields_of(*evaluator.decided_terms))
        values = ", ".join(f"{name} = {constants[name]!r}" for name in gated)
        wanted = [text for text in map(_describe, evaluator.false_terms) if text]
        reasons.append(f"never true with {values}"
                       + (f" (it wants {'; '.join(wanted)})" if wanted else ""))
    return reasons

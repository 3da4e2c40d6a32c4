"""Which process.name values can a condition possibly match?

The engine uses this to index rules: a rule is only tried on documents
whose lower-cased process.name is in the returned set.  A superset is fine
(the predicate still decides); None means "not limited to a known set".
Under `and` one constrained side suffices (intersection); under `or` every
side must be constrained (union); under `not` nothing is known.
"""

from __future__ import annotations

from typing import FrozenSet, Optional

from . import ast
from .wildcard import has_wildcard

PROCESS_NAME = ("process", "name")
Names = Optional[FrozenSet[str]]


def _is_process_name(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Field) and expr.path == PROCESS_NAME


def process_names(expr: ast.Expr) -> Names:
    if isinstance(expr, ast.And):
        known = [n for n in (process_names(t) for t in expr.terms) if n is not None]
        if not known:
            return None
        result = known[0]
        for names in known[1:]:
            result = result & names
        return result
    if isinstance(expr, ast.Or):
        union: FrozenSet[str] = frozenset()
        for term in expr.terms:
            names = process_names(term)
            if names is None:
                return None
            union = union | names
        return union
    if isinstance(expr, ast.Compare) and expr.op == "==":
        for field, other in ((expr.left, expr.right), (expr.right, expr.left)):
            if _is_process_name(field) and isinstance(other, ast.Literal):
                # a non-string constant can never equal a name: nothing matches
                return frozenset([other.value.lower()]) if isinstance(other.value, str) \
                    else frozenset()
        return None
    if isinstance(expr, ast.InSet) and not expr.negated and _is_process_name(expr.expr):
        if any(v.value is None for v in expr.values):
            return None  # `in (null)` also matches a missing name
        return frozenset(v.value.lower() for v in expr.values if isinstance(v.value, str))
    if isinstance(expr, ast.Match) and expr.kind == "like" and _is_process_name(expr.expr):
        if any(has_wildcard(p) for p in expr.patterns):
            return None
        return frozenset(p.lower() for p in expr.patterns)
    return None

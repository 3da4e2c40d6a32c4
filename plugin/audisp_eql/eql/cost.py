"""Evaluation order of `and` / `or` terms: cheap and decisive terms first.

Terms have no side effects, so any order gives the same answer; the order
only changes how soon `and` stops on a false term. The estimate is rough,
in units of one equality test on a single-valued field:

- multi-valued fields (`process.args`, ...) cost about four times more;
- case folding, wildcards, regexes and functions add their own cost;
- a negated term (`not`, `!=`, `not in`) is usually true (an exclusion
  list), so it rarely stops an `and`: such terms go after the others.
"""

from __future__ import annotations

from typing import Tuple

from . import ast

# Fields that hold a list in ECS process documents.
_MULTI_VALUED = frozenset(["args", "env_vars"])


def _field_cost(expr: ast.Expr) -> float:
    if isinstance(expr, ast.Field):
        return 4.0 if expr.path and expr.path[-1] in _MULTI_VALUED else 1.0
    return 3.0 + cost(expr)


def cost(expr: ast.Expr) -> float:
    """Rough cost of evaluating `expr` once."""
    if isinstance(expr, (ast.And, ast.Or)):
        # `and`/`or` stop early; count the first term fully, the rest half.
        costs = sorted(cost(t) for t in expr.terms)
        return costs[0] + 0.5 * sum(costs[1:])
    if isinstance(expr, ast.Not):
        return 0.2 + cost(expr.term)
    if isinstance(expr, ast.Compare):
        return 0.5 * (_field_cost(expr.left) + _field_cost(expr.right))
    if isinstance(expr, ast.InSet):
        return _field_cost(expr.expr) * (1.5 if expr.insensitive else 1.0)
    if isinstance(expr, ast.Match):
        per_value = (1.5 if expr.insensitive else 1.0) * (6.0 if expr.kind == "regex" else 1.5)
        return _field_cost(expr.expr) * per_value + 0.05 * len(expr.patterns)
    if isinstance(expr, ast.Call):
        return 8.0 + sum(_field_cost(a) for a in expr.args)
    if isinstance(expr, ast.Field):
        return _field_cost(expr)
    return 1.0


def usually_true(expr: ast.Expr) -> bool:
    """Exclusions: terms that hold for most documents."""
    if isinstance(expr, ast.Not):
        return not usually_true(expr.term)
    if isinstance(expr, ast.Compare):
        return expr.op == "!="
    if isinstance(expr, ast.InSet):
        return expr.negated
    if isinstance(expr, ast.And):
        return all(usually_true(t) for t in expr.terms)
    if isinstance(expr, ast.Or):
        return any(usually_true(t) for t in expr.terms)
    return False


def and_order(terms: Tuple[ast.Expr, ...]) -> Tuple[ast.Expr, ...]:
    """`and` terms, the ones most likely to stop the evaluation cheaply first."""
    return tuple(sorted(terms, key=lambda t: (usually_true(t), cost(t))))


def or_order(terms: Tuple[ast.Expr, ...]) -> Tuple[ast.Expr, ...]:
    """`or` terms: mostly all evaluated (false), so cheap first."""
    return tuple(sorted(terms, key=lambda t: (not usually_true(t), cost(t))))

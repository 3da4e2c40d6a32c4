"""Merging the leaves of an `or` that test the same field the same way.

`process.name in ("a", "b") or process.name == "c" or process.name : "x*"
or process.name : "y*"` becomes one `in` and one `like`: a leaf on a field
holds when any element satisfies it, so "any element in S1, or any element
in S2" is "any element in S1 | S2", and likewise for pattern lists. Only
leaves with the same field, operator and case handling are merged (`in`
with `==` on a string; `like` with `like`; `like~` with `:`); anything
with null, negation or non-string constants is left alone.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from . import ast

_Key = Tuple[str, Tuple[str, ...], bool]  # (kind, field path, insensitive)


def _as_string_set(term: ast.Expr) -> Optional[Tuple[ast.Field, Tuple[ast.Literal, ...], bool]]:
    """(field, string literals, insensitive) for `f in (...)`, `f in~ (...)`, `f == "x"`."""
    if isinstance(term, ast.InSet) and not term.negated and isinstance(term.expr, ast.Field) \
            and term.values and all(v.value.__class__ is str for v in term.values):
        return term.expr, term.values, term.insensitive
    if isinstance(term, ast.Compare) and term.op == "==":
        for field, other in ((term.left, term.right), (term.right, term.left)):
            if isinstance(field, ast.Field) and isinstance(other, ast.Literal) \
                    and other.value.__class__ is str:
                return field, (other,), False
    return None


def merge_or_terms(terms: Tuple[ast.Expr, ...]) -> Tuple[ast.Expr, ...]:
    """The terms of an `or` (nested `or`s flattened) with same-field leaves merged."""
    flat: List[ast.Expr] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, ast.Or) else (term,))
    merged: Dict[_Key, int] = {}  # key -> position in `out`
    out: List[ast.Expr] = []
    for term in flat:
        as_set = _as_string_set(term)
        if as_set is not None:
            field, values, insensitive = as_set
            key: _Key = ("in", field.path, insensitive)
            if key in merged:
                previous = out[merged[key]]
                assert isinstance(previous, ast.InSet)
                out[merged[key]] = ast.InSet(previous.expr, previous.values + values, insensitive)
            else:
                merged[key] = len(out)
                out.append(ast.InSet(field, values, insensitive))
            continue
        if isinstance(term, ast.Match) and term.kind == "like" and isinstance(term.expr, ast.Field):
            key = ("like", term.expr.path, term.insensitive)
            if key in merged:
                previous = out[merged[key]]
                assert isinstance(previous, ast.Match)
                out[merged[key]] = ast.Match("like", previous.expr,
                                             previous.patterns + term.patterns, term.insensitive)
            else:
                merged[key] = len(out)
                out.append(term)
            continue
        out.append(term)
    return tuple(out)

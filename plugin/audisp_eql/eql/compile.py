"""Compile an EQL syntax tree into Python closures (no source generation).

Elasticsearch semantics on a nested ECS dict:
- a leaf predicate (comparison, in, like, regex, boolean function) on a
  multi-valued field holds when ANY element satisfies it, each leaf choosing
  its own element; with several fields, any combination;
- a leaf on a missing field (absent, None, or an empty list) is false, and
  `not` is the plain complement; `f != x` is `not (f == x)`;
- `f == null` holds when f is missing, `f != null` when it is present;
- `==`, `!=`, `in`, `like`, `regex` are case-sensitive; `in~`, `:`,
  `like~`, `regex~` and `f~(...)` fold case (lower() on both sides; RE2's
  (?i) for regex~);
- values of different types are never equal ("0" != 0); ordering compares
  numbers with numbers and strings with strings, anything else is false.

This module holds the boolean structure; leaves.py the leaf predicates,
values.py field access and value expressions, merge.py the merging of
same-field leaves under `or`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, FrozenSet, List, Optional, Tuple

from . import ast
from .cost import and_order, or_order
from .errors import EqlUnsupported
from .leaves import compare, in_set, match
from .merge import merge_or_terms
from .sequence import compile_sample, compile_sequence
from .values import compile_values

Predicate = Callable[[dict], bool]


@dataclass(frozen=True)
class CompiledQuery:
    """A single-event query ready to run.

    `predicate` evaluates the condition only; the caller dispatches on
    `category` (None for `any`), e.g. through event.category.
    """
    query: ast.EventQuery
    category: Optional[str]
    predicate: Predicate
    fields: FrozenSet[str]
    # The top-level `and` terms (nested ones flattened) in evaluation order,
    # each compiled: `predicate` is true exactly when all of them are. The
    # engine evaluates document-level gates among them once per gate value.
    conjuncts: Tuple[Tuple[ast.Expr, Predicate], ...]


def compile_query(query: ast.Query) -> Any:
    """A CompiledQuery for an event query; CompiledSequence / CompiledSample
    (sequence.py: each step compiled here) for the others."""
    if isinstance(query, ast.SequenceQuery):
        return compile_sequence(query, compile_query)
    if isinstance(query, ast.SampleQuery):
        return compile_sample(query, compile_query)
    if not isinstance(query, ast.EventQuery):
        raise EqlUnsupported(f"{type(query).__name__} queries are not supported")
    terms = and_order(conjuncts_of(query.condition))
    conjuncts = tuple((term, compile_condition(term)) for term in terms)
    predicate = conjuncts[0][1] if len(conjuncts) == 1 else _all([p for _, p in conjuncts])
    return CompiledQuery(query, query.category, predicate, query.fields, conjuncts)


def conjuncts_of(expr: ast.Expr) -> Tuple[ast.Expr, ...]:
    """The terms of a top-level `and`, nested `and`s flattened; else (expr,)."""
    if not isinstance(expr, ast.And):
        return (expr,)
    return tuple(t for term in expr.terms for t in conjuncts_of(term))



def compile_condition(expr: ast.Expr) -> Predicate:
    if isinstance(expr, ast.And):
        return _all([compile_condition(t) for t in and_order(conjuncts_of(expr))])
    if isinstance(expr, ast.Or):
        terms = merge_or_terms(expr.terms)
        if len(terms) == 1:
            return compile_condition(terms[0])
        return _any([compile_condition(t) for t in or_order(terms)])
    if isinstance(expr, ast.Not):
        inner = compile_condition(expr.term)
        return lambda doc: not inner(doc)
    if isinstance(expr, ast.Compare):
        return compare(expr, compile_condition)
    if isinstance(expr, ast.InSet):
        found = in_set(expr, compile_condition)
        return (lambda doc: not found(doc)) if expr.negated else found
    if isinstance(expr, ast.Match):
        return match(expr, compile_condition)
    values = compile_values(expr, compile_condition)  # a boolean field, function, or constant

    def is_true(doc: dict) -> bool:
        for value in values(doc):
            if value is True:  # not 1: a number is not a boolean in EQL
                return True
        return False
    return is_true


def _all(terms: List[Predicate]) -> Predicate:
    if len(terms) == 2:
        a, b = terms
        return lambda doc: a(doc) and b(doc)
    if len(terms) == 3:
        a, b, c = terms
        return lambda doc: a(doc) and b(doc) and c(doc)
    sequence = tuple(terms)

    def all_of(doc: dict) -> bool:
        for term in sequence:
            if not term(doc):
                return False
        return True
    return all_of


def _any(terms: List[Predicate]) -> Predicate:
    if len(terms) == 2:
        a, b = terms
        return lambda doc: a(doc) or b(doc)
    sequence = tuple(terms)

    def any_of(doc: dict) -> bool:
        for term in sequence:
            if term(doc):
                return True
        return False
    return any_of

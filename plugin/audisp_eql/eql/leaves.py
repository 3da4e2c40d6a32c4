"""Leaf predicates of compiled EQL: comparisons, `in`, `like`, `regex` (semantics: compile.py).

The common leaves (a field against constants) have their own closures that
allocate nothing per call; lists and lower-cased forms come from fieldmemo.
"""

from __future__ import annotations

from typing import Any, Callable, Tuple

from .. import limits
from . import ast
from .fieldmemo import memo_for
from .lucene import compile_regex
from .values import COMPARATORS, ConditionCompiler, compile_values, equal, getter
from .wildcard import PatternSet, compile_patterns

Predicate = Callable[[dict], bool]


def _is_null(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and expr.value is None


def compare(expr: ast.Compare, condition: ConditionCompiler) -> Predicate:
    left, right, op = expr.left, expr.right, expr.op
    if _is_null(left) and not _is_null(right):
        left, right = right, left
    if _is_null(right):
        values = compile_values(left, condition)
        if op == "==":
            return lambda doc: not values(doc)
        if op == "!=":
            return lambda doc: bool(values(doc))
        return lambda doc: False  # ordering against null is never true
    if op == "!=":
        equal = compare(ast.Compare("==", left, right), condition)
        return lambda doc: not equal(doc)
    if isinstance(left, ast.Literal) and isinstance(right, ast.Field):
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        left, right, op = right, left, flipped
    test = COMPARATORS[op]
    if isinstance(left, ast.Field) and isinstance(right, ast.Literal):
        return _field_against_constant(left, right.value, op, test)
    left_values, right_values = compile_values(left, condition), compile_values(right, condition)

    def general(doc: dict) -> bool:
        rights = right_values(doc)
        if not rights:
            return False
        for a in left_values(doc):
            for b in rights:
                if test(a, b):
                    return True
        return False
    return general


def _field_against_constant(field: ast.Field, constant: Any, op: str,
                            test: Callable[[Any, Any], bool]) -> Predicate:
    get = getter(field.path)
    if op == "==" and constant.__class__ is str:
        def equals_string(doc: dict) -> bool:
            value = get(doc)
            if value.__class__ is list:
                return constant in value  # only a str can equal a str
            return value == constant
        return equals_string

    def compare_constant(doc: dict) -> bool:
        value = get(doc)
        if value.__class__ is list:
            for item in value:
                if item is not None and test(item, constant):
                    return True
            return False
        return value is not None and test(value, constant)
    return compare_constant


def in_set(expr: ast.InSet, condition: ConditionCompiler) -> Predicate:
    constants = [v.value for v in expr.values]
    include_null = any(c is None for c in constants)
    constants = [c for c in constants if c is not None]
    if expr.insensitive:
        constants = [c.lower() if isinstance(c, str) else c for c in constants]
    null_test = compile_values(expr.expr, condition) if include_null else None
    if isinstance(expr.expr, ast.Field) and all(c.__class__ is str for c in constants):
        get = getter(expr.expr.path)
        members = frozenset(constants)
        memo = memo_for(expr.expr.path)
        if expr.insensitive:
            lowered, folded_view = memo.lowered, memo.folded_view

            def in_lowered(doc: dict) -> bool:
                value = get(doc)
                if value.__class__ is str:
                    return lowered(value) in members
                if value.__class__ is list and not members.isdisjoint(folded_view(value).set):
                    return True
                return null_test is not None and not null_test(doc)
            return in_lowered
        raw_view = memo.raw_view

        def in_exact(doc: dict) -> bool:
            value = get(doc)
            if value.__class__ is str:
                return value in members
            if value.__class__ is list and not members.isdisjoint(raw_view(value).set):
                return True
            return null_test is not None and not null_test(doc)
        return in_exact

    values = compile_values(expr.expr, condition)
    insensitive = expr.insensitive
    # Membership by hashing, one set per kind (as `equal` compares: a string only
    # equals a string, a boolean only a boolean, numbers by value): a loop over
    # every constant made a long list cost its length for each candidate.
    strings = frozenset(c for c in constants if c.__class__ is str)
    booleans = frozenset(c for c in constants if c.__class__ is bool)
    numbers = frozenset(c for c in constants if c.__class__ is not str and c.__class__ is not bool)
    others = [c for c in constants if c.__class__ not in (str, bool, int, float)]

    def in_general(doc: dict) -> bool:
        candidates = values(doc)
        if not candidates:
            return include_null
        for item in candidates:
            kind = item.__class__
            if kind is str:
                if (item.lower() if insensitive else item) in strings:
                    return True
            elif kind is bool:
                if item in booleans:
                    return True
            elif kind is int or kind is float:
                if item in numbers:
                    return True
            elif others and any(equal(item, constant) for constant in others):
                return True
        return False
    return in_general


def match(expr: ast.Match, condition: ConditionCompiler) -> Predicate:
    if expr.kind == "like" and isinstance(expr.expr, ast.Field):
        return _like_field(expr.expr.path, PatternSet(expr.patterns, expr.insensitive))
    if expr.kind == "like":
        matcher = compile_patterns(expr.patterns, expr.insensitive)
    else:
        regexes = [compile_regex(p, expr.insensitive) for p in expr.patterns]
        matcher = _remembered(regexes[0] if len(regexes) == 1 else (
            lambda value: any(r(value) for r in regexes)))
    if isinstance(expr.expr, ast.Field):
        get = getter(expr.expr.path)

        def match_field(doc: dict) -> bool:
            value = get(doc)
            if value.__class__ is str:
                return matcher(value)
            if value.__class__ is list:
                for item in value:
                    if item.__class__ is str and matcher(item):
                        return True
            return False
        return match_field
    values = compile_values(expr.expr, condition)
    return lambda doc: any(v.__class__ is str and matcher(v) for v in values(doc))


def _remembered(matcher: Callable[[str], bool]) -> Callable[[str], bool]:
    """Regex answers kept per leaf: executables and names repeat from one document
    to the next, and a dict lookup is far cheaper than an RE2 call. Bounded in
    count and in value length, since values are attacker-chosen."""
    answers = limits.BoundedCache("MAX_REGEX_ANSWERS")
    longest = limits.MAX_REGEX_ANSWER_LENGTH

    def match_remembered(value: str) -> bool:
        answer = answers.get(value)
        if answer is None:
            answer = matcher(value)
            if len(value) <= longest:
                answers.remember(value, answer)
        return answer
    return match_remembered


def _like_field(path: Tuple[str, ...], shapes: PatternSet) -> Predicate:
    """`field like/: patterns`, folding each value once per document (fieldmemo)."""
    get = getter(path)
    memo = memo_for(path)
    any_item = shapes.any_item
    match_folded = shapes.match_folded
    if shapes.insensitive:
        lowered, view_of = memo.lowered, memo.folded_view
        if shapes.only_exact:
            exact = shapes.exact

            def like_exact_folded(doc: dict) -> bool:
                value = get(doc)
                if value.__class__ is str:
                    return lowered(value) in exact
                if value.__class__ is list:
                    return not exact.isdisjoint(view_of(value).set)
                return False
            return like_exact_folded

        def like_folded(doc: dict) -> bool:
            value = get(doc)
            if value.__class__ is str:
                return match_folded(lowered(value))
            if value.__class__ is list:
                return any_item(view_of(value))
            return False
        return like_folded
    raw_view = memo.raw_view

    def like(doc: dict) -> bool:
        value = get(doc)
        if value.__class__ is str:
            return match_folded(value)
        if value.__class__ is list:
            return any_item(raw_view(value))
        return False
    return like


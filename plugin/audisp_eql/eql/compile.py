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

Value expressions evaluate to a sequence of candidate values (empty = null);
the common leaves (a field against constants) have their own closures that
allocate nothing per call.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from . import ast
from .cost import and_order, or_order
from .errors import EqlCompileError, EqlUnsupported
from .functions import FUNCTIONS, add, divide, modulo, multiply, subtract
from .lucene import compile_regex
from .names import process_names
from .fieldmemo import memo_for
from .wildcard import PatternSet, compile_patterns

Predicate = Callable[[dict], bool]
Values = Callable[[dict], Sequence[Any]]
_EMPTY: Tuple[Any, ...] = ()


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
    process_names: Optional[FrozenSet[str]]
    # The top-level `and` terms (nested ones flattened) in evaluation order,
    # each compiled: `predicate` is true exactly when all of them are. The
    # engine evaluates document-level gates among them once per gate value.
    conjuncts: Tuple[Tuple[ast.Expr, Predicate], ...] = ()


def compile_query(query: ast.Query) -> CompiledQuery:
    if not isinstance(query, ast.EventQuery):
        raise EqlUnsupported(f"{query.kind} queries are parsed and field-checked but not "
                             "evaluated yet (only single-event queries are)")
    terms = and_order(conjuncts_of(query.condition))
    conjuncts = tuple((term, compile_condition(term)) for term in terms)
    predicate = conjuncts[0][1] if len(conjuncts) == 1 else _all([p for _, p in conjuncts])
    return CompiledQuery(query, query.category, predicate, query.fields,
                         process_names(query.condition), conjuncts)


def conjuncts_of(expr: ast.Expr) -> Tuple[ast.Expr, ...]:
    """The terms of a top-level `and`, nested `and`s flattened; else (expr,)."""
    if not isinstance(expr, ast.And):
        return (expr,)
    return tuple(t for term in expr.terms for t in conjuncts_of(term))


# -- field access ------------------------------------------------------------

def _getter(path: Tuple[str, ...]) -> Callable[[dict], Any]:
    """Raw value at `path` or None; the key tuple is unrolled for short paths."""
    if len(path) == 1:
        (k0,) = path

        def get1(doc: dict) -> Any:
            try:
                return doc[k0]
            except (KeyError, TypeError, IndexError):
                return None
        return get1
    if len(path) == 2:
        k0, k1 = path

        def get2(doc: dict) -> Any:
            try:
                return doc[k0][k1]
            except (KeyError, TypeError, IndexError):
                return None
        return get2
    if len(path) == 3:
        k0, k1, k2 = path

        def get3(doc: dict) -> Any:
            try:
                return doc[k0][k1][k2]
            except (KeyError, TypeError, IndexError):
                return None
        return get3

    def get_n(doc: dict) -> Any:
        value: Any = doc
        try:
            for key in path:
                value = value[key]
        except (KeyError, TypeError, IndexError):
            return None
        return value
    return get_n


# -- value semantics ---------------------------------------------------------

def _equal(a: Any, b: Any) -> bool:
    if a.__class__ is str or b.__class__ is str:
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a.__class__ is b.__class__ and a == b
    return a == b


def _is_number(v: Any) -> bool:
    return (v.__class__ is int or v.__class__ is float)


def _ordering(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if _is_number(a) and _is_number(b):
            return op(a, b)
        if a.__class__ is str and b.__class__ is str:
            return op(a, b)
        return False
    return compare


_COMPARATORS: Dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "<": _ordering(operator.lt), "<=": _ordering(operator.le),
    ">": _ordering(operator.gt), ">=": _ordering(operator.ge),
}
_ARITH = {"+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo}


def compile_values(expr: ast.Expr) -> Values:
    """doc -> candidate values of `expr` (no None inside; empty means null)."""
    if isinstance(expr, ast.Field):
        get = _getter(expr.path)

        def field_values(doc: dict) -> Sequence[Any]:
            value = get(doc)
            if value is None:
                return _EMPTY
            if value.__class__ is list:
                return [v for v in value if v is not None]
            return (value,)
        return field_values
    if isinstance(expr, ast.Literal):
        constant = _EMPTY if expr.value is None else (expr.value,)
        return lambda doc: constant
    if isinstance(expr, ast.Call):
        spec = FUNCTIONS.get(expr.name.lower())
        if spec is None:
            raise EqlCompileError(f"unknown function {expr.name}()")
        if expr.insensitive and not spec.case_insensitive_form:
            raise EqlCompileError(f"function {spec.name}() has no case-insensitive form "
                                  f"{spec.name}~()")
        count = len(expr.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            expected = (f"{spec.min_args}" if spec.min_args == spec.max_args else
                        f"{spec.min_args} or more" if spec.max_args is None else
                        f"{spec.min_args} to {spec.max_args}")
            raise EqlCompileError(f"{spec.name}() takes {expected} arguments, got {count}")
        return _apply(spec.impl, expr.insensitive, [compile_values(a) for a in expr.args])
    if isinstance(expr, ast.Arith):
        return _apply(_ARITH[expr.op], False,
                      [compile_values(expr.left), compile_values(expr.right)])
    predicate = compile_condition(expr)
    return lambda doc: (predicate(doc),)


def _apply(impl: Callable[..., Any], insensitive: bool, args: List[Values]) -> Values:
    null_only = (None,)

    def call(doc: dict) -> Sequence[Any]:
        # a null argument is passed as None, so each function decides (mostly: null)
        choices = [a(doc) or null_only for a in args]
        results = []
        for combination in itertools.product(*choices):
            result = impl(insensitive, *combination)
            if result is not None:
                results.append(result)
        return results
    return call


# -- predicates --------------------------------------------------------------

def compile_condition(expr: ast.Expr) -> Predicate:
    if isinstance(expr, ast.And):
        return _all([compile_condition(t) for t in and_order(conjuncts_of(expr))])
    if isinstance(expr, ast.Or):
        return _any([compile_condition(t) for t in or_order(expr.terms)])
    if isinstance(expr, ast.Not):
        inner = compile_condition(expr.term)
        return lambda doc: not inner(doc)
    if isinstance(expr, ast.Compare):
        return _compare(expr)
    if isinstance(expr, ast.InSet):
        found = _in_set(expr)
        return (lambda doc: not found(doc)) if expr.negated else found
    if isinstance(expr, ast.Match):
        return _match(expr)
    values = compile_values(expr)  # a boolean field, function, or constant
    return lambda doc: any(v is True for v in values(doc))


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


def _is_null(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and expr.value is None


def _compare(expr: ast.Compare) -> Predicate:
    left, right, op = expr.left, expr.right, expr.op
    if _is_null(left) and not _is_null(right):
        left, right = right, left
    if _is_null(right):
        values = compile_values(left)
        if op == "==":
            return lambda doc: not values(doc)
        if op == "!=":
            return lambda doc: bool(values(doc))
        return lambda doc: False  # ordering against null is never true
    if op == "!=":
        equal = _compare(ast.Compare("==", left, right))
        return lambda doc: not equal(doc)
    if isinstance(left, ast.Literal) and isinstance(right, ast.Field):
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        left, right, op = right, left, flipped
    test = _COMPARATORS[op]
    if isinstance(left, ast.Field) and isinstance(right, ast.Literal):
        return _field_against_constant(left, right.value, op, test)
    left_values, right_values = compile_values(left), compile_values(right)

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
    get = _getter(field.path)
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


def _in_set(expr: ast.InSet) -> Predicate:
    constants = [v.value for v in expr.values]
    include_null = any(c is None for c in constants)
    constants = [c for c in constants if c is not None]
    if expr.insensitive:
        constants = [c.lower() if isinstance(c, str) else c for c in constants]
    null_test = compile_values(expr.expr) if include_null else None
    if isinstance(expr.expr, ast.Field) and all(c.__class__ is str for c in constants):
        get = _getter(expr.expr.path)
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

    values = compile_values(expr.expr)
    insensitive = expr.insensitive

    def in_general(doc: dict) -> bool:
        candidates = values(doc)
        if not candidates:
            return include_null
        for item in candidates:
            if insensitive and item.__class__ is str:
                item = item.lower()
            for constant in constants:
                if _equal(item, constant):
                    return True
        return False
    return in_general


def _match(expr: ast.Match) -> Predicate:
    if expr.kind == "like" and isinstance(expr.expr, ast.Field):
        return _like_field(expr.expr.path, PatternSet(expr.patterns, expr.insensitive))
    if expr.kind == "like":
        matcher = compile_patterns(expr.patterns, expr.insensitive)
    else:
        regexes = [compile_regex(p, expr.insensitive) for p in expr.patterns]
        matcher = regexes[0] if len(regexes) == 1 else (
            lambda value: any(r(value) for r in regexes))
    if isinstance(expr.expr, ast.Field):
        get = _getter(expr.expr.path)

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
    values = compile_values(expr.expr)
    return lambda doc: any(v.__class__ is str and matcher(v) for v in values(doc))


def _like_field(path: Tuple[str, ...], shapes: PatternSet) -> Predicate:
    """`field like/: patterns`, folding each value once per document (fieldmemo)."""
    get = _getter(path)
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

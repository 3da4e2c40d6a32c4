"""Field access and value expressions of compiled EQL (see compile.py for the semantics).

A value expression evaluates to a sequence of candidate values (empty =
null): a field's elements, a literal, a function's or operator's results
over every combination of its arguments' candidates.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any, Callable, Dict, List, Sequence, Tuple

from . import ast
from .errors import EqlCompileError
from .functions import FUNCTIONS, add, divide, modulo, multiply, subtract

Values = Callable[[dict], Sequence[Any]]
EMPTY: Tuple[Any, ...] = ()

# -- field access ------------------------------------------------------------

def getter(path: Tuple[str, ...]) -> Callable[[dict], Any]:
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

def equal(a: Any, b: Any) -> bool:
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


COMPARATORS: Dict[str, Callable[[Any, Any], bool]] = {
    "==": equal,
    "<": _ordering(operator.lt), "<=": _ordering(operator.le),
    ">": _ordering(operator.gt), ">=": _ordering(operator.ge),
}
_ARITH = {"+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo}


# Compiles a condition used as a value (`f(a == b)`); compile.py passes its own,
# so that this module does not import it back.
ConditionCompiler = Callable[[ast.Expr], Callable[[dict], bool]]


def compile_values(expr: ast.Expr, condition: ConditionCompiler) -> Values:
    """doc -> candidate values of `expr` (no None inside; empty means null)."""
    if isinstance(expr, ast.Field):
        get = getter(expr.path)

        def field_values(doc: dict) -> Sequence[Any]:
            value = get(doc)
            if value is None:
                return EMPTY
            if value.__class__ is list:
                return [v for v in value if v is not None]
            return (value,)
        return field_values
    if isinstance(expr, ast.Literal):
        constant = EMPTY if expr.value is None else (expr.value,)
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
        return _apply(spec.impl, expr.insensitive, [compile_values(a, condition) for a in expr.args])
    if isinstance(expr, ast.Arith):
        return _apply(_ARITH[expr.op], False,
                      [compile_values(expr.left, condition), compile_values(expr.right, condition)])
    predicate = condition(expr)
    return lambda doc: (predicate(doc),)


def _apply(impl: Callable[..., Any], insensitive: bool, args: List[Values]) -> Values:
    null_only = (None,)
    if len(args) == 2:  # startsWith(a, b), endsWith, stringContains...: usually one value each
        first, second = args

        def call2(doc: dict) -> Sequence[Any]:
            left, right = first(doc) or null_only, second(doc) or null_only
            if len(left) == 1 and len(right) == 1:
                result = impl(insensitive, left[0], right[0])
                return EMPTY if result is None else (result,)
            results = []
            for a, b in itertools.product(left, right):
                result = impl(insensitive, a, b)
                if result is not None:
                    results.append(result)
            return results
        return call2

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

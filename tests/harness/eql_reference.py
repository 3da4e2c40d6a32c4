"""A slow, obvious interpreter of the EQL AST: the plain path every compiled
and indexed path is tested against.

It follows the semantics in eql/compile.py's docstring directly: evaluate
every expression to a list of candidate values, try every combination;
wildcards via Python's re (fine for test inputs). Regex leaves use Python's
re (`holds`, for patterns that mean the same in Python and Lucene) or, in
`matches`, the Lucene translation run by RE2: the language's own regex
engine, tested on its own (tests/eql/test_semantics.py); what this
interpreter checks is everything around it.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, List

from audisp_eql.eql import ast
from audisp_eql.eql.lucene import compile_regex
from audisp_eql.eql.functions import FUNCTIONS, add, divide, modulo, multiply, subtract

ARITH = {"+": add, "-": subtract, "*": multiply, "/": divide, "%": modulo}


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def values(expr: ast.Expr, doc: dict) -> List[Any]:
    if isinstance(expr, ast.Field):
        current: Any = doc
        for key in expr.path:
            if not isinstance(current, dict) or key not in current:
                return []
            current = current[key]
        if current is None:
            return []
        if isinstance(current, list):
            return [v for v in current if v is not None]
        return [current]
    if isinstance(expr, ast.Literal):
        return [] if expr.value is None else [expr.value]
    if isinstance(expr, (ast.Call, ast.Arith)):
        if isinstance(expr, ast.Call):
            impl, args, folded = FUNCTIONS[expr.name.lower()].impl, expr.args, expr.insensitive
        else:
            impl, args, folded = ARITH[expr.op], (expr.left, expr.right), False
        choices = [values(a, doc) or [None] for a in args]
        results = [impl(folded, *combo) for combo in itertools.product(*choices)]
        return [r for r in results if r is not None]
    return [holds(expr, doc)]


def equal(a: Any, b: Any) -> bool:
    return kind(a) == kind(b) and a == b


def ordered(op: str, a: Any, b: Any) -> bool:
    if kind(a) != kind(b) or kind(a) not in ("number", "str"):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def wildcard_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def categories(doc: dict) -> List[str]:
    event = doc.get("event")
    found = event.get("category") if isinstance(event, dict) else None
    if isinstance(found, str):
        return [found]
    return [c for c in found if isinstance(c, str)] if isinstance(found, list) else []


def matches(query: ast.EventQuery, doc: dict) -> bool:
    """Whether a single-event query matches `doc`: its category, then its condition."""
    if query.category is not None and query.category not in categories(doc):
        return False
    return holds(query.condition, doc, lucene=True)


def holds(expr: ast.Expr, doc: dict, lucene: bool = False) -> bool:
    if isinstance(expr, ast.And):
        return all(holds(t, doc, lucene) for t in expr.terms)
    if isinstance(expr, ast.Or):
        return any(holds(t, doc, lucene) for t in expr.terms)
    if isinstance(expr, ast.Not):
        return not holds(expr.term, doc, lucene)
    if isinstance(expr, ast.Compare):
        left, right = values(expr.left, doc), values(expr.right, doc)
        null_left = isinstance(expr.left, ast.Literal) and expr.left.value is None
        null_right = isinstance(expr.right, ast.Literal) and expr.right.value is None
        if null_left or null_right:
            other = right if null_left else left
            if null_left and null_right:
                other = []
            return {"==": not other, "!=": bool(other)}.get(expr.op, False)
        if expr.op == "!=":
            return not any(equal(a, b) for a in left for b in right)
        if expr.op == "==":
            return any(equal(a, b) for a in left for b in right)
        return any(ordered(expr.op, a, b) for a in left for b in right)
    if isinstance(expr, ast.InSet):
        items = values(expr.expr, doc)
        constants = [v.value for v in expr.values]
        if expr.insensitive:
            items = [i.lower() if isinstance(i, str) else i for i in items]
            constants = [c.lower() if isinstance(c, str) else c for c in constants]
        found = any(equal(i, c) for i in items for c in constants if c is not None)
        found = found or (not items and None in constants)
        return not found if expr.negated else found
    if isinstance(expr, ast.Match):
        flags = re.S | (re.I if expr.insensitive and expr.kind == "regex" else 0)
        for item in values(expr.expr, doc):
            if not isinstance(item, str):
                continue
            for pattern in expr.patterns:
                if expr.kind == "like":
                    subject, source = item, wildcard_regex(pattern)
                    if expr.insensitive:
                        subject, source = item.lower(), wildcard_regex(pattern.lower())
                    if re.fullmatch(source, subject, re.S):
                        return True
                elif lucene and compile_regex(pattern, expr.insensitive)(item):
                    return True
                elif not lucene and re.fullmatch(pattern, item, flags):
                    return True
        return False
    return any(v is True for v in values(expr, doc))

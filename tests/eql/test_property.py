"""Property: for random events and random conditions (rendered to EQL text
and parsed), the compiled closure agrees with harness/eql_reference.py."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audisp_eql.eql import ast, compile_query, parse_query
from harness.eql_reference import holds

TEXT = st.text(alphabet="aAbB*?\\ é", max_size=5)
SCALAR = st.one_of(TEXT, st.integers(-3, 3), st.booleans(), st.sampled_from([1.5, -0.5]))
FIELDS = [("s",), ("n",), ("l",), ("p", "q"), ("missing",)]
DOC = st.fixed_dictionaries({}, optional={
    "s": SCALAR, "n": st.integers(-3, 3), "l": st.lists(st.one_of(TEXT, SCALAR), max_size=3),
    "p": st.fixed_dictionaries({}, optional={"q": st.one_of(SCALAR, st.lists(TEXT, max_size=2))}),
})
FIELD = st.builds(ast.Field, st.sampled_from(FIELDS), st.booleans())
LITERAL = st.builds(ast.Literal, st.one_of(SCALAR, st.none()))
PATTERN = st.text(alphabet="aAb*?\\", max_size=4)
REGEX = st.sampled_from(["a.*", ".*b", "a|b", "[ab]*", "(aA)?b+", "...", "a{1,2}"])
OPERAND = st.one_of(
    FIELD, LITERAL,
    st.builds(ast.Arith, st.sampled_from("+-*/%"), FIELD, LITERAL),
    st.builds(lambda f, s: ast.Call("length", (f,)), FIELD, st.none()),
    st.builds(lambda name, tilde, f, v: ast.Call(name, (f, ast.Literal(v)), tilde),
              st.sampled_from(["startsWith", "endsWith", "stringContains"]), st.booleans(),
              FIELD, TEXT),
)
LEAF = st.one_of(
    st.builds(ast.Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), OPERAND, OPERAND),
    st.builds(lambda f, vs, i, n: ast.InSet(f, tuple(vs), i, n), OPERAND,
              st.lists(LITERAL, min_size=1, max_size=3), st.booleans(), st.booleans()),
    st.builds(lambda f, ps, i: ast.Match("like", f, tuple(ps), i), OPERAND,
              st.lists(PATTERN, min_size=1, max_size=3), st.booleans()),
    st.builds(lambda f, ps, i: ast.Match("regex", f, tuple(ps), i), FIELD,
              st.lists(REGEX, min_size=1, max_size=2), st.booleans()),
)
CONDITION = st.recursive(LEAF, lambda inner: st.one_of(
    st.builds(ast.Not, inner),
    st.builds(lambda ts: ast.And(tuple(ts)), st.lists(inner, min_size=2, max_size=3)),
    st.builds(lambda ts: ast.Or(tuple(ts)), st.lists(inner, min_size=2, max_size=3)),
), max_leaves=6)


def render(node: Any) -> str:
    """EQL text for a node, fully parenthesised."""
    if isinstance(node, ast.Field):
        return ("?" if node.optional else "") + node.name
    if isinstance(node, ast.Literal):
        return "null" if node.value is None else json.dumps(node.value, ensure_ascii=False)
    if isinstance(node, ast.Arith):
        return f"({render(node.left)} {node.op} {render(node.right)})"
    if isinstance(node, ast.Call):
        tilde = "~" if node.insensitive else ""
        return f"{node.name}{tilde}({', '.join(render(a) for a in node.args)})"
    if isinstance(node, ast.Compare):
        return f"({render(node.left)} {node.op} {render(node.right)})"
    if isinstance(node, ast.InSet):
        op = ("not in" if node.negated else "in") + ("~" if node.insensitive else "")
        return f"({render(node.expr)} {op} ({', '.join(render(v) for v in node.values)}))"
    if isinstance(node, ast.Match):
        op = node.kind + ("~" if node.insensitive else "")
        return f"({render(node.expr)} {op} ({', '.join(json.dumps(p, ensure_ascii=False) for p in node.patterns)}))"
    if isinstance(node, ast.Not):
        return f"not {render(node.term)}"
    joiner = " and " if isinstance(node, ast.And) else " or "
    return "(" + joiner.join(render(t) for t in node.terms) + ")"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=CONDITION, docs=st.lists(DOC, min_size=1, max_size=4))
def test_compiled_agrees_with_reference(condition: ast.Expr, docs: list) -> None:
    parsed = parse_query(f"process where {render(condition)}")
    predicate = compile_query(parsed).predicate
    for doc in docs:
        assert predicate(doc) is holds(parsed.condition, doc), (render(condition), doc)

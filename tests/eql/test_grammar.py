"""Grammar: every syntactic form the issue lists, and the errors for bad text."""

from __future__ import annotations

import pytest

from audisp_eql.eql import EqlSyntaxError, parse_query
from audisp_eql.eql import ast


def cond(text: str) -> ast.Expr:
    query = parse_query(f"process where {text}")
    assert isinstance(query, ast.EventQuery)
    return query.condition


F = ast.Field
L = ast.Literal


def test_event_query_and_any() -> None:
    q = parse_query('process where process.name == "sh"')
    assert q.kind == "event" and q.category == "process"
    assert q.condition == ast.Compare("==", F(("process", "name")), L("sh"))
    assert parse_query("any where true").category is None


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparison_operators(op: str) -> None:
    assert cond(f"a.b {op} 3") == ast.Compare(op, F(("a", "b")), L(3))


def test_in_forms() -> None:
    assert cond('a in ("x", "y")') == ast.InSet(F(("a",)), (L("x"), L("y")))
    assert cond('a not in ("x")') == ast.InSet(F(("a",)), (L("x"),), negated=True)
    assert cond('a in~ ("X")') == ast.InSet(F(("a",)), (L("X"),), insensitive=True)
    assert cond('a not in~ ("X", 1, -2, null, true)') == ast.InSet(
        F(("a",)), (L("X"), L(1), L(-2), L(None), L(True)), insensitive=True, negated=True)


@pytest.mark.parametrize("op,kind,insensitive", [
    (":", "like", True), ("like", "like", False), ("like~", "like", True),
    ("regex", "regex", False), ("regex~", "regex", True)])
def test_match_operators_single_and_list(op: str, kind: str, insensitive: bool) -> None:
    assert cond(f'a {op} "x*"') == ast.Match(kind, F(("a",)), ("x*",), insensitive)
    assert cond(f'a {op} ("x*", "y")') == ast.Match(kind, F(("a",)), ("x*", "y"), insensitive)


def test_boolean_precedence_and_parentheses() -> None:
    a, b, c = (ast.Compare("==", F((n,)), L(1)) for n in "abc")
    assert cond("a == 1 or b == 1 and c == 1") == ast.Or((a, ast.And((b, c))))
    assert cond("(a == 1 or b == 1) and c == 1") == ast.And((ast.Or((a, b)), c))
    assert cond("not a == 1 and b == 1") == ast.And((ast.Not(a), b))
    assert cond("not not a == 1") == ast.Not(ast.Not(a))


def test_optional_field_and_backticks() -> None:
    assert cond("?process.args == 1").left == F(("process", "args"), optional=True)
    assert cond("`a b`.c == 1").left == F(("a b", "c"))


def test_arithmetic_precedence() -> None:
    tree = cond("a + 2 * 3 - 4 % 5 > -1")
    assert tree == ast.Compare(">", ast.Arith("-", ast.Arith("+", F(("a",)), ast.Arith(
        "*", L(2), L(3))), ast.Arith("%", L(4), L(5))), L(-1))


def test_function_names_case_insensitive_and_tilde() -> None:
    assert cond('startsWith~(a, "x")') == ast.Call("startsWith", (F(("a",)), L("x")), True)
    assert cond("LENGTH(a) > 1").left == ast.Call("LENGTH", (F(("a",)),))


def test_strings_escapes_and_raw() -> None:
    assert cond(r'a == "q\"b\\s\n\r\t\u{41}\u{1F600}"').right == L('q"b\\s\n\r\tA\U0001F600')
    assert cond(r'a == """C:\raw\n"q" """').right == L('C:\\raw\\n"q" ')
    assert cond("a == 1.5 and b == 2 and c == true and d == false and e == null") == ast.And((
        ast.Compare("==", F(("a",)), L(1.5)), ast.Compare("==", F(("b",)), L(2)),
        ast.Compare("==", F(("c",)), L(True)), ast.Compare("==", F(("d",)), L(False)),
        ast.Compare("==", F(("e",)), L(None))))


def test_comments_are_ignored() -> None:
    assert cond('a == "//x" // trailing\n /* block\n */ and b == 1') == ast.And((
        ast.Compare("==", F(("a",)), L("//x")), ast.Compare("==", F(("b",)), L(1))))


def test_sequence_with_everything() -> None:
    q = parse_query("""sequence by host.id with maxspan=30s
      [process where a == 1] by process.pid with runs=3
      [network where true] by process.ppid
      until [process where b == 2]""")
    assert isinstance(q, ast.SequenceQuery) and q.kind == "sequence"
    assert q.by == (F(("host", "id")),) and q.maxspan == (30, "s")
    assert [s.runs for s in q.steps] == [3, None]
    assert q.steps[1].by == (F(("process", "ppid")),)
    assert q.until is not None and q.until.event.category == "process"
    assert q.fields == {"host.id", "a", "process.pid", "process.ppid", "b"}


def test_sample() -> None:
    q = parse_query("sample by host.id [process where a == 1] [file where b == 2]")
    assert isinstance(q, ast.SampleQuery) and q.kind == "sample"
    assert len(q.steps) == 2 and q.fields == {"host.id", "a", "b"}


@pytest.mark.parametrize("text,line,col,expected", [
    ("", 1, 1, "event category"),
    ("process", 1, 8, "'where'"),
    ("process where", 1, 14, "condition"),
    ("process where a ==", 1, 19, "value"),
    ('process where a == "x" and', 1, 27, "condition"),
    ("process where a like 1", 1, 22, "string"),
    ("process where (a == 1", 1, 22, "')'"),
    ('process where a == "\\q"', 1, 21, "unknown escape"),
    ("process where\n  a == 1 b", 2, 10, "end of the query"),
    ('process where a in ("a" "b")', 1, 25, "')'"),
    ("sequence [process where true] by", 1, 33, "join keys"),
    ("sequence with maxspan=3x [process where true]", 1, 23, "time span"),
    ('process where a == "abc', 1, 20, "value"),
    ("process where and == 1", 1, 15, "condition"),
    ("process where a in ()", 1, 21, "literal values"),
])
def test_syntax_errors_say_where_and_what(text: str, line: int, col: int, expected: str) -> None:
    with pytest.raises(EqlSyntaxError) as info:
        parse_query(text)
    assert (info.value.line, info.value.col) == (line, col), str(info.value)
    assert expected in info.value.message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(EqlSyntaxError):
        parse_query("process where " + "(" * 5000 + "a == 1" + ")" * 5000)

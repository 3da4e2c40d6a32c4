"""The Elasticsearch EQL functions, their `~` forms and their null handling."""

from __future__ import annotations

import pytest

from audisp_eql.eql import compile_query, parse_query

DOC = {"s": "Hello World", "n": 7, "ip": "10.1.2.3", "ip6": "fe80::1", "neg": -7,
       "list": ["abc", "xyz"]}


def holds(condition: str, doc: dict = DOC) -> bool:
    return compile_query(parse_query(f"process where {condition}")).predicate(doc)


@pytest.mark.parametrize("condition", [
    "add(n, 3) == 10", "add(n, 0.5) == 7.5", "subtract(n, 10) == -3",
    "multiply(n, 2) == 14", "divide(n, 2) == 3", "divide(neg, 2) == -3",
    "divide(n, 2.0) == 3.5", "modulo(n, 4) == 3", "modulo(neg, 4) == -3",
    'between(s, "He", "o") == "ll"', 'between(s, "He", "o", true) == "llo W"',
    'between(s, "x", "o") == ""', 'between~(s, "hE", "O") == "ll"',
    'cidrMatch(ip, "10.0.0.0/8")', 'cidrmatch(ip, "192.168.0.0/16", "10.1.2.0/24")',
    'cidrMatch(ip6, "FE80::/10")', 'not cidrMatch(ip, "FE80::/10")',
    'concat(s, "!", n) == "Hello World!7"', 'concat(true) == "true"',
    'endsWith(s, "World")', 'endsWith~(s, "WORLD")', 'not endsWith(s, "WORLD")',
    'indexOf(s, "o") == 4', 'indexOf(s, "o", 5) == 7', 'indexOf~(s, "O") == 4',
    'indexOf(s, "o", null) == 4', 'indexOf(s, "z") == null',
    "length(s) == 11", 'length("") == 0',
    'number("42") == 42', 'number("0x1F", 16) == 31', 'number("1.5") == 1.5',
    'number("zz") == null',
    'startsWith(s, "Hell")', 'STARTSWITH~(s, "hell")', 'not startsWith(s, "hell")',
    'string(n) == "7"', 'string(true) == "true"',
    'stringContains(s, "lo W")', 'stringContains~(s, "LO w")', 'not stringContains(s, "LO w")',
    'substring(s, 0, 5) == "Hello"', 'substring(s, -5) == "World"',
    'substring(s, 6, -2) == "Wor"',
])
def test_function(condition: str) -> None:
    assert holds(condition)


@pytest.mark.parametrize("call", [
    "add(missing, 1)", "add(1, missing)", "subtract(missing, 1)", "multiply(null, 2)",
    "divide(missing, 1)", "divide(n, 0)", "modulo(missing, 2)", 'between(missing, "a", "b")',
    'cidrMatch(missing, "10.0.0.0/8")', 'concat(s, missing)', 'endsWith(missing, "a")',
    'indexOf(missing, "a")', "length(missing)", "number(missing)",
    'startsWith(missing, "a")', "string(missing)", 'stringContains(s, missing)',
    "substring(missing, 1)",
])
def test_null_argument_gives_null(call: str) -> None:
    assert holds(f"{call} == null")
    assert not holds(f"{call} != null")


def test_boolean_function_on_missing_is_false_and_not_is_complement() -> None:
    assert not holds('startsWith(missing, "a")')
    assert holds('not startsWith(missing, "a")')


def test_function_over_array_any_element() -> None:
    assert holds('startsWith(list, "xy")') and holds("length(list) == 3")
    assert not holds('startsWith(list, "q")')


def test_invalid_ip_does_not_match() -> None:
    assert not holds('cidrMatch(s, "10.0.0.0/8")')

"""Elasticsearch EQL semantics, one rule per test (corpus/README.md, ES docs)."""

from __future__ import annotations

import time

import pytest

from audisp_eql.eql import (EqlCompileError, compile_query,
                            parse_query)

DOC = {
    "process": {"name": "Bash", "args": ["bash", "-c", "ID"], "args_count": 3,
                "pid": 42, "executable": "C:\\x\\y", "empty": []},
    "user": {"id": "0"},
    "flag": True,
}


def holds(condition: str, doc: dict = DOC) -> bool:
    return compile_query(parse_query(f"process where {condition}")).predicate(doc)


# -- case rules ----------------------------------------------------------------

def test_equality_is_case_sensitive() -> None:
    assert holds('process.name == "Bash"') and not holds('process.name == "bash"')


def test_in_is_case_sensitive_and_in_tilde_is_not() -> None:
    assert not holds('process.name in ("bash")')
    assert holds('process.name in~ ("BASH")')
    assert not holds('process.name not in~ ("bAsH")')


def test_like_is_case_sensitive_colon_and_like_tilde_are_not() -> None:
    assert not holds('process.name like "ba*"')
    assert holds('process.name like~ "ba*"') and holds('process.name : "ba*"')


def test_regex_case() -> None:
    assert not holds('process.name regex "ba.*"')
    assert holds('process.name regex~ "ba.*"')


def test_no_wildcards_in_equality_or_in() -> None:
    assert not holds('process.name == "B*"') and not holds('process.name in ("B*")')
    assert not holds('process.name in~ ("b*")')


# -- wildcard rules ------------------------------------------------------------

@pytest.mark.parametrize("pattern,expected", [
    ("Bash", True), ("B*", True), ("*sh", True), ("*as*", True), ("B*h", True),
    ("B?sh", True), ("?ash", True), ("Bas?", True), ("B??h", True), ("B?", False),
    ("*", True), ("B*a*s*h", True), ("*h*h", False), ("Bash?", False), ("", False),
])
def test_like_wildcards(pattern: str, expected: bool) -> None:
    assert holds(f'process.name like "{pattern}"') is expected


def test_backslash_is_literal_in_patterns() -> None:
    assert holds(r'process.executable like "C:\\x\\*"')  # string C:\x\* -> literal \
    assert holds(r'process.executable like "C:\\x\\?"')  # `\?` is a backslash, then any char
    assert not holds(r'process.executable like "C:\\x\\??"')


def test_no_escape_for_star_in_patterns() -> None:
    # "\*" is a literal backslash followed by a wildcard, not a literal star
    assert holds(r'process.executable like "C:\\*"')


def test_regex_is_anchored_to_the_whole_value() -> None:
    assert not holds('process.name regex "as"')
    assert holds('process.name regex ".as."')


def test_untranslatable_regex_is_a_compile_error() -> None:
    with pytest.raises(EqlCompileError, match="complement"):
        compile_query(parse_query('process where a regex "~(a)"'))


# -- array rules ---------------------------------------------------------------

def test_array_matches_when_any_element_does() -> None:
    assert holds('process.args == "-c"') and holds('process.args : "i*"')
    assert holds('process.args in ("x", "ID")') and holds('process.args regex "-."')


def test_each_predicate_picks_its_own_element() -> None:
    assert holds('process.args == "bash" and process.args == "ID"')


def test_not_equal_on_array_means_no_element_equals() -> None:
    assert not holds('process.args != "-c"')
    assert holds('process.args != "zsh"')
    assert not holds('process.args not in ("ID")')


def test_empty_array_is_missing() -> None:
    assert holds("process.empty == null") and not holds('process.empty == "x"')


# -- missing-field rules -------------------------------------------------------

def test_predicate_on_missing_field_is_false() -> None:
    for condition in ('nope == "x"', 'nope in ("x")', 'nope : "*"', 'nope regex ".*"',
                      "nope < 1", "nope >= 1", 'startsWith(nope, "")'):
        assert not holds(condition), condition


def test_not_is_plain_complement_on_missing() -> None:
    assert holds('not nope == "x"') and holds('nope != "x"') and holds('nope not in ("x")')


def test_null_checks() -> None:
    assert holds("nope == null") and not holds("nope != null")
    assert holds("process.pid != null") and not holds("process.pid == null")
    assert holds("null == nope")


def test_optional_field_evaluates_like_field() -> None:
    assert holds('?process.name == "Bash"') and not holds('?nope == "x"')
    assert holds('not ?nope == "x"')


def test_intermediate_non_dict_is_missing() -> None:
    assert not holds('process.name.inner == "x"') and holds("process.name.inner == null")


# -- types -----------------------------------------------------------------------

def test_keyword_ids_are_strings() -> None:
    assert holds('user.id == "0"') and not holds("user.id == 0")


def test_numeric_comparisons() -> None:
    assert holds("process.args_count >= 3") and holds("process.args_count < 3.5")
    assert not holds("process.args_count > 3") and holds("3 == process.args_count")
    assert holds("1 < process.pid")


def test_ordering_across_types_is_false() -> None:
    assert not holds('process.pid > "1"') and not holds("process.name > 1")


def test_string_ordering_is_lexicographic() -> None:
    assert holds('process.name < "C"') and not holds('process.name < "A"')


def test_booleans() -> None:
    assert holds("flag == true") and not holds("flag == 1") and holds("flag")
    assert holds("true") and not holds("false") and not holds("nope")


def test_arithmetic() -> None:
    assert holds("process.args_count + 1 == 4") and holds("process.pid % 5 == 2")
    assert holds("process.pid / 5 == 8") and holds("-process.pid == -42")
    assert not holds("process.pid / 0 == 0")  # division by zero is null


# -- query kinds ---------------------------------------------------------------

def test_sequence_and_sample_compile_into_steps() -> None:
    sequence = compile_query(parse_query(
        'sequence by host.id with maxspan=1m [process where a == 1] by process.pid with runs=2 '
        '[file where b == 2] by file.path until [process where c == 3] by process.pid'))
    assert sequence.maxspan_ms == 60_000 and len(sequence.stages) == 3
    assert [s.condition for s in sequence.stages] == [0, 0, 1]   # a repeated step: once
    assert [c.category for c in sequence.conditions] == ["process", "file", "process"]
    assert list(sequence.stages[2].keys({"host": {"id": "h"}, "file": {"path": "/x"}})) \
        == [("h", "/x")]
    sample = compile_query(parse_query(
        "sample by host.id [process where true] [process where true]"))
    assert len(sample.stages) == 2 and len(sample.conditions) == 1


def test_compiled_query_metadata() -> None:
    compiled = compile_query(parse_query(
        'process where process.name in ("Sh", "bash") and ?user.id == "0"'))
    assert compiled.category == "process"
    assert compiled.fields == {"process.name", "user.id"}
    assert compile_query(parse_query("any where true")).category is None


def test_unknown_function_and_arity_are_compile_errors() -> None:
    with pytest.raises(EqlCompileError, match="unknown function"):
        compile_query(parse_query("process where frobnicate(a)"))
    with pytest.raises(EqlCompileError, match="takes 1 arguments, got 2"):
        compile_query(parse_query("process where length(a, b) > 1"))
    with pytest.raises(EqlCompileError, match="no case-insensitive form"):
        compile_query(parse_query("process where length~(a) > 1"))


def test_matching_is_linear_on_hostile_input() -> None:
    """Patterns that backtrack in Python's re must stay linear here.

    Correctness is asserted; the elapsed time is printed, not asserted.
    """
    hostile = "a" * 1_000_000
    doc = {"process": {"args": [hostile], "name": hostile}}
    started = time.perf_counter()
    assert not holds('process.args like "*a*a*a*a*a*b"', doc)
    assert not holds('process.args like "*a?a*a?a*a*?b*"', doc)
    assert not holds('process.name regex "(a|aa)*b"', doc)
    assert not holds('process.name regex~ "(a*)*b"', doc)
    assert holds('process.name : "*A*A"', doc)
    print(f"\nhostile 1 MB input, 5 patterns: {time.perf_counter() - started:.3f} s")

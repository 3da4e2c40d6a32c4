"""Sequence and sample semantics on hand-written streams: the issue's examples,
Elasticsearch's documented behaviour (maxspan inclusive, until, runs sliding,
missing events, join keys), each checked against the brute-force reference
as well as against the expected answer."""

from __future__ import annotations

import pytest

from audisp_eql import limits
from audisp_eql.eql import EqlCompileError, EqlSyntaxError, compile_query, parse_query
from harness.sequence_reference import reference_samples, reference_sequences
from harness.streams import BASE, event, ids, make_rule, ms_of, run

AB = 'sequence by k with maxspan=5s [process where t == "A"] [process where t == "B"]'


def both(query: str, docs: list[dict], lookback: float = 360.0) -> list[list[str]]:
    """The engine's matches as event ids, after checking the reference agrees."""
    rule = make_rule(query, lookback=lookback)
    matches, _ = run([rule], docs)
    got = sorted(ids(m) for m in matches)
    span = rule.compiled.maxspan_ms or int(lookback * 1000)
    expected = sorted([d["event"]["id"] for d in m]
                      for m in reference_sequences(rule.compiled.query, compile_query, docs, span))
    assert got == expected
    return [ids(m) for m in matches]


def stream(*items: tuple) -> list[dict]:
    """(ms, tags[, key]) -> documents with ids "1", "2", ..."""
    return [event(item[0], item[1], *(item[2:3] or ("x",)), ident=str(n))
            for n, item in enumerate(items, 1)]


def test_issue_examples_abab_aab_ba() -> None:
    assert both(AB, stream((0, "A"), (1, "B"), (2, "A"), (3, "B"))) == [["1", "2"], ["3", "4"]]
    assert both(AB, stream((0, "A"), (1, "A"), (2, "B"))) == [["2", "3"]]   # the second A
    assert both(AB, stream((0, "B"), (1, "A"))) == []


def test_maxspan_is_inclusive_and_measured_from_the_first_event() -> None:
    assert both(AB, stream((0, "A"), (5000, "B"))) == [["1", "2"]]
    assert both(AB, stream((0, "A"), (5001, "B"), (5002, "B"))) == []
    # A1 at 0, A2 at 10 s, B at 12 s: A2 replaced A1, the match is (A2, B)
    assert both(AB, stream((0, "A"), (10000, "A"), (12000, "B"))) == [["2", "3"]]
    three = ('sequence by k with maxspan=5s [process where t == "A"] [process where t == "B"]'
             ' [process where t == "C"]')
    assert both(three, stream((0, "A"), (4000, "B"), (5001, "C"))) == []


def test_keys_join_only_equal_values() -> None:
    docs = stream((0, "A", "x"), (1, "A", "y"), (2, "B", "y"), (3, "B", "x"), (4, "B", "X"))
    assert both(AB, docs) == [["2", "3"], ["1", "4"]]
    # a string never equals a number, true never equals 1, 1 equals 1.0
    assert both(AB, stream((0, "A", "1"), (1, "B", 1))) == []
    assert both(AB, stream((0, "A", True), (1, "B", 1))) == []
    assert both(AB, stream((0, "A", 1), (1, "B", 1.0))) == [["1", "2"]]


def test_missing_join_key_field_never_joins_unless_optional() -> None:
    docs = stream((0, "A", None), (1, "B", None))
    assert both(AB, docs) == []
    optional = AB.replace("by k", "by ?k")
    assert both(optional, docs) == [["1", "2"]]
    assert both(optional, stream((0, "A", None), (1, "B", "x"))) == []


def test_multi_valued_keys_give_one_sequence_per_value() -> None:
    docs = stream((0, "A", ["x", "y", None, "x"]), (1, "B", ["y", "x"]))
    assert both(AB, docs) == [["1", "2"], ["1", "2"]]     # one per common value
    assert both(AB, stream((0, "A", []), (1, "B", []))) == []   # [] is missing


def test_key_combinations_are_bounded_and_counted() -> None:
    rule = make_rule('sequence by k, j [process where t == "A"] [process where t == "B"]')
    docs = [event(0, "A", list("abcdefgh"), j=list("abcdefgh"), ident="1"),
            event(1, "B", list("abcdefgh"), j=list("abcdefgh"), ident="2")]
    with limits.lowered(MAX_KEY_COMBINATIONS=10):
        matches, engine = run([rule], docs)
    assert len(matches) == 10 and engine.stats()["evicted_partial_matches"] == 2


def test_runs_slide_like_elasticsearch() -> None:
    query = 'sequence by k with maxspan=1m [process where t == "A"] with runs=3'
    docs = stream(*[(i, "A") for i in range(5)])
    assert both(query, docs) == [["1", "2", "3"], ["2", "3", "4"], ["3", "4", "5"]]


def test_an_event_matching_two_steps_never_follows_itself() -> None:
    query = 'sequence by k with maxspan=1m [process where t == "A"] [process where t == "A"]'
    assert both(query, stream((0, "A"), (1, "A"), (2, "A"))) == [["1", "2"], ["2", "3"]]
    assert both(query, stream((0, "A"))) == []


def test_until_drops_pending_sequences_of_its_key_only() -> None:
    query = AB[:-1] + '] until [process where t == "U"]'
    assert both(query, stream((0, "A"), (1, "U"), (2, "B"))) == []
    assert both(query, stream((0, "A"), (1, "U", "y"), (2, "B"))) == [["1", "3"]]
    assert both(query, stream((0, "U"), (1, "A"), (2, "B"))) == [["2", "3"]]
    # the completing event survives an until on itself; one that started a sequence does not
    assert both(query, stream((0, "A"), (1, ["B", "U"]))) == [["1", "2"]]
    assert both(query, stream((0, ["A", "U"]), (1, "B"))) == []


def test_documented_until_example() -> None:
    query = ('sequence by k [process where t == "A"] [process where t == "B"]'
             ' until [process where t == "C"]')
    assert both(query, stream((0, "A"), (1, "B"))) == [["1", "2"]]
    assert both(query, stream((0, "A"), (1, "B"), (2, "C"))) == [["1", "2"]]
    assert both(query, stream((0, "A"), (1, "C"), (2, "B"))) == []


def test_middle_missing_event_dooms_the_sequence_but_it_still_replaces() -> None:
    query = ('sequence by k with maxspan=1m [process where t == "A"] ![process where t == "X"]'
             ' [process where t == "B"]')
    assert both(query, stream((0, "A"), (1, "B"))) == [["1", "2"]]
    assert both(query, stream((0, "A"), (1, "X"), (2, "B"))) == []
    assert both(query, stream((0, "A"), (1, "X", "y"), (2, "B"))) == [["1", "3"]]
    assert both(query, stream((0, "A"), (1, "X"), (2, "A"), (3, "B"))) == [["3", "4"]]
    # same millisecond as a neighbour: bounds are strict
    assert both(query, stream((0, "A"), (0, "X"), (5, "X"), (5, "B"))) == [["1", "4"]]
    longer = ('sequence by k with maxspan=1m [process where t == "A"] ![process where t == "X"]'
              ' [process where t == "B"] [process where t == "C"]')
    # (A2, B2) displaced (A1, B1), then failed: nothing, as in Elasticsearch
    docs = stream((0, "A"), (1, "B"), (2, "A"), (3, "X"), (4, "B"), (5, "C"))
    assert both(longer, docs) == []


def test_leading_missing_event() -> None:
    query = ('sequence by k with maxspan=10s ![process where t == "X"]'
             ' [process where t == "A"] [process where t == "B"]')
    assert both(query, stream((0, "X"), (1000, "A"), (2000, "B"))) == []
    assert both(query, stream((0, "X"), (11000, "A"), (12000, "B"))) == [["2", "3"]]
    assert both(query, stream((0, "X"), (5000, "A"), (10001, "B"))) == [["2", "3"]]
    assert both(query, stream((5000, "A"), (5000, "X"), (6000, "B"))) == [["1", "3"]]


def test_trailing_missing_event_waits_for_its_window() -> None:
    query = ('sequence by k with maxspan=10s [process where t == "A"] [process where t == "B"]'
             ' ![process where t == "X"]')
    assert both(query, stream((0, "A"), (1000, "B"), (5000, "X"))) == []
    assert both(query, stream((0, "A"), (1000, "B"), (10001, "X"))) == [["1", "2"]]
    assert both(query, stream((0, "A"), (1000, "B"), (1000, "X"))) == [["1", "2"]]
    rule = make_rule(query)
    # emitted once the host's time is past the window, not before
    docs = stream((0, "A"), (1000, "B"), (9000, "Y"), (10000, "Y"), (10001, "Y"))
    from audisp_eql.engine import Engine
    engine = Engine([rule])
    emitted = [len(engine.process(d)) for d in docs]
    assert emitted == [0, 0, 0, 0, 1]
    # another host's time does not confirm it; the end of input does
    engine = Engine([rule])
    for doc in stream((0, "A"), (1000, "B")) + [event(60000, "Y", host="h2")]:
        assert engine.process(doc) == []
    assert [ids(m) for m in engine.flush()] == [["1", "2"]]


def test_hosts_never_join() -> None:
    docs = [event(0, "A", host="h1", ident="1"), event(1, "B", host="h2", ident="2"),
            event(2, "B", host="h1", ident="3")]
    assert both(AB, docs) == [["1", "3"]]


def test_no_maxspan_is_bounded_by_the_look_back_window() -> None:
    query = 'sequence by k [process where t == "A"] [process where t == "B"]'
    assert both(query, stream((0, "A"), (60000, "B")), lookback=60) == [["1", "2"]]
    assert both(query, stream((0, "A"), (60001, "B")), lookback=60) == []


@pytest.mark.parametrize("query,message", [
    ('sequence with maxspan=5 [process where true] [process where true]', "no time unit"),
    ('sequence with maxspan=1.5s [process where true] [process where true]', "decimal"),
    ('sequence with maxspan=0s [process where true] [process where true]', "positive"),
    ('sequence [process where true]', "at least two steps"),
    ('sequence [process where true] ![process where true]', "needs maxspan"),
    ('sequence with maxspan=1s ![process where true] ![process where true]', "not a missing"),
    ('sequence [process where true] by a [process where true]', "inconsistent number"),
    ('sequence [process where true] by a + 1 [process where true] by b', "must be fields"),
    ('sequence [process where true] with runs=101 [process where true]', "between 1 and 100"),
    ('sequence [process where true] [process where true] until ![process where true]',
     "cannot end"),
    ('sample by a [process where true] with runs=2', "no runs"),
    ('sample by a ![process where true] [process where true]', "no missing"),
])
def test_queries_elasticsearch_refuses_are_refused(query: str, message: str) -> None:
    with pytest.raises(EqlCompileError, match=message):
        compile_query(parse_query(query))


def test_by_must_come_before_with() -> None:
    with pytest.raises(EqlSyntaxError, match="before"):
        parse_query('sequence with maxspan=1s by a [process where true] [process where true]')


# -- samples -------------------------------------------------------------------------------

SAMPLE = 'sample by k [process where t == "A"] [process where t == "B"] [process where t == "C"]'


def sample_times(query: str, docs: list[dict], lookback: float = 60.0) -> list[tuple]:
    """(host, ms) of each sample the engine emits, checked against the reference."""
    rule = make_rule(query, lookback=lookback)
    matches, _ = run([rule], docs)
    got = []
    for match in matches:
        assert len({id(d) for d in match.documents}) == len(match.documents)  # distinct
        last = max(ms_of(d) for d in match.documents)
        got.append((match.documents[0]["host"]["id"], last))
    expected = [(host, ms - BASE * 1000) for host, _key, ms in
                reference_samples(rule.compiled.query, compile_query, docs, int(lookback * 1000))]
    assert sorted(got) == sorted(expected)
    return got


def test_sample_is_unordered_distinct_and_keyed() -> None:
    docs = stream((0, "C"), (1, "A"), (2, "A", "y"), (3, "B"))
    matches, _ = run([make_rule(SAMPLE, lookback=60)], docs)
    assert [ids(m) for m in matches] == [["2", "4", "1"]]     # filter order
    assert sample_times(SAMPLE, docs) == [("h1", 3)]
    # one document matching two filters fills only one of them
    assert sample_times(SAMPLE, stream((0, ["A", "B"]), (1, "C"))) == []
    assert sample_times(SAMPLE, stream((0, ["A", "B"]), (1, "C"), (2, "B"))) == [("h1", 2)]


def test_sample_window_and_rest() -> None:
    late = stream((0, "A"), (1000, "B"), (61001, "C"))
    assert sample_times(SAMPLE, late) == []                     # A left the window
    again = stream((0, "A"), (1, "B"), (2, "C"), (3, "A"), (4, "B"), (5, "C"),
                   (60003, "A"), (60004, "B"), (60005, "C"))
    assert sample_times(SAMPLE, again) == [("h1", 2), ("h1", 60005)]   # the key rests 60 s

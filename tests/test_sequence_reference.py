"""The engine's sequence and sample matchers against the brute-force reference
(harness/sequence_reference.py) on random queries and random streams: steps
with overlapping conditions (an event often matches several), runs, until,
missing events before, between and after, ties in milliseconds, two hosts,
keys that are strings, numbers, booleans, lists or absent. Then the same
with tiny state limits: wherever the answers differ, evictions were counted."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audisp_eql import limits
from audisp_eql.eql import compile_query
from harness.sequence_reference import reference_samples, reference_sequences
from harness.streams import BASE, event, make_rule, ms_of, run

TAGS = ("A", "B", "C", "D")
KEYS = st.one_of(st.sampled_from(["x", "y", 1, True, None]),
                 st.lists(st.sampled_from(["x", "y", None]), max_size=3))


@st.composite
def sequence_queries(draw: Any) -> str:
    steps = []
    count = draw(st.integers(2, 4))
    for _ in range(count):
        tags = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True))
        condition = " or ".join(f't == "{t}"' for t in tags)
        missing = "!" if draw(st.integers(0, 4)) == 0 else ""
        step = f'{missing}[process where {condition}]'
        if draw(st.booleans()):
            step += " by j" if draw(st.booleans()) else " by k"
        else:
            step += " by k"
        runs = draw(st.sampled_from([None, None, 2, 3]))
        if runs and not missing:
            step += f" with runs={runs}"
        steps.append(step)
    query = "sequence "
    if draw(st.booleans()):
        query += "by h "
    query += f"with maxspan={draw(st.sampled_from([5, 20, 50]))}ms " + " ".join(steps)
    if draw(st.integers(0, 3)) == 0:
        query += f' until [process where t == "{draw(st.sampled_from(TAGS))}"] by k'
    return query


@st.composite
def streams(draw: Any) -> list[dict]:
    docs = []
    now = {"h1": 0, "h2": 0}
    for n in range(draw(st.integers(0, 40))):
        host = draw(st.sampled_from(["h1", "h1", "h2"]))
        now[host] += draw(st.sampled_from([0, 0, 1, 3, 7, 30]))
        tags = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True))
        key, other = draw(KEYS), draw(KEYS)
        docs.append(event(now[host], tags, key, host=host, ident=str(n), j=other,
                          h=draw(st.sampled_from(["p", "q"]))))
    return docs


def usable(query: str) -> Any:
    from audisp_eql.eql import EqlCompileError
    try:
        return make_rule(query)
    except EqlCompileError:   # e.g. every step missing, or a key count mismatch: ES refuses too
        return None


def engine_and_reference(rule: Any, docs: list[dict]) -> tuple[list, list, dict]:
    matches, engine = run([rule], docs)
    got = sorted([d["event"]["id"] for d in m.documents] for m in matches)
    expected = sorted([d["event"]["id"] for d in m] for m in reference_sequences(
        rule.compiled.query, compile_query, docs, rule.compiled.maxspan_ms))
    return got, expected, engine.stats()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence_queries(), streams())
def test_sequences_agree_with_the_reference(query: str, docs: list[dict]) -> None:
    rule = usable(query)
    if rule is None:
        return
    got, expected, stats = engine_and_reference(rule, docs)
    assert got == expected, query
    assert stats["evicted_partial_matches"] == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence_queries(), streams(), st.integers(1, 3), st.integers(2, 6),
       st.integers(1, 4))
def test_with_tiny_limits_a_different_answer_is_always_a_counted_eviction(
        query: str, docs: list[dict], per_rule: int, total: int, combinations: int) -> None:
    with limits.lowered(MAX_PENDING_PER_RULE=per_rule, MAX_PENDING_TOTAL=total,
                        MAX_KEY_COMBINATIONS=combinations, MAX_UNCONFIRMED_PER_KEY=1):
        rule = usable(query)
        if rule is None:
            return
        got, expected, stats = engine_and_reference(rule, docs)
    if got != expected:
        assert stats["evicted_partial_matches"] > 0, query


def test_the_tiny_limit_check_can_see_a_difference() -> None:
    """The property above is not vacuous: tiny limits do change answers."""
    rule = make_rule('sequence by k with maxspan=1s [process where t == "A"]'
                     ' [process where t == "B"]')
    docs = [event(0, "A", "x", ident="1"), event(1, "A", "y", ident="2"),
            event(2, "B", "x", ident="3")]
    with limits.lowered(MAX_PENDING_PER_RULE=1):
        got, expected, stats = engine_and_reference(rule, docs)
    assert got != expected and stats["evicted_partial_matches"] == 1


@st.composite
def sample_queries(draw: Any) -> str:
    per_filter = draw(st.booleans())       # every filter `by j`, or none
    filters = []
    for _ in range(draw(st.integers(1, 4))):
        tags = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True))
        filters.append("[process where " + " or ".join(f't == "{t}"' for t in tags) + "]"
                       + (" by j" if per_filter else ""))
    by = "by k " if not per_filter or draw(st.booleans()) else ""
    return "sample " + by + " ".join(filters)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample_queries(), streams(), st.sampled_from([0.01, 0.03, 1.0]))
def test_samples_agree_with_the_reference(query: str, docs: list[dict], lookback: float) -> None:
    rule = make_rule(query, lookback=lookback)
    matches, engine = run([rule], docs)
    got = []
    for match in matches:
        events = match.documents
        assert len({id(d) for d in events}) == len(events)
        times = [ms_of(d) for d in events]
        assert max(times) - min(times) <= lookback * 1000
        got.append((events[0]["host"]["id"], max(times)))
    expected = [(host, ms - BASE * 1000) for host, _key, ms in reference_samples(
        rule.compiled.query, compile_query, docs, int(lookback * 1000))]
    assert sorted(got) == sorted(expected), query
    assert engine.stats()["evicted_partial_matches"] == 0

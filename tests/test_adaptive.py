"""adaptive_all: the same answer as `all` before, during and after it reorders."""

from __future__ import annotations

import random

from audisp_eql.engine.adaptive import adaptive_all
from audisp_eql.limits import LEARNING_CALLS


def test_answers_equal_all_across_the_reordering():
    rng = random.Random(3)
    seen: list = []

    def term(index: int, threshold: float):
        def check(doc: dict) -> bool:
            seen.append(index)
            return doc["x"][index] < threshold
        return check
    terms = [term(0, 0.95), term(1, 0.9), term(2, 0.05)]  # the last is the selective one
    predicate = adaptive_all(terms, [1.0, 1.0, 1.0])
    for call in range(LEARNING_CALLS * 3):
        doc = {"x": [rng.random() for _ in range(3)]}
        expected = all(t(doc) for t in terms)
        assert predicate(doc) is expected, call
    # after learning the selective term runs first: one evaluation for most documents
    seen.clear()
    predicate({"x": [0.5, 0.5, 0.9]})
    assert seen == [2]


def test_costs_weigh_in():
    calls: list = []

    def cheap(doc: dict) -> bool:
        calls.append("cheap")
        return doc["n"] % 2 == 0  # false half the time

    def dear(doc: dict) -> bool:
        calls.append("dear")
        return doc["n"] % 3 == 0  # false two times in three, but costs 100x
    predicate = adaptive_all([dear, cheap], [100.0, 1.0])
    results = [predicate({"n": n}) for n in range(LEARNING_CALLS * 2)]
    assert results == [n % 6 == 0 for n in range(LEARNING_CALLS * 2)]
    calls.clear()
    predicate({"n": 1})
    assert calls == ["cheap"]

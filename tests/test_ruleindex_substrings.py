"""The rule index's substring search (one RE2 set pass) against Python's `in`.

A wrong "absent" would drop a rule that should fire, so it is compared with
the plain answer on hostile-looking values: made of fragments of the
patterns themselves (many automaton states), lone surrogates, and values
past the search's length limit (answered "every text": never fewer)."""

from __future__ import annotations

import random

from audisp_eql.engine import Engine
from audisp_eql.rules import load_rules
from audisp_eql.ruleindex import _SEARCH_LENGTH_LIMIT, _SubstringSearch

from conftest import CORPUS, SEED


def _corpus_substrings() -> list[str]:
    """Every substring text the corpus rules index on per-document fields."""
    engine = Engine(load_rules([CORPUS, SEED]).rules)
    texts: set[str] = set()
    for prepared in engine._prepared:
        for clause in prepared.hint:
            texts.update(a.text for a in clause if a.kind == "contains")
    return sorted(texts)


def _fragment_text(texts: list[str], rng: random.Random, size: int) -> str:
    alphabet = sorted(set("".join(texts)))
    parts: list[str] = []
    total = 0
    while total < size:
        text = rng.choice(texts)
        part = text[:rng.randint(0, len(text))] + rng.choice(alphabet)
        parts.append(part)
        total += len(part)
    return "".join(parts)[:size]


def test_substring_search_agrees_with_in_on_hostile_values(shared) -> None:
    texts = _corpus_substrings()
    assert len(texts) > 50  # the corpus really has many
    search = _SubstringSearch(texts)
    rng = random.Random(7)
    for size in (0, 1, 40, 300, 5000, _SEARCH_LENGTH_LIMIT - 64):
        for _ in range(4):
            value = _fragment_text(texts, rng, size) + rng.choice(texts)
            if rng.random() < 0.3:
                value = "\udc80" + value  # not UTF-8 encodable: the fallback answers
            assert sorted(search.found(value)) == sorted(t for t in texts if t in value)


def test_values_past_the_limit_count_as_containing_every_text(shared) -> None:
    texts = ["needle", "other"]
    search = _SubstringSearch(texts)
    assert list(search.found("x" * (_SEARCH_LENGTH_LIMIT + 1))) == texts
    assert list(search.found("x" * 100 + "needle")) == ["needle"]

"""The rule index's literal search (one RE2 set pass, or the Aho-Corasick
automaton when google-re2 does not import) against Python's string tests.

A wrong "absent" would drop a rule that should fire, so it is compared with
the plain answer on hostile-looking values: made of fragments of the
patterns themselves (many automaton states), lone surrogates, and values
past the search's length limit (answered "every text": never fewer)."""

from __future__ import annotations

import random

import pytest

from audisp_eql.engine import literalset
from audisp_eql.engine import Engine
from audisp_eql.rules import load_rules
from audisp_eql.engine.literalset import CONTAINS, PREFIX, SUFFIX, LiteralSet
from audisp_eql.limits import LITERAL_SEARCH_LENGTH as SEARCH_LENGTH_LIMIT

from conftest import CORPUS, SEED


def _corpus_literals() -> list[tuple[str, str]]:
    """Every (kind, text) the corpus rules' index hints hold, but exact texts."""
    engine = Engine(load_rules([CORPUS, SEED]).rules)
    literals: set[tuple[str, str]] = set()
    for prepared in engine.single._prepared:
        for clause in prepared.hint:
            literals.update((a.kind, a.text) for a in clause if a.kind != "exact")
    return sorted(literals)


def _holds(kind: str, text: str, value: str) -> bool:
    return value.startswith(text) if kind == PREFIX else \
        value.endswith(text) if kind == SUFFIX else text in value


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


@pytest.fixture(params=["re2", "builtin"])
def engine(request, monkeypatch) -> str:
    if request.param == "builtin":
        monkeypatch.setattr(literalset, "re2", None)   # as when google-re2 does not import
    return request.param


def test_literal_search_agrees_with_python_on_hostile_values(shared, engine) -> None:
    literals = _corpus_literals()
    kinds = {kind for kind, _ in literals}
    assert {PREFIX, SUFFIX, CONTAINS} <= kinds and len(literals) > 50
    search = LiteralSet(literals)
    assert isinstance(getattr(search._match, "__self__", None), literalset.Automaton) \
        == (engine == "builtin")
    texts = [text for _, text in literals if text]
    rng = random.Random(7)
    for size in (0, 1, 40, 300, 5000, SEARCH_LENGTH_LIMIT - 128):
        for _ in range(4):
            value = rng.choice(texts) + _fragment_text(texts, rng, size) + rng.choice(texts)
            if rng.random() < 0.3:
                value = "\udc80" + value  # not UTF-8 encodable: the fallback answers
            found = search.found(value)
            assert found is not None
            assert sorted(found) == [i for i, (kind, text) in enumerate(literals)
                                     if _holds(kind, text, value)]


def test_values_past_the_limit_are_not_searched(engine) -> None:
    search = LiteralSet([(CONTAINS, "needle"), (PREFIX, "x"), (SUFFIX, "e")])
    assert search.found("x" * (SEARCH_LENGTH_LIMIT + 1)) is None
    assert sorted(search.found("x" * 100 + "needle")) == [0, 1, 2]
    assert list(search.found("y")) == []

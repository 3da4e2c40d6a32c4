"""Every shortcut of the engine, driven past its bounds: with the limits of
limits.py set tiny (caches clear every few documents, `and`s learn their order
after a handful of evaluations, long values skip the index), the engine must
still give exactly what the plain reference interpreter gives, rule by rule.
The test also checks that the bounds were really reached."""

from __future__ import annotations

import random
import subprocess
import sys

from audisp_eql import limits
from audisp_eql.engine import Engine
from audisp_eql.rules import load_rules
from conftest import CORPUS, ROOT, SEED, SHARED
from harness.pipelines import documents_of, indexed_matching
from test_engine_shortcuts import _doc_for, brute_force

TINY = dict(MAX_GATE_VIEWS=2, MAX_PROGRAM_LOOKUPS=3, MAX_INDEX_ITEMS=4,
            MAX_INDEX_ITEM_LENGTH=6, MAX_INDEX_LIST_LENGTH=12, MAX_INDEXED_ARGS=3,
            MAX_PENDING_SELECTIONS=2, LEARNING_CALLS=3, MAX_REGEX_ANSWERS=2,
            MAX_REGEX_ANSWER_LENGTH=6, LITERAL_SEARCH_LENGTH=16, MAX_TIMESTAMPS=2)


def _learned_residuals(engine: Engine) -> int:
    found = 0
    for prepared in engine.single._prepared:
        for candidate in (prepared.candidate, prepared.candidate.narrowed):
            residual = getattr(candidate, "residual", None)
            found += bool(getattr(residual, "learned", None))
    return found


def test_tiny_limits_change_nothing_but_the_work_done(shared) -> None:
    generated = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events", "1500",
         "--seed", "11"], check=True, capture_output=True).stdout
    with limits.lowered(**TINY):
        engine = Engine(load_rules([CORPUS, SEED, ROOT / "rules"]).rules)
        engine.guards.enabled = False   # steps that need state: compared on their condition
        rules = engine.single.rules   # single-event rules and sequence/sample steps
        docs = documents_of(generated)
        for log in sorted((ROOT / "tests" / "data" / "rules").glob("*.hit.log")):
            docs += documents_of(log.read_bytes())
        rng = random.Random(5)
        docs += [_doc_for(rule, rng) for rule in rules for _ in range(2)]
        rng.shuffle(docs)
        matched = 0
        for doc in docs:
            expected = brute_force(rules, doc)
            assert indexed_matching(engine, doc) == expected, doc.get("process")
            matched += len(expected)
        assert engine.error_count == 0
        assert matched > 200
        # The bounds were reached, not just set.
        single = engine.single
        assert single._views.clears > 0 and single._found.clears > 50
        assert _learned_residuals(engine) > 50
        per_document = [f for view in single._views.values()
                        for f in view.index._document_fields]
        assert any(f.per_item.clears for f in per_document) or \
            sum(len(f.per_item) for f in per_document) <= TINY["MAX_INDEX_ITEMS"] * len(per_document)


def test_the_limits_module_guards_its_names() -> None:
    import pytest
    with pytest.raises(KeyError):
        with limits.lowered(NO_SUCH_LIMIT=1):
            pass
    with pytest.raises(ValueError):
        limits.BoundedCache("NO_SUCH_LIMIT")
    before = limits.MAX_GATE_VIEWS
    with limits.lowered(MAX_GATE_VIEWS=1):
        assert limits.MAX_GATE_VIEWS == 1
    assert limits.MAX_GATE_VIEWS == before


def test_a_bounded_cache_clears_whole_at_its_limit() -> None:
    with limits.lowered(MAX_TIMESTAMPS=3):
        cache = limits.BoundedCache("MAX_TIMESTAMPS")
        assert [cache.remember(i, i) for i in range(7)] == \
            [False, False, False, True, False, False, True]
        assert dict(cache) == {6: 6} and cache.clears == 2

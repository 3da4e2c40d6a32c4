"""engine.py: the index must give exactly what evaluating every rule would give."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from conftest import CORPUS, ROOT, SEED, SHARED
from audisp_eql.engine import Engine
from audisp_eql.rules import load_rules
from harness.pipelines import documents_of as _documents_of, indexed_matching, rules_matching


def documents_of(data: bytes) -> list[dict]:
    return _documents_of(data, process_table_size=4096)


def brute_force(rules, doc) -> list:
    categories = doc.get("event", {}).get("category", [])
    return [r for r in rules
            if (r.compiled.category is None or r.compiled.category in categories)
            and r.compiled.predicate(doc)]


def test_index_agrees_with_evaluating_every_rule(shared):
    rules = load_rules([CORPUS, ROOT / "rules"]).rules
    engine = Engine(rules)
    engine.guards.enabled = False   # steps that need state: compared on their condition
    generated = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events", "3000", "--seed", "7"],
        check=True, capture_output=True).stdout
    docs = documents_of(generated)
    for log in sorted((ROOT / "tests" / "data" / "rules").glob("*.log")):
        docs += documents_of(log.read_bytes())
    assert len(docs) > 3000
    matched = 0
    for doc in docs:
        expected = brute_force(engine.single.rules, doc)   # sequence steps too
        assert indexed_matching(engine, doc) == expected, doc.get("process", {}).get("args")
        matched += bool(expected)
    assert matched > 50  # the comparison covered real matches, not only empty lists
    assert engine.error_count == 0


def test_a_failing_predicate_is_counted_and_the_others_still_match(caplog):
    rules = load_rules([SEED, ROOT / "rules" / "execution_unix_socket_client.toml"]).rules
    broken = rules[0]

    def explode(doc):
        raise TypeError("boom")

    # Its last term fails on every document (the first ones, gates, hold).
    conjuncts = broken.compiled.conjuncts
    broken.compiled = replace(broken.compiled, predicate=explode,
                              conjuncts=conjuncts[:-1] + ((conjuncts[-1][0], explode),))
    engine = Engine(rules)
    doc = documents_of((ROOT / "tests" / "data" / "rules" / "execution_unix_socket_client.hit.log")
                       .read_bytes())[0]
    for _ in range(12):
        assert rules_matching(engine, doc) == [rules[1]]
    assert engine.errors.by_rule == {broken.rule_id: 12}
    # rate-limited: the 1st and the 10th failure are logged, not all 12
    assert sum("boom" in r.getMessage() for r in caplog.records) == 2


def test_documents_without_category_or_name_do_not_crash():
    engine = Engine(load_rules([ROOT / "rules"]).rules)
    for doc in ({}, {"event": {"category": "process"}}, {"event": "x", "process": "y"},
                {"event": {"category": ["process", 3]}, "process": {"name": 5}}):
        assert rules_matching(engine, doc) == []
    assert engine.error_count == 0

"""engine.py: the index must give exactly what evaluating every rule would give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from conftest import CORPUS, ROOT, SEED, SHARED
from audisp_eql.assemble import make_event_source
from audisp_eql.ecs import EcsBuilder
from audisp_eql.proctable import ProcessTable
from audisp_eql.engine import Engine
from audisp_eql.rules import load_rules


def documents_of(data: bytes) -> list[dict]:
    source = make_event_source("python")
    builder = EcsBuilder(table=ProcessTable(4096))
    events = source.feed(data) + source.flush()
    return [d for d in (builder.build(e) for e in events) if d]


def brute_force(rules, doc) -> list:
    categories = doc.get("event", {}).get("category", [])
    return [r for r in rules
            if (r.compiled.category is None or r.compiled.category in categories)
            and r.compiled.predicate(doc)]


def test_index_agrees_with_evaluating_every_rule(shared):
    rules = load_rules([CORPUS, ROOT / "rules"]).rules
    engine = Engine(rules)
    generated = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events", "3000", "--seed", "7"],
        check=True, capture_output=True).stdout
    docs = documents_of(generated)
    for log in sorted((ROOT / "tests" / "data" / "rules").glob("*.log")):
        docs += documents_of(log.read_bytes())
    assert len(docs) > 3000
    matched = 0
    for doc in docs:
        expected = brute_force(engine.rules, doc)
        assert engine.match(doc) == expected, doc.get("process", {}).get("args")
        matched += bool(expected)
    assert matched > 50  # the comparison covered real matches, not only empty lists
    assert engine.error_count == 0


def test_named_rules_are_only_candidates_for_their_process_names(shared):
    engine = Engine(load_rules([SEED]).rules)
    seed = engine.rules[0]
    assert seed.compiled.process_names  # the seed names nc, socat, ...
    assert [e[1] for e in engine.candidates(("process",), "nc")] == [seed]
    assert engine.candidates(("process",), "ls") == []
    assert engine.candidates(("file",), "nc") == []


def test_rules_without_a_name_set_are_always_candidates(tmp_path):
    rules = load_rules([ROOT / "rules" / "execution_from_world_writable_directory.toml"]).rules
    assert rules[0].compiled.process_names is None
    engine = Engine(rules)
    assert [e[1] for e in engine.candidates(("process",), "anything")] == rules


def test_a_failing_predicate_is_counted_and_the_others_still_match(caplog):
    rules = load_rules([SEED, ROOT / "rules" / "execution_unix_socket_client.toml"]).rules
    broken = rules[0]

    def explode(doc):
        raise TypeError("boom")

    broken.compiled = SimpleNamespace(category="process", process_names=None, predicate=explode,
                                      fields=frozenset())
    engine = Engine(rules)
    doc = documents_of((ROOT / "tests" / "data" / "rules" / "execution_unix_socket_client.hit.log")
                       .read_bytes())[0]
    for _ in range(12):
        assert engine.match(doc) == [rules[1]]
    assert engine.errors == {broken.rule_id: 12}
    # rate-limited: the 1st and the 10th failure are logged, not all 12
    assert sum("boom" in r.getMessage() for r in caplog.records) == 2


def test_documents_without_category_or_name_do_not_crash():
    engine = Engine(load_rules([ROOT / "rules"]).rules)
    for doc in ({}, {"event": {"category": "process"}}, {"event": "x", "process": "y"},
                {"event": {"category": ["process", 3]}, "process": {"name": 5}}):
        assert engine.match(doc) == []
    assert engine.error_count == 0

"""event.action of a process start is ["exec", "executed"] by default:
Elastic Defend's term and Auditbeat's, so that rules written for either
fire. Shown two ways for every process rule of the corpus (single-event
rules and every step of the sequences): by the shape of its condition, and
on documents."""

from __future__ import annotations

import random
import subprocess
import sys
from typing import Iterator

from audisp_eql.ecs.common import DEFAULT_ACTIONS
from audisp_eql.engine import Engine
from audisp_eql.eql import ast
from audisp_eql.rules import load_rules
from conftest import CORPUS, SHARED
from harness.pipelines import documents_of
from test_engine_shortcuts import _doc_for

BOTH = list(DEFAULT_ACTIONS)


def process_conditions() -> list:
    """Stand-in rules of the engine's index: single-event rules and sequence/sample
    steps, those that can see process documents."""
    engine = Engine(load_rules([CORPUS]).rules)
    engine.guards.enabled = False   # steps that need state: judged on their condition
    return [r for r in engine.single.rules if r.compiled.category in ("process", None)]


def leaves(node: ast.Expr, negated: bool = False) -> Iterator[tuple[ast.Expr, bool]]:
    if isinstance(node, ast.Not):
        yield from leaves(node.term, not negated)
    elif isinstance(node, (ast.And, ast.Or)):
        for term in node.terms:
            yield from leaves(term, negated)
    else:
        yield node, negated


def test_default_is_both_vocabularies() -> None:
    assert BOTH == ["exec", "executed"]
    [doc] = documents_of(subprocess.run(
        [sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events", "1"],
        check=True, capture_output=True).stdout)
    assert doc["event"]["action"] == BOTH
    [single] = documents_of(subprocess.run(
        [sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events", "1"],
        check=True, capture_output=True).stdout, action="executed")
    assert single["event"]["action"] == "executed"


def test_a_list_can_only_make_a_process_rule_pass_more(shared) -> None:
    """A leaf on event.action that is positive (==, in, like, : outside any
    `not`) holds for the list when it holds for one element, so the whole
    condition does (monotone). Any other leaf on event.action must answer the
    same for "exec", "executed" and the list."""
    from audisp_eql.eql import compile_query
    checked = 0
    for rule in process_conditions():
        for leaf, negated in leaves(rule.compiled.query.condition):
            if "event.action" not in ast.fields_of(leaf):
                continue
            checked += 1
            positive = not negated and (
                isinstance(leaf, ast.Compare) and leaf.op == "==" or
                isinstance(leaf, ast.InSet) and not leaf.negated or isinstance(leaf, ast.Match))
            if positive:
                continue
            test = compile_query(ast.EventQuery(None, leaf)).predicate
            answers = {test({"event": {"action": v}}) for v in ("exec", "executed", BOTH)}
            assert len(answers) == 1, (rule.path.name, leaf)
    assert checked > 250


def test_on_documents_every_rule_passing_with_one_term_passes_with_both(shared) -> None:
    conditions = process_conditions()
    generated = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events", "2000",
         "--seed", "3"], check=True, capture_output=True).stdout
    docs = documents_of(generated)
    rng = random.Random(4)
    docs += [_doc_for(rule, rng) for rule in conditions for _ in range(3)]
    passing = 0
    for doc in docs:
        verdicts = {}
        for action in ("exec", "executed"):
            variant = {**doc, "event": {**doc.get("event", {}), "action": action}}
            verdicts[action] = {id(r) for r in conditions if _holds(r, variant)}
        both = {**doc, "event": {**doc.get("event", {}), "action": BOTH}}
        with_list = {id(r) for r in conditions if _holds(r, both)}
        assert verdicts["exec"] | verdicts["executed"] <= with_list
        passing += len(verdicts["executed"] - verdicts["exec"])
    assert passing > 0   # some rules pass only with Auditbeat's term: the list wins them


def _holds(rule, doc: dict) -> bool:  # type: ignore[no-untyped-def]
    category = rule.compiled.category
    if category is not None and category not in doc.get("event", {}).get("category", []):
        return False
    return rule.compiled.predicate(doc)

"""Engine shortcuts (gates per gate key, index hints on program fields, per-document
field memo, learned term order) must give exactly what the plain reference
interpreter (tests/harness/eql_reference.py) gives for every rule.

Documents are built from each corpus rule's own constants (so that rules do
match, through wildcards and case changes) and from hostile shapes (lists where
strings are expected, non-strings, odd gate values)."""

from __future__ import annotations

import random
from typing import Any

from conftest import CORPUS, SEED
from harness.eql_reference import matches as reference_matches
from harness.pipelines import indexed_matching, rules_matching
from audisp_eql.engine import Engine
from audisp_eql.eql import ast
from audisp_eql.eql.fieldmemo import FieldMemo
from audisp_eql.engine.index_hints import CONTAINS, EXACT, PREFIX, SUFFIX, index_hint
from audisp_eql.rules import load_rules

MULTI = {"args", "env_vars"}
GATE_VARIANTS = {
    ("event", "action"): ["exec", "executed", "exec_event", "start", "fork", ["exec"], 1],
    ("event", "type"): [["start"], "start", ["start", "info"], ["info"], ["end"]],
    ("host", "os", "type"): ["linux", "macos", ["linux"], True],
    ("event", "category"): [["process"], "process", ["process", "file"], ["file"], [3]],
}


def brute_force(rules: list, doc: dict) -> list:
    """The rules whose query holds, by the reference interpreter, in load order."""
    return [r for r in rules if reference_matches(r.compiled.query, doc)]


def _instantiate(pattern: str, rng: random.Random) -> str:
    out = []
    for c in pattern:
        if c == "*":
            out.append(rng.choice(["", "x", "/tmp/a b", "ΣΑΣ"]))
        elif c == "?":
            out.append(rng.choice("aZ9/."))
        else:
            out.append(c)
    return "".join(out)


def _positive_leaves(node: ast.Expr, rng: random.Random) -> list:
    """Leaves outside `not` (mostly: exclusions are sometimes kept, to test them too)."""
    if isinstance(node, ast.Not):
        return _positive_leaves(node.term, rng) if rng.random() < 0.2 else []
    if isinstance(node, ast.Or) and rng.random() < 0.8:  # mostly one branch, consistently
        return _positive_leaves(rng.choice(node.terms), rng)
    if isinstance(node, (ast.And, ast.Or)):
        return [leaf for t in node.terms for leaf in _positive_leaves(t, rng)]
    return [node]


def _constants(rule: Any, rng: random.Random) -> dict[tuple[str, ...], list[str]]:
    found: dict[tuple[str, ...], list[str]] = {}
    for node in _positive_leaves(rule.compiled.query.condition, rng):
        target, texts = None, []
        if isinstance(node, ast.Compare) and node.op == "==":
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, ast.Field) and isinstance(b, ast.Literal) and isinstance(b.value, str):
                    target, texts = a, [b.value]
        elif isinstance(node, ast.InSet) and isinstance(node.expr, ast.Field) and not node.negated:
            target, texts = node.expr, [v.value for v in node.values if isinstance(v.value, str)]
        elif isinstance(node, ast.Match) and isinstance(node.expr, ast.Field) and node.kind == "like":
            target, texts = node.expr, [_instantiate(p, rng) for p in node.patterns]
        if target is not None and texts:   # (`x in (0, 1)`: no text to write)
            found.setdefault(target.path, []).extend(texts)
    return found


def _set(doc: dict, path: tuple[str, ...], value: Any) -> None:
    node = doc
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def _vary_case(text: str, rng: random.Random) -> str:
    if rng.random() < 0.8:
        return text
    return rng.choice([text.upper(), text.capitalize()])


def _doc_for(rule: Any, rng: random.Random) -> dict:
    doc: dict = {"event": {"category": ["process"], "type": ["start"], "action": "exec",
                           "kind": "event", "outcome": "success"},
                 "host": {"os": {"type": "linux"}},
                 "process": {"name": "bash", "executable": "/usr/bin/bash", "args": ["bash"],
                             "parent": {"name": "sshd", "executable": "/usr/sbin/sshd"}}}
    for path, texts in _constants(rule, rng).items():
        if len(path) >= 2 and path[:2] == ("event", "category"):
            continue
        picks = [_vary_case(rng.choice(texts), rng) for _ in range(rng.randint(1, 4))]
        if path[-1] in MULTI or rng.random() < 0.05:
            every = texts if len(texts) < 4 and rng.random() < 0.7 else picks
            _set(doc, path, list(every) + (["-x", 7] if rng.random() < 0.1 else []))
        else:
            _set(doc, path, picks[0])
    for path, variants in GATE_VARIANTS.items():
        if rng.random() < 0.05:
            _set(doc, path, rng.choice(variants))
    if rng.random() < 0.05:
        _set(doc, ("process", "name"), rng.choice([5, None, ["nc", "bash"], {"a": 1}]))
    return doc


def test_shortcuts_agree_with_every_predicate_on_rule_made_documents(shared):
    """Single-event rules and every step of the sequences and samples (the
    engine evaluates those through the same index, as stand-in rules)."""
    engine = Engine(load_rules([CORPUS, SEED]).rules)
    engine.guards.enabled = False   # steps that need state: compared on their condition
    rules = engine.single.rules
    assert len(rules) > len(engine.single_rules) + 78
    rng = random.Random(1)
    matched = compared = 0
    for _ in range(6):
        for rule in rules:
            doc = _doc_for(rule, rng)
            expected = brute_force(rules, doc)
            assert indexed_matching(engine, doc) == expected, (rule.path.name, doc)
            matched += rule in expected
            compared += 1
    assert engine.error_count == 0
    # the documents really exercise the rules: a good share match their own rule
    assert matched > compared // 10, (matched, compared)


def test_index_hints_hold_for_every_match(shared):
    """Each hint clause holds whenever its rule matches (the engine relies on it)."""
    engine = Engine(load_rules([CORPUS]).rules)
    engine.guards.enabled = False
    rules = engine.single.rules   # sequence steps too
    rng = random.Random(2)
    checked = 0
    for rule in rules:
        clauses = index_hint(rule.compiled.query.condition)
        for _ in range(8):
            doc = _doc_for(rule, rng)
            if not clauses or not rule.compiled.predicate(doc):
                continue
            for clause in clauses:
                assert any(_atom_holds(atom, doc) for atom in clause), (rule.path.name, clause)
            checked += 1
    assert checked > 100


def _atom_holds(atom: Any, doc: dict) -> bool:
    value: Any = doc
    for part in atom.field:
        value = value.get(part) if isinstance(value, dict) else None
    texts = [value] if isinstance(value, str) else \
        [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    for text in texts:
        text = text.lower() if atom.folded else text
        if atom.kind == EXACT and text == atom.text or \
                atom.kind == PREFIX and text.startswith(atom.text) or \
                atom.kind == CONTAINS and atom.text in text or \
                atom.kind == SUFFIX and text.endswith(atom.text):
            return True
    return False


def test_gate_keys_tell_booleans_from_numbers():
    rules = load_rules([SEED]).rules
    engine = Engine(rules)
    base = {"event": {"category": ["process"], "type": ["start"], "action": "exec"},
            "host": {"os": {"type": "linux"}},
            "process": {"name": "nc", "args": ["nc", "-U", "/run/x.sock"]}}
    assert rules_matching(engine, base) == rules
    for odd in (True, 1, 1.0, {"x": 1}, [1], [True]):
        doc = {**base, "host": {"os": {"type": odd}}}
        assert rules_matching(engine, doc) == brute_force(rules, doc) == []
    doc = {**base, "host": {"os": {"type": [1, "linux"]}}}  # any element may match
    assert rules_matching(engine, doc) == brute_force(rules, doc) == rules
    assert rules_matching(engine, base) == rules  # the odd keys did not spoil the cached view


def test_field_memo_sees_a_list_changed_in_place():
    memo = FieldMemo()
    args = ["A", "b"]
    assert memo.folded_view(args).set == {"a", "b"}
    args.append("C")
    assert memo.folded_view(args).set == {"a", "b", "c"}
    args[0] = "Z"
    assert memo.raw_view(args).items == ["Z", "b", "C"]
    assert memo.folded_view(["x\x00y"]).joined is None  # separator inside: item by item


def test_a_list_changed_in_place_between_documents_is_matched_afresh(shared):
    rules = load_rules([SEED]).rules
    engine = Engine(rules)
    args = ["nc", "-U", "/run/x.sock"]
    doc = {"event": {"category": ["process"], "type": ["start"], "action": "exec"},
           "host": {"os": {"type": "linux"}}, "process": {"name": "nc", "args": args}}
    assert rules_matching(engine, doc) == rules
    args[2] = "/home/x.sock"
    assert rules_matching(engine, doc) == []
    args[2] = "/RUN/x.sock"  # `:` folds case
    assert rules_matching(engine, doc) == rules


def test_rule_index_affix_edges():
    from audisp_eql.engine.index_hints import Atom
    from audisp_eql.engine.ruleindex import RuleIndex
    name = ("process", "name")
    index = RuleIndex([
        ("suffix", (frozenset([Atom(name, "suffix", "sh", False)]),)),
        ("prefix", (frozenset([Atom(name, PREFIX, "py", True)]),)),
        ("both", (frozenset([Atom(name, EXACT, "nc", False)]),
                  frozenset([Atom(("process", "executable"), PREFIX, "/tmp/", False)]))),
        ("always", ()),
    ])

    def names(doc: dict) -> list:
        found = index.compute(doc)
        return list(found if isinstance(found, tuple) else index.settle(doc, found))
    assert names({"process": {"name": "sh"}}) == ["suffix", "always"]  # whole value
    assert names({"process": {"name": "h"}}) == ["always"]
    assert names({"process": {"name": "PY"}}) == ["prefix", "always"]  # folded atom
    assert names({"process": {"name": "nc", "executable": "/tmp/nc"}}) == ["both", "always"]
    assert names({"process": {"name": "nc", "executable": "/usr/bin/nc"}}) == ["always"]
    assert names({"process": {"name": ["x", "bash"]}}) == ["suffix", "always"]  # not cached
    assert names({"process": {"name": 5}}) == ["always"]


def test_long_argument_lists_skip_the_argument_index_but_still_match(shared):
    rules = load_rules([SEED]).rules
    engine = Engine(rules)
    doc = {"event": {"category": ["process"], "type": ["start"], "action": "exec"},
           "host": {"os": {"type": "linux"}},
           "process": {"name": "nc", "args": ["nc", "-U"] + ["x"] * 100 + ["/RUN/a.sock"]}}
    assert rules_matching(engine, doc) == brute_force(rules, doc) == rules
    doc["process"]["args"][1] = "-u"  # `==` is case-sensitive
    assert rules_matching(engine, doc) == brute_force(rules, doc) == []

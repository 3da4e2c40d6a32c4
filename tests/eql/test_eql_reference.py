"""Cross-check against the `eql` package (test dependency only).

1. Structure: both parsers agree on every one of the 351 corpus queries once
   both trees are normalised (eql folds `:`/like/like~ into wildcard(),
   regex/regex~ into match(), in~ into in, and != null into IsNotNull).
2. Evaluation, only where eql agrees with Elasticsearch: scalar present
   fields and case-insensitive operators.
"""

from __future__ import annotations

from typing import Any, List

import pytest

eql = pytest.importorskip("eql")

from audisp_eql.eql import ast, compile_query, parse_query  # noqa: E402
from test_corpus import corpus_queries  # noqa: E402


def _eql_parse(text: str) -> Any:
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions, \
            eql.parser.skip_optimizations, eql.parser.allow_runs, eql.parser.allow_sample:
        return eql.parse_query(text)


def _flat(kind: str, terms: List[Any]) -> Any:
    out: List[Any] = []
    for term in terms:
        out.extend(term[1:] if term[0] == kind else [term])
    return (kind, *out)


def norm_eql(node: Any) -> Any:
    A = eql.ast
    if isinstance(node, A.Field):
        return ("field", ".".join([node.base, *map(str, node.path)]))
    if isinstance(node, (A.String, A.Number, A.Boolean)):
        return ("lit", node.value)
    if isinstance(node, A.Null):
        return ("lit", None)
    if isinstance(node, A.IsNull):
        return ("cmp", "==", norm_eql(node.expr), ("lit", None))
    if isinstance(node, A.IsNotNull):
        return ("cmp", "!=", norm_eql(node.expr), ("lit", None))
    if isinstance(node, A.Comparison):
        return ("cmp", node.comparator, norm_eql(node.left), norm_eql(node.right))
    if isinstance(node, A.InSet):
        return ("in", norm_eql(node.expression), tuple(norm_eql(v) for v in node.container))
    if isinstance(node, A.MathOperation):
        return ("arith", node.operator, norm_eql(node.left), norm_eql(node.right))
    if isinstance(node, A.FunctionCall):
        args = [norm_eql(a) for a in node.arguments]
        if node.name in ("wildcard", "match"):
            kind = "like" if node.name == "wildcard" else "regex"
            return (kind, args[0], tuple(a[1] for a in args[1:]))
        return ("call", node.name.lower(), tuple(args))
    if isinstance(node, A.Not):
        return ("not", norm_eql(node.term))
    if isinstance(node, A.And):
        return _flat("and", [norm_eql(t) for t in node.terms])
    if isinstance(node, A.Or):
        return _flat("or", [norm_eql(t) for t in node.terms])
    raise AssertionError(f"unexpected eql node {node!r}")


def norm_ours(node: ast.Expr) -> Any:
    if isinstance(node, ast.Field):
        return ("field", node.name)
    if isinstance(node, ast.Literal):
        return ("lit", node.value)
    if isinstance(node, ast.Compare):
        return ("cmp", node.op, norm_ours(node.left), norm_ours(node.right))
    if isinstance(node, ast.InSet):
        found = ("in", norm_ours(node.expr), tuple(norm_ours(v) for v in node.values))
        return ("not", found) if node.negated else found
    if isinstance(node, ast.Match):
        return (node.kind, norm_ours(node.expr), node.patterns)
    if isinstance(node, ast.Arith):
        return ("arith", node.op, norm_ours(node.left), norm_ours(node.right))
    if isinstance(node, ast.Call):
        return ("call", node.name.lower(), tuple(norm_ours(a) for a in node.args))
    if isinstance(node, ast.Not):
        return ("not", norm_ours(node.term))
    if isinstance(node, ast.And):
        return _flat("and", [norm_ours(t) for t in node.terms])
    return _flat("or", [norm_ours(t) for t in node.terms])


def eql_events(node: Any) -> List[Any]:
    """The event queries of an eql tree, in source order."""
    found: List[Any] = []

    def visit(value: Any) -> None:
        if isinstance(value, eql.ast.EventQuery):
            found.append(value)
        elif isinstance(value, eql.ast.BaseNode):
            for name in value.__slots__:
                visit(getattr(value, name, None))
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
    visit(node)
    return found


def our_events(query: ast.Query) -> List[ast.EventQuery]:
    if isinstance(query, ast.EventQuery):
        return [query]
    steps = list(query.steps) + ([query.until] if getattr(query, "until", None) else [])
    # eql expands `with runs=N` into N copies of the step
    return [s.event for s in steps for _ in range(s.runs or 1)]


def test_both_parsers_agree_on_every_corpus_query() -> None:
    disagreements = []
    for path, text in corpus_queries():
        theirs = [(e.event_type, norm_eql(e.query)) for e in eql_events(_eql_parse(text))]
        ours = [(e.category or "any", norm_ours(e.condition))
                for e in our_events(parse_query(text))]
        if theirs != ours:
            disagreements.append(path)
    assert not disagreements, disagreements[:5]


@pytest.mark.parametrize("condition", [
    'process.name : "BA*"', 'process.name : ("x", "*SH")', 'process.name like~ "b*h"',
    'process.name in~ ("BASH", "zsh")', 'process.name : "*a*"', 'process.parent.name : "s*d"',
    'not process.name : "x*"', 'process.name : "bash" and process.pid >= 10',
    'process.working_directory : "/TMP*"', 'process.pid < 5 or process.name in~ ("Bash")',
    # eql spells these without `~` and is always case-insensitive
    ('startsWith~(process.name, "BA")', 'startsWith(process.name, "BA")'),
    ('stringContains~(process.parent.name, "SH")', 'stringContains(process.parent.name, "SH")'),
    ('endsWith~(process.name, "SH")', 'endsWith(process.name, "SH")'),
])
@pytest.mark.parametrize("doc", [
    {"process": {"name": "bash", "pid": 42, "working_directory": "/tmp/x",
                 "parent": {"name": "sshd"}}},
    {"process": {"name": "ZSH", "pid": 3, "working_directory": "/var",
                 "parent": {"name": "Bash"}}},
])
def test_evaluation_agrees_with_eql_where_it_is_an_oracle(condition: Any, doc: dict) -> None:
    ours_text, eql_text = condition if isinstance(condition, tuple) else (condition, condition)
    ours = compile_query(parse_query(f"process where {ours_text}")).predicate(doc)
    query = _eql_parse(f"process where {eql_text}")
    results: List[bool] = []
    engine = eql.PythonEngine()
    engine.add_query(query)
    engine.add_output_hook(lambda event: results.append(True))
    engine.stream_events([eql.Event("process", 0, doc)])
    assert ours is bool(results), condition

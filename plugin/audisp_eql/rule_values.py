"""The values loaded rules look for in a field: what must be read or watched
for those rules to be able to fire.

Only positive tests count (`==`, `in`, `like`, `:` and their `~` forms,
outside any `not`; `!=` and `not in` look for absence). Each step of a
sequence or sample counts, with its own category. Used for
`process.env_vars` (which variables the plugin reads from /proc) and by
tools/derive_file_watches.py (which paths the `files` audit profile
watches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

from .eql import ast


@dataclass(frozen=True)
class Wanted:
    field: str
    value: str
    wildcard: bool          # like / : (`*` and `?` are wildcards)
    insensitive: bool
    category: Optional[str]  # of the event query or sequence step; None: any


def event_queries(query: Any) -> Iterator[ast.EventQuery]:
    if isinstance(query, ast.EventQuery):
        yield query
    elif isinstance(query, (ast.SequenceQuery, ast.SampleQuery)):
        steps = list(query.steps)
        if getattr(query, "until", None) is not None:
            steps.append(query.until)
        for step in steps:
            yield step.event


def _positive(node: ast.Expr, negated: bool, fields: frozenset,
              category: Optional[str]) -> Iterator[Wanted]:
    if isinstance(node, ast.Not):
        yield from _positive(node.term, not negated, fields, category)
        return
    if isinstance(node, (ast.And, ast.Or)):
        for term in node.terms:
            yield from _positive(term, negated, fields, category)
        return
    if negated:
        return
    if isinstance(node, ast.Compare) and node.op == "==":
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(side, ast.Field) and side.name in fields and \
                    isinstance(other, ast.Literal) and isinstance(other.value, str):
                yield Wanted(side.name, other.value, False, False, category)
    elif isinstance(node, ast.InSet) and not node.negated:
        if isinstance(node.expr, ast.Field) and node.expr.name in fields:
            for literal in node.values:
                if isinstance(literal.value, str):
                    yield Wanted(node.expr.name, literal.value, False, node.insensitive, category)
    elif isinstance(node, ast.Match) and node.kind == "like":
        if isinstance(node.expr, ast.Field) and node.expr.name in fields:
            for pattern in node.patterns:
                yield Wanted(node.expr.name, pattern, True, node.insensitive, category)


def wanted_values(queries: Iterable[Any], fields: Iterable[str]) -> list[Wanted]:
    """Every positive test of `fields` in the parsed `queries`, in order."""
    names = frozenset(fields)
    out: list[Wanted] = []
    for query in queries:
        for event in event_queries(query):
            out.extend(_positive(event.condition, False, names, event.category))
    return out


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_var_names(queries: Iterable[Any]) -> tuple[str, ...]:
    """Names of the environment variables `process.env_vars` tests look for
    (`NAME=value` patterns; a wildcard inside the name makes a prefix `NAME*`,
    wildcards before it a suffix `*NAME`: "*GLIBC_TUNABLES=glibc.*" wants the
    variables whose name ends so)."""
    names: dict[str, None] = {}
    for wanted in wanted_values(queries, ["process.env_vars"]):
        text = wanted.value.split("=", 1)[0]
        if wanted.wildcard and text[:1] in ("*", "?") and "=" in wanted.value:
            rest = text.lstrip("*?")
            if _NAME.fullmatch(rest):
                names["*" + rest] = None
            continue
        if wanted.wildcard:
            cut = min((i for i in (text.find("*"), text.find("?")) if i >= 0), default=-1)
            if cut >= 0:
                text = text[:cut]
                if _NAME.fullmatch(text):
                    names[text + "*"] = None
                continue
        if _NAME.fullmatch(text):
            names[text] = None
    return tuple(names)

"""The `eql` package (1.0.1) as the evaluation peer, configured as detection-rules
configures it, fed the same ECS documents as our engine.

Its semantics differ from Elasticsearch (see ../shared/corpus/README.md), so only
speed is compared; the match counts are printed for information, not as an oracle.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import eql
from eql.parser import (allow_runs, allow_sample, elasticsearch_syntax,
                        ignore_missing_functions, skip_optimizations)


@dataclass(frozen=True)
class EqlPeerResult:
    rules: int
    events: int
    seconds: float
    matches: int
    parse_errors: int


def rule_query(path: Path) -> str:
    with open(path, "rb") as f:
        return tomllib.load(f)["rule"]["query"]


def parse_queries(paths: Sequence[Path]) -> tuple[list[Any], int]:
    parsed, errors = [], 0
    with elasticsearch_syntax, ignore_missing_functions, skip_optimizations, allow_runs, allow_sample:
        for path in paths:
            try:
                parsed.append(eql.parse_query(rule_query(path)))
            except eql.EqlError:
                errors += 1
    return parsed, errors


def _freeze(value: Any) -> Any:
    # eql crashes on `in` over lists; tuples keep it alive (they still never match).
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def to_eql_event(doc: dict[str, Any]) -> eql.Event:
    """Our ECS document as eql wants it: dispatched on `event_type`, tuples for lists,
    and one-element event.category/type lists unwrapped so the `process where` and
    `event.type == "start"` gates can pass at all."""
    data = _freeze(doc)
    event = dict(data.get("event", {}))
    for key in ("category", "type"):
        if isinstance(event.get(key), tuple) and len(event[key]) == 1:
            event[key] = event[key][0]
    data["event"] = event
    category = event.get("category", "process")
    data["event_type"] = category if isinstance(category, str) else category[0]
    return eql.Event.from_data(data)


def evaluate(rule_paths: Sequence[Path], docs: Iterable[dict[str, Any]]) -> EqlPeerResult:
    """Time only the evaluation: parsing and conversion happen before the clock starts."""
    queries, errors = parse_queries(rule_paths)
    engine = eql.PythonEngine()
    for query in queries:
        engine.add_query(query)
    hits: list[int] = []
    engine.add_output_hook(lambda event: hits.append(1))
    events = [to_eql_event(doc) for doc in docs]
    start = time.perf_counter()
    engine.stream_events(events)
    seconds = time.perf_counter() - start
    return EqlPeerResult(len(queries), len(events), seconds, len(hits), errors)

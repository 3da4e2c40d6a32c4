"""Small ECS streams and rules for sequence/sample tests: documents with a
time, a host, tags (`t`, which step conditions test) and a key field (`k`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional, Sequence

from audisp_eql.engine import Engine, Match
from audisp_eql.engine.clock import event_time
from audisp_eql.eql import compile_query, parse_query
from audisp_eql.rules import Rule

BASE = 1_700_000_000


def stamp(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(BASE + seconds)) + f".{millis:03d}Z"


def event(ms: int, tags: Sequence[str] | str, key: Any = "x", host: str = "h1",
          ident: Optional[str] = None, category: str = "process", **fields: Any) -> dict:
    doc: dict = {"@timestamp": stamp(ms), "host": {"id": host},
                 "event": {"category": [category], "id": ident or f"{ms}:{tags}:{key}"},
                 "t": list(tags) if not isinstance(tags, str) else [tags]}
    if key is not None:
        doc["k"] = key
    doc.update(fields)
    return doc


def ms_of(doc: dict) -> int:
    """A document's time in ms since BASE (as `event` wrote it)."""
    return int(round((event_time(doc) or 0.0) * 1000)) - BASE * 1000


def make_rule(query: str, rule_id: str = "rule-1", lookback: float = 360.0) -> Rule:
    rule = Rule(rule_id=rule_id, name=f"test {rule_id}", path=Path(f"{rule_id}.toml"),
                query=query, lookback=lookback)
    rule.compiled = compile_query(parse_query(query))
    return rule


def run(rules: Sequence[Rule], docs: Sequence[dict]) -> tuple[list[Match], Engine]:
    """Every match of the stream (flushed at the end) and the engine."""
    engine = Engine(rules)
    matches: list[Match] = []
    for doc in docs:
        matches.extend(engine.process(doc))
    matches.extend(engine.flush())
    return matches, engine


def ids(match: Match) -> list[str]:
    return [d["event"]["id"] for d in match.documents]

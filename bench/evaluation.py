"""Evaluation alone: our compiled rules vs the `eql` package, on the same ECS documents.

Documents come from our own data path (records -> events -> ECS) run once, untimed;
then each side evaluates the 204 corpus process rules + the seed rule on them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import eql_peer


@dataclass(frozen=True)
class EvalResult:
    ours_events: int
    ours_seconds: float
    ours_matches: int
    ours_rules: int
    peer: eql_peer.EqlPeerResult

    @property
    def ours_rate(self) -> float:
        return self.ours_events / self.ours_seconds

    @property
    def peer_rate(self) -> float:
        return self.peer.events / self.peer.seconds


def build_documents(log: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` process-start documents of a log, as the plugin would build them."""
    from audisp_eql.config import Config
    from audisp_eql.reloader import pipeline_options
    from audisp_eql.pipeline import build_pipeline

    # The plugin's own wiring, with the end-to-end run's settings: "exec", no /proc.
    docs: list[dict[str, Any]] = []
    pipeline = build_pipeline(pipeline_options(Config(event_action="exec", parent_from_proc=False)),
                              on_document=docs.append)
    with open(log, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            pipeline.feed(chunk)
            if len(docs) >= limit:
                return docs[:limit]
    pipeline.flush()
    return docs[:limit]


def evaluate_ours(rule_paths: Sequence[Path], docs: Sequence[dict[str, Any]]) -> tuple[float, int, int]:
    from audisp_eql.engine import Engine
    from audisp_eql.rules import load_rules

    engine = Engine(load_rules(rule_paths).rules)
    process = engine.process
    matches = 0
    start = time.perf_counter()
    for doc in docs:
        matches += len(process(doc))
    return time.perf_counter() - start, matches, len(engine.rules)


# Each side runs this many times, alternating, and its fastest run counts: on a
# shared 2-core machine a single run of either side swings by up to 2x.
ROUNDS = 3


def compare(log: Path, rule_paths: Sequence[Path], ours_events: int, peer_events: int) -> EvalResult:
    docs = build_documents(log, max(ours_events, peer_events))
    if not docs:
        raise RuntimeError(f"{log}: no process-start documents built")
    ours_runs, peer_runs = [], []
    for _ in range(ROUNDS):
        # A fresh engine each round: caches and learned term order start cold.
        ours_runs.append(evaluate_ours(rule_paths, docs[:ours_events]))
        peer_runs.append(eql_peer.evaluate(rule_paths, docs[:peer_events]))
    seconds, matches, rules = min(ours_runs)
    peer = min(peer_runs, key=lambda run: run.seconds)
    return EvalResult(min(ours_events, len(docs)), seconds, matches, rules, peer)

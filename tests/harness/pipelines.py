"""Pipelines for tests, built the one way the program builds them
(audisp_eql.pipeline.build_pipeline): audit records in, documents or alerts out."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from audisp_eql.pipeline import Pipeline, PipelineOptions, build_pipeline
from audisp_eql.rules import Rule


def run(data: bytes, parser: str = "python", rules: Optional[Sequence[Rule]] = None,
        name: str = "<test>", **options: Any) -> tuple[list[dict], list[dict], Pipeline]:
    """(documents, alerts, the pipeline) for `data`, flushed."""
    documents: list[dict] = []
    alerts: list[dict] = []
    pipeline = build_pipeline(PipelineOptions(parser=parser, rules=rules, **options),
                              on_document=documents.append, on_alert=alerts.append)
    pipeline.start_source(name)
    pipeline.feed(data)
    pipeline.flush()
    return documents, alerts, pipeline


def documents_of(data: bytes, parser: str = "python", **options: Any) -> list[dict]:
    """The ECS documents of audit records."""
    return run(data, parser, **options)[0]


def alerts_of(data: bytes, rules: Sequence[Rule], parser: str = "python",
              **options: Any) -> list[dict]:
    """The alerts `rules` give on audit records."""
    return run(data, parser, rules=rules, **options)[1]


def rules_matching(engine: Any, doc: dict) -> list[Rule]:
    """The rules one document matches (their Match objects' rules, in order)."""
    return [match.rule for match in engine.process(doc)]


def indexed_matching(engine: Any, doc: dict) -> list[Rule]:
    """What the engine's index says `doc` matches: single-event rules and the
    stand-ins for sequence/sample steps (engine.single.rules), in order."""
    return engine.single.match(doc)

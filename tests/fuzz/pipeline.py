"""The whole per-event path, wired as the plugin wires it, with every invariant checked.

bytes -> event source (auparse or python) -> ECS builder -> engine (real rules)
-> alert -> every output format. Any exception escaping a stage is a crash; a
document that is not JSON, or an output line that carries a raw newline or
control byte, is a violation (`InvariantError`); a rule predicate that raised
(the engine counts those instead of propagating) is reported as one too.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

# What no output line may carry raw (see escape.py): C0/C1, DEL, U+2028/2029,
# bidi overrides and isolates, lone surrogates.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
SHAPE_LIMIT = 100_000   # distinct shapes remembered for the figures


class InvariantError(AssertionError):
    """The pipeline did not crash but produced something it must never produce."""


def check_line(line: str, what: str) -> None:
    bad = FORBIDDEN.search(line)
    if bad is not None:
        raise InvariantError(f"{what}: raw {bad.group()!r} in output line {line[:200]!r}")
    line.encode("utf-8")


def load_rule_set(corpus: Path, seed_rule: Path) -> tuple[list[Any], Any]:
    """Compiled corpus rules for the engine, and the seed rule (used to alert on every doc)."""
    from audisp_eql.rules import load_rules
    rules = load_rules([corpus]).rules
    seed = load_rules([seed_rule]).rules
    if not seed:
        raise RuntimeError(f"seed rule {seed_rule} did not load")
    return rules, seed[0]


class Pipeline:
    """One long-lived pipeline, like the plugin's (audisp_eql.pipeline), fed many
    inputs; every event and document is checked on its way through."""

    def __init__(self, parser: str, rules: Sequence[Any], alert_rule: Any,
                 max_pending: Optional[int] = None, engine_every: int = 1,
                 alert_every: int = 1) -> None:
        """`engine_every`/`alert_every`: run the rules / the forced alert on every
        Nth document only (the long run samples to keep 1M inputs in minutes)."""
        from audisp_eql import limits
        from audisp_eql.engine import Engine
        from audisp_eql.pipeline import PipelineOptions, build_pipeline
        self.parser = parser
        # The fuzzer's pids are not this host's: no parents from /proc.
        options = PipelineOptions(parser=parser, parent_from_proc=False)
        with limits.lowered(MAX_PENDING_EVENTS=max_pending or limits.MAX_PENDING_EVENTS):
            self.pipeline = build_pipeline(options, on_document=self.check_document,
                                           on_event=self.check_event,
                                           on_build_error=self.builder_crashed)
        self.source = self.pipeline.source
        # The rules run on every Nth document only: an engine of its own.
        self.engine = Engine(rules)
        self.alert_rule = alert_rule
        self.engine_every = engine_every
        self.alert_every = alert_every
        self.counts: Counter[str] = Counter()
        self.last_document: Optional[dict[str, Any]] = None
        self.event_shapes: set[tuple[str, ...]] = set()
        self.doc_shapes: set[tuple[str, ...]] = set()

    def feed(self, data: bytes) -> None:
        self.pipeline.feed(data)

    def age_all(self, now: float) -> None:
        self.pipeline.age(now)

    def finish(self) -> None:
        self.pipeline.flush()

    def check_event(self, event: Any) -> None:
        self.counts["events"] += 1
        self.counts["records"] += len(event.records)
        if len(self.event_shapes) < SHAPE_LIMIT:
            self.event_shapes.add(tuple(r.type for r in event.records))

    @staticmethod
    def builder_crashed(event: Any, error: Exception) -> None:
        raise error   # the plugin would survive it; the fuzzer calls it a crash

    def check_document(self, doc: dict[str, Any]) -> None:
        from audisp_eql.alerts import make_alert
        from audisp_eql.engine import Match
        from audisp_eql.outputs.format import FORMATS, format_alert
        self.counts["documents"] += 1
        self.last_document = doc
        category = doc.get("event", {}).get("category")
        self.counts["documents." + "+".join(category if isinstance(category, list) else
                                            [str(category)])] += 1
        try:
            json.dumps(doc, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise InvariantError(f"document is not JSON: {err}") from err
        if len(self.doc_shapes) < SHAPE_LIMIT:
            self.doc_shapes.add(tuple(sorted(_paths(doc))))
        n = self.counts["documents"]
        matches = []
        if n % self.engine_every == 0:
            self.counts["matched_documents"] += 1
            errors_before = self.engine.error_count
            matches = self.engine.process(doc)
            if self.engine.error_count != errors_before:
                raise InvariantError(
                    f"a rule predicate raised on a document: {self.engine.errors.by_rule}")
            self.counts["alerts"] += len(matches)
        # Documents also go through alert + formats (with the seed rule), so
        # the output path sees the fuzzed strings, matched or not.
        if n % self.alert_every == 0:
            matches = [*matches, Match(self.alert_rule, (doc,))]
        for match in matches:
            alert = make_alert(match)
            for fmt in FORMATS:
                check_line(format_alert(alert, fmt), f"{fmt} format")


def _paths(doc: dict[str, Any], prefix: str = "") -> Iterable[str]:
    for key, value in doc.items():
        if isinstance(value, dict):
            yield from _paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"

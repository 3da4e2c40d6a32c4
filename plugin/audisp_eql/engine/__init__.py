"""Stage 3: ECS documents -> matches (rules and the documents they matched).

    engine.py       Engine (the interface), Match, the stateful matcher registry
    single.py       SingleEventMatcher: gates, index, residual predicates
    prepared.py     a single-event rule split into gates, key terms, residual, hint
    ruleindex.py    rules by the program and argument fields their hints name
    index_hints.py  what a query says about field values (exact, prefix, ...)
    literalset.py   many prefixes/suffixes/substrings in one RE2 pass
    adaptive.py     `and` terms reordered by how often they are false
    sequence.py     SequenceMatcher: `sequence` rules (registered below)
    missing.py      a sequence's missing-event steps `![q]`, trailing windows
    partial.py      a sequence in progress (events, times)
    sample.py       SampleMatcher: `sample` rules (registered below)
    state.py        bounded pending state of stateful rules, expired by event time
    weight.py       what a held document costs; a bounded copy of a heavy one
    clock.py        a document's event time
    rule_errors.py  failing predicates, counted
"""

from __future__ import annotations

from .engine import STATEFUL_MATCHERS, Engine, Match
from .sample import SampleMatcher
from .sequence import SequenceMatcher

STATEFUL_MATCHERS.setdefault("sequence", SequenceMatcher)
STATEFUL_MATCHERS.setdefault("sample", SampleMatcher)

__all__ = ["STATEFUL_MATCHERS", "Engine", "Match"]

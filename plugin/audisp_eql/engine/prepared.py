"""One single-event rule taken apart for the matcher (single.py): gate terms,
terms on the lookup key's fields, the residual, and its index hint.

Most rules open with gates that hold for nearly every document
(`host.os.type == "linux" and event.type == "start" and event.action in
(...)`): terms that read only document-level, low-cardinality fields
(`GATE_FIELDS`) are evaluated once per distinct value of those fields (the
gate key), on a document holding just them: exact, since those terms read
nothing else. Terms that read only the lookup key's fields (`KEY_FIELDS`:
gate key plus the program fields the index reads) have one answer per
lookup entry, so they are decided there, once.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..eql.ast import And, Expr, fields_of
from ..eql.cost import cost
from ..rules import Rule
from .adaptive import adaptive_all
from .index_hints import HINT_FIELDS, INDEX_FIELDS, index_hint

Predicate = Callable[[dict[str, Any]], bool]

# Fields with a handful of values per host, read by rule gates. Never a field
# that varies per event (ids, names, times): the gate key must stay small.
GATE_FIELDS: frozenset[str] = frozenset([
    "event.category", "event.type", "event.action", "event.kind", "event.outcome",
    "event.module", "event.dataset", "event.provider", "data_stream.dataset",
    "host.os.type", "host.os.family", "host.os.platform", "host.os.name", "agent.type",
])
KEY_FIELDS: frozenset[str] = GATE_FIELDS | frozenset(".".join(f) for f in INDEX_FIELDS)


class Candidate:
    """A rule as the index hands it out: the terms left to check on the document.

    `narrowed`: when some of those terms read only the lookup key's fields,
    `key_check` decides them once per lookup entry and `narrowed` is this
    candidate without them; None otherwise."""

    __slots__ = ("rule", "residual", "key_check", "narrowed")

    def __init__(self, rule: Rule, residual: Predicate, key_check: Optional[Predicate] = None,
                 narrowed: Optional["Candidate"] = None) -> None:
        self.rule = rule
        self.residual = residual
        self.key_check = key_check
        self.narrowed = narrowed


def all_of(predicates: Sequence[Predicate]) -> Predicate:
    if not predicates:
        return lambda doc: True
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda doc: a(doc) and b(doc)
    sequence = tuple(predicates)

    def all_terms(doc: dict[str, Any]) -> bool:
        for predicate in sequence:
            if not predicate(doc):
                return False
        return True
    return all_terms


def _residual(terms: Sequence[tuple[Expr, Predicate]]) -> Predicate:
    # Order learnt from the first documents (adaptive.py); one term: itself.
    if len(terms) > 1:
        return adaptive_all([p for _, p in terms], [cost(t) for t, _ in terms])
    return all_of([p for _, p in terms])


class PreparedRule:
    """One compiled single-event rule split into gates, residual and hint."""

    __slots__ = ("order", "rule", "category", "predicate", "gates", "gate_fields",
                 "candidate", "hint")

    def __init__(self, order: int, rule: Rule) -> None:
        compiled = rule.compiled
        self.order, self.rule, self.category = order, rule, compiled.category
        self.predicate: Predicate = compiled.predicate
        conjuncts: Sequence[tuple[Expr, Predicate]] = compiled.conjuncts
        gate_terms = [(t, p) for t, p in conjuncts if fields_of(t) <= GATE_FIELDS]
        rest = [(t, p) for t, p in conjuncts if not fields_of(t) <= GATE_FIELDS]
        self.gates = [p for _, p in gate_terms]
        # Every gate field any term reads goes into the gate key, so that the
        # terms on the key's fields (key_check) see all they read in the key.
        self.gate_fields = set(fields_of(*(t for t, _ in conjuncts))) & GATE_FIELDS
        on_key = [(t, p) for t, p in rest if fields_of(t) <= KEY_FIELDS]
        narrowed = None
        if on_key:
            narrowed = Candidate(rule, _residual(
                [(t, p) for t, p in rest if not fields_of(t) <= KEY_FIELDS]))
        self.candidate = Candidate(rule, _residual(rest),
                                   all_of([p for _, p in on_key]) if on_key else None, narrowed)
        terms = [t for t, _ in rest]
        self.hint = index_hint(And(tuple(terms)), HINT_FIELDS) if terms else ()

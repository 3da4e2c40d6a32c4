"""What `check` says about exceptions: which attach to which rule, and which
can never match (or match everything) on the documents audisp-eql builds.

Sound in the same way as coverage.py: a warning only when the catalog of
event kinds (ecs.catalog()) proves it. A field audisp-eql never sets may
still be in documents read with `scan --input ecs`, so these are warnings,
never errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Optional

from ..coverage import possible_variants
from ..ecs.registry import Catalog, kind_variants
from ..eql import compile_query
from ..rules import Rule
from .matcher import compile_entry
from .model import Entry, ExceptionItem, ExceptionSet



def _categories(query: Any) -> set[Optional[str]]:
    if hasattr(query, "category"):
        return {query.category}
    steps = list(getattr(query, "steps", ()))
    until = getattr(query, "until", None)
    return {step.event.category for step in steps + ([until] if until else [])} or {None}


class _Scope:
    """The documents a rule can see: fields that may be set, and the fixed values of
    each kind of document (the variants of every event kind in its categories)."""

    def __init__(self, rule: Rule, catalog: Catalog) -> None:
        query = getattr(rule.compiled, "query", None)
        produced = set(catalog.categories)
        wanted = {c for c in _categories(query) if c in produced} if query is not None else set()
        if not wanted or None in _categories(query):
            wanted = {None}
        self.fields: frozenset[str] = frozenset().union(*(catalog.fields(c) for c in wanted))
        # Only the kinds of document the rule itself may match on.
        self.variants = possible_variants(query, catalog, compile_query) \
            if query is not None else [v for c in wanted for kind in catalog.kinds_of(c)
                                       for v in kind_variants(kind, c)]
        names = sorted(c for c in wanted if c)
        self.what = f"audisp-eql's {'/'.join(names)} documents" if names else "audisp-eql's documents"

    def produced(self, name: str) -> bool:
        return name in self.fields or any(f.startswith(name + ".") for f in self.fields)


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    doc: Any = value
    for part in reversed(dotted.split(".")):
        doc = {part: doc}
    return doc


def _quote(value: Any) -> str:
    import json
    return json.dumps(value, ensure_ascii=False)


_SHOWN_VALUES = 4   # values of one field named in a warning; the rest are counted


def _entry_verdict(entry: Entry, scope: _Scope) -> tuple[Optional[bool], str]:
    """(False: never holds, True: always holds, None: depends) and why."""
    fixed = all(entry.field in v for v in scope.variants) and bool(scope.variants)
    if not scope.produced(entry.field) and not fixed:
        why = (f"{scope.what} never have {entry.field} (only documents read with "
               "--input ecs can)")
        return entry.negated, why
    if fixed and entry.kind != "nested":
        test = compile_entry(entry)
        verdicts = {test(_nest(entry.field, v[entry.field])) for v in scope.variants}
        if len(verdicts) == 1:
            values: list[str] = []
            for variant in scope.variants:
                text = _quote(variant[entry.field])
                if text not in values:
                    values.append(text)
            shown = " or ".join(values[:_SHOWN_VALUES])
            more = len(values) - _SHOWN_VALUES
            return verdicts.pop(), (f"{scope.what} have {entry.field} {shown}"
                                    + (f" (or {more} more)" if more > 0 else ""))
    return None, ""


def _contradiction(a: Entry, b: Entry) -> bool:
    if a.field != b.field or "nested" in (a.kind, b.kind):
        return False
    for x, y in ((a, b), (b, a)):
        if not x.negated and y.kind == "exists" and y.negated:
            return True      # needs a value, and no value
        if (not x.negated and x.kind in ("match", "match_any") and y.negated
                and y.kind in ("match", "match_any") and set(x.values) <= set(y.values)):
            return True      # one of these values, and none of them
        if (not x.negated and y.negated and x.kind == y.kind == "wildcard"
                and x.values == y.values):
            return True
    return False


def never_or_always(item: ExceptionItem, scope: _Scope) -> tuple[Optional[bool], str]:
    """(False, why) if the item can never match, (True, why) if it matches every
    document the rule sees, (None, "") otherwise."""
    if item.os_types and "linux" not in item.os_types:
        return False, f"os_types {_quote(list(item.os_types))}: audisp-eql's documents are linux"
    always: list[str] = []
    for entry in item.entries:
        verdict, why = _entry_verdict(entry, scope)
        if verdict is False:
            return False, f"{entry.describe()} never holds: {why}"
        if verdict is True:
            always.append(entry.describe())
    for i, a in enumerate(item.entries):
        for b in item.entries[i + 1:]:
            if _contradiction(a, b):
                return False, f"{a.describe()} and {b.describe()} contradict each other"
    if len(always) == len(item.entries):
        return True, " and ".join(always) + " hold on every document"
    return None, ""


def item_notes(item: ExceptionItem, rule: Rule, catalog: Catalog, now: dt.datetime) -> list[str]:
    """What `check` prints under a rule for one attached exception."""
    notes = []
    if item.expired(now):
        assert item.expires is not None
        notes.append(f"expired on {item.expires:%Y-%m-%d %H:%M} UTC: not applied")
    verdict, why = never_or_always(item, _Scope(rule, catalog))
    if verdict is False:
        notes.append(f"can never match: {why}")
    elif verdict is True:
        notes.append(f"matches every alert of this rule: {why}")
    return notes


def attached_to(rule: Rule, exceptions: ExceptionSet) -> list[ExceptionItem]:
    return [item for item in exceptions.items if item.applies_to(rule.rule_id)]


def set_warnings(exceptions: ExceptionSet, rule_ids: Iterable[str],
                 disabled: Iterable[str], now: dt.datetime) -> list[str]:
    """Warnings about the whole set: rule_ids nobody has, rules disabled twice over,
    lists attached nowhere, expired exceptions."""
    known = set(rule_ids)
    off = set(disabled)
    warnings = list(exceptions.warnings)
    for item in exceptions.items:
        for rule_id in sorted(item.rule_ids - known):
            warnings.append(f"exception {item.label} names rule_id {rule_id}, which no "
                            "loaded rule has")
        for rule_id in sorted(item.rule_ids & off):
            warnings.append(f"exception {item.label} is attached to rule_id {rule_id}, "
                            "which is disabled")
        if item.all_rules and item.expired(now):
            assert item.expires is not None
            warnings.append(f"exception {item.label} (all rules) expired on "
                            f"{item.expires:%Y-%m-%d %H:%M} UTC: not applied")
    for rule_id, where in sorted(exceptions.disabled_rules.items()):
        if rule_id not in known:
            warnings.append(f"{where}: disabled_rules names rule_id {rule_id}, which no "
                            "loaded rule has")
    return warnings

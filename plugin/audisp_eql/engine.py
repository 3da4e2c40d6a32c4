"""Which rules match a document: an index in front of the compiled predicates.

Most rules only apply to one event category and name the processes they are
about (`process.name in ("nc", "ncat")`), so for a given document only a few
predicates need to run. Rules are indexed by category and, when the compiled
query knows its process-name set, by lower-cased `process.name`; the others are
evaluated for every document of their category. `match` is the hot path.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Sequence

from .rules import Rule

log = logging.getLogger(__name__)

Predicate = Callable[[dict[str, Any]], bool]
_Entry = tuple[int, Rule, Predicate]

# Distinct (categories, name) pairs seen; argv[0] is attacker-chosen, so bound it.
_CACHE_LIMIT = 4096


class _Bucket:
    """Rules of one category: by process name, and those evaluated always."""

    __slots__ = ("by_name", "always")

    def __init__(self) -> None:
        self.by_name: dict[str, list[_Entry]] = {}
        self.always: list[_Entry] = []


def _categories(doc: dict[str, Any]) -> tuple[str, ...]:
    event = doc.get("event")
    value = event.get("category") if isinstance(event, dict) else None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _process_name(doc: dict[str, Any]) -> str | None:
    process = doc.get("process")
    name = process.get("name") if isinstance(process, dict) else None
    return name.lower() if isinstance(name, str) else None


class Engine:
    """Evaluate compiled rules on ECS documents; a failing predicate is counted, not fatal."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: list[Rule] = [r for r in rules if r.compiled is not None]
        self._buckets: dict[str, _Bucket] = {}
        self._any: list[_Entry] = []  # `any where` rules: every document
        self._cache: dict[tuple[tuple[str, ...], str | None], list[_Entry]] = {}
        self.errors: dict[str, int] = {}
        for order, rule in enumerate(self.rules):
            compiled = rule.compiled
            entry: _Entry = (order, rule, compiled.predicate)
            if compiled.category is None:
                self._any.append(entry)
                continue
            bucket = self._buckets.setdefault(compiled.category, _Bucket())
            names = compiled.process_names
            if names is None:
                bucket.always.append(entry)
            else:
                for name in names:
                    bucket.by_name.setdefault(name.lower(), []).append(entry)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def candidates(self, categories: Sequence[str], name: str | None) -> list[_Entry]:
        """The rules worth evaluating for this category set and process name, in load order."""
        key = (tuple(categories), name)
        found = self._cache.get(key)
        if found is not None:
            return found
        merged: dict[int, _Entry] = {e[0]: e for e in self._any}
        for category in key[0]:
            bucket = self._buckets.get(category)
            if bucket is None:
                continue
            for entry in bucket.always:
                merged[entry[0]] = entry
            if name is not None:
                for entry in bucket.by_name.get(name, ()):
                    merged[entry[0]] = entry
        found = [merged[k] for k in sorted(merged)]
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = found
        return found

    def match(self, doc: dict[str, Any]) -> list[Rule]:
        """The rules whose query matches `doc`."""
        matched: list[Rule] = []
        for _order, rule, predicate in self.candidates(_categories(doc), _process_name(doc)):
            try:
                if predicate(doc):
                    matched.append(rule)
            except Exception as err:  # noqa: BLE001 - one rule's bug must not stop the others
                self._count_error(rule, err)
        return matched

    def _count_error(self, rule: Rule, err: Exception) -> None:
        count = self.errors.get(rule.rule_id, 0) + 1
        self.errors[rule.rule_id] = count
        # Log the 1st, 10th, 100th... failure of each rule: visible, but a rule
        # that fails on every event cannot flood the log.
        if str(count).rstrip("0") == "1":
            log.warning("rule %s (%s) failed %d time(s), last on %s: %s",
                        rule.rule_id, rule.name, count, type(err).__name__, err)

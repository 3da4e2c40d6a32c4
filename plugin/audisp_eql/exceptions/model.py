"""What an exception is, whichever file it came from.

The model is Kibana's: an exception *item* holds *entries* that must all
hold (AND); the items attached to a rule are alternatives (OR): an alert
of that rule is suppressed when any of them matches. An entry tests one
field with one operator, named as in Kibana's exception builder:

    is / is not                 match        (one value, exact, case-sensitive)
    is one of / is not one of   match_any    (any of several values)
    matches / does not match    wildcard     (* and ?, backslash escapes, case-sensitive)
    exists / does not exist     exists
    nested                      nested       (an object of an array satisfies every sub-entry)

"is not" and every other negated form is the plain complement, as the
`must_not` Kibana builds: it holds on a document without the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# Kibana's builder labels -> (entry type, negated).
OPERATORS: dict[str, tuple[str, bool]] = {
    "is": ("match", False),
    "is not": ("match", True),
    "is one of": ("match_any", False),
    "is not one of": ("match_any", True),
    "matches": ("wildcard", False),
    "does not match": ("wildcard", True),
    "exists": ("exists", False),
    "does not exist": ("exists", True),
}
LABELS: dict[tuple[str, bool], str] = {v: k for k, v in OPERATORS.items()}
LABELS[("nested", False)] = "nested"


class ExceptionFileError(Exception):
    """An exception file, or a part of it, that cannot be used; `line` 1-based or None."""

    def __init__(self, path: Path, line: Optional[int], message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class Entry:
    field: str
    kind: str                         # match, match_any, wildcard, exists, nested
    negated: bool = False
    values: tuple[str, ...] = ()      # match: one; match_any: several; wildcard: one pattern
    entries: tuple["Entry", ...] = ()  # nested: the conditions on one object of `field`

    @property
    def operator(self) -> str:
        return LABELS[(self.kind, self.negated)]

    def describe(self) -> str:
        if self.kind == "exists":
            return f"{self.field} {self.operator}"
        if self.kind == "nested":
            return f"{self.field} has an object where " + " and ".join(
                e.describe() for e in self.entries)
        shown = self.values[0] if len(self.values) == 1 and self.kind != "match_any" \
            else list(self.values)
        return f"{self.field} {self.operator} {_quote(shown)}"


def _quote(value: object) -> str:
    import json
    return json.dumps(value, ensure_ascii=False)


@dataclass
class ExceptionItem:
    """One exception: entries ANDed, attached to some rules (or all)."""

    name: str
    path: Path
    line: Optional[int]
    entries: tuple[Entry, ...]
    rule_ids: frozenset[str] = frozenset()   # the rules it is attached to
    all_rules: bool = False
    comment: str = ""
    expires: Optional[dt.datetime] = None    # aware, UTC; not applied from then on
    os_types: tuple[str, ...] = ()           # Kibana's os_types: also host.os.type is one of
    item_id: str = ""                        # Kibana's item_id, when imported
    list_id: str = ""                        # Kibana's list, when imported

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    @property
    def key(self) -> str:
        """Names the exception in counts (status line, scan summary)."""
        return self.item_id or f"{self.path.name}:{self.line or 0}"

    @property
    def label(self) -> str:
        return f'"{self.name}" ({self.where})'

    def applies_to(self, rule_id: str) -> bool:
        return self.all_rules or rule_id in self.rule_ids

    def expired(self, now: dt.datetime) -> bool:
        return self.expires is not None and now >= self.expires


@dataclass
class ExceptionSet:
    """Everything the exception files say: items, disabled rules, and what went wrong."""

    items: list[ExceptionItem] = field(default_factory=list)
    disabled_rules: dict[str, str] = field(default_factory=dict)  # rule_id -> file:line
    errors: list[ExceptionFileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # found while loading (unattached lists)
    files: list[Path] = field(default_factory=list)

    def expired(self, now: dt.datetime) -> list[ExceptionItem]:
        return [item for item in self.items if item.expired(now)]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)

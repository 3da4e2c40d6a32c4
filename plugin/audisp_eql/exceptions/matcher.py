"""Exception items compiled to closures, and the stage that applies them to matches.

Semantics follow the Elasticsearch query Kibana builds from an item (every
value a keyword, as ECS maps the fields audisp-eql writes):

- `is` is `match_phrase` on a keyword: the exact value, case-sensitive; a
  number in the document equals the same number written as text;
- `is one of`: any of the values; `matches`: the `wildcard` query (`*` any
  run, `?` one character, `\\` makes the next character literal), case-sensitive;
- `exists`: the field has a value; `nested`: one object of the array at the
  field satisfies every sub-entry;
- a multi-valued field matches when any of its values does; the negated
  forms are the plain complement (`must_not`), so they hold on a document
  without the field;
- `os_types` adds "host.os.type (or host.os.name.caseless) is one of them".

A match of several documents (a sequence) is suppressed when any of its
documents matches: Kibana gives the exception filter to the EQL search, so
an event an exception matches takes part in no sequence of that rule.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Iterable, Optional, Sequence

from ..eql.wildcard import compile_patterns
from .model import Entry, ExceptionItem, ExceptionSet

Document = dict[str, Any]
Test = Callable[[Document], bool]


def values_at(doc: Any, path: Sequence[str]) -> list[Any]:
    """Every value at a dotted path, as Elasticsearch sees a source document:
    arrays of objects are walked through, a dotted key (`"Ext.api"`) is found
    as well as nested objects, arrays at the end are flattened. Iterative: a
    document nested a thousand arrays deep (`scan --input ecs`) is no problem."""
    parts = tuple(path)
    out: list[Any] = []
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, i = stack.pop()
        if isinstance(node, list):
            stack.extend((element, i) for element in reversed(node))
            continue
        if i == len(parts):
            if node is not None:
                out.append(node)
            continue
        if not isinstance(node, dict):
            continue
        found = []
        for j in range(i + 1, len(parts) + 1):
            key = parts[i] if j == i + 1 else ".".join(parts[i:j])
            if key in node:
                found.append((node[key], j))
        stack.extend(reversed(found))
    return out


def _number(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _keyword(value: Any) -> Optional[str]:
    """A scalar as the keyword Elasticsearch indexes; None for objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _equals_any(wanted: Sequence[str]) -> Callable[[Any], bool]:
    texts = frozenset(wanted)
    numbers = frozenset(n for n in (_number(t) for t in wanted) if n is not None)

    def equal(value: Any) -> bool:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and numbers:
            return value in numbers
        text = _keyword(value)
        return text is not None and text in texts
    return equal


def lucene_wildcard(pattern: str) -> Callable[[str], bool]:
    """Elasticsearch's `wildcard` query on a keyword: `*`, `?`, `\\` escapes, case-sensitive."""
    if "\\" not in pattern:
        return compile_patterns([pattern], insensitive=False)
    # Tokens: ("lit", char) or ("any1", "") or ("star", ""); a trailing \ is literal.
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            tokens.append(("lit", pattern[i + 1]))
            i += 2
            continue
        tokens.append(("star", "") if c == "*" else ("any1", "") if c == "?" else ("lit", c))
        i += 1
    if not any(kind == "lit" and ch in "*?" for kind, ch in tokens):
        # Only ordinary characters were escaped: the plain matcher takes it as written.
        plain = "".join("*" if k == "star" else "?" if k == "any1" else ch for k, ch in tokens)
        return compile_patterns([plain], insensitive=False)
    return _segments_matcher(tokens)


def _segments_matcher(tokens: list[tuple[str, str]]) -> Callable[[str], bool]:
    """Split at `*`; each segment has a fixed length, found leftmost in order
    (the same linear-time strategy as eql/wildcard.py)."""
    segments: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token[0] == "star":
            segments.append([])
        else:
            segments[-1].append(token)
    compiled = [re.compile("".join("." if k == "any1" else re.escape(ch) for k, ch in seg), re.S)
                for seg in segments]
    lengths = [len(seg) for seg in segments]
    first, last = compiled[0], compiled[-1]
    middle = list(zip(compiled[1:-1], lengths[1:-1]))
    single = len(segments) == 1

    def match(value: str) -> bool:
        if single:
            return first.fullmatch(value) is not None
        if len(value) < lengths[0] + lengths[-1] or first.match(value) is None:
            return False
        pos, end = lengths[0], len(value) - lengths[-1]
        for regex, length in middle:
            if length == 0:
                continue
            found = regex.search(value, pos, end)
            if found is None:
                return False
            pos = found.start() + length
        return last.match(value, end) is not None
    return match


def compile_entry(entry: Entry) -> Test:
    path = tuple(entry.field.split("."))
    test = _positive(entry, path)
    if entry.negated:
        return lambda doc: not test(doc)
    return test


def _positive(entry: Entry, path: tuple[str, ...]) -> Test:
    kind = entry.kind
    if kind == "exists":
        return lambda doc: any(v != {} and v != [] for v in values_at(doc, path))
    if kind in ("match", "match_any"):
        equal = _equals_any(entry.values)
        return lambda doc: any(equal(v) for v in values_at(doc, path))
    if kind == "wildcard":
        matches = lucene_wildcard(entry.values[0])

        def wildcard(doc: Document) -> bool:
            for value in values_at(doc, path):
                text = _keyword(value)
                if text is not None and matches(text):
                    return True
            return False
        return wildcard
    if kind == "nested":
        inner = [compile_entry(sub) for sub in entry.entries]
        return lambda doc: any(isinstance(obj, dict) and all(t(obj) for t in inner)
                               for obj in values_at(doc, path))
    raise ValueError(f"unknown entry type {kind}")


def compile_item(item: ExceptionItem) -> Test:
    tests = [compile_entry(entry) for entry in item.entries]
    if item.os_types:
        os_type = _equals_any(item.os_types)
        tests.insert(0, lambda doc: any(os_type(v) for v in values_at(doc, ("host", "os", "type")))
                     or any(os_type(v) for v in values_at(doc, ("host", "os", "name", "caseless"))))
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(test(doc) for test in tests)


class _Compiled:
    __slots__ = ("item", "test", "expires")

    def __init__(self, item: ExceptionItem) -> None:
        self.item = item
        self.test = compile_item(item)
        self.expires = item.expires.timestamp() if item.expires is not None else None


class Suppressor:
    """The pipeline stage between the engine and the alerts: which exception,
    if any, suppresses a match; counts per exception (by `ExceptionItem.key`)."""

    def __init__(self, exceptions: ExceptionSet,
                 clock: Callable[[], float] = time.time) -> None:
        self.exceptions = exceptions
        self._clock = clock
        compiled = [_Compiled(item) for item in exceptions.items]
        self._for_all = [c for c in compiled if c.item.all_rules]
        self._by_rule: dict[str, list[_Compiled]] = {}
        for c in compiled:
            if not c.item.all_rules:
                for rule_id in c.item.rule_ids:
                    self._by_rule.setdefault(rule_id, []).append(c)
        # Attached to one rule first, then to all rules; load order within each.
        self._cache: dict[str, tuple[_Compiled, ...]] = {}
        self.counts: dict[str, int] = {}
        self.total = 0

    def __bool__(self) -> bool:
        return bool(self.exceptions.items)

    def _for(self, rule_id: str) -> tuple[_Compiled, ...]:
        found = self._cache.get(rule_id)
        if found is None:
            found = self._cache[rule_id] = tuple(self._by_rule.get(rule_id, ())) + tuple(self._for_all)
        return found

    def suppressing(self, rule_id: str, documents: Iterable[Document]) -> Optional[ExceptionItem]:
        """The first exception (attached to `rule_id`, not expired) that matches
        one of `documents`, counted; None when the alert stands."""
        candidates = self._for(rule_id)
        if not candidates:
            return None
        now: Optional[float] = None
        docs = documents if isinstance(documents, (list, tuple)) else list(documents)
        for c in candidates:
            if c.expires is not None:
                if now is None:
                    now = self._clock()
                if now >= c.expires:
                    continue
            test = c.test
            for doc in docs:
                if test(doc):
                    key = c.item.key
                    self.counts[key] = self.counts.get(key, 0) + 1
                    self.total += 1
                    return c.item
        return None

    def inherit_counts(self, older: Optional["Suppressor"]) -> None:
        """After a reload: keep counting the exceptions that are still there."""
        if older is None:
            return
        keys = {item.key for item in self.exceptions.items}
        self.counts.update({k: n for k, n in older.counts.items() if k in keys})
        self.total = older.total

    def count_lines(self) -> list[tuple[ExceptionItem, int]]:
        """(exception, alerts it suppressed), most first, every loaded exception."""
        counted = [(item, self.counts.get(item.key, 0)) for item in self.exceptions.items]
        return sorted(counted, key=lambda pair: -pair[1])

"""Rules indexed by the program fields of a document (see eql/index_hints.py).

A `RuleIndex` holds rules with their index hints: for each indexed field,
dicts from exact text / prefix / suffix to the hint clauses it satisfies,
split into raw and lower-cased atoms. `lookup(doc)` returns, in load order, the rules
whose hint the document satisfies plus the rules without a hint. Results
are cached by the raw values of the indexed fields (bounded: process names
and paths are attacker-chosen).
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterable, Optional, Sequence, TypeVar

from .eql.index_hints import EXACT, INDEX_FIELDS, PREFIX, Atom

Item = TypeVar("Item")
_CACHE_LIMIT = 8192


def field_getter(path: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """Raw value at `path` or None."""
    def get(doc: dict[str, Any]) -> Any:
        value: Any = doc
        for key in path:
            if value.__class__ is not dict:
                return None
            value = value.get(key)
        return value
    return get


class _Affix:
    """Texts of one kind (exact, prefix or suffix) on one field, raw or folded."""

    __slots__ = ("kind", "by_text", "lengths")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_text: dict[str, list[int]] = {}
        self.lengths: list[int] = []

    def add(self, text: str, number: int) -> None:
        self.by_text.setdefault(text, []).append(number)
        if self.kind != EXACT and len(text) not in self.lengths:
            self.lengths.append(len(text))

    def hits(self, value: str, out: set[int]) -> None:
        by_text = self.by_text
        if self.kind == EXACT:
            out.update(by_text.get(value, ()))
        elif self.kind == PREFIX:
            for length in self.lengths:
                out.update(by_text.get(value[:length], ()))
        else:
            for length in self.lengths:
                if length <= len(value):
                    out.update(by_text.get(value[len(value) - length:], ()))


class _FieldIndex:
    __slots__ = ("raw", "folded")

    def __init__(self) -> None:
        self.raw = [_Affix(kind) for kind in (EXACT, PREFIX, "suffix")]
        self.folded = [_Affix(kind) for kind in (EXACT, PREFIX, "suffix")]

    def add(self, atom: Atom, number: int) -> None:
        group = self.folded if atom.folded else self.raw
        next(a for a in group if a.kind == atom.kind).add(atom.text, number)

    def hits(self, value: Any, out: set[int]) -> None:
        # Atoms need a string (index_hints.py): other values never satisfy them.
        texts = [value] if value.__class__ is str else \
            [v for v in value if v.__class__ is str] if value.__class__ is list else []
        for text in texts:
            for affix in self.raw:
                if affix.by_text:
                    affix.hits(text, out)
            if any(a.by_text for a in self.folded):
                lowered = text.lower()
                for affix in self.folded:
                    if affix.by_text:
                        affix.hits(lowered, out)


class RuleIndex(Generic[Item]):
    """Items (rules) with hint clauses; `lookup` gives the candidates for a document.

    Each clause gets a number; atoms point to the clauses they satisfy. An
    item is a candidate when the document satisfies all of its clauses."""

    def __init__(self, entries: Iterable[tuple[Item, Sequence[frozenset]]],
                 fields: Sequence[tuple[str, ...]] = INDEX_FIELDS) -> None:
        self.items: list[Item] = []
        self.always: list[int] = []
        self._clauses: list[tuple[int, ...]] = []  # per item: its clause numbers
        self._fields = list(fields)
        self._getters = [field_getter(f) for f in self._fields]
        self._by_field = [_FieldIndex() for _ in self._fields]
        self._cache: dict[Any, tuple[Item, ...]] = {}
        count = 0
        for slot, (item, clauses) in enumerate(entries):
            self.items.append(item)
            usable = [c for c in clauses if all(a.field in self._fields for a in c)]
            numbers = tuple(range(count, count + len(usable)))
            count += len(usable)
            self._clauses.append(numbers)
            if not usable:
                self.always.append(slot)
            for number, clause in zip(numbers, usable):
                for atom in clause:
                    self._by_field[self._fields.index(atom.field)].add(atom, number)
        self._hinted = [s for s, numbers in enumerate(self._clauses) if numbers]
        self._always_only = tuple(self.items[s] for s in self.always)
        self._used = [i for i, f in enumerate(self._by_field)
                      if any(a.by_text for a in (*f.raw, *f.folded))]
        used_getters = [self._getters[i] for i in self._used]
        if len(used_getters) == 0:
            self.key = lambda doc: ()
        elif len(used_getters) == 1:
            (g0,) = used_getters
            self.key = lambda doc: g0(doc)
        else:
            self.key = lambda doc: tuple([g(doc) for g in used_getters])

    def compute(self, doc: dict[str, Any]) -> tuple[Item, ...]:
        """The candidates for `doc`, without the cache."""
        satisfied: set[int] = set()
        for i in self._used:
            value = self._getters[i](doc)
            if value is not None:
                self._by_field[i].hits(value, satisfied)
        if not satisfied:
            return self._always_only
        slots = list(self.always)
        for slot in self._hinted:
            if all(number in satisfied for number in self._clauses[slot]):
                slots.append(slot)
        return tuple(self.items[s] for s in sorted(slots))

    def lookup(self, doc: dict[str, Any]) -> tuple[Item, ...]:
        key = self.key(doc)
        try:
            found = self._cache.get(key)
        except TypeError:  # a list value (ECS input): not a cache key
            return self.compute(doc)
        if found is None:
            found = self.compute(doc)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = found
        return found

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

from .eql.fieldmemo import memo_for
from .eql.index_hints import ARGS_FIELD, EXACT, INDEX_FIELDS, PREFIX, Atom

Item = TypeVar("Item")
_CACHE_LIMIT = 8192
# Longer argument lists skip the argument index (the predicates decide alone),
# so that its cost per document stays small whatever the input.
_ARGS_LIMIT = 64


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
    """Texts of one kind (exact, prefix or suffix) on one field, raw or folded.

    Prefixes are tried by length, only the lengths that occur for the value's
    first character (last, for suffixes) and fit in the value."""

    __slots__ = ("kind", "by_text", "lengths")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_text: dict[str, list[int]] = {}
        self.lengths: dict[str, tuple[int, ...]] = {}  # end character -> lengths

    def add(self, text: str, number: int) -> None:
        self.by_text.setdefault(text, []).append(number)
        if self.kind != EXACT and text:
            end = text[0] if self.kind == PREFIX else text[-1]
            self.lengths[end] = tuple(sorted(set(self.lengths.get(end, ())) | {len(text)}))

    def hits(self, value: str, out: set[int]) -> None:
        by_text = self.by_text
        if self.kind == EXACT:
            out.update(by_text.get(value, ()))
            return
        out.update(by_text.get("", ()))  # a bare "*" pattern
        if not value:
            return
        size = len(value)
        if self.kind == PREFIX:
            for length in self.lengths.get(value[0], ()):
                if length > size:
                    break
                out.update(by_text.get(value[:length], ()))
        else:
            for length in self.lengths.get(value[-1], ()):
                if length > size:
                    break
                out.update(by_text.get(value[size - length:], ()))


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
        self.hits_of(texts, [t.lower() for t in texts] if self.any_folded() else [], out)

    def any_folded(self) -> bool:
        return any(a.by_text for a in self.folded)

    def hits_of(self, texts: Sequence[str], lowered: Sequence[str], out: set[int]) -> None:
        """Clauses satisfied by these string items (`lowered`: the same, lower-cased)."""
        for affix in self.raw:
            if affix.by_text:
                for text in texts:
                    affix.hits(text, out)
        for affix in self.folded:
            if affix.by_text:
                for text in lowered:
                    affix.hits(text, out)


class RuleIndex(Generic[Item]):
    """Items (rules) with hint clauses; `lookup` gives the candidates for a document.

    Each clause gets a number; atoms point to the clauses they satisfy. An
    item is a candidate when the document satisfies all of its clauses."""

    def __init__(self, entries: Iterable[tuple[Item, Sequence[frozenset]]],
                 fields: Sequence[tuple[str, ...]] = INDEX_FIELDS,
                 args_field: tuple[str, ...] = ARGS_FIELD) -> None:
        self.items: list[Item] = []
        self.always: list[int] = []
        self._clauses: list[tuple[int, ...]] = []  # per item: its clause numbers
        self._fields = list(fields)
        self._getters = [field_getter(f) for f in self._fields]
        self._by_field = [_FieldIndex() for _ in self._fields]
        self._cache: dict[Any, tuple[Item, ...] | list[tuple[Item, tuple[int, ...]]]] = {}
        # Clauses on the arguments are checked per document (not cacheable).
        self._args_get = field_getter(args_field)
        self._args_memo = memo_for(args_field)
        self._args_index = _FieldIndex()
        self._args_clauses: list[tuple[int, ...]] = []  # per item
        self._per_arg: dict[str, frozenset[int]] = {}
        count = 0
        for slot, (item, clauses) in enumerate(entries):
            self.items.append(item)
            usable = [c for c in clauses if all(a.field in self._fields for a in c)]
            on_args = [c for c in clauses if all(a.field == args_field for a in c)]
            numbers = tuple(range(count, count + len(usable)))
            count += len(usable)
            args_numbers = tuple(range(count, count + len(on_args)))
            count += len(on_args)
            self._clauses.append(numbers)
            self._args_clauses.append(args_numbers)
            if not usable:
                self.always.append(slot)
            for number, clause in zip(numbers, usable):
                for atom in clause:
                    self._by_field[self._fields.index(atom.field)].add(atom, number)
            for number, clause in zip(args_numbers, on_args):
                for atom in clause:
                    self._args_index.add(atom, number)
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

    def compute(self, doc: dict[str, Any]) -> tuple[Item, ...] | list[tuple[Item, tuple[int, ...]]]:
        """The candidates for `doc` by the program fields: a tuple of items, or
        (item, argument clauses still to check) pairs when some have such clauses."""
        satisfied: set[int] = set()
        for i in self._used:
            value = self._getters[i](doc)
            if value is not None:
                self._by_field[i].hits(value, satisfied)
        slots = list(self.always)
        if satisfied:
            for slot in self._hinted:
                if all(number in satisfied for number in self._clauses[slot]):
                    slots.append(slot)
            slots.sort()
        if not any(self._args_clauses[s] for s in slots):
            return self._always_only if len(slots) == len(self.always) else \
                tuple(self.items[s] for s in slots)
        return [(self.items[s], self._args_clauses[s]) for s in slots]

    def _args_hits(self, doc: dict[str, Any]) -> set[int] | None:
        """Argument clauses satisfied by the document; None: assume all (very long lists)."""
        value = self._args_get(doc)
        satisfied: set[int] = set()
        if value.__class__ is str:
            value = [value]
        elif value.__class__ is not list:
            return satisfied
        if len(value) > _ARGS_LIMIT:
            return None
        # Arguments repeat across documents ("-c", "-la"): their hits are cached.
        per_arg = self._per_arg
        for text in self._args_memo.raw_view(value).items:
            hits = per_arg.get(text)
            if hits is None:
                found: set[int] = set()
                self._args_index.hits_of((text,), (text.lower(),), found)
                hits = frozenset(found)
                if len(per_arg) >= _CACHE_LIMIT:
                    per_arg.clear()
                per_arg[text] = hits
            if hits:
                satisfied.update(hits)
        return satisfied

    def lookup(self, doc: dict[str, Any]) -> tuple[Item, ...] | list[Item]:
        key = self.key(doc)
        try:
            found = self._cache.get(key)
        except TypeError:  # a list value (ECS input): not a cache key
            found = self.compute(doc)
        else:
            if found is None:
                found = self.compute(doc)
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = found
        if found.__class__ is tuple:
            return found  # type: ignore[return-value]
        satisfied = self._args_hits(doc)
        if satisfied is None:
            return [item for item, _ in found]
        holds = satisfied.issuperset
        return [item for item, numbers in found if holds(numbers)]  # type: ignore[union-attr]

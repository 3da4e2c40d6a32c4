"""Rules indexed by the fields of a document named in their hints (index_hints.py).

A `RuleIndex` holds rules with their index hints: for each indexed field,
dicts from exact text / prefix / suffix to the hint clauses it satisfies,
split into raw and lower-cased atoms. `compute(doc)` gives, in load order,
the rules whose hint the program fields satisfy plus the rules without a
hint, and `settle(doc, pending)` those whose remaining clauses the
per-document fields satisfy. The engine caches `compute` per program.

Two kinds of fields: the program fields (name, executable, parent's), few
distinct values, whose result is cached by their raw values (bounded: names
and paths are attacker-chosen); and per-document fields (arguments, command
line), checked for each document, only for the rules the program fields left
undecided. A clause may mix both kinds (`process.name == "x" or process.args
== "y"`): the program fields settle it or leave it to the document.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Generic, Iterable, Optional, Sequence, TypeVar

from .. import limits
from ..eql.values import getter
from .index_hints import CONTAINS, EXACT, INDEX_FIELDS, PER_DOCUMENT_FIELDS, PREFIX, Atom
from .literalset import LiteralSet

Item = TypeVar("Item")
# Tells the per-document fields of every index apart in the shared caches.
_FIELD_TOKENS = itertools.count()
# Cache sizes (limits.MAX_INDEX_*) keep the plugin's memory under its target;
# argument lists longer than limits.MAX_INDEXED_ARGS skip the per-document
# index (the predicates decide alone), so its cost per document stays small
# whatever the input.


def field_getter(path: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """Raw value at `path` or None."""
    return getter(path)


class _Affix:
    """Texts of one kind (exact, prefix or suffix) on one field, raw or folded.

    Prefixes are tried by length, only the lengths that occur for the value's
    first character (last, for suffixes) and fit in the value."""

    __slots__ = ("kind", "by_text", "lengths", "_searcher")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_text: dict[str, list[int]] = {}
        self.lengths: dict[str, tuple[int, ...]] = {}  # end character -> lengths
        self._searcher: Optional[LiteralSet] = None  # CONTAINS: built on first use

    def add(self, text: str, number: int) -> None:
        self.by_text.setdefault(text, []).append(number)
        self._searcher = None
        if self.kind not in (EXACT, CONTAINS) and text:
            end = text[0] if self.kind == PREFIX else text[-1]
            self.lengths[end] = tuple(sorted(set(self.lengths.get(end, ())) | {len(text)}))

    def hits(self, value: str, out: set[int]) -> None:
        by_text = self.by_text
        if self.kind == EXACT:
            out.update(by_text.get(value, ()))
            return
        if self.kind == CONTAINS:
            searcher = self._searcher
            if searcher is None:
                searcher = self._searcher = LiteralSet([(CONTAINS, t) for t in by_text])
            found = searcher.found(value)
            texts = searcher.literals if found is None else [searcher.literals[i] for i in found]
            for _, text in texts:
                out.update(by_text[text])
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


def _side_hits(affixes: Sequence[_Affix]) -> tuple[Optional[dict[str, list[int]]],
                                                   Optional[Callable[[str, set[int]], None]]]:
    """The exact-text dict and a literal-set search for the other affixes."""
    exact = next((a.by_text for a in affixes if a.kind == EXACT and a.by_text), None)
    literals = [(a.kind, text) for a in affixes if a.kind != EXACT for text in a.by_text]
    if not literals:
        return exact, None
    numbers = [a.by_text[text] for a in affixes if a.kind != EXACT for text in a.by_text]
    every = [n for group in numbers for n in group]
    literal_set = LiteralSet(literals)

    def search(text: str, out: set[int]) -> None:
        found = literal_set.found(text)
        if found is None:  # too long to search: assume every clause holds
            out.update(every)
            return
        for position in found:
            out.update(numbers[position])
    return exact, search


class _FieldIndex:
    __slots__ = ("raw", "folded")

    def __init__(self) -> None:
        self.raw = [_Affix(kind) for kind in (EXACT, PREFIX, "suffix", CONTAINS)]
        self.folded = [_Affix(kind) for kind in (EXACT, PREFIX, "suffix", CONTAINS)]

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

    def one_hits(self) -> Callable[[str, set[int]], None]:
        """hits_of for a single text, specialised to the affixes in use (call
        after every atom is added): exact texts by a dict, the others by one
        literal-set search per side."""
        raw_exact, raw_search = _side_hits(self.raw)
        folded_exact, folded_search = _side_hits(self.folded)
        any_folded = folded_exact is not None or folded_search is not None

        def hits(text: str, out: set[int]) -> None:
            if raw_exact is not None and (numbers := raw_exact.get(text)):
                out.update(numbers)
            if raw_search is not None:
                raw_search(text, out)
            if any_folded:
                lowered = text.lower()
                if folded_exact is not None and (numbers := folded_exact.get(lowered)):
                    out.update(numbers)
                if folded_search is not None:
                    folded_search(lowered, out)
        return hits


def _list_size(value: list) -> int:
    """Characters in a list's string items, plus one per item."""
    return sum([len(v) if v.__class__ is str else 1 for v in value]) + len(value)


class _PerDocumentField:
    """Hits of one per-document field, cached per text (bounded): arguments
    repeat across documents ("-c", "-la"), and so do a host's command lines.

    The caches are the matcher's (`SharedCaches`: one bound for every field of
    every gate view), keyed by this field's `token` and the text: the clause
    numbers are this index's own."""

    __slots__ = ("get", "index", "per_item", "per_list", "token", "text_hits", "max_args",
                 "max_item_length", "max_list_length")

    def __init__(self, path: tuple[str, ...], shared: "SharedCaches") -> None:
        self.get = field_getter(path)
        self.index = _FieldIndex()
        self.token = next(_FIELD_TOKENS)
        self.per_item = shared.per_item   # (token, text) -> clause numbers
        self.per_list = shared.per_list   # (token, tuple of texts) -> same
        self.max_args = limits.MAX_INDEXED_ARGS
        self.max_item_length = limits.MAX_INDEX_ITEM_LENGTH
        self.max_list_length = limits.MAX_INDEX_LIST_LENGTH
        self.text_hits = self.index.one_hits()

    def ready(self) -> None:
        """Every atom is added: specialise the per-text check."""
        self.text_hits = self.index.one_hits()

    def item_hits(self, text: str) -> frozenset[int]:
        key = (self.token, text)
        hits = self.per_item.get(key)
        if hits is None:
            found: set[int] = set()
            self.text_hits(text, found)
            hits = frozenset(found)
            if len(text) <= self.max_item_length:  # memory stays bounded whatever the input
                self.per_item.remember(key, hits)
        return hits

    def hits(self, doc: dict[str, Any], out: set[int]) -> bool:
        """Add the clauses this document satisfies; False when the value is too
        long a list to index (then every clause must be assumed to hold)."""
        value = self.get(doc)
        cached = self.per_item.get
        token = self.token
        if value.__class__ is str:
            hits = cached((token, value))
            if hits is None:
                hits = self.item_hits(value)
            if hits:
                out.update(hits)
        elif value.__class__ is list:
            if len(value) > self.max_args:
                return False
            try:  # whole lists repeat too ("ls -la", "sh -c ..."): one lookup
                key: Optional[tuple[Any, ...]] = (token, tuple(value))
                hits = self.per_list.get(key)
            except TypeError:  # an unhashable item (ECS input)
                key, hits = None, None
            if hits is None:
                found: set[int] = set()
                for text in value:
                    if text.__class__ is str:   # (checked first: other items may be unhashable)
                        hits = cached((token, text))
                        if hits is None:
                            hits = self.item_hits(text)
                        if hits:
                            found.update(hits)
                hits = frozenset(found)
                if key is not None and _list_size(value) <= self.max_list_length:
                    self.per_list.remember(key, hits)
            if hits:
                out.update(hits)
        return True


class SharedCaches:
    """The caches every index (gate view) of a matcher and every Pending share,
    each with one bound for all of them: the input picks the program (one
    Pending each), the arguments (the clauses they satisfy) and, with ECS
    input, the gate values (one view each), so caches of each would hold
    their product.

    `selections`: `Pending.select`'s answers by (Pending, relevant clauses
    satisfied); `clause_sets`: one copy of each set of relevant clauses (most
    programs leave the same rules pending: the same set of hundreds of clause
    numbers, 4 KiB each, would otherwise be held once per lookup);
    `per_item`, `per_list`: the per-document fields' hits by (field token,
    text or list of texts)."""

    __slots__ = ("selections", "clause_sets", "per_item", "per_list")

    def __init__(self) -> None:
        self.selections = limits.BoundedCache("MAX_PENDING_SELECTIONS")
        self.clause_sets = limits.BoundedCache("MAX_PROGRAM_LOOKUPS")
        self.per_item = limits.BoundedCache("MAX_INDEX_ITEMS")
        self.per_list = limits.BoundedCache("MAX_INDEX_ITEMS")

    def shared(self, clauses: frozenset[int]) -> frozenset[int]:
        """The copy of `clauses` already held, else `clauses` (then held)."""
        held = self.clause_sets.get(clauses)
        if held is None:
            self.clause_sets.remember(clauses, clauses)
            return clauses
        return held


class Pending(Generic[Item]):
    """Candidates by the program fields when some still depend on the document:
    `pairs` (item, clause numbers the per-document fields must satisfy), in load
    order; `settled` the items that depend on nothing more. `select` gives the
    candidates for the clauses a document satisfies, remembered in the matcher's
    `memo` (SharedCaches) by (this Pending, the relevant clauses satisfied)."""

    __slots__ = ("pairs", "settled", "relevant", "memo")

    def __init__(self, pairs: list[tuple[Item, tuple[int, ...]]],
                 memo: Optional[SharedCaches] = None) -> None:
        self.memo = memo if memo is not None else SharedCaches()
        self.pairs = pairs
        self.settled = tuple(item for item, left in pairs if not left)
        self.relevant = self.memo.shared(frozenset(n for _, left in pairs for n in left))

    def select(self, satisfied: set[int]) -> tuple[Item, ...]:
        hits = self.relevant.intersection(satisfied)
        if not hits:
            return self.settled
        key = (self, hits)
        selections = self.memo.selections
        found = selections.get(key)
        if found is None:
            holds = hits.issuperset
            found = tuple(item for item, left in self.pairs if not left or holds(left))
            selections.remember(key, found)
        return found


class RuleIndex(Generic[Item]):
    """Items (rules) with hint clauses; `compute` and `settle` give the
    candidates for a document.

    Each clause gets a number; atoms point to the clauses they satisfy. An
    item is a candidate when the document satisfies all of its clauses."""

    def __init__(self, entries: Iterable[tuple[Item, Sequence[frozenset]]],
                 fields: Sequence[tuple[str, ...]] = INDEX_FIELDS,
                 per_document: Sequence[tuple[str, ...]] = PER_DOCUMENT_FIELDS,
                 memo: Optional[SharedCaches] = None) -> None:
        """`memo`: the caches every index of a matcher shares (one is made
        when not given)."""
        self.memo = memo if memo is not None else SharedCaches()
        self.items: list[Item] = []
        self.always: list[int] = []
        self._clauses: list[tuple[int, ...]] = []  # per item: its clause numbers
        self._fields = list(fields)
        self._getters = [field_getter(f) for f in self._fields]
        self._by_field = [_FieldIndex() for _ in self._fields]
        self._per_document = {f: _PerDocumentField(f, self.memo) for f in per_document}
        # clause number -> True when some atom of it is on a per-document field
        self._document_clause: list[bool] = []
        for slot, (item, clauses) in enumerate(entries):
            self.items.append(item)
            usable = [c for c in clauses if c and all(
                a.field in self._fields or a.field in self._per_document for a in c)]
            numbers = tuple(range(len(self._document_clause),
                                  len(self._document_clause) + len(usable)))
            self._clauses.append(numbers)
            if not usable:
                self.always.append(slot)
            for number, clause in zip(numbers, usable):
                self._document_clause.append(any(a.field in self._per_document for a in clause))
                for atom in clause:
                    if atom.field in self._per_document:
                        field = self._per_document[atom.field]
                        field.index.add(atom, number)
                    else:
                        self._by_field[self._fields.index(atom.field)].add(atom, number)
        self._hinted = [s for s, numbers in enumerate(self._clauses) if numbers]
        # A hinted item needs each program-only clause satisfied by the program
        # fields: only the items of satisfied clauses, and those whose clauses
        # all involve per-document fields, can be candidates.
        self._slot_of = [s for s, numbers in enumerate(self._clauses) for _ in numbers]
        self._document_only = [s for s in self._hinted
                               if all(self._document_clause[n] for n in self._clauses[s])]
        self._always_only = tuple(self.items[s] for s in self.always)
        self._document_fields = [f for f in self._per_document.values()
                                 if any(a.by_text for a in (*f.index.raw, *f.index.folded))]
        for field in self._document_fields:
            field.ready()
        self._document_field_hits = tuple(f.hits for f in self._document_fields)
        self._used = [i for i, f in enumerate(self._by_field)
                      if any(a.by_text for a in (*f.raw, *f.folded))]

    def compute(self, doc: dict[str, Any]) -> tuple[Item, ...] | Pending:
        """The candidates for `doc` by the program fields: a tuple of items, or
        (item, clauses left to the per-document fields) pairs when some have such."""
        satisfied: set[int] = set()
        for i in self._used:
            value = self._getters[i](doc)
            if value is not None:
                self._by_field[i].hits(value, satisfied)
        document_clause = self._document_clause
        found: list[tuple[int, tuple[int, ...]]] = [(s, ()) for s in self.always]
        slot_of = self._slot_of
        for slot in sorted({slot_of[n] for n in satisfied}.union(self._document_only)):
            left = tuple(n for n in self._clauses[slot] if n not in satisfied)
            if all(document_clause[n] for n in left):
                found.append((slot, left))
        found.sort()
        if not any(left for _, left in found):
            return self._always_only if len(found) == len(self.always) else \
                tuple(self.items[s] for s, _ in found)
        return Pending([(self.items[s], left) for s, left in found], self.memo)

    def _document_hits(self, doc: dict[str, Any]) -> set[int] | None:
        """Clauses the per-document fields satisfy; None: assume all (very long lists)."""
        satisfied: set[int] = set()
        for hits in self._document_field_hits:
            if not hits(doc, satisfied):
                return None
        return satisfied

    def settle(self, doc: dict[str, Any], pending: Pending) -> list[Item]:
        """The pending items whose remaining clauses this document satisfies."""
        satisfied = self._document_hits(doc)
        if satisfied is None:
            return [item for item, _ in pending.pairs]
        return pending.select(satisfied)  # type: ignore[return-value]

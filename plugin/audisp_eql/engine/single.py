"""Which single-event rules match a document: gates and an index in front of
the predicates (prepared.py says how a rule is taken apart).

- gates: per distinct gate key a `_View` holds the rules whose category and
  gate terms pass, indexed by their hints (ruleindex.py);
- index: rules are found by the program fields of the document (name,
  executable, parent's name and executable), the others are evaluated for
  every document.

`match` is the hot path: one cached lookup keyed by the gate fields and the
program fields, the argument screen when some candidates need it, then the
residual predicates. Documents with values that cannot be keys (ECS input:
dicts, odd types) are evaluated against every rule's whole predicate.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .. import limits
from ..rules import Rule
from .index_hints import INDEX_FIELDS
from .prepared import Candidate, PreparedRule
from .rule_errors import RuleErrors
from .ruleindex import Pending, RuleIndex, SharedCaches, field_getter


def categories_of(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _freeze(value: Any) -> Any:
    """A hashable stand-in that is equal only for values no predicate can tell apart."""
    if value.__class__ is str or value is None:
        return value
    if value.__class__ is list:
        if len(value) == 1 and value[0].__class__ is str:
            return (value[0],)  # the usual ["process"], ["start"]
        return tuple(_freeze(v) for v in value)
    if value.__class__ in (int, float, bool):
        return (value.__class__, value)  # True == 1 == 1.0, but not for EQL
    raise TypeError(f"no gate key for a {type(value).__name__}")


def _narrowed(doc: dict[str, Any], candidate: Candidate) -> Optional[Candidate]:
    check = candidate.key_check
    if check is None:
        return candidate
    try:
        return candidate.narrowed if check(doc) else None
    except Exception:  # noqa: BLE001 - keep the whole residual: the error shows per doc
        return candidate


class _View:
    """The rules passing one gate key, indexed; `narrows`: whether some
    candidate has terms on the key's fields to decide per lookup entry."""

    __slots__ = ("index", "narrows")

    def __init__(self, index: RuleIndex[Candidate], narrows: bool) -> None:
        self.index, self.narrows = index, narrows

    @staticmethod
    def narrow(doc: dict[str, Any], found: Any) -> Any:
        """`found` (a tuple of candidates or a Pending) without the candidates
        whose key-field terms fail on `doc`, the others without those terms."""
        if found.__class__ is tuple:
            kept = [_narrowed(doc, c) for c in found]
            return tuple(c for c in kept if c is not None)
        pairs = [(_narrowed(doc, c), left) for c, left in found.pairs]
        pairs = [(c, left) for c, left in pairs if c is not None]
        if not any(left for _, left in pairs):
            return tuple(c for c, _ in pairs)
        return Pending(pairs, found.memo)


class SingleEventMatcher:
    """Evaluate compiled single-event rules on documents; a failing predicate
    is counted in `errors`, never fatal."""

    def __init__(self, rules: Sequence[Rule], errors: RuleErrors) -> None:
        self.rules = list(rules)
        self.errors = errors
        self._prepared = [PreparedRule(order, rule) for order, rule in enumerate(self.rules)]
        used = {"event.category"}.union(*(p.gate_fields for p in self._prepared))
        self._gate_paths = [tuple(name.split(".")) for name in sorted(used)]
        self._gate_getters = [field_getter(p) for p in self._gate_paths]
        self._category = field_getter(("event", "category"))
        # Keys are document values: long ones are looked up each time, not kept.
        self._views = limits.BoundedCache("MAX_GATE_VIEWS", "MAX_LOOKUP_KEY_CHARS")
        # (gate key + program field values) -> (index, its candidates by program fields)
        self._found = limits.BoundedCache("MAX_PROGRAM_LOOKUPS", "MAX_LOOKUP_KEY_CHARS")
        # The caches every lookup and gate view share, one bound each (ruleindex.py)
        self._memo = SharedCaches()
        self._key_getters = self._gate_getters + [field_getter(p) for p in INDEX_FIELDS]
        self._gate_count = len(self._gate_getters)

    def _view(self, doc: dict[str, Any], key: tuple[Any, ...]) -> _View:
        """The rules whose category and gates hold for this gate key, indexed."""
        gate_doc: dict[str, Any] = {}
        for path, get in zip(self._gate_paths, self._gate_getters):
            value = get(doc)
            if value is not None:
                node = gate_doc
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = list(value) if value.__class__ is list else value
        categories = categories_of(self._category(doc))
        entries: list[tuple[Candidate, Any]] = []
        narrows = False
        for p in self._prepared:
            if p.category is not None and p.category not in categories:
                continue
            try:
                passed = all(gate(gate_doc) for gate in p.gates)
                candidate = p.candidate
            except Exception:  # noqa: BLE001 - evaluate it whole; the error shows per doc
                passed, candidate = True, Candidate(p.rule, p.predicate)
            if passed:
                entries.append((candidate, p.hint))
                narrows = narrows or candidate.key_check is not None
        view = _View(RuleIndex(entries, memo=self._memo), narrows)
        if self._views.remember(key, view):
            self._found.clear()   # its entries point into the views just dropped
        return view

    def _lookup(self, doc: dict[str, Any], key: tuple[Any, ...],
                program: tuple[Any, ...]) -> tuple[RuleIndex[Candidate], Any]:
        """The cached lookup's entry: candidates by the program fields, and the
        terms on the key's fields decided (only for plain string values, the
        common case: other values are in the key as _freeze stand-ins)."""
        view = self._views.get(key)
        if view is None:
            view = self._view(doc, key)
        found = view.index.compute(doc)
        if view.narrows and all(v.__class__ is str or v is None for v in program):
            found = view.narrow(doc, found)
        return view.index, found

    def match(self, doc: dict[str, Any]) -> list[Rule]:
        """The rules whose query matches `doc`, in load order."""
        # Gate key + program fields; a string is its own key part (no call for
        # the usual "linux", "exec"), other values their _freeze stand-in.
        try:
            full_key = tuple([value if (value := get(doc)).__class__ is str else _freeze(value)
                              for get in self._key_getters])
        except (TypeError, AttributeError):  # an odd value (ECS input): no shortcuts
            return self.match_every_rule(doc)
        entry = self._found.get(full_key)
        if entry is None:
            gates = self._gate_count
            entry = self._lookup(doc, full_key[:gates], full_key[gates:])
            self._found.remember(full_key, entry)
        index, found = entry
        candidates = found if found.__class__ is tuple else index.settle(doc, found)
        matched: list[Rule] = []
        for candidate in candidates:
            try:
                if candidate.residual(doc):
                    matched.append(candidate.rule)
            except Exception as err:  # noqa: BLE001 - one rule's bug must not stop the others
                self.errors.count(candidate.rule, err)
        return matched

    def match_every_rule(self, doc: dict[str, Any]) -> list[Rule]:
        """The plain path: every rule of the document's categories, whole predicate."""
        categories = categories_of(self._category(doc))
        matched: list[Rule] = []
        for p in self._prepared:
            if p.category is not None and p.category not in categories:
                continue
            try:
                if p.predicate(doc):
                    matched.append(p.rule)
            except Exception as err:  # noqa: BLE001
                self.errors.count(p.rule, err)
        return matched

"""Which rules match a document: gates and an index in front of the predicates.

Most rules open with gates that hold for nearly every document
(`host.os.type == "linux" and event.type == "start" and event.action in
(...)`) and name the programs they are about (`process.name in ("nc",
"ncat")`, `process.parent.executable : "/etc/update-motd.d/*"`). So:

- gates: each rule's top-level `and` terms that read only document-level,
  low-cardinality fields (`GATE_FIELDS`) are evaluated once per distinct
  value of those fields (the gate key), on a document holding just them:
  exact, since those terms read nothing else. Per gate key a `RuleIndex`
  holds the rules that passed, each with its remaining terms (residual);
- index: rules are found by the program fields of the document (name,
  executable, parent's name and executable; see ruleindex.py), the others
  are evaluated for every document.

`match` is the hot path: one cached lookup keyed by the gate fields and the
program fields, the argument screen when some candidates need it, then the
residual predicates.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Optional, Sequence

from .eql.adaptive import adaptive_all
from .eql.ast import And, Expr, fields_of
from .eql.cost import cost
from .eql.index_hints import EXACT, HINT_FIELDS, INDEX_FIELDS, Atom, index_hint
from .ruleindex import Pending, RuleIndex, field_getter
from .rules import Rule

log = logging.getLogger(__name__)

Predicate = Callable[[dict[str, Any]], bool]
_Entry = tuple[int, Rule, Predicate]
_Candidate = tuple[Rule, Predicate]

# Fields with a handful of values per host, read by rule gates. Never a field
# that varies per event (ids, names, times): the gate key must stay small.
GATE_FIELDS: frozenset[str] = frozenset([
    "event.category", "event.type", "event.action", "event.kind", "event.outcome",
    "event.module", "event.dataset", "event.provider", "data_stream.dataset",
    "host.os.type", "host.os.family", "host.os.platform", "host.os.name", "agent.type",
])
# Fields in the cached lookup's key (gate key + program fields): a term reading
# only these has one answer per lookup entry, so it is decided there, once.
KEY_FIELDS: frozenset[str] = GATE_FIELDS | frozenset(".".join(f) for f in INDEX_FIELDS)
# Distinct gate keys kept; our own documents have one or two.
_VIEW_LIMIT = 256
# Distinct (gate key, program) pairs kept: bounded, programs are attacker-chosen.
_FOUND_LIMIT = 2048


def _categories(value: Any) -> tuple[str, ...]:
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


def _all_of(predicates: Sequence[Predicate]) -> Predicate:
    if not predicates:
        return lambda doc: True
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda doc: a(doc) and b(doc)
    sequence = tuple(predicates)

    def all_of(doc: dict[str, Any]) -> bool:
        for predicate in sequence:
            if not predicate(doc):
                return False
        return True
    return all_of


def _residual(terms: Sequence[tuple[Expr, Predicate]]) -> Predicate:
    # Order learnt from the first documents (eql/adaptive.py); one term: itself.
    if len(terms) > 1:
        return adaptive_all([p for _, p in terms], [cost(t) for t, _ in terms])
    return _all_of([p for _, p in terms])


class _Prepared:
    """One rule split into gate terms and residual, with its index hint."""

    __slots__ = ("order", "rule", "category", "predicate", "gates", "residual", "hint",
                 "key_check", "document_residual")

    def __init__(self, order: int, rule: Rule) -> None:
        compiled = rule.compiled
        self.order, self.rule, self.category = order, rule, compiled.category
        self.predicate: Predicate = compiled.predicate
        conjuncts: Sequence[tuple[Expr, Predicate]] = getattr(compiled, "conjuncts", ()) or ()
        gate_terms = [(t, p) for t, p in conjuncts if fields_of(t) <= GATE_FIELDS]
        rest = [(t, p) for t, p in conjuncts if not fields_of(t) <= GATE_FIELDS]
        # Terms on the lookup key's fields (KEY_FIELDS), decided per lookup entry:
        # their check, and the residual without them (None: no such terms).
        self.key_check: Optional[Predicate] = None
        self.document_residual: Optional[Predicate] = None
        if conjuncts:
            self.gates = [p for _, p in gate_terms]
            self.residual = _residual(rest)
            on_key = [(t, p) for t, p in rest if fields_of(t) <= KEY_FIELDS]
            if on_key:
                self.key_check = _all_of([p for _, p in on_key])
                self.document_residual = _residual(
                    [(t, p) for t, p in rest if not fields_of(t) <= KEY_FIELDS])
            terms = [t for t, _ in rest]
            self.hint = index_hint(And(tuple(terms)), HINT_FIELDS) if terms else ()
        else:  # a compiled query without conjuncts: the whole predicate, name hint only
            self.gates, self.residual = [], self.predicate
            names = compiled.process_names
            self.hint = () if names is None else (frozenset(
                Atom(("process", "name"), EXACT, n.lower(), True) for n in names),)

    def gate_fields(self) -> set[str]:
        terms = [t for t, _ in getattr(self.rule.compiled, "conjuncts", ()) or ()]
        return {f for t in terms for f in fields_of(t) if f in GATE_FIELDS}


class _View:
    """The rules passing one gate key, indexed; `narrowings`: per candidate (by
    id, kept alive by the index) its key-field check and its candidate without
    those terms."""

    __slots__ = ("index", "narrowings")

    def __init__(self, index: RuleIndex[_Candidate],
                 narrowings: dict[int, tuple[Predicate, _Candidate]]) -> None:
        self.index, self.narrowings = index, narrowings

    def _narrowed(self, doc: dict[str, Any], candidate: _Candidate) -> Optional[_Candidate]:
        narrowing = self.narrowings.get(id(candidate))
        if narrowing is None:
            return candidate
        check, narrowed = narrowing
        try:
            return narrowed if check(doc) else None
        except Exception:  # noqa: BLE001 - keep the whole residual: the error shows per doc
            return candidate

    def narrow(self, doc: dict[str, Any], found: Any) -> Any:
        """`found` (a tuple of candidates or a Pending) without the candidates
        whose key-field terms fail on `doc`, the others without those terms."""
        if found.__class__ is tuple:
            kept = [self._narrowed(doc, c) for c in found]
            return tuple(c for c in kept if c is not None)
        pairs = [(self._narrowed(doc, c), left) for c, left in found.pairs]
        pairs = [(c, left) for c, left in pairs if c is not None]
        if not any(left for _, left in pairs):
            return tuple(c for c, _ in pairs)
        return Pending(pairs)


class Engine:
    """Evaluate compiled rules on ECS documents; a failing predicate is counted, not fatal."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: list[Rule] = [r for r in rules if r.compiled is not None]
        self._prepared = [_Prepared(order, rule) for order, rule in enumerate(self.rules)]
        used = {"event.category"}.union(*(p.gate_fields() for p in self._prepared))
        self._gate_paths = [tuple(name.split(".")) for name in sorted(used)]
        self._gate_getters = [field_getter(p) for p in self._gate_paths]
        self._category = field_getter(("event", "category"))
        self._views: dict[tuple[Any, ...], _View] = {}
        # (gate key + program field values) -> (view, its candidates by program fields)
        self._found: dict[tuple[Any, ...], tuple[RuleIndex[_Candidate], Any]] = {}
        self._program_getters = [field_getter(p) for p in INDEX_FIELDS]
        self._key_getters = self._gate_getters + self._program_getters
        self._gate_count = len(self._gate_getters)
        self.errors: dict[str, int] = {}

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def candidates(self, categories: Sequence[str], name: Optional[str]) -> list[_Entry]:
        """Rules of these categories not excluded by their process-name set, in load
        order: a coarse view (gates and other index fields are not applied)."""
        found = []
        for p in self._prepared:
            names = p.rule.compiled.process_names
            if (p.category is None or p.category in categories) and \
                    (names is None or (name is not None and name in names)):
                found.append((p.order, p.rule, p.predicate))
        return found

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
        categories = _categories(self._category(doc))
        entries: list[tuple[_Candidate, Any]] = []
        narrowings: dict[int, tuple[Predicate, _Candidate]] = {}
        for p in self._prepared:
            if p.category is not None and p.category not in categories:
                continue
            try:
                passed = all(gate(gate_doc) for gate in p.gates)
                candidate = (p.rule, p.residual)
                if passed and p.key_check is not None and p.document_residual is not None:
                    # (only kept candidates: a dropped tuple's id can be reused)
                    narrowings[id(candidate)] = (p.key_check, (p.rule, p.document_residual))
            except Exception:  # noqa: BLE001 - evaluate it whole; the error shows per doc
                passed, candidate = True, (p.rule, p.predicate)
            if passed:
                entries.append((candidate, p.hint))
        view = _View(RuleIndex(entries), narrowings)
        if len(self._views) >= _VIEW_LIMIT:
            self._views.clear()
            self._found.clear()
        self._views[key] = view
        return view

    def _lookup(self, doc: dict[str, Any], key: tuple[Any, ...],
                program: tuple[Any, ...]) -> tuple[RuleIndex[_Candidate], Any]:
        """The cached lookup's entry: candidates by the program fields, and the
        terms on the key's fields decided (only for plain string values, the
        common case: other values are in the key as _freeze stand-ins)."""
        view = self._views.get(key)
        if view is None:
            view = self._view(doc, key)
        found = view.index.compute(doc)
        if view.narrowings and all(v.__class__ is str or v is None for v in program):
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
            return self._match_every_rule(doc)
        entry = self._found.get(full_key)
        if entry is None:
            gates = self._gate_count
            entry = self._lookup(doc, full_key[:gates], full_key[gates:])
            if len(self._found) >= _FOUND_LIMIT:
                self._found.clear()
            self._found[full_key] = entry
        view, found = entry
        candidates = found if found.__class__ is tuple else view.settle(doc, found)
        matched: list[Rule] = []
        for rule, residual in candidates:
            try:
                if residual(doc):
                    matched.append(rule)
            except Exception as err:  # noqa: BLE001 - one rule's bug must not stop the others
                self._count_error(rule, err)
        return matched

    def _match_every_rule(self, doc: dict[str, Any]) -> list[Rule]:
        categories = _categories(self._category(doc))
        matched: list[Rule] = []
        for p in self._prepared:
            if p.category is not None and p.category not in categories:
                continue
            try:
                if p.predicate(doc):
                    matched.append(p.rule)
            except Exception as err:  # noqa: BLE001
                self._count_error(p.rule, err)
        return matched

    def _count_error(self, rule: Rule, err: Exception) -> None:
        count = self.errors.get(rule.rule_id, 0) + 1
        self.errors[rule.rule_id] = count
        # Log the 1st, 10th, 100th... failure of each rule: visible, but a rule
        # that fails on every event cannot flood the log.
        if str(count).rstrip("0") == "1":
            log.warning("rule %s (%s) failed %d time(s), last on %s: %s",
                        rule.rule_id, rule.name, count, type(err).__name__, err)

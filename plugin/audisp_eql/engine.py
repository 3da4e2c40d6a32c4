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
from .ruleindex import RuleIndex, field_getter
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
# Distinct gate keys kept; our own documents have one or two.
_VIEW_LIMIT = 256
# Distinct (gate key, program) pairs kept: bounded, programs are attacker-chosen.
_FOUND_LIMIT = 8192


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


class _Prepared:
    """One rule split into gate terms and residual, with its index hint."""

    __slots__ = ("order", "rule", "category", "predicate", "gates", "residual", "hint")

    def __init__(self, order: int, rule: Rule) -> None:
        compiled = rule.compiled
        self.order, self.rule, self.category = order, rule, compiled.category
        self.predicate: Predicate = compiled.predicate
        conjuncts: Sequence[tuple[Expr, Predicate]] = getattr(compiled, "conjuncts", ()) or ()
        gate_terms = [(t, p) for t, p in conjuncts if fields_of(t) <= GATE_FIELDS]
        rest = [(t, p) for t, p in conjuncts if not fields_of(t) <= GATE_FIELDS]
        if conjuncts:
            self.gates = [p for _, p in gate_terms]
            # Order learnt from the first documents (eql/adaptive.py); one term: itself.
            self.residual = adaptive_all([p for _, p in rest], [cost(t) for t, _ in rest]) \
                if len(rest) > 1 else _all_of([p for _, p in rest])
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


class Engine:
    """Evaluate compiled rules on ECS documents; a failing predicate is counted, not fatal."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: list[Rule] = [r for r in rules if r.compiled is not None]
        self._prepared = [_Prepared(order, rule) for order, rule in enumerate(self.rules)]
        used = {"event.category"}.union(*(p.gate_fields() for p in self._prepared))
        self._gate_paths = [tuple(name.split(".")) for name in sorted(used)]
        self._gate_getters = [field_getter(p) for p in self._gate_paths]
        self._category = field_getter(("event", "category"))
        self._views: dict[tuple[Any, ...], RuleIndex[_Candidate]] = {}
        # (gate key + program field values) -> (view, its candidates by program fields)
        self._found: dict[tuple[Any, ...], tuple[RuleIndex[_Candidate], Any]] = {}
        self._program_getters = [field_getter(p) for p in INDEX_FIELDS]
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

    def _gate_key(self, doc: dict[str, Any]) -> tuple[Any, ...]:
        # A string is its own key: no call for the usual "linux", "exec".
        return tuple([value if (value := get(doc)).__class__ is str else _freeze(value)
                      for get in self._gate_getters])

    def _view(self, doc: dict[str, Any], key: tuple[Any, ...]) -> RuleIndex[_Candidate]:
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
        for p in self._prepared:
            if p.category is not None and p.category not in categories:
                continue
            try:
                passed = all(gate(gate_doc) for gate in p.gates)
                candidate = (p.rule, p.residual)
            except Exception:  # noqa: BLE001 - evaluate it whole; the error shows per doc
                passed, candidate = True, (p.rule, p.predicate)
            if passed:
                entries.append((candidate, p.hint))
        view: RuleIndex[_Candidate] = RuleIndex(entries)
        if len(self._views) >= _VIEW_LIMIT:
            self._views.clear()
            self._found.clear()
        self._views[key] = view
        return view

    def match(self, doc: dict[str, Any]) -> list[Rule]:
        """The rules whose query matches `doc`, in load order."""
        try:
            key = self._gate_key(doc)
        except (TypeError, AttributeError):  # an odd value (ECS input): no shortcuts
            return self._match_every_rule(doc)
        full_key = key + tuple([get(doc) for get in self._program_getters])
        try:
            entry = self._found.get(full_key)
        except TypeError:  # a list program field (ECS input): not cached
            entry = None
            full_key = None
        if entry is None:
            view = self._views.get(key)
            if view is None:
                view = self._view(doc, key)
            entry = (view, view.compute(doc))
            if full_key is not None:
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

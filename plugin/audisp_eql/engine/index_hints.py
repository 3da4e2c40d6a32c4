"""Index hints: string values some fields must have for a condition to hold.

The engine indexes rules by these hints, so that for a document only the
rules whose hint it satisfies are evaluated. A hint is a few clauses that
must all hold, each a set of atoms of which at least one holds; no clause
means "no hint" (evaluate always). Soundness is what matters, a superset is
fine (the predicate still decides):

- under `and`, every term's clauses hold; under `or`, every term must be
  constrained, and picking one clause per term gives a clause (their union);
  under `not`, and for `!=`, `not in`, `== null` and functions, nothing is
  known; a regex gives the literal text it starts with, if any;
- atoms only come from leaves that need a *string* value equal to, starting
  with, ending with, or containing a constant: a non-string value never satisfies them,
  so the engine may ignore non-strings (and multi-valued fields need any
  element to satisfy the atom, like the leaf);
- case-sensitive leaves give raw atoms, checked against the raw value;
  case-insensitive ones give atoms of the lower-cased constant text, checked
  against value.lower(): exactly how the compiled leaf folds both sides
  (lower() is context-dependent for a final sigma, so a raw prefix is not
  always a prefix after lower-casing; keeping both kinds apart stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Optional, Sequence, Tuple

from .. import limits
from ..eql import ast

# Fields that identify the program: short single strings, very selective.
INDEX_FIELDS: Tuple[Tuple[str, ...], ...] = (
    ("process", "name"),
    ("process", "executable"),
    ("process", "parent", "name"),
    ("process", "parent", "executable"),
    ("process", "previous", "executable"),  # absent but on re-exec: one more key part
)
# The arguments: many rules need one of a few; checked per document.
ARGS_FIELD: Tuple[str, ...] = ("process", "args")
# Fields that differ from one document to the next (no result cache on them):
# atoms on them are checked per document, after the program fields.
PER_DOCUMENT_FIELDS: Tuple[Tuple[str, ...], ...] = (
    ARGS_FIELD,
    ("process", "parent", "args"),
    ("process", "command_line"),
)
HINT_FIELDS = INDEX_FIELDS + PER_DOCUMENT_FIELDS
EXACT, PREFIX, SUFFIX, CONTAINS = "exact", "prefix", "suffix", "contains"
_WILDCARDS = ("*", "?")


@dataclass(frozen=True)
class Atom:
    """The value of `field` equals / starts with / ends with `text`."""
    field: Tuple[str, ...]
    kind: str  # EXACT, PREFIX, SUFFIX or CONTAINS
    text: str
    folded: bool  # compare value.lower() (text is already lower-cased)


Hint = Optional[FrozenSet[Atom]]  # one clause: at least one atom holds


def _pattern_atom(field: Tuple[str, ...], pattern: str, folded: bool) -> Optional[Atom]:
    """The literal head or tail of a wildcard pattern (the longer), if any."""
    if folded:
        pattern = pattern.lower()  # the whole pattern, as the compiled matcher does
    cut = [i for i, c in enumerate(pattern) if c in _WILDCARDS]
    if not cut:
        return Atom(field, EXACT, pattern, folded)
    head, tail = pattern[:cut[0]], pattern[cut[-1] + 1:]
    if not head and not tail:
        # "*a*b*": the value contains every literal run; the longest is kept
        inner = max(pattern.replace("?", "*").split("*"), key=len)
        return Atom(field, CONTAINS, inner, folded) if inner else None
    if len(head) >= len(tail):
        return Atom(field, PREFIX, head, folded)
    return Atom(field, SUFFIX, tail, folded)


_REGEX_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-=:,%! ")
_QUANTIFIERS = frozenset("?*+{")
# ASCII letters whose case-fold orbit leaves ASCII in RE2's (?i) (Kelvin sign,
# long s): lower() on the value would not find them.
_FOLD_ESCAPES = frozenset("kKsS")


def _top_level_alternation(pattern: str) -> bool:
    """Whether `|` occurs outside groups, classes, quotes and escapes (conservative)."""
    depth, i, size = 0, 0, len(pattern)
    while i < size:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            end = pattern.find('"', i + 1)
            i = size if end < 0 else end + 1
            continue
        if c == "[":
            end = pattern.find("]", i + 2)  # "[]...]" keeps its first "]"
            i = size if end < 0 else end + 1
            continue
        depth += (c == "(") - (c == ")")
        if c == "|" and depth <= 0:
            return True
        i += 1
    return False


def regex_prefix(pattern: str, folded: bool) -> str:
    """Literal text every value a (whole-value, Lucene) regex matches starts with.

    Only plain ASCII characters count, up to the first operator; a quantifier
    after one takes it back. With regex~ the text stops before a letter RE2
    folds beyond ASCII. "" when nothing is certain (e.g. a top-level `|`)."""
    if _top_level_alternation(pattern):
        return ""
    end = 0
    while end < len(pattern) and pattern[end] in _REGEX_PLAIN:
        end += 1
    if end < len(pattern) and pattern[end] in _QUANTIFIERS:
        end -= 1
    prefix = pattern[:max(end, 0)]
    if folded:
        cut = [i for i, c in enumerate(prefix) if c in _FOLD_ESCAPES]
        prefix = prefix[:cut[0]] if cut else prefix
        prefix = prefix.lower()
    return prefix


def _leaf_hint(expr: ast.Expr, fields: Sequence[Tuple[str, ...]]) -> Hint:
    if isinstance(expr, ast.Compare) and expr.op == "==":
        for field, other in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(field, ast.Field) and field.path in fields \
                    and isinstance(other, ast.Literal) and other.value.__class__ is str:
                return frozenset([Atom(field.path, EXACT, other.value, False)])
        return None
    if isinstance(expr, ast.InSet):
        target = expr.expr
        if expr.negated or not isinstance(target, ast.Field) or target.path not in fields:
            return None
        values = [v.value for v in expr.values]
        if not values or any(v.__class__ is not str for v in values):
            return None  # `in (null, ...)` also holds on a missing field
        if expr.insensitive:
            return frozenset(Atom(target.path, EXACT, v.lower(), True) for v in values)
        return frozenset(Atom(target.path, EXACT, v, False) for v in values)
    if isinstance(expr, ast.Match) and expr.kind == "like":
        target = expr.expr
        if not isinstance(target, ast.Field) or target.path not in fields:
            return None
        atoms = [_pattern_atom(target.path, p, expr.insensitive) for p in expr.patterns]
        if not atoms or any(a is None for a in atoms):
            return None
        return frozenset(atoms)  # type: ignore[arg-type]
    if isinstance(expr, ast.Match) and expr.kind == "regex":
        target = expr.expr
        if not isinstance(target, ast.Field) or target.path not in fields:
            return None
        prefixes = [regex_prefix(p, expr.insensitive) for p in expr.patterns]
        if not prefixes or not all(prefixes):
            return None
        return frozenset(Atom(target.path, PREFIX, p, expr.insensitive) for p in prefixes)
    return None


def _score(hint: FrozenSet[Atom]) -> float:
    """Lower is better: roughly how many documents the hint lets through."""
    total = 0.0
    for atom in hint:
        if atom.kind == EXACT:
            total += 1.0
        elif atom.kind == CONTAINS and atom.field in PER_DOCUMENT_FIELDS:
            total += 1000.0  # searched in every new text (ruleindex.py): any other clause is better
        else:  # a short prefix such as "/" lets almost everything through
            total += 1.0 + 64.0 / (1 + len(atom.text))
    return total


Clauses = Tuple[FrozenSet[Atom], ...]
_MAX_CLAUSES = 8


def _best(clauses: Clauses) -> Clauses:
    """The most selective clauses first, at most _MAX_CLAUSES."""
    return tuple(sorted(set(clauses), key=_score)[:_MAX_CLAUSES])


def index_hint(expr: ast.Expr, fields: Sequence[Tuple[str, ...]] = INDEX_FIELDS) -> Clauses:
    """Clauses that all hold whenever `expr` is true (each: at least one atom holds).

    Empty: no hint. Under `and`, the clauses of every term; under `or`, a
    clause made of one clause per term (all pairings, a few at most)."""
    if isinstance(expr, ast.And):
        return _best(tuple(c for t in expr.terms for c in index_hint(t, fields)))
    if isinstance(expr, ast.Or):
        # Terms with one clause (the usual leaves) add to every pairing alike:
        # joined once, in linear time (folding them in one by one copied the
        # growing clause per term). A clause past limits.MAX_HINT_ATOMS values
        # is no index: such an `or` is evaluated on every document.
        limit = limits.MAX_HINT_ATOMS
        singles: list[FrozenSet[Atom]] = []
        several: list[Clauses] = []
        size = 0
        for term in expr.terms:
            clauses = index_hint(term, fields)
            if not clauses:
                return ()
            if len(clauses) == 1:
                singles.append(clauses[0])
                size += len(clauses[0])
            else:
                several.append(clauses)
                size += max(map(len, clauses))
            if size > limit:
                return ()
        combined: Clauses = (frozenset().union(*singles),)
        for clauses in several:
            combined = _best(tuple(done | c for done in combined for c in clauses))
        return combined
    leaf = _leaf_hint(expr, fields)
    return (leaf,) if leaf is not None else ()

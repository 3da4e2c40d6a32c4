"""EQL wildcard patterns (`like`, `like~`, `:`), matched in linear time.

`*` is any run of characters, `?` exactly one; there is no escape, and a
backslash is an ordinary character (Elasticsearch semantics).  Patterns are
split at `*` into segments that must appear in order; the first is anchored
at the start and the last at the end.  Taking the leftmost occurrence of
each middle segment is optimal (a later one can only leave less room), so one
left-to-right pass decides the match: no backtracking, whatever the input.

Case-insensitive matching lower()-folds both the pattern and the value.
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Sequence

from .fieldmemo import SEPARATOR, ListView

Matcher = Callable[[str], bool]


def _segment_finder(segment: str) -> Optional["re.Pattern[str]"]:
    """A fixed-length regex for a segment containing `?`, else None.

    Without quantifiers a search costs at most len(value) * len(segment).
    """
    if "?" not in segment:
        return None
    return re.compile("".join("." if c == "?" else re.escape(c) for c in segment), re.S)


def _general(pattern: str) -> Matcher:
    segments = pattern.split("*")
    first, middle, last = segments[0], segments[1:-1], segments[-1]
    first_re, last_re = _segment_finder(first), _segment_finder(last)
    middle_compiled = [(seg, _segment_finder(seg)) for seg in middle if seg]
    fixed = len(first) + len(last)

    def match(value: str) -> bool:
        if len(value) < fixed:
            return False
        if first_re is None:
            if not value.startswith(first):
                return False
        elif first_re.match(value) is None:
            return False
        pos = len(first)
        end = len(value) - len(last)
        for seg, seg_re in middle_compiled:
            if seg_re is None:
                found = value.find(seg, pos, end)
            else:
                m = seg_re.search(value, pos, end)
                found = -1 if m is None else m.start()
            if found < 0:
                return False
            pos = found + len(seg)
        if last_re is None:
            return value.endswith(last)
        return last_re.match(value, end) is not None
    return match


def _single_star_free(pattern: str) -> Matcher:
    """A pattern without `*`: only `?` positions, so the length is fixed."""
    finder = _segment_finder(pattern)
    assert finder is not None
    return lambda value: len(value) == len(pattern) and finder.match(value) is not None


class PatternSet:
    """Patterns grouped by shape: one set lookup, one startswith/endswith call
    with a tuple, then infixes and general patterns, so long lists stay cheap.

    `match(value)` folds the value when the set is case-insensitive;
    `match_folded` takes an already folded value; `any_item(view)` tests the
    string items of a list (fieldmemo.ListView, folded when insensitive).
    """

    def __init__(self, patterns: Sequence[str], insensitive: bool) -> None:
        if insensitive:
            patterns = [p.lower() for p in patterns]
        self.insensitive = insensitive
        exact: set = set()
        prefixes: List[str] = []
        suffixes: List[str] = []
        infixes: List[str] = []
        others: List[Matcher] = []
        general: List[str] = []
        for p in patterns:
            if "?" in p:
                general.append(p)
                others.append(_general(p) if "*" in p else _single_star_free(p))
            elif "*" not in p:
                exact.add(p)
            elif p == "*" or set(p) == {"*"}:
                prefixes.append("")  # matches every string
            else:
                core = p.strip("*")
                if "*" in core:
                    general.append(p)
                    others.append(_general(p))
                elif p.startswith("*") and p.endswith("*"):
                    infixes.append(core)
                elif p.endswith("*") and p.count("*") == len(p) - len(p.rstrip("*")):
                    prefixes.append(core)
                elif p.startswith("*"):
                    suffixes.append(core)
                else:
                    general.append(p)
                    others.append(_general(p))
        # A literal head (or tail) every general pattern needs: one
        # startswith/endswith call rules most values out before the loop.
        heads: List[str] = []
        tails: List[str] = []
        for p in general:
            first, last = p.split("*")[0], p.split("*")[-1]
            if "*" in p and first and "?" not in first:
                heads.append(first)
            elif "*" in p and last and "?" not in last:
                tails.append(last)
        self.others_gated = bool(general) and len(heads) + len(tails) == len(general)
        self.other_heads, self.other_tails = tuple(heads), tuple(tails)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.suffixes = tuple(suffixes)
        self.infixes = tuple(infixes)
        self.others = tuple(others)
        # Each general pattern with the longest literal run it needs somewhere
        # (a necessary condition: one C-level `in` before the segment walk).
        self.others_needing = tuple(zip([_longest_literal(p) for p in general], others))
        self.only_exact = not (self.prefixes or self.suffixes or self.infixes or self.others)
        # Needles for the NUL-joined items of a list (see fieldmemo.ListView);
        # a pattern containing the separator itself is tested item by item.
        sep = SEPARATOR
        self.needles = tuple([sep + p for p in self.prefixes if sep not in p]
                             + [p + sep for p in self.suffixes if sep not in p]
                             + [p for p in self.infixes if sep not in p])
        self.joined_complete = len(self.needles) == (
            len(self.prefixes) + len(self.suffixes) + len(self.infixes))

    def match_folded(self, value: str) -> bool:
        if value in self.exact:
            return True
        if self.prefixes and value.startswith(self.prefixes):
            return True
        if self.suffixes and value.endswith(self.suffixes):
            return True
        for infix in self.infixes:
            if infix in value:
                return True
        if self.others_gated and not (value.startswith(self.other_heads)
                                      or value.endswith(self.other_tails)):
            return False
        for needed, other in self.others_needing:
            if needed in value and other(value):
                return True
        return False

    def match(self, value: str) -> bool:
        return self.match_folded(value.lower() if self.insensitive else value)

    def any_item(self, view: "ListView") -> bool:
        if not view.items:
            return False
        if self.exact and not self.exact.isdisjoint(view.set):
            return True
        if self.only_exact:
            return False
        joined = view.joined
        if joined is not None and self.joined_complete:
            for needle in self.needles:
                if needle in joined:
                    return True
            if not self.others:
                return False
            # a literal run no item contains rules its pattern out for all items
            others = [other for needed, other in self.others_needing
                      if SEPARATOR in needed or needed in joined]
            for item in view.items:
                for other in others:
                    if other(item):
                        return True
            return False
        for item in view.items:
            if self.match_folded(item):
                return True
        return False


def _longest_literal(pattern: str) -> str:
    """The longest run of ordinary characters in a pattern ("" if none)."""
    return max(pattern.replace("?", "*").split("*"), key=len)


def compile_patterns(patterns: Sequence[str], insensitive: bool) -> Matcher:
    """One matcher, true when the value matches any of `patterns`."""
    shapes = PatternSet(patterns, insensitive)
    # The most common case by far: a single shape; skip the dispatch.
    if not insensitive and shapes.only_exact:
        return shapes.exact.__contains__
    return shapes.match


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern

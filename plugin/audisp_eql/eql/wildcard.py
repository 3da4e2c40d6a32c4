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


def compile_patterns(patterns: Sequence[str], insensitive: bool) -> Matcher:
    """One matcher, true when the value matches any of `patterns`.

    Common shapes are grouped into one set lookup and one
    startswith/endswith call with a tuple, so long lists stay cheap.
    """
    if insensitive:
        patterns = [p.lower() for p in patterns]
    exact: set = set()
    prefixes: List[str] = []
    suffixes: List[str] = []
    infixes: List[str] = []
    others: List[Matcher] = []
    for p in patterns:
        if "?" in p:
            others.append(_general(p) if "*" in p else _single_star_free(p))
        elif "*" not in p:
            exact.add(p)
        elif p == "*" or set(p) == {"*"}:
            prefixes.append("")  # matches every string
        else:
            core = p.strip("*")
            if "*" in core:
                others.append(_general(p))
            elif p.startswith("*") and p.endswith("*"):
                infixes.append(core)
            elif p.endswith("*") and p.count("*") == len(p) - len(p.rstrip("*")):
                prefixes.append(core)
            elif p.startswith("*"):
                suffixes.append(core)
            else:
                others.append(_general(p))
    exact_set = frozenset(exact)
    prefix_tuple = tuple(prefixes)
    suffix_tuple = tuple(suffixes)
    infix_tuple = tuple(infixes)
    other_tuple = tuple(others)

    def match(value: str) -> bool:
        if insensitive:
            value = value.lower()
        if value in exact_set:
            return True
        if prefix_tuple and value.startswith(prefix_tuple):
            return True
        if suffix_tuple and value.endswith(suffix_tuple):
            return True
        for infix in infix_tuple:
            if infix in value:
                return True
        for other in other_tuple:
            if other(value):
                return True
        return False

    # The most common case by far: a single shape; skip the dispatch above.
    if not insensitive and not (prefix_tuple or suffix_tuple or infix_tuple or other_tuple):
        return exact_set.__contains__
    return match


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern

"""A linear-time regular expression matcher in pure Python: lucene.py's fallback for RE2.

google-re2 is on PyPI only (Debian has no package for it). When it does not
import, lucene.py hands the RE2 source it translated from a Lucene regex to
`compile()` here, which accepts that dialect (and nothing more) and answers the
same question RE2's `fullmatch` answers.

How: the pattern is parsed (without recursion) and turned into a Thompson NFA;
a value goes through it as a *set* of states, one step per character, never
backtracking (Thompson's / Pike's simulation): a step costs at most the NFA's
size, a value at most len(value) x states. The state sets met are kept as DFA
states with their transitions, built lazily as RE2's DFA is, so a (set,
character) pair seen before costs one dict lookup; the cache has a budget and
is dropped when it is used up, which costs time again, never a wrong answer.

Semantics are RE2's with the `(?s)` / `(?is)` flags lucene.py sets (the
dialect, classes and case folding: linregex_syntax.py); a value with lone
surrogates is matched in its `backslashreplace` form, which is what lucene.py
gives RE2 (which cannot take them).

Limits: RE2's syntax rules (linregex_syntax.py); the NFA has at most
limits.REGEX_MAX_STATES states, the DFA cache at most limits.REGEX_DFA_CACHE
entries per pattern (both read when a pattern is compiled). Nothing here
recurses, however deep the nesting.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from typing import Callable, Dict, Generator, List, Optional, Sequence, Tuple

from .. import limits
from .linregex_syntax import Node, Ranges, RegexError, fold_orbits, parse

__all__ = ["Regex", "RegexError", "fold_orbits"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _membership(ranges: Ranges) -> Callable[[str], bool]:
    """A fast `char in set` test for a normalized range tuple."""
    if not ranges:
        return lambda ch: False
    if sum(hi - lo + 1 for lo, hi in ranges) <= 64:
        return frozenset(chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1)).__contains__
    starts = [lo for lo, _ in ranges]
    ends = [hi for _, hi in ranges]

    def contains(ch: str) -> bool:
        cp = ord(ch)
        i = bisect_right(starts, cp) - 1
        return i >= 0 and cp <= ends[i]
    return contains


# -- the automaton -------------------------------------------------------------

_CHAR, _SPLIT, _MATCH = 0, 1, 2


class _DState:
    """A set of NFA character states (after following every split) and its transitions."""

    __slots__ = ("states", "match", "next")

    def __init__(self, states: Tuple[int, ...], match: bool) -> None:
        self.states = states
        self.match = match
        self.next: Dict[str, "_DState"] = {}


class Regex:
    """RE2 source in the dialect lucene.translate() writes, compiled: implicitly
    `(?s)`, and `(?i)` when `insensitive`; RegexError when it is not in that
    dialect or over a limit. `fullmatch(value)`: does it match the whole value.

    `states` is the NFA's size; `work` counts NFA states visited by the
    simulation so far (tests bound it by len(value) x states)."""

    def __init__(self, source: str, insensitive: bool = False,
                 cache_budget: Optional[int] = None) -> None:
        self.source = source
        self.insensitive = insensitive
        self.cache_budget = limits.REGEX_DFA_CACHE if cache_budget is None else cache_budget
        self._max_states = limits.REGEX_MAX_STATES
        self.work = 0
        self._kind = array("b")
        self._out1 = array("l")
        self._out2 = array("l")
        self._tests: List[Optional[Callable[[str], bool]]] = []
        tests: Dict[Ranges, Callable[[str], bool]] = {}
        self._tests_by_set = tests
        tree = parse(source, insensitive)
        match = self._add(_MATCH, None, -1, -1)
        self._start = self._emit(tree, match)
        del self._tests_by_set
        self.states = len(self._kind)
        self._reset_cache()

    # NFA construction, backwards: each node is compiled knowing where it continues.
    def _add(self, kind: int, ranges: Optional[Ranges], out1: int, out2: int) -> int:
        index = len(self._kind)
        if index >= self._max_states:
            raise RegexError(f"pattern too large (over {self._max_states} automaton states): "
                             f"{self.source[:80]!r}")
        self._kind.append(kind)
        self._out1.append(out1)
        self._out2.append(out2)
        test = None
        if ranges is not None:
            test = self._tests_by_set.get(ranges)
            if test is None:
                test = self._tests_by_set[ranges] = _membership(ranges)
        self._tests.append(test)
        return index

    def _emit(self, node: Node, nxt: int) -> int:
        """Compile `node` to continue at state `nxt`; its start state. No recursion
        (nesting may be deep): each node is a generator asking for its children."""
        stack = [self._emit_node(node, nxt)]
        result: Optional[int] = None
        while stack:
            try:
                child, child_next = stack[-1].send(result)
            except StopIteration as done:
                stack.pop()
                result = done.value
                continue
            stack.append(self._emit_node(child, child_next))
            result = None
        assert result is not None
        return result

    def _emit_node(self, node: Node, nxt: int) -> Generator[Tuple[Node, int], Optional[int], int]:
        kind = node[0]
        if kind == "set":
            return self._add(_CHAR, node[1], nxt, -1)
        if kind == "empty":
            return nxt
        if kind == "cat":
            for child in reversed(node[1]):
                nxt = yield child, nxt
            return nxt
        if kind == "alt":
            starts = []
            for child in node[1]:
                starts.append((yield child, nxt))
            start = starts[-1]
            for other in reversed(starts[:-1]):
                start = self._add(_SPLIT, None, other, start)
            return start
        _, child, low, high, _counted = node
        start = nxt
        if high == -1:
            loop = self._add(_SPLIT, None, -1, nxt)
            self._out1[loop] = yield child, loop
            start = loop
        else:
            for _ in range(high - low):
                body = yield child, start
                start = self._add(_SPLIT, None, body, start)
        for _ in range(low):
            start = yield child, start
        return start

    # The simulation.
    def _closure(self, seeds: Sequence[int]) -> Tuple[Tuple[int, ...], bool]:
        kind, out1, out2 = self._kind, self._out1, self._out2
        stack = list(seeds)
        seen = set()
        chars = []
        match = False
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            k = kind[state]
            if k == _SPLIT:
                stack.append(out2[state])
                stack.append(out1[state])
            elif k == _CHAR:
                chars.append(state)
            else:
                match = True
        self.work += len(seen)
        chars.sort()
        return tuple(chars), match

    def _intern(self, states: Tuple[int, ...], match: bool) -> _DState:
        key = (states, match)   # the same character states may or may not have matched
        found = self._cache.get(key)
        if found is not None:
            return found
        cost = len(states) + 1
        if self._used + cost > self.cache_budget:
            self._reset_cache()
            if cost > self.cache_budget:
                return _DState(states, match)   # too big to keep: used once
        found = self._cache[key] = _DState(states, match)
        self._used += cost
        return found

    def _reset_cache(self) -> None:
        """Drop every DFA state (and with them their transitions); a fresh start state."""
        self._cache: Dict[Tuple[Tuple[int, ...], bool], _DState] = {}
        self._used = 0
        if not hasattr(self, "_start_key"):
            self._start_key = self._closure([self._start])
        self._start_state = _DState(*self._start_key)
        if len(self._start_key[0]) + 1 <= self.cache_budget:
            self._cache[self._start_key] = self._start_state
            self._used = len(self._start_key[0]) + 1

    def _step(self, current: _DState, char: str) -> Optional[_DState]:
        """The state after `char`, or None when nothing can match any more."""
        tests, out1 = self._tests, self._out1
        self.work += len(current.states)
        seeds = [out1[s] for s in current.states if tests[s](char)]  # type: ignore[misc]
        if not seeds:
            return None
        target = self._intern(*self._closure(seeds))
        # A transition is kept while `current` is in the cache (it may have been
        # dropped just now) and the budget allows.
        if self._cache.get((current.states, current.match)) is current:
            if self._used + 1 > self.cache_budget:
                self._reset_cache()
            else:
                current.next[char] = target
                self._used += 1
        return target

    def fullmatch(self, value: str) -> bool:
        if _SURROGATE.search(value):
            value = value.encode("utf-8", "backslashreplace").decode()
        state = self._start_state
        for char in value:
            nxt = state.next.get(char)
            if nxt is None:
                nxt = self._step(state, char)
                if nxt is None:
                    return False
            state = nxt
        return state.match


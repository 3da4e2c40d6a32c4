"""Which of many literal texts a value starts with, ends with or contains, in one pass.

The rule index asks this of every new argument and command line: one RE2 set
search answers for all literals at once, in time linear in the value (a
Python `startswith` / `in` per literal would be a pass, and a call, each).

RE2's set search has no fallback when its DFA runs out of memory: it then
says "no match". So the DFA gets room for every state of a literal set (at
most one per literal character), and values longer than
limits.LITERAL_SEARCH_LENGTH
are answered None, "every literal": callers treat that as a superset, which
only costs them time. Values RE2 cannot take (lone surrogates, not UTF-8
encodable) are checked literal by literal.

Without google-re2 (it is on PyPI only; Debian's package has none), the same
answers come from an Aho-Corasick automaton written here (`Automaton`): a trie
walk from the start for prefixes, one from the end for suffixes, the automaton
with failure links for contained texts; each at most 2 x len(value) steps.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

try:
    import re2
except ImportError:  # google-re2 is on PyPI only
    re2 = None  # type: ignore[assignment]

from .. import limits

PREFIX, SUFFIX, CONTAINS = "prefix", "suffix", "contains"


def _re2_literal(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "\\x{%x}" % ord(c) for c in text)


def _python_test(kind: str, text: str) -> Callable[[str], bool]:
    if kind == PREFIX:
        return lambda value: value.startswith(text)
    if kind == SUFFIX:
        return lambda value: value.endswith(text)
    return lambda value: text in value


class LiteralSet:
    """`found(value)`: the positions, in `literals`, of the (kind, text) pairs
    the value satisfies; None when the value is too long to search."""

    __slots__ = ("literals", "_match", "_tests", "_longest")

    def __init__(self, literals: Sequence[tuple[str, str]]) -> None:
        self.literals = list(literals)
        self._longest = limits.LITERAL_SEARCH_LENGTH
        self._tests = [_python_test(kind, text) for kind, text in self.literals]
        self._match: Optional[Callable[[str], object]] = None
        if re2 is None:
            self._match = Automaton(self.literals).search
            return
        options = re2.Options()
        options.max_mem = limits.LITERAL_SEARCH_MEMORY  # a budget, allocated as needed
        searcher = re2.Set.SearchSet(options)
        try:
            for kind, text in self.literals:
                source = _re2_literal(text)
                searcher.Add("^" + source if kind == PREFIX else
                             source + "$" if kind == SUFFIX else source)
            searcher.Compile()
        except re2.error:  # (not expected for literals) the per-literal tests answer
            return
        self._match = searcher.Match

    def found(self, value: str) -> Optional[Sequence[int]]:
        if len(value) > self._longest:
            return None
        if self._match is not None:
            try:
                return self._match(value) or ()  # type: ignore[return-value]
            except UnicodeEncodeError:
                pass
        return [i for i, test in enumerate(self._tests) if test(value)]


class _Trie:
    """Texts as a trie: `goto[node]` maps a character to a child, `out[node]`
    holds the positions of the texts ending there."""

    def __init__(self) -> None:
        self.goto: List[Dict[str, int]] = [{}]
        self.out: List[List[int]] = [[]]

    def add(self, text: str, position: int) -> None:
        node = 0
        for char in text:
            child = self.goto[node].get(char)
            if child is None:
                child = len(self.goto)
                self.goto[node][char] = child
                self.goto.append({})
                self.out.append([])
            node = child
        self.out[node].append(position)

    def walk(self, chars: object, found: List[int]) -> None:
        """Positions of the texts `chars` starts with (one step per character, at most)."""
        goto, out = self.goto, self.out
        node = 0
        found.extend(out[0])
        for char in chars:  # type: ignore[attr-defined]
            node = goto[node].get(char)  # type: ignore[assignment]
            if node is None:
                return
            found.extend(out[node])


class Automaton:
    """The literal-set search in pure Python: `search(value)` -> positions found."""

    def __init__(self, literals: Sequence[tuple[str, str]]) -> None:
        self.prefixes, self.suffixes, self.contained = _Trie(), _Trie(), _Trie()
        for position, (kind, text) in enumerate(literals):
            if kind == PREFIX:
                self.prefixes.add(text, position)
            elif kind == SUFFIX:
                self.suffixes.add(text[::-1], position)
            else:
                self.contained.add(text, position)
        # Failure links, breadth first: fail[node] is the node of the longest
        # proper suffix of node's text that is in the trie; out[node] then also
        # holds what ends at fail[node] (every text ending here).
        goto, out = self.contained.goto, self.contained.out
        # The empty texts (contained in every value) are reported once, not per character.
        self._empty, out[0] = out[0], []
        self.fail = fail = [0] * len(goto)
        queue = list(goto[0].values())
        for node in queue:
            for char, child in goto[node].items():
                queue.append(child)
                back = fail[node]
                while back and char not in goto[back]:
                    back = fail[back]
                target = goto[back].get(char, 0)
                fail[child] = target if target != child else 0
                out[child] = out[child] + out[fail[child]]
        self._contains_anything = len(goto) > 1

    def search(self, value: str) -> List[int]:
        found: List[int] = []
        self.prefixes.walk(value, found)
        self.suffixes.walk(reversed(value), found)
        contained = self.contained
        found.extend(self._empty)
        if not self._contains_anything:
            return found
        goto, out, fail = contained.goto, contained.out, self.fail
        seen: set = set()
        node = 0
        for char in value:
            nxt = goto[node].get(char)
            while nxt is None and node:
                node = fail[node]
                nxt = goto[node].get(char)
            node = nxt or 0
            if out[node]:
                seen.update(out[node])
        found.extend(seen)
        return found

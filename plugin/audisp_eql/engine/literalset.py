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
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import re2

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

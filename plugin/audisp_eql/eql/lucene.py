"""Lucene regular expressions (EQL `regex`, `regex~`) translated to RE2.

Lucene's dialect (org.apache.lucene.util.automaton.RegExp, all flags): the
pattern is anchored to the whole value; `.` is any character (newlines too);
`|`, `( )`, `* + ?`, `{n}`, `{n,}`, `{n,m}`, `[...]` / `[^...]` classes;
`\\c` is the literal `c` except `\\d \\D \\s \\S \\w \\W`; `"..."` is a
literal string; `@` is any string; `#` the empty language; `<n-m>` a decimal
number in that interval.  `^` and `$` are ordinary characters.  Complement
`~` and intersection `&` have no RE2 equivalent and are rejected.

RE2 runs in time linear in the input, so an attacker's 1 MB argument costs
one pass per pattern.  `regex~` uses RE2's case folding, `(?i)`: lower()-ing
a regex would change its meaning (`\\W` into `\\w`).

google-re2 is on PyPI only.  Where it does not import (Debian's package
installs no pip modules), the same RE2 source goes to linregex.py, a
pure-Python automaton with the same answers and the same linear bound,
slower per character.  ENGINE says which one runs.
"""

from __future__ import annotations

from typing import Callable, List

try:
    import re2
except ImportError:  # google-re2 is on PyPI only
    re2 = None  # type: ignore[assignment]

from .. import limits
from . import linregex
from .errors import EqlCompileError

ENGINE = ("re2" if re2 is not None else "builtin")
ENGINE_DESCRIPTION = ("RE2 (google-re2)" if re2 is not None else
                      "built-in linear-time automaton (google-re2 is not installed)")

_CLASS_ESCAPES = {"d": r"\d", "D": r"\D", "s": r"\s", "S": r"\S", "w": r"\w", "W": r"\W"}


def _literal(char: str) -> str:
    if char.isalnum() or char == "_":
        return char
    return "\\x{%x}" % ord(char)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0

    def error(self, message: str) -> EqlCompileError:
        return EqlCompileError(f"regex {self.src!r} at offset {self.pos}: {message}")

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def translate(self) -> str:
        out = self.alternation()
        if self.pos < len(self.src):
            raise self.error(f"unexpected {self.peek()!r}")
        return out

    def alternation(self) -> str:
        branches = [self.concatenation()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concatenation())
        return "|".join(branches)

    def concatenation(self) -> str:
        parts: List[str] = []
        while self.pos < len(self.src) and self.peek() not in "|)":
            if self.peek() == "&":
                raise self.error("intersection '&' is not supported (no RE2 equivalent); "
                                 "escape it as \\& for a literal '&'")
            parts.append(self.repeated())
        return "".join(parts)

    def repeated(self) -> str:
        atom = self.atom()
        while True:
            char = self.peek()
            if char in ("*", "+", "?"):
                self.pos += 1
                atom = f"(?:{atom}){char}"
            elif char == "{":
                atom = f"(?:{atom}){self.counted()}"
            else:
                return atom

    def counted(self) -> str:
        end = self.src.find("}", self.pos)
        body = self.src[self.pos + 1:end] if end > 0 else ""
        parts = body.split(",")
        if end < 0 or len(parts) > 2 or not parts[0].isdigit() \
                or (len(parts) == 2 and parts[1] and not parts[1].isdigit()):
            raise self.error("malformed repetition, expected {n}, {n,} or {n,m}")
        if len(parts) == 2 and parts[1] and int(parts[1]) < int(parts[0]):
            raise self.error("repetition {n,m} with m < n")
        self.pos = end + 1
        return "{" + body + "}"

    def atom(self) -> str:
        char = self.peek()
        if char == "(":
            self.pos += 1
            inner = self.alternation()
            if self.peek() != ")":
                raise self.error("missing ')'")
            self.pos += 1
            return f"(?:{inner})"
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape(in_class=False)
        if char == '"':
            end = self.src.find('"', self.pos + 1)
            if end < 0:
                raise self.error('unterminated "literal string"')
            text = self.src[self.pos + 1:end]
            self.pos = end + 1
            return "(?:" + "".join(_literal(c) for c in text) + ")"
        if char == "<":
            return self.interval()
        if char == "~":
            raise self.error("complement '~' is not supported (no RE2 equivalent); "
                             "escape it as \\~ for a literal '~'")
        if char in "*+?{":
            raise self.error(f"{char!r} has nothing to repeat")
        self.pos += 1
        if char == ".":
            return "."
        if char == "@":
            return "(?:.*)"
        if char == "#":
            return r"[^\x00-\x{10FFFF}]"  # empty language: matches nothing
        return _literal(char)

    def escape(self, in_class: bool) -> str:
        if self.pos + 1 >= len(self.src):
            raise self.error("pattern ends with a lone backslash")
        char = self.src[self.pos + 1]
        self.pos += 2
        return _CLASS_ESCAPES.get(char) or _literal(char)

    def char_class(self) -> str:
        self.pos += 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        items: List[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.error("missing ']'")
            if char == "]" and items:
                self.pos += 1
                break
            if char == "\\":
                first = self.escape(in_class=True)
            else:
                self.pos += 1
                first = _literal(char)
            if self.peek() == "-" and self.pos + 1 < len(self.src) \
                    and self.src[self.pos + 1] != "]" and first not in _CLASS_ESCAPES.values():
                self.pos += 1
                if self.peek() == "\\":
                    last = self.escape(in_class=True)
                else:
                    last = _literal(self.peek())
                    self.pos += 1
                if last in _CLASS_ESCAPES.values():
                    raise self.error("a class escape cannot end a range")
                items.append(f"{first}-{last}")
            else:
                items.append(first)
        return "[" + ("^" if negated else "") + "".join(items) + "]"

    def interval(self) -> str:
        end = self.src.find(">", self.pos)
        body = self.src[self.pos + 1:end] if end > 0 else ""
        low, _, high = body.partition("-")
        if end < 0 or not low.isdigit() or not high.isdigit():
            raise self.error("malformed numeric interval, expected <n-m>")
        lo, hi = sorted((int(low), int(high)))
        if hi - lo >= limits.MAX_INTERVAL_VALUES:
            raise self.error(f"numeric interval wider than {limits.MAX_INTERVAL_VALUES} values")
        self.pos = end + 1
        # Lucene pads to the width of the bounds when they are written with the
        # same number of digits; leading zeros are accepted either way.
        numbers = "|".join(str(n) for n in range(hi, lo - 1, -1))
        return f"(?:0*(?:{numbers}))"


def translate(pattern: str) -> str:
    """The RE2 source equivalent to a Lucene regex (unanchored; use fullmatch)."""
    return _Translator(pattern).translate()


def compile_regex(pattern: str, insensitive: bool) -> Callable[[str], bool]:
    """A whole-value matcher for a Lucene regex; EqlCompileError if untranslatable."""
    if re2 is None:
        return _compile_builtin(pattern, insensitive)
    source = ("(?is)" if insensitive else "(?s)") + translate(pattern)
    options = re2.Options()
    options.max_mem = limits.REGEX_MEMORY  # bounds the automaton a hostile rule could ask for
    try:
        compiled = re2.compile(source, options)
    except re2.error as err:
        raise EqlCompileError(f"regex {pattern!r}: {err}") from None
    fullmatch = compiled.fullmatch

    def match(value: str) -> bool:
        try:
            return fullmatch(value) is not None
        except UnicodeEncodeError:
            # lone surrogates cannot be UTF-8 encoded for RE2; match their escape
            return fullmatch(value.encode("utf-8", "backslashreplace").decode()) is not None
    return match


def _compile_builtin(pattern: str, insensitive: bool) -> Callable[[str], bool]:
    try:
        return linregex.Regex(translate(pattern), insensitive).fullmatch
    except linregex.RegexError as err:
        raise EqlCompileError(f"regex {pattern!r}: {err}") from None

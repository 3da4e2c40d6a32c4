"""The regex dialect linregex.py accepts: the RE2 source lucene.translate() writes.

`parse(source, fold)` turns it into a tree, without recursion (groups may nest
deep): ("set", ranges) for one character out of sorted code point ranges,
("cat", [node]), ("alt", [node]), ("empty",), ("rep", node, min, max or -1,
counted). Character classes are resolved here, with RE2's meaning: `.` is any
character (the `(?s)` lucene.py sets); `\\d \\s \\w` are ASCII ([0-9],
[\\t\\n\\f\\r ], [0-9A-Za-z_]); with `fold` (`(?i)`) every set holds the Unicode
simple case folding orbit of each of its characters (k K U+212A, s S U+017F,
...), negated sets are negated after folding.

RE2's rules on size are kept: a counted repetition is at most MAX_REPEAT and
nested counts multiply to at most MAX_REPEAT; groups nest at most MAX_NESTING.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import Dict, List, Optional, Sequence, Tuple

MAX_REPEAT = 1000     # RE2's: {n,m} counts, and their product along nested repetitions
MAX_NESTING = 1000    # groups inside groups
MAX_CODE = 0x10FFFF

Ranges = Tuple[Tuple[int, int], ...]

_DIGIT: Ranges = ((0x30, 0x39),)
_SPACE: Ranges = ((0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20))
_WORD: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_PERL = {"d": (_DIGIT, False), "D": (_DIGIT, True), "s": (_SPACE, False), "S": (_SPACE, True),
         "w": (_WORD, False), "W": (_WORD, True)}


class RegexError(ValueError):
    """The pattern is not in the accepted dialect or exceeds a limit."""


# -- character sets ------------------------------------------------------------

def _normalize(ranges: Sequence[Tuple[int, int]]) -> Ranges:
    merged: List[List[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def _negate(ranges: Ranges) -> Ranges:
    out = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CODE:
        out.append((nxt, MAX_CODE))
    return tuple(out)


# Cased characters all lie below U+20000 (tests/test_linregex.py checks the bound).
_FOLD_SCAN_END = 0x20000
_folds: Optional[Tuple[List[int], Dict[int, Tuple[int, ...]]]] = None
# CaseFolding.txt's simple (S) foldings that no one-character lower-case
# mapping gives (added in Unicode 14; RE2 has them): fold these pairs too.
_SIMPLE_ONLY = {0x1FD3: 0x390, 0x1FE3: 0x3B0, 0xFB05: 0xFB06}


def _fold_key(char: str) -> str:
    """The representative of the character's simple case folding orbit.

    Python's casefold() is the full folding (C+F in CaseFolding.txt); where that
    gives several characters the simple folding (S) is the one-character
    lower-case mapping when there is one (U+1E9E -> U+00DF), else none."""
    folded = char.casefold()
    if len(folded) == 1:
        return folded
    lower = char.lower()
    return lower if len(lower) == 1 else char


def fold_orbits() -> Tuple[List[int], Dict[int, Tuple[int, ...]]]:
    """(sorted code points that have case variants, code point -> its whole orbit)."""
    global _folds
    if _folds is None:
        groups: Dict[str, List[int]] = {}
        for cp in range(_FOLD_SCAN_END):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            char = chr(cp)
            key = _fold_key(char)
            if cp in _SIMPLE_ONLY:
                key = _fold_key(chr(_SIMPLE_ONLY[cp]))
            if key != char or char.upper() != char or char.lower() != char:
                groups.setdefault(key, []).append(cp)
        orbit: Dict[int, Tuple[int, ...]] = {}
        for key, members in groups.items():
            members.append(ord(key))
            members_t = tuple(sorted(set(members)))
            if len(members_t) > 1:
                for cp in members_t:
                    orbit[cp] = members_t
        _folds = (sorted(orbit), orbit)
    return _folds


def _fold(ranges: Ranges) -> Ranges:
    cased, orbit = fold_orbits()
    extra: List[Tuple[int, int]] = []
    for lo, hi in ranges:
        for i in range(bisect_left(cased, lo), bisect_right(cased, hi)):
            extra.extend((cp, cp) for cp in orbit[cased[i]])
    return _normalize(list(ranges) + extra) if extra else ranges


# -- parsing ----------------------------------------------------------------
# Nodes: ("set", ranges) | ("cat", [node]) | ("alt", [node]) | ("empty",)
#        | ("rep", node, min, max or -1, counted)

Node = tuple
_EMPTY: Node = ("empty",)
_ANY: Node = ("set", ((0, MAX_CODE),))


class _Parser:
    def __init__(self, source: str, fold: bool) -> None:
        self.src = source
        self.pos = 0
        self.fold = fold

    def error(self, message: str) -> RegexError:
        return RegexError(f"{message} at offset {self.pos} of {self.src!r}")

    def charset(self, ranges: Ranges, negated: bool = False) -> Node:
        ranges = _normalize(ranges)
        if self.fold:
            ranges = _fold(ranges)
        return ("set", _negate(ranges) if negated else ranges)

    def parse(self) -> Node:
        src = self.src
        frames: List[Tuple[List[Node], List[Node]]] = []
        branches: List[Node] = []
        items: List[Node] = []
        repeated = False   # the last item already carries a repetition
        while self.pos < len(src):
            char = src[self.pos]
            if char == "(":
                if not src.startswith("(?:", self.pos):
                    raise self.error("only (?:...) groups are supported")
                if len(frames) >= MAX_NESTING:
                    raise self.error(f"groups nested more than {MAX_NESTING} deep")
                frames.append((branches, items))
                branches, items = [], []
                self.pos += 3
                repeated = False
                continue
            if char == ")":
                if not frames:
                    raise self.error("unexpected )")
                node = _alternation(branches + [_concatenation(items)])
                branches, items = frames.pop()
                items.append(node)
                self.pos += 1
                repeated = False
                continue
            if char == "|":
                branches.append(_concatenation(items))
                items = []
                self.pos += 1
                repeated = False
                continue
            if char in "*+?{":
                if repeated and char == "?":
                    self.pos += 1          # non-greedy: the same whole-value matches
                    repeated = False
                    continue
                if not items or repeated:
                    raise self.error(f"bad repetition operator {char!r}")
                lo, hi, counted = self.repetition()
                items[-1] = ("rep", items[-1], lo, hi, counted)
                if counted:
                    _check_repeat_size(items[-1], self)
                repeated = True
                continue
            items.append(self.atom())
            repeated = False
        if frames:
            raise self.error("missing )")
        return _alternation(branches + [_concatenation(items)])

    def repetition(self) -> Tuple[int, int, bool]:
        char = self.src[self.pos]
        if char != "{":
            self.pos += 1
            return {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[char] + (False,)
        end = self.src.find("}", self.pos)
        match = re.fullmatch(r"(\d+)(?:(,)(\d*))?", self.src[self.pos + 1:end]) if end > 0 else None
        if match is None:
            raise self.error("malformed repetition")
        lo = int(match.group(1))
        hi = lo if match.group(2) is None else int(match.group(3)) if match.group(3) else -1
        if lo > MAX_REPEAT or hi > MAX_REPEAT or (hi != -1 and hi < lo):
            raise self.error(f"invalid repetition size {{{self.src[self.pos + 1:end]}}}")
        self.pos = end + 1
        return lo, hi, True

    def atom(self) -> Node:
        char = self.src[self.pos]
        if char == "[":
            return self.char_class()
        if char == "\\":
            value = self.escape()
            if isinstance(value, tuple):
                return self.charset(*value)
            return self.charset(((value, value),))
        self.pos += 1
        if char == ".":
            return _ANY
        if char in "^$":
            raise self.error(f"{char!r} is not in the accepted dialect")
        return self.charset(((ord(char), ord(char)),))

    def escape(self) -> object:
        """A code point, or (ranges, negated) for \\d \\D \\s \\S \\w \\W."""
        src = self.src
        if self.pos + 1 >= len(src):
            raise self.error("trailing backslash")
        char = src[self.pos + 1]
        if char in _PERL:
            self.pos += 2
            return _PERL[char]
        if char == "x":
            if src.startswith("{", self.pos + 2):
                end = src.find("}", self.pos + 3)
                digits = src[self.pos + 3:end] if end > 0 else ""
                self.pos = end + 1
            else:
                digits = src[self.pos + 2:self.pos + 4]
                self.pos += 4
                if len(digits) != 2:
                    raise self.error("bad \\x escape")
            if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits) \
                    or int(digits, 16) > MAX_CODE:
                raise self.error("bad \\x escape")
            return int(digits, 16)
        if char.isascii() and not char.isalnum():
            self.pos += 2
            return ord(char)
        raise self.error(f"escape \\{char} is not in the accepted dialect")

    def char_class(self) -> Node:
        src = self.src
        self.pos += 1
        negated = src.startswith("^", self.pos)
        if negated:
            self.pos += 1
        ranges: List[Tuple[int, int]] = []
        first_item = True
        while True:
            if self.pos >= len(src):
                raise self.error("missing ]")
            char = src[self.pos]
            if char == "]" and not first_item:
                self.pos += 1
                break
            first_item = False
            low = self.class_char()
            if isinstance(low, tuple):
                perl, perl_negated = low
                # RE2: a negated Perl class inside [...] is negated after folding.
                group = _fold(perl) if self.fold else perl
                ranges.extend(_negate(group) if perl_negated else group)
                continue
            if src.startswith("-", self.pos) and not src.startswith("-]", self.pos):
                self.pos += 1
                high = self.class_char()
                if isinstance(high, tuple):
                    raise self.error("bad character class range")
                if high < low:
                    raise self.error("bad character class range")
                ranges.append((low, high))
            else:
                ranges.append((low, low))
        return self.charset(tuple(ranges), negated)

    def class_char(self) -> object:
        if self.src[self.pos] == "\\":
            return self.escape()
        self.pos += 1
        return ord(self.src[self.pos - 1])


def _concatenation(items: List[Node]) -> Node:
    return _EMPTY if not items else items[0] if len(items) == 1 else ("cat", items)


def _alternation(branches: List[Node]) -> Node:
    return branches[0] if len(branches) == 1 else ("alt", branches)


def _check_repeat_size(node: Node, parser: _Parser) -> None:
    """RE2's rule: along every path of nested {n,m}, the counts (m, or n when
    unbounded; 0 ignored) multiply to at most MAX_REPEAT."""
    stack = [(node, 1)]
    while stack:
        current, product = stack.pop()
        kind = current[0]
        if kind == "rep":
            if current[4]:
                count = current[3] if current[3] >= 0 else current[2]
                if count > 0:
                    product *= count
                    if product > MAX_REPEAT:
                        raise parser.error("invalid repetition size (nested counts over "
                                           f"{MAX_REPEAT})")
            stack.append((current[1], product))
        elif kind in ("cat", "alt"):
            stack.extend((child, product) for child in current[1])


def parse(source: str, fold: bool = False) -> Node:
    """The tree of `source`; RegexError when it is not in the dialect or too big."""
    return _Parser(source, fold).parse()

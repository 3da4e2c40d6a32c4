"""regex_prefix (index hints for `regex` / `regex~`): every value the compiled
regex matches starts with the prefix (lower-cased value for regex~)."""

from __future__ import annotations

import random

from audisp_eql.engine.index_hints import regex_prefix
from audisp_eql.eql.lucene import compile_regex

PATTERNS = [
    "/var/run/\\w+\\.(pid|lock|reboot)", "/tmp/[a-z]+", "abc|abd", "ab(c|d)e", "abc+",
    "ab{2}c", "ab?c", "ab*", "\"ab\"c", "sk.*", "KS/x", "a[|]b|c", "(a)|b", "x@", "/opt/a.b",
]
ALPHABET = "abcdeksKS/._|\u212a\u017f0x"


def _values(pattern: str, rng: random.Random) -> list:
    """Candidate values: random strings plus mutations of the pattern's own text."""
    plain = pattern.replace("\\", "").replace('"', "")
    out = [plain, plain.upper(), "ab", "abc", "abbc", "abd", "aac", "skx", "\u212as/x", "\u017fk"]
    for _ in range(300):
        size = rng.randint(0, 8)
        out.append("".join(rng.choice(ALPHABET) for _ in range(size)))
        text = list(plain)
        for _ in range(rng.randint(0, 3)):
            if text:
                text[rng.randrange(len(text))] = rng.choice(ALPHABET)
        out.append("".join(text))
    return out


def test_prefix_is_necessary_for_a_match():
    rng = random.Random(5)
    matched = 0
    for pattern in PATTERNS:
        for folded in (False, True):
            prefix = regex_prefix(pattern, folded)
            regex = compile_regex(pattern, folded)
            for value in _values(pattern, rng):
                if regex(value):
                    matched += 1
                    seen = value.lower() if folded else value
                    assert seen.startswith(prefix), (pattern, folded, value, prefix)
    assert matched > 50


def test_prefix_examples():
    assert regex_prefix("/var/run/\\w+\\.(pid|lock)", True) == "/var/run/"
    assert regex_prefix("abc|abd", False) == ""  # top-level alternation
    assert regex_prefix("ab(c|d)", False) == "ab"
    assert regex_prefix("abc+", False) == "ab"  # the quantifier takes its character back
    assert regex_prefix("/usr/sbin/x", True) == "/u"  # RE2 folds s to U+017F
    assert regex_prefix("/usr/sbin/x", False) == "/usr/sbin/x"

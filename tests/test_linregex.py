"""The built-in regex automaton (linregex.py, used when google-re2 does not import)
gives RE2's answers: on every regex of the corpus and our rules, on generated
patterns and values, on case folding of every cased character, and refuses
what RE2 refuses for size. Its linear bound is in test_regex_linear.py."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Iterator

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audisp_eql import limits
from audisp_eql.eql import EqlError, compile_query, linregex, linregex_syntax, lucene, parse_query
from audisp_eql.eql import ast as eql_ast

from conftest import CORPUS, ROOT

try:
    import tomllib
except ImportError:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib  # type: ignore[no-redef]


def re2_matcher(pattern: str, insensitive: bool):
    """lucene.py's RE2 path, whichever engine the module picked."""
    options = re2.Options()
    options.max_mem = 8 << 20
    compiled = re2.compile(("(?is)" if insensitive else "(?s)") + lucene.translate(pattern),
                           options)

    def match(value: str) -> bool:
        try:
            return compiled.fullmatch(value) is not None
        except UnicodeEncodeError:
            return compiled.fullmatch(value.encode("utf-8", "backslashreplace").decode()) \
                is not None
    return match


def builtin_matcher(pattern: str, insensitive: bool):
    return linregex.Regex(lucene.translate(pattern), insensitive).fullmatch


def _walk(node: object) -> Iterator[object]:
    yield node
    if dataclasses.is_dataclass(node):
        for field in dataclasses.fields(node):
            yield from _walk(getattr(node, field.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _walk(item)


def rule_regexes() -> list[tuple[str, bool]]:
    found = set()
    for path in sorted(CORPUS.rglob("*.toml")) + sorted((ROOT / "rules").glob("*.toml")):
        rule = tomllib.loads(path.read_text()).get("rule", {})
        if rule.get("language") != "eql" or not rule.get("query"):
            continue
        for node in _walk(parse_query(rule["query"])):
            if isinstance(node, eql_ast.Match) and node.kind == "regex":
                found.update((p, node.insensitive) for p in node.patterns)
    return sorted(found)


def _values_for(pattern: str, rng: random.Random) -> list[str]:
    """Values near the pattern: its own text, mutated, and strings that look like
    what the corpus regexes are about (addresses, URLs, ports, paths, options)."""
    plain = pattern.replace("\\", "").replace('"', "")
    samples = ["10.0.0.1", "http://10.1.2.3:8080/x", "ex-ample.com:443/path", "a.b/c d",
               "/var/run/x.pid", "/var/run/ab_c.LOCK", "php7.4", "PHP8", "php", "-S", "-rf",
               "-lR", "-zxvf", "-u", "4095", "2000", "1.2.3.4:80:5.6.7.8:443", "/tmp/x y",
               ".hidden", ".a", "", " ", "\u212a", "\u017f", "\n", "4755", "06777", "/tmp/ab\t",
               "curl -s http://x/i | sudo -E bash", "wget -qO- x |sh", "cat f|python3.11 -",
               "echo aGk= | base64 -d | /usr/bin/bash", "base64 --decode f |perl"]
    out = [plain, plain.upper(), plain.lower()] + samples
    alphabet = sorted(set(plain + "".join(samples)))
    for _ in range(150):
        text = list(rng.choice(out[:3] + samples))
        for _ in range(rng.randint(0, 3)):
            where = rng.randrange(len(text) + 1)
            action = rng.random()
            if action < 0.4 and text:
                text[min(where, len(text) - 1)] = rng.choice(alphabet)
            elif action < 0.7:
                text.insert(where, rng.choice(alphabet))
            elif text:
                del text[min(where, len(text) - 1)]
        out.append("".join(text))
    return out


def test_every_rule_regex_gives_re2_answers() -> None:
    regexes = rule_regexes()
    assert len(regexes) >= 10, "the corpus has regex rules: this test lost its way"
    rng = random.Random(14)
    for pattern, insensitive in regexes:
        ours, theirs = builtin_matcher(pattern, insensitive), re2_matcher(pattern, insensitive)
        answers = set()
        for value in _values_for(pattern, rng):
            expected = theirs(value)
            assert ours(value) == expected, (pattern, insensitive, value)
            answers.add(expected)
        assert answers == {True, False}, (pattern, "needs values that match and that do not")


# -- generated patterns -----------------------------------------------------
# A small alphabet with the characters where folding and classes differ:
# K/k/U+212A, s/S/U+017F, sharp s and capital sharp s, sigma, Turkish i.
ALPHABET = "aAbkKsS\u212a\u017f\u00df\u1e9e\u03c3\u03c2\u03a3\u0131\u0130_1 -.\n"
ATOMS = ["a", "b", "k", "K", "s", "S", "\u212a", "\u017f", "\u00df", "\u03c3", "\u0131", "1",
         "_", ".", "@", "#", "\\.", "\\-", "\\ ", "\\d", "\\D", "\\s", "\\S", "\\w", "\\W",
         '"a."', '"kS"', "<1-12>", "<0-3>"]
CLASSES = ["[a-k]", "[^a-k]", "[ks]", "[^ks]", "[\\w]", "[^\\w]", "[\\W]", "[A-Z_]", "[^\\d\\s]",
           "[\u00df-\u00e0]", "[\\-.]", "[^.]", "[a\\]]"]


def _lucene_patterns() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(ATOMS + CLASSES)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        quantifier = st.sampled_from(["*", "+", "?", "{2}", "{0,2}", "{1,}", "{2,3}"])
        return st.one_of(
            st.lists(inner, min_size=2, max_size=4).map("".join),
            st.lists(inner, min_size=2, max_size=3).map("|".join),
            inner.map(lambda p: f"({p})"),
            st.tuples(inner.map(lambda p: f"({p})"), quantifier).map("".join),
            st.tuples(leaf, quantifier).map("".join))
    return st.recursive(leaf, extend, max_leaves=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=_lucene_patterns(), insensitive=st.booleans(),
       values=st.lists(st.text(alphabet=ALPHABET, max_size=8), min_size=1, max_size=12))
def test_generated_patterns_give_re2_answers(pattern: str, insensitive: bool,
                                             values: list[str]) -> None:
    try:
        theirs = re2_matcher(pattern, insensitive)
    except (EqlError, re2.error):
        with pytest.raises((EqlError, linregex.RegexError)):
            builtin_matcher(pattern, insensitive)
        return
    ours = builtin_matcher(pattern, insensitive)
    for value in values:
        assert ours(value) == theirs(value), (pattern, insensitive, value)


def test_generated_patterns_match_often_enough() -> None:
    """The property above is not vacuous: with these alphabets, matches happen."""
    rng = random.Random(3)
    hits = tries = 0
    for _ in range(300):
        pattern = "".join(rng.choice(ATOMS + CLASSES) for _ in range(rng.randint(1, 2)))
        ours = builtin_matcher(pattern, rng.random() < 0.5)
        for _ in range(20):
            tries += 1
            hits += ours("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 2))))
    assert 0.02 < hits / tries < 0.9


def test_case_folding_agrees_with_re2_on_every_cased_character() -> None:
    cased, orbit = linregex.fold_orbits()
    assert len(cased) > 2000
    # Every character of the categories that have case (letters, letter-like
    # numbers and symbols such as U+2160 and U+24B6, the combining iota U+0345).
    categories = {"Lu", "Ll", "Lt", "Lm", "Mn", "Nl", "So"}
    universe = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
                       and unicodedata.category(chr(cp)) in categories)
    differences = []
    for cp in cased:
        theirs = {ord(c) for c in re2.compile("(?i)\\x{%x}" % cp).findall(universe)}
        if theirs != set(orbit[cp]):
            differences.append((hex(cp), sorted(map(hex, orbit[cp])), sorted(map(hex, theirs))))
    assert differences == []
    # and RE2 folds nothing our table leaves alone
    lone = [c for c in universe if ord(c) not in orbit]
    folding = re2.compile("(?i)[" + "".join("\\x{%x}" % ord(c) for c in lone) + "]")
    assert all(folding.fullmatch(c) is None for c in map(chr, cased))


def test_no_character_above_the_scanned_range_has_case() -> None:
    end = linregex_syntax._FOLD_SCAN_END
    assert [hex(cp) for cp in range(end, 0x110000)
            if chr(cp).lower() != chr(cp) or chr(cp).upper() != chr(cp)
            or chr(cp).casefold() != chr(cp)] == []


@pytest.mark.parametrize("pattern", [
    "((a{100}){100}){100}", "a{1001}", "(a{2}){501}", "(a{0,2}){501}", "(a{10}){101}",
    "[z-a]"])
def test_what_re2_refuses_for_size_is_refused(pattern: str) -> None:
    with pytest.raises(EqlError):
        compile_query(parse_query(f'process where process.name regex "{pattern}"'))
    with pytest.raises(linregex.RegexError):
        builtin_matcher(pattern, False)


@pytest.mark.parametrize("pattern", ["a{1000}", "(a{2}){500}", "(a{2,}){500}", "(a{10}){100}",
                                     "(a{1000,})*", "<0-9999>"])
def test_what_re2_accepts_at_the_limits_is_accepted(pattern: str) -> None:
    assert re2_matcher(pattern, False)
    ours = builtin_matcher(pattern, False)
    assert ours("a" * 1000) == re2_matcher(pattern, False)("a" * 1000)


def test_deep_nesting_compiles_without_recursion() -> None:
    """lucene.py's translator stops near 250 levels; the automaton takes RE2's 1000."""
    source = "(?:" * 1000 + "a" + ")*" * 1000
    regex = linregex.Regex(source)
    assert regex.fullmatch("aaaa") and not regex.fullmatch("aaab")
    with pytest.raises(linregex.RegexError, match="nested"):
        linregex.Regex("(?:" * 1001 + "a" + ")" * 1001)


def test_automaton_size_is_bounded() -> None:
    # 1,000,000 characters: RE2 at 8 MiB refuses it ("pattern too large").
    with pytest.raises(re2.error):
        re2_matcher('("abcdefghij"){1000}' * 100, False)
    # The built-in automaton stops at limits.REGEX_MAX_STATES (200,000: about
    # 5 MB here, where RE2 takes about 800,000 instructions in its 8 MiB).
    assert limits.REGEX_MAX_STATES == 200_000
    with pytest.raises(linregex.RegexError, match="too large"):
        builtin_matcher('("abcdefghij"){1000}' * 21, False)
    # read when a pattern is compiled: a lowered bound applies to the next one
    with limits.lowered(REGEX_MAX_STATES=1000):
        with pytest.raises(linregex.RegexError, match="over 1000 automaton states"):
            builtin_matcher('("abcdefghij"){100}', False)
        assert builtin_matcher('("abcdefghij"){90}', False)("abcdefghij" * 90)


def test_lone_surrogates_are_matched_as_re2_sees_them() -> None:
    for pattern in ("a.b", "a.*", ".{6}", "a\\\\udc80b", "\\W+"):
        for value in ("a\udc80b", "\udc80", "a\ud800\udc80"):
            assert builtin_matcher(pattern, False)(value) == re2_matcher(pattern, False)(value)


def test_small_cache_budget_gives_the_same_answers() -> None:
    """Dropping the DFA cache (budget used up) changes the work, not the answers."""
    rng = random.Random(9)
    for pattern in (".*[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}.*", "(a|ab|abc)*c",
                    "[a-k]+s?(k|K)*"):
        source = lucene.translate(pattern)
        full, tiny, none = (linregex.Regex(source, True, budget)
                            for budget in (limits.REGEX_DFA_CACHE, 40, 0))
        for _ in range(300):
            value = "".join(rng.choice("abcksK.0123\u212a") for _ in range(rng.randint(0, 30)))
            assert full.fullmatch(value) == tiny.fullmatch(value) == none.fullmatch(value)


# -- the whole program without google-re2 -------------------------------------

_WITHOUT_RE2 = ("import sys; sys.modules['re2'] = None; "   # `import re2` raises ImportError
                "from audisp_eql.cli import main; sys.exit(main())")


def _run(argv: list[str], without_re2: bool) -> subprocess.CompletedProcess:
    prefix = [sys.executable, "-c", _WITHOUT_RE2] if without_re2 else \
        [sys.executable, "-m", "audisp_eql.cli"]
    return subprocess.run(prefix + argv, capture_output=True, text=True, timeout=300)


def _alerts(stdout: str) -> list[str]:
    out = []
    for line in stdout.splitlines():
        alert = json.loads(line)
        alert.pop("@timestamp", None)
        alert["event"].pop("created", None)
        out.append(json.dumps(alert, sort_keys=True))
    return sorted(out)


def test_scan_without_re2_gives_the_same_alerts(shared: Path) -> None:
    logs = sorted(str(p) for p in (ROOT / "tests/data/rules").glob("*.log"))
    argv = ["scan", "--format", "json", "--rules", str(CORPUS), "--rules", str(ROOT / "rules"),
            *logs, str(ROOT / "examples/intrusion.log")]
    with_re2, without = _run(argv, False), _run(argv, True)
    # 1: the scans ran and alerted
    assert with_re2.returncode == 1 and without.returncode == 1, without.stderr[-2000:]
    expected = _alerts(with_re2.stdout)
    assert len(expected) > 50
    assert _alerts(without.stdout) == expected
    # our pack's three regex rules fired (their hit logs are among the inputs)
    fired = {json.loads(a)["rule"]["name"] for a in expected}
    regex_rules = {tomllib.loads(p.read_text())["rule"]["name"]
                   for p in (ROOT / "rules").glob("*.toml") if " regex" in p.read_text()}
    assert len(regex_rules) >= 3 and regex_rules <= fired


def test_check_says_which_engine_runs() -> None:
    argv = ["check", "--rules", str(ROOT / "rules")]
    with_re2, without = _run(argv, False), _run(argv, True)
    assert with_re2.returncode == 0 and without.returncode == 0, without.stderr
    assert with_re2.stdout.splitlines()[-1].endswith("; regular expressions: RE2 (google-re2)")
    assert without.stdout.splitlines()[-1].endswith(
        "; regular expressions: built-in linear-time automaton (google-re2 is not installed)")

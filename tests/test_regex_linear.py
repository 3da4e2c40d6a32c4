"""No rule pattern and no event string can make matching super-linear.

tests/eql/ already runs a 1 MB argument through the corpus and prints the time.
Here linearity is proven by construction and by operation counts, not by a clock:

* every Python `re` pattern the EQL compiler builds from rule text (wildcard
  segments with `?`) is quantifier-free: no repeat, branch, group reference or
  lookaround, so one search costs at most len(value) * len(segment);
* EQL `regex` / Lucene regexps are compiled by RE2 (automaton, linear time);
  without google-re2, by linregex.py, whose work (NFA states visited, counted)
  is at most 2 x (len(value) + 1) x states, in the cache-free simulation and with
  the DFA cache; the literal-set search without RE2 (Aho-Corasick) makes at
  most 2 x len(value) transitions (counted);
* the wildcard matcher makes at most one scan per `*`-segment of a pattern,
  counted on a str subclass that records every find/startswith/endswith;
* the whole corpus against adversarial 1 MB values, each rule under a SIGALRM
  watchdog of 5 s. That bound is not a speed test: linear matching of 1 MB
  takes milliseconds, a backtracking blow-up takes hours; 5 s is more than
  1000x the expected cost, so load on a CI machine cannot make it flake.
"""

from __future__ import annotations

import re
import signal
from typing import Any, Iterator

import pytest

from conftest import CORPUS

try:
    import tomllib
except ImportError:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib  # type: ignore[no-redef]

from audisp_eql import limits
from audisp_eql.engine import literalset
from audisp_eql.eql import EqlUnsupported, compile_query, linregex, lucene, parse_query
from audisp_eql.eql import wildcard

try:  # Python 3.11 moved sre_parse
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re import _constants as sre_constants  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

LINEAR_OPCODES = {sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.ANY,
                  sre_constants.IN, sre_constants.AT}
ADVERSARIAL_PATTERNS = ["*a*a*a*a*a*b", "*a?a*a?a*a*?b*", "a*a*a*a*a*a*a*a*a*a*c",
                        "*??????????????????????b", "?*?*?*?*?*?*?*b", "*aaaaaaaaaaaaaaaaaaab*"]
MB = 1 << 20


def corpus_queries() -> Iterator[tuple[str, str]]:
    for path in sorted(CORPUS.rglob("*.toml")):
        rule = tomllib.loads(path.read_text()).get("rule", {})
        if rule.get("language") == "eql" and rule.get("query"):
            yield path.name, rule["query"]


def compile_all(queries: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    compiled = []
    for name, text in queries:
        try:
            compiled.append((name, compile_query(parse_query(text))))
        except EqlUnsupported:
            pass   # sequences: parsed, not evaluated
    return compiled


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    queries = list(corpus_queries())
    assert len(queries) > 300, f"corpus not found at {CORPUS}"
    return queries


def test_python_regexes_built_from_rules_are_quantifier_free(
        corpus: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real_compile = re.compile

    def recording_compile(pattern: Any, flags: int = 0) -> Any:
        built.append(pattern)
        return real_compile(pattern, flags)

    # Only the wildcard module's view of `re` is wrapped; compilation is real.
    monkeypatch.setattr(wildcard, "re", type("re", (), {
        "compile": staticmethod(recording_compile), "escape": staticmethod(re.escape),
        "S": re.S, "Pattern": re.Pattern}))
    extra = [("adversarial", f'process where process.args like "{p}"') for p in ADVERSARIAL_PATTERNS]
    compile_all(corpus + extra)
    assert built, "no wildcard with ? compiled: the corpus has some, so this test lost its way"
    for pattern in built:
        ops = {op for op, _arg in sre_parse.parse(pattern)}
        assert ops <= LINEAR_OPCODES, f"regex {pattern!r} from rule text uses {ops - LINEAR_OPCODES}"


def test_eql_regex_is_compiled_by_re2() -> None:
    import re2
    from audisp_eql.eql import lucene
    assert lucene.re2 is re2
    # Python's re would need ~2^n steps here; RE2 answers on 1 MB at once.
    doc = {"process": {"name": "a" * MB, "args": ["a" * MB]}}
    for query in ('process where process.name regex "(a|aa)*b"',
                  'process where process.name regex~ "(a*)*b"',
                  'process where process.args regex "(.*a){20}b"'):
        compiled = compile_query(parse_query(query))
        assert compiled.predicate(doc) is False


def test_eql_regex_without_re2_is_linear_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lucene, "re2", None)   # as when google-re2 does not import
    doc = {"process": {"name": "a" * MB, "args": ["a" * MB]}}
    for query in ('process where process.name regex "(a|aa)*b"',
                  'process where process.name regex~ "(a*)*b"',
                  'process where process.args regex "(.*a){20}b"'):
        compiled = compile_query(parse_query(query))
        assert compiled.predicate(doc) is False


BUILTIN_CASES = [("(a|aa)*b", "a"), ("(a*)*b", "a"), ("(.*a){20}b", "a"), ("(x+x+)+y", "x"),
                 ("(a|ab|abc)*(c|b)d", "ab"), (".*[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}z", "1.2."),
                 ("([a-z]+[0-9]*)+[A-Z]", "ab1")]


@pytest.mark.parametrize("pattern,filler", BUILTIN_CASES)
@pytest.mark.parametrize("budget", [0, limits.REGEX_DFA_CACHE], ids=["no-cache", "cache"])
def test_builtin_regex_work_is_linear(pattern: str, filler: str, budget: int) -> None:
    """Backtracking needs exponential steps on these; per character the automaton
    tests each state of the current set once and follows each split once."""
    regex = linregex.Regex(lucene.translate(pattern), insensitive=False, cache_budget=budget)
    work = {}
    for size in (1_000, 4_000, 16_000):
        value = (filler * size)[:size]
        regex.work = 0
        assert regex.fullmatch(value) is False
        work[size] = regex.work
        assert regex.work <= 2 * (size + 1) * regex.states, (pattern, size, regex.work, regex.states)
    if budget == 0:
        # every character costs the simulation again: work grows with the value, no faster
        assert work[16_000] <= 4.5 * work[4_000] and work[4_000] <= 4.5 * work[1_000], work
        assert work[1_000] >= 1_000, work   # the counter counts
    else:
        # states met once are cached: the longer values cost (almost) no new work
        assert work[16_000] <= work[1_000] + 2 * regex.states, work


class CountingDict(dict):
    """A trie node that counts the transitions looked up in it."""

    lookups = 0

    def get(self, *args: Any) -> Any:  # type: ignore[override]
        CountingDict.lookups += 1
        return super().get(*args)


@pytest.mark.parametrize("filler", ["a", "ab", "aab"])
def test_builtin_literal_search_is_linear(filler: str) -> None:
    texts = ["a" * k + "b" for k in range(1, 40)] + ["b" + "a" * k for k in range(1, 40)]
    literals = [(kind, text) for text in texts
                for kind in (literalset.PREFIX, literalset.SUFFIX, literalset.CONTAINS)]
    automaton = literalset.Automaton(literals)
    for trie in (automaton.prefixes, automaton.suffixes, automaton.contained):
        trie.goto = [CountingDict(node) for node in trie.goto]
    for size in (1_000, 10_000, 100_000):
        value = (filler * size)[:size]
        CountingDict.lookups = 0
        found = automaton.search(value)
        # prefix and suffix walks: one step per character at most each;
        # contained texts: a step per character plus failure steps, never more in all.
        assert CountingDict.lookups <= 4 * size + 3, (filler, size, CountingDict.lookups)
        assert CountingDict.lookups >= size   # the counter counts
        assert sorted(found) == [i for i, (kind, text) in enumerate(literals)
                                 if (value.startswith(text) if kind == literalset.PREFIX else
                                     value.endswith(text) if kind == literalset.SUFFIX else
                                     text in value)]


class CountingStr(str):
    """A str that counts the scans the wildcard matcher makes over it."""

    scans = 0

    def find(self, *args: Any) -> int:  # type: ignore[override]
        CountingStr.scans += 1
        return super().find(*args)

    def startswith(self, *args: Any) -> bool:  # type: ignore[override]
        CountingStr.scans += 1
        return super().startswith(*args)

    def endswith(self, *args: Any) -> bool:  # type: ignore[override]
        CountingStr.scans += 1
        return super().endswith(*args)


@pytest.mark.parametrize("pattern", ADVERSARIAL_PATTERNS)
@pytest.mark.parametrize("size", [1_000, 100_000, MB])
def test_wildcard_scans_at_most_once_per_segment(pattern: str, size: int) -> None:
    matcher = wildcard.compile_patterns([pattern], insensitive=False)
    segments = pattern.count("*") + 1
    for filler in ("a", "ab", "a?"):
        value = CountingStr((filler * size)[:size])
        CountingStr.scans = 0
        matcher(value)
        # Independent of `size`: no rescans, so the work is segments x len(value).
        assert CountingStr.scans <= segments + 2, (pattern, filler, CountingStr.scans)


class Watchdog(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise Watchdog()


def test_corpus_against_adversarial_megabyte_values(corpus: list[tuple[str, str]]) -> None:
    compiled = compile_all(corpus)
    values = ["a" * MB, ("a/" * MB)[:MB], ("-" + "a" * 63) * (MB // 64)]
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for value in values:
            doc = {"event": {"category": ["process"], "type": ["start"], "action": "exec"},
                   "host": {"os": {"type": "linux"}},
                   "process": {"name": value[:4096], "executable": value, "args": ["sh", "-c", value],
                               "command_line": value, "working_directory": value,
                               "parent": {"name": value[:4096], "executable": value,
                                          "command_line": value, "args": [value]}},
                   "user": {"name": value[:256]}}
            for name, query in compiled:
                signal.setitimer(signal.ITIMER_REAL, 5.0)
                try:
                    result = query.predicate(doc)
                except Watchdog:
                    pytest.fail(f"{name}: matching a 1 MB value took over 5 s (super-linear)")
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                assert isinstance(result, bool)
    finally:
        signal.signal(signal.SIGALRM, previous)

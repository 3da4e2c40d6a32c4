"""Detection rules as users have them: elastic/detection-rules TOML files.

`load_rules(paths)` reads files and directories (recursively), compiles every
EQL rule it can, and gives back a `RuleSet`: the rules to run plus one
`RuleReport` per rule file entry, so that `check` can say what was loaded,
what was skipped and why. One bad file never stops the others from loading,
whatever is in it: every error becomes that file's report.

Loading is linear in the rule text and bounded (limits.py: file size, query
length, terms, list values), with an error naming the bound; rule_files.py
finds and reads the files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

from . import limits
from .rule_files import RuleFileError, iter_rule_files, read_toml

OK = "ok"
UNSUPPORTED = "unsupported"
INVALID = "invalid"
CANNOT_FIRE = "cannot_fire"
STATUSES = (OK, UNSUPPORTED, INVALID, CANNOT_FIRE)

# Rule types that carry a single EQL query we can evaluate per event.
_EQL_TYPES = {"eql"}


@dataclass(eq=False)
class Rule:
    """One loaded detection rule. Identity (not value) equality: rules are dict keys."""

    rule_id: str
    name: str
    path: Path
    query: str
    description: str = ""
    severity: str = "low"
    risk_score: int = 0
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
    index: tuple[str, ...] = ()
    threat: tuple[dict[str, Any], ...] = ()
    maturity: str = "production"
    integration: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    license: str = ""
    # Where the query text starts in the TOML file (1-based), to turn a
    # position inside the query into a position in the file.
    query_line: int = 1
    query_col: int = 1
    compiled: Any = None  # audisp_eql.eql.CompiledQuery once compiled
    # Seconds Kibana looks back on each run (`from = "now-9m"`): bounds the
    # state of sequences without maxspan and of samples on a stream.
    lookback: float = 360.0
    # Why no document audisp-eql builds can match it (check's cannot_fire), if so.
    never_fires: tuple[str, ...] = ()

    def has_tag(self, wanted: str) -> bool:
        """True when any tag contains `wanted`, case-insensitively ("compliance")."""
        needle = wanted.casefold()
        return any(needle in tag.casefold() for tag in self.tags)


@dataclass
class RuleReport:
    """What happened to one rule (or one unreadable file) during loading."""

    path: Path
    rule_id: str | None
    name: str | None
    status: str
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "rule_id": self.rule_id, "name": self.name,
                "status": self.status, "reason": self.reason}


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    reports: list[RuleReport] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for report in self.reports:
            counts[report.status] = counts.get(report.status, 0) + 1
        return counts

    @property
    def invalid(self) -> list[RuleReport]:
        return [r for r in self.reports if r.status == INVALID]

    def select_tags(self, wanted: Sequence[str]) -> "RuleSet":
        """The rules that carry any of the `wanted` tags (substring, case-insensitive)."""
        chosen = [r for r in self.rules if any(r.has_tag(t) for t in wanted)]
        return RuleSet(rules=chosen, reports=self.reports)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


# `query = ` and its opening delimiter; group 2 is set when a multi-line
# delimiter ends the line (TOML then drops that first newline).
_QUERY_OPENING = re.compile(r"""^[ \t]*query[ \t]*=[ \t]*('''|"{3}|'|")(\r?\n)?""", re.MULTILINE)


def _locate_query(text: str, query: str) -> tuple[int, int]:
    """Line and column in `text` where the query's first character is.

    The query is usually a literal '''...''' string, so its text appears
    verbatim; otherwise (escapes) fall back to where the string opens: the
    line after a multi-line delimiter that ends its line, else just after
    the opening quote on the `query =` line.
    """
    offset = text.find(query) if query else -1
    if offset < 0:
        match = _QUERY_OPENING.search(text)
        if match is None:
            return 1, 1
        line = text.count("\n", 0, match.start()) + 1
        if match.group(2) is not None:
            return line + 1, 1
        return line, match.end() - match.start() + 1
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


# `[rule]` or `key =` at the start of a line (no \s: it spans newlines, and a
# pattern starting with it was quadratic on blank lines).
_TABLE_LINE = re.compile(r"^[ \t]*(?:(\[rule\])|([A-Za-z_]+)[ \t]*=)", re.MULTILINE)


def _line_of(text: str, name: str) -> int | None:
    """Line of `[rule]` (name "[rule]") or of the first `name =`."""
    for match in _TABLE_LINE.finditer(text):
        if (match.group(1) or match.group(2)) == name:
            return text.count("\n", 0, match.start()) + 1
    return None


SEVERITIES = ("low", "medium", "high", "critical")


def _threat(entries: Any) -> tuple[dict[str, Any], ...]:
    """Keep the [[rule.threat]] tables as plain dicts, dropping malformed entries."""
    if not isinstance(entries, list):
        return ()
    return tuple(e for e in entries if isinstance(e, dict))


_LOOKBACK = re.compile(r"now-(\d{1,9})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _lookback(value: Any, text: str) -> float:
    """`from = "now-9m"` as seconds (absent: Kibana's default, now-6m)."""
    if value is None:
        return 360.0
    found = _LOOKBACK.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise RuleFileError(f"from is not a look-back like \"now-9m\": {value!r}",
                            _line_of(text, r"^\s*from\s*="))
    return float(int(found[1]) * _UNIT_SECONDS[found[2]])


def parse_rule(path: Path, text: str, doc: dict[str, Any]) -> Rule:
    """Turn one decoded TOML document into a `Rule` (not compiled yet)."""
    rule = doc.get("rule")
    if not isinstance(rule, dict):
        raise RuleFileError("no [rule] table", None)
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    rule_line = _line_of(text, "[rule]")
    for key in ("rule_id", "name"):
        if not isinstance(rule.get(key), str) or not rule[key].strip():
            raise RuleFileError(f"[rule] has no {key}", rule_line)
    query = rule.get("query")
    query_text = query if isinstance(query, str) else ""
    line, col = _locate_query(text, query_text)
    severity = rule.get("severity", "low")
    if not isinstance(severity, str) or severity.lower() not in SEVERITIES:
        raise RuleFileError(f"severity must be one of {', '.join(SEVERITIES)}, "
                            f"not {_shown(severity)}", _line_of(text, "severity"))
    return Rule(
        rule_id=rule["rule_id"].strip(), name=rule["name"].strip(), path=path,
        query=query_text, description=str(rule.get("description", "")).strip(),
        severity=severity.lower(), risk_score=_risk_score(rule.get("risk_score", 0), text),
        tags=_as_tuple(rule.get("tags")), references=_as_tuple(rule.get("references")),
        false_positives=_as_tuple(rule.get("false_positives")),
        index=_as_tuple(rule.get("index")), threat=_threat(rule.get("threat")),
        maturity=str(meta.get("maturity", "production")),
        integration=_as_tuple(meta.get("integration")), author=_as_tuple(rule.get("author")),
        license=str(rule.get("license", "")), query_line=line, query_col=col,
        lookback=_lookback(rule.get("from"), text),
    )


def _shown(value: Any) -> str:
    """A value from a rule file for an error message (short)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _risk_score(value: Any, text: str) -> int:
    """Elastic's risk_score: an integer from 0 to 100 (47, 47.0 or "47")."""
    number: Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        number = int(value)
    if number is None or not math.isfinite(number) or number != int(number) \
            or not 0 <= number <= 100:
        raise RuleFileError(f"risk_score must be an integer from 0 to 100, not {_shown(value)}",
                            _line_of(text, "risk_score"))
    return int(number)


def query_size_problem(query: Any) -> Optional[str]:
    """Why a parsed query is over the rule size bounds (limits.py), or None."""
    from .eql import ast

    roots: list[Any] = []
    if isinstance(query, ast.EventQuery):
        roots.append(query.condition)
    else:
        for step in (*query.steps, *((query.until,) if getattr(query, "until", None) else ())):
            roots += [step.event.condition, *step.by]
        roots += list(query.by)
    terms = 0
    for root in roots:
        for node in ast.walk(root):
            terms += 1
            values = node.values if isinstance(node, ast.InSet) else \
                node.patterns if isinstance(node, ast.Match) else ()
            if len(values) > limits.MAX_LIST_VALUES:
                return (f"a list of {len(values)} values; at most {limits.MAX_LIST_VALUES} "
                        "(limits.MAX_LIST_VALUES)")
    if terms > limits.MAX_QUERY_TERMS:
        return f"{terms} terms; at most {limits.MAX_QUERY_TERMS} (limits.MAX_QUERY_TERMS)"
    return None


def _unsupported_reason(doc: dict[str, Any], rule: Rule, include_non_production: bool) -> str | None:
    """Why a well-formed rule is not run, or None when it is an EQL rule to compile."""
    body = doc["rule"]
    rule_type = str(body.get("type", "eql"))
    language = str(body.get("language", "eql"))
    if rule_type not in _EQL_TYPES or language != "eql":
        kind = rule_type if rule_type not in _EQL_TYPES else language
        return f"rule type {kind} is not EQL"
    if not rule.query.strip():
        return None  # reported as invalid by the compiler step
    if not include_non_production and rule.maturity != "production":
        return f"maturity {rule.maturity} (load with --include-non-production)"
    if not include_non_production and "_deprecated" in rule.path.parts:
        return "deprecated (load with --include-non-production)"
    return None


def compile_rule(rule: Rule) -> tuple[str, str]:
    """Parse, compile and assess `rule.query`; sets `rule.compiled` when it can run."""
    from . import coverage
    from .ecs import catalog
    from .eql import (EqlError, EqlSyntaxError, EqlUnsupported, compile_query,
                      parse_query)

    if not rule.query.strip():
        return INVALID, f"{rule.path}:{rule.query_line}: [rule] has no query"
    if len(rule.query) > limits.MAX_QUERY_CHARS:
        return INVALID, (f"{rule.path}:{rule.query_line}: query of {len(rule.query)} characters; "
                         f"at most {limits.MAX_QUERY_CHARS} (limits.MAX_QUERY_CHARS)")
    try:
        query = parse_query(rule.query)
    except EqlSyntaxError as err:
        return INVALID, f"{rule.path}:{_in_file(rule, err.line, err.col)}: {err.message}"
    except Exception as err:  # noqa: BLE001 - a parser bug must not stop loading
        return INVALID, f"{rule.path}:{rule.query_line}: cannot parse: {type(err).__name__}: {err}"
    too_big = query_size_problem(query)
    if too_big is not None:
        return INVALID, f"{rule.path}:{rule.query_line}: query too large: {too_big}"
    try:
        rule.compiled = compile_query(query)
    except EqlUnsupported as err:
        return UNSUPPORTED, str(err)
    except EqlError as err:
        return INVALID, f"{rule.path}:{rule.query_line}: {err}"
    except Exception as err:  # noqa: BLE001
        return INVALID, f"{rule.path}:{rule.query_line}: cannot compile: {type(err).__name__}: {err}"
    reasons = coverage.never_fires(query, catalog(), compile_query, rule.query)
    if reasons:
        rule.never_fires = tuple(r.message for r in reasons)
        return CANNOT_FIRE, "; ".join(_at_offset(rule, r.offset, r.message) for r in reasons)
    return OK, ""


def _in_file(rule: Rule, line: int, col: int) -> str:
    """A line and column of the query as `line:col` of the rule file."""
    return f"{rule.query_line + line - 1}:{col + (rule.query_col - 1 if line == 1 else 0)}"


def _at_offset(rule: Rule, offset: int | None, message: str) -> str:
    if offset is None:
        return f"{rule.path}:{rule.query_line}: {message}"
    line = rule.query.count("\n", 0, offset) + 1
    col = offset - (rule.query.rfind("\n", 0, offset) + 1) + 1
    return f"{rule.path}:{_in_file(rule, line, col)}: {message}"


def load_rules(paths: Iterable[str | Path], *, include_non_production: bool = False) -> RuleSet:
    """Load every rule under `paths`; errors become reports, never exceptions."""
    ruleset = RuleSet()
    for _report in iter_load(paths, ruleset, include_non_production=include_non_production):
        pass
    return ruleset


def iter_load(paths: Iterable[str | Path], ruleset: RuleSet, *,
              include_non_production: bool = False) -> Iterator[RuleReport]:
    """`load_rules` one file at a time, into `ruleset`: each step yields that
    file's report (the plugin reloads in steps between reads of its input)."""
    loaded: dict[str, Path] = {}      # rule_id -> the file it was loaded from
    for path, searched, problem in iter_rule_files(paths):
        try:
            report = _load_one(path, searched, problem, ruleset, loaded, include_non_production)
        except Exception as err:  # noqa: BLE001 - whatever a rule file holds, it is one report
            report = RuleReport(path, None, None, INVALID,
                                f"{path}: cannot load: {type(err).__name__}: {err}")
        ruleset.reports.append(report)
        yield report


def _load_one(path: Path, searched: bool, problem: Optional[str], ruleset: RuleSet,
              loaded: dict[str, Path], include_non_production: bool) -> RuleReport:
    if problem is not None:
        return RuleReport(path, None, None, INVALID, f"{path}: not loaded: {problem}")
    if path.is_dir():
        return RuleReport(path, None, None, INVALID,
                          f"{path}: no rule files (*.toml) in this directory")
    try:
        text, doc = read_toml(path)
        if searched and not isinstance(doc.get("rule"), dict) and "metadata" not in doc:
            # A checkout of detection-rules also holds pyproject.toml, hunting
            # queries, settings...: found while searching, they are not rules.
            return RuleReport(path, None, None, UNSUPPORTED,
                              "not a detection rule file (no [rule] table)")
        rule = parse_rule(path, text, doc)
    except RuleFileError as err:
        where = f"{path}:{err.line}" if err.line else str(path)
        return RuleReport(path, None, None, INVALID, f"{where}: {err}")
    if rule.rule_id in loaded:
        # Only a rule that loaded holds its id: an invalid or skipped one with
        # the same id never keeps a good one out.
        return RuleReport(path, rule.rule_id, rule.name, INVALID,
                          f"{path}: duplicate rule_id {rule.rule_id}, first loaded from "
                          f"{loaded[rule.rule_id]}")
    skipped = _unsupported_reason(doc, rule, include_non_production)
    if skipped is not None:
        return RuleReport(path, rule.rule_id, rule.name, UNSUPPORTED, skipped)
    status, reason = compile_rule(rule)
    if status in (OK, CANNOT_FIRE):
        ruleset.rules.append(rule)
        loaded[rule.rule_id] = path
    return RuleReport(path, rule.rule_id, rule.name, status, reason)

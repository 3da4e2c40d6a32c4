"""`audisp-eql check`: is every rule usable, which exceptions attach to it,
and which of those can never match?

One line per rule (`ok`, `unsupported`, `invalid`, `cannot_fire`,
`disabled`), the exceptions attached to it indented below, then problems of
the exception files and a summary; `--format json` gives one object per
rule (with its exceptions) and per problem. Exit status: exitstatus.TABLE.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional, TextIO

from . import exitstatus
from .escape import safe_json, safe_text
from .exceptions import ExceptionSet, load_exceptions, utc_now, without_disabled
from .exceptions.analysis import attached_to, item_notes, set_warnings
from .rules import CANNOT_FIRE, INVALID, OK, UNSUPPORTED, RuleSet, iter_load


def load_checked(rule_paths: list[str], exception_paths: list[str], *,
                 include_non_production: bool = False,
                 missing_ok: tuple[str, ...] = (),
                 between_files: Optional[Callable[[int], None]] = None,
                 ) -> tuple[RuleSet, ExceptionSet]:
    """Rules and exceptions as `check`, `scan` and the plugin load them:
    rules named in `disabled_rules` left out. `between_files(n)` runs after
    the nth rule file loaded, and with -1 after the last (reloader.py)."""
    ruleset = RuleSet()
    for count, _report in enumerate(iter_load(rule_paths, ruleset,
                                              include_non_production=include_non_production)):
        if between_files is not None:
            between_files(count)
    if between_files is not None:
        between_files(-1)
    exceptions = load_exceptions(exception_paths, missing_ok=missing_ok)
    return without_disabled(ruleset, exceptions), exceptions


class _Writer:
    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out, self.as_json = out, as_json

    def json(self, obj: dict[str, Any]) -> None:
        self.out.write(safe_json(json.dumps(obj, ensure_ascii=False)) + "\n")

    def text(self, line: str) -> None:
        self.out.write(safe_text(line) + "\n")


def run_check(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    ruleset, exceptions = load_checked(args.rules, args.exceptions or [],
                                       include_non_production=args.include_non_production)
    from .ecs import catalog
    cat, now = catalog(), utc_now()
    write = _Writer(out, args.format == "json")
    running = {r.rule_id: r for r in ruleset.rules}
    noted = 0
    for report in ruleset.reports:
        rule = running.get(report.rule_id or "") if report.status in (OK, CANNOT_FIRE) else None
        attached = []
        for item in attached_to(rule, exceptions) if rule is not None else []:
            notes = item_notes(item, rule, cat, now)
            noted += bool(notes)
            attached.append((item, notes))
        if write.as_json:
            obj = report.to_json()
            obj["exceptions"] = [{"name": i.name, "where": i.where, "key": i.key,
                                  "expires": i.expires.isoformat() if i.expires else None,
                                  "notes": notes} for i, notes in attached]
            write.json(obj)
            continue
        line = f"{report.status:12} {report.name or report.path}"
        if report.rule_id:
            line += f" [{report.rule_id}]"
        if report.reason:
            line += f": {report.reason}"
        write.text(line)
        for item, notes in attached:
            write.text(f"{'':13}exception {item.label}" + "".join(f": {n}" for n in notes))
    errors = [str(e) for e in exceptions.errors]
    warnings = set_warnings(exceptions, [r.rule_id for r in ruleset.reports if r.rule_id],
                            exceptions.disabled_rules, now)
    for error in errors:
        if write.as_json:
            write.json({"status": INVALID, "kind": "exceptions", "reason": error})
        else:
            write.text(f"{INVALID:12} exceptions: {error}")
    for warning in warnings:
        if write.as_json:
            write.json({"status": "warning", "kind": "exceptions", "reason": warning})
        else:
            write.text(f"{'warning':12} {warning}")
    counts = ruleset.counts()
    if not write.as_json:
        from .eql.lucene import ENGINE_DESCRIPTION
        summary = (f"{len(ruleset.reports)} rules: "
                   + ", ".join(f"{n} {status}" for status, n in counts.items()))
        if exceptions.files or errors:
            expired = len(exceptions.expired(now))
            summary += (f"; {len(exceptions.items)} exceptions from {len(exceptions.files)} "
                        f"file(s) ({expired} expired, {noted} with notes), "
                        f"{len(errors)} errors, {len(warnings)} warnings")
        write.text(summary + f"; regular expressions: {ENGINE_DESCRIPTION}")
    if counts.get(INVALID) or errors:
        return exitstatus.ERROR
    if counts.get(CANNOT_FIRE) or counts.get(UNSUPPORTED) or noted or warnings:
        return exitstatus.FOUND
    return exitstatus.OK

"""`audisp-eql scan`: rules over audit logs (or ECS documents) offline.

Wires the stages together: files -> events -> ECS documents -> engine ->
alerts -> stdout (text on a terminal, JSON lines otherwise or with
--format json), then a summary on stderr. Bad input is reported with its
file and line and skipped; a scan never stops on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Iterable, TextIO

from . import limits
from .escape import safe_json, safe_text
from .pipeline import PipelineOptions, build_pipeline
from .rules import RuleSet, load_rules
from .summary import Progress, ScanSummary, render_alert


class _Reporter:
    def __init__(self, stream: TextIO, summary: ScanSummary) -> None:
        self._stream = stream
        self._summary = summary
        self._shown = 0

    def parse_error(self, message: object) -> None:
        self._summary.parse_errors += 1
        self.say(message)

    def say(self, message: object) -> None:
        if self._shown < limits.MAX_REPORTED_SCAN_ERRORS:
            self._stream.write(f"audisp-eql: {message}\n")
        elif self._shown == limits.MAX_REPORTED_SCAN_ERRORS:
            self._stream.write("audisp-eql: further errors are only counted in the summary\n")
        self._shown += 1


def split_rule_paths(args: argparse.Namespace) -> None:
    """`--rules rules/ audit.log`: argparse gives both to --rules; a rule path is a
    directory or a .toml file, so what follows those is the input."""
    import os

    for i, path in enumerate(args.rules):
        if not (os.path.isdir(path) or path.endswith(".toml")):
            inputs = args.rules[i:]
            args.rules = args.rules[:i]
            args.files = inputs + (args.files if args.files != ["-"] else [])
            return


def select_rules(args: argparse.Namespace, err: TextIO) -> RuleSet:
    ruleset = load_rules(args.rules, include_non_production=args.include_non_production)
    for report in ruleset.invalid:
        err.write(f"audisp-eql: rule not loaded: {safe_text(report.reason)}\n")
    if args.tags:
        ruleset = ruleset.select_tags(args.tags)
    return ruleset


def _ecs_documents(args: argparse.Namespace, summary: ScanSummary, reporter: _Reporter,
                   progress: Callable[[str], None]) -> Iterable[dict[str, Any]]:
    from .source.ecs_input import DocumentError, iter_documents
    from .source.logfiles import READ_ERRORS, display_name, iter_file

    for path in args.files:
        name = display_name(path)
        summary.files += 1
        try:
            for line_no, doc in iter_documents(iter_file(path)):
                if isinstance(doc, DocumentError):
                    reporter.parse_error(f"{safe_text(name)}:{line_no}: {safe_text(str(doc))}")
                    continue
                yield doc
                if line_no % 4096 == 0:
                    progress(name)
        except READ_ERRORS as e:
            summary.unreadable += 1
            reporter.say(f"{safe_text(name)}: cannot read: {safe_text(str(e))}")


def run_scan(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Exit status: 0 done, 1 an input could not be read, 2 no usable rules."""
    out = out or sys.stdout
    err = err or sys.stderr
    summary = ScanSummary()
    reporter = _Reporter(err, summary)
    split_rule_paths(args)
    ruleset = select_rules(args, err)
    rules = [r for r in ruleset.rules if r.compiled is not None]
    summary.rules = len(rules)
    if not rules:
        if not args.rules and args.files:
            # split_rule_paths took a mistyped rule path for the first input.
            err.write(f"audisp-eql: no rules to run: {safe_text(args.files[0])} is not a rule "
                      "directory or .toml file\n")
        else:
            err.write("audisp-eql: no rules to run (see `audisp-eql check`)\n")
        return 2
    as_json = args.format == "json" or (args.format == "auto" and not out.isatty())
    color = not as_json and out.isatty()
    # Strict RFC 8259 (no NaN/Infinity): ECS input refuses them (ecs_input.py).
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    progress = Progress(err if err.isatty() and not args.quiet else None)

    def show_progress(name: str) -> None:
        summary.events = pipeline.counts.documents
        progress.update(summary, name)

    def write(alert: dict[str, Any]) -> None:
        summary.count_alert(alert)
        out.write(safe_json(dumps(alert)) + "\n" if as_json else render_alert(alert, color=color) + "\n\n")

    def cannot_read(name: str, error: Exception) -> None:
        summary.unreadable += 1
        reporter.say(f"{safe_text(name)}: cannot read: {safe_text(str(error))}")

    def build_failed(event: Any, error: Exception) -> None:
        reporter.say(f"event {event.event_id}: cannot build ECS document: {error!r}")

    options = PipelineOptions(parser=args.parser, action=args.action, hostname=args.hostname,
                              audit_input=args.input != "ecs", rules=rules)
    pipeline = build_pipeline(options, on_alert=write, on_error=reporter.parse_error,
                              on_build_error=build_failed)
    if args.input == "ecs":
        pipeline.documents(_ecs_documents(args, summary, reporter, show_progress))
    else:
        summary.files += pipeline.read_files(args.files, cannot_read, show_progress)
    pipeline.flush()
    summary.events = pipeline.counts.documents
    out.flush()
    progress.finish()
    engine = pipeline.engine
    assert engine is not None
    summary.rule_errors = engine.error_count
    if not args.quiet:
        if args.summary_json:
            err.write(safe_json(json.dumps(summary.to_json(), ensure_ascii=False)) + "\n")
        else:
            err.write(summary.render() + "\n")
    return 1 if summary.unreadable else 0


def add_scan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", nargs="+", required=True, metavar="PATH",
                   help="rule files (*.toml) or directories (searched recursively); "
                        "the first other path ends the list and starts the inputs")
    p.add_argument("files", nargs="*", default=["-"], metavar="FILE",
                   help="audit logs (plain or gzip, rotated sets oldest first) or, with "
                        "--input ecs, JSON lines; '-' for stdin (default)")
    p.add_argument("--input", choices=("audit", "ecs"), default="audit",
                   help="audit records (default) or ECS JSON documents, one per line")
    p.add_argument("--format", choices=("auto", "text", "json"), default="auto",
                   help="alerts as text (default on a terminal) or one JSON alert per line")
    p.add_argument("--tags", nargs="+", metavar="TAG",
                   help="only rules with a tag containing one of these (case-insensitive)")
    p.add_argument("--include-non-production", action="store_true",
                   help="also run rules whose maturity is not production, and deprecated ones")
    p.add_argument("--action", default="exec", help="event.action of our documents (default: exec)")
    p.add_argument("--parser", choices=("auto", "auparse", "python"), default="auto",
                   help="record grouping: auparse (default when installed) or pure Python")
    p.add_argument("--hostname", default=None, help="host.name for records without node=")
    p.add_argument("--summary-json", action="store_true", help="print the summary as JSON on stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary and no progress")

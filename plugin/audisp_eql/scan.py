"""`audisp-eql scan`: rules over audit logs (or ECS documents) offline.

Wires the stages together: files -> events -> ECS documents -> engine ->
exceptions -> alerts -> stdout (text on a terminal, JSON lines otherwise or
with --format json), then a summary on stderr. Bad input is reported with
its file and line and skipped; a scan never stops on it. Exit status
(exitstatus.TABLE): 0 no alert, 1 alerts, 2 an error (even with alerts).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Iterable, Optional, TextIO

from . import exitstatus, limits
from .check import load_checked
from .escape import safe_json, safe_text
from .exceptions import ExceptionSet
from .pipeline import PipelineOptions, build_pipeline
from .progress import Progress
from .rules import RuleSet
from .summary import ScanSummary, render_alert


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


def select_rules(args: argparse.Namespace, err: TextIO) -> tuple[RuleSet, ExceptionSet, int]:
    """The rules to run (tags applied, disabled ones left out), the exceptions,
    and how many rule or exception files had errors (reported on `err`)."""
    ruleset, exceptions = load_checked(args.rules, args.exceptions or [],
                                       include_non_production=args.include_non_production)
    for report in ruleset.invalid:
        err.write(f"audisp-eql: rule not loaded: {safe_text(report.reason)}\n")
    for error in exceptions.errors:
        err.write(f"audisp-eql: exception not loaded: {safe_text(str(error))}\n")
    errors = len(ruleset.invalid) + len(exceptions.errors)
    if args.tags:
        wanted = [t.strip() for tags in args.tags for t in tags.split(",") if t.strip()]
        ruleset = ruleset.select_tags(wanted)
    return ruleset, exceptions, errors


def no_input_on_a_terminal(args: argparse.Namespace, err: TextIO,
                           stdin: Optional[TextIO]) -> bool:
    """No FILE: read stdin, unless it is a terminal (nobody is typing audit records)
    or there is none."""
    if args.files:
        return False
    if stdin is None or stdin.isatty():
        err.write("audisp-eql: no input: name audit log files or directories (e.g. "
                  "/var/log/audit), or pipe records in (use '-' to read the terminal)\n")
        return True
    args.files = ["-"]
    return False


def _ecs_documents(args: argparse.Namespace, summary: ScanSummary, reporter: _Reporter,
                   progress: Callable[[str, int], None]) -> Iterable[dict[str, Any]]:
    from .source.ecs_input import DocumentError, iter_documents
    from .source.logfiles import (READ_ERRORS, display_name, expand_directories, iter_file,
                                  rotation_order)

    def cannot_read(name: str, error: Exception) -> None:
        summary.unreadable += 1
        reporter.say(f"{name}: cannot read: {safe_text(str(error))}")

    for path in rotation_order(expand_directories(args.files, cannot_read)):
        name = display_name(path)
        summary.files += 1
        documents = failed = 0

        def counted(chunks: Iterable[bytes]) -> Iterable[bytes]:
            for chunk in chunks:
                yield chunk
                progress(name, len(chunk))

        try:
            for line_no, doc in iter_documents(counted(iter_file(path))):
                if isinstance(doc, DocumentError):
                    failed += 1
                    reporter.parse_error(f"{safe_text(name)}:{line_no}: {safe_text(str(doc))}")
                    continue
                documents += 1
                yield doc
        except READ_ERRORS as e:
            cannot_read(safe_text(name), e)
            continue
        if failed and not documents:
            summary.no_records += 1
            reporter.say(f"{safe_text(name)}: no ECS document in it ({failed} lines "
                         "could not be read as one)")


def run_scan(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None,
             stdin: TextIO | None = None) -> int:
    """Exit status: exitstatus.TABLE["scan"]."""
    out = out or sys.stdout
    err = err or sys.stderr
    if no_input_on_a_terminal(args, err, stdin if stdin is not None else sys.stdin):
        return exitstatus.ERROR
    summary = ScanSummary()
    reporter = _Reporter(err, summary)
    ruleset, exceptions, load_errors = select_rules(args, err)
    rules = [r for r in ruleset.rules if r.compiled is not None]
    summary.rules = len(rules)
    if not rules:
        err.write("audisp-eql: no rules to run (see `audisp-eql check`)\n")
        return exitstatus.ERROR
    as_json = args.format == "json" or (args.format == "auto" and not out.isatty())
    color = not as_json and out.isatty()
    # Strict RFC 8259 (no NaN/Infinity): ECS input refuses them (ecs_input.py).
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    # Progress (bytes, %, ETA) on stderr when it is a terminal; alerts on the same
    # terminal are written with the bar out of the way.
    progress = Progress(None if args.quiet else err, args.files)
    shared_terminal = progress.active and out.isatty()

    def show_progress(name: str, nbytes: int) -> None:
        progress.advance(name, nbytes)
        progress.postfix(f"{pipeline.counts.documents} events, {summary.alerts} alerts")

    def write(alert: dict[str, Any]) -> None:
        summary.count_alert(alert)
        line = safe_json(dumps(alert)) + "\n" if as_json else render_alert(alert, color=color) + "\n\n"
        if shared_terminal:
            with progress.between_lines():
                out.write(line)
                out.flush()
        else:
            out.write(line)

    def cannot_read(name: str, error: Exception) -> None:
        summary.unreadable += 1
        reporter.say(f"{safe_text(name)}: cannot read: {safe_text(str(error))}")

    def no_records(name: str, malformed: int) -> None:
        summary.no_records += 1
        reporter.say(f"{safe_text(name)}: no audit record in it ({malformed} malformed lines"
                     + ("; ECS JSON documents are read with --input ecs)" if args.input != "ecs"
                        else ")"))

    def build_failed(event: Any, error: Exception) -> None:
        reporter.say(f"event {event.event_id}: cannot build ECS document: {error!r}")

    options = PipelineOptions(parser=args.parser, action=actions(args.action),
                              hostname=args.hostname, audit_input=args.input != "ecs",
                              rules=rules, exceptions=exceptions,
                              state_bytes=args.sequence_memory << 20)
    jobs = worker_processes(args)
    if jobs:
        from .jobs import build_parallel
        pipeline = build_parallel(options, jobs, on_alert=write, on_error=reporter.parse_error,
                                  on_build_error=build_failed)
    else:
        pipeline = build_pipeline(options, on_alert=write, on_error=reporter.parse_error,
                                  on_build_error=build_failed)
    try:
        if args.input == "ecs":
            pipeline.documents(_ecs_documents(args, summary, reporter, show_progress))
        else:
            summary.files += pipeline.read_files(args.files, cannot_read, show_progress,
                                                 no_records)
        pipeline.flush()
    finally:
        getattr(pipeline, "close", lambda: None)()
    summary.events = pipeline.counts.documents
    out.flush()
    progress.close()
    engine = pipeline.engine
    assert engine is not None
    summary.rule_errors = engine.error_count
    summary.load_errors = load_errors
    if pipeline.exceptions is not None:
        summary.excepted = pipeline.exceptions.count_lines()
    if any(getattr(r.compiled.query, "kind", "event") != "event" for r in rules):
        summary.state = engine.stats()
    if not args.quiet:
        if args.summary_json:
            err.write(safe_json(json.dumps(summary.to_json(), ensure_ascii=False)) + "\n")
        else:
            err.write(summary.render() + "\n")
    if load_errors or summary.unreadable or summary.no_records:
        return exitstatus.ERROR
    return exitstatus.FOUND if summary.alerts else exitstatus.OK


def worker_processes(args: argparse.Namespace) -> int:
    """Worker processes for --jobs (0: the single-process path): audit records
    only (ECS documents need no building: one process), at most limits.MAX_JOBS."""
    jobs = getattr(args, "jobs", 1) or 1
    if jobs <= 1 or args.input == "ecs":
        return 0
    return min(jobs, limits.MAX_JOBS)


def _whole_number(unit: str, low: int, high: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` (to `high`), else a clear error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {unit}: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"at least {low}" if high is None
                                             else f"{low} to {high}")
        return value
    return parse


_jobs = _whole_number("number", 1)
_mib = _whole_number("whole number of MiB", 1, limits.MAX_CONFIG_SEQUENCE_MIB)


def add_state_argument(p: argparse.ArgumentParser) -> None:
    """--sequence-memory (scan and report): what sequences and samples may hold."""
    p.add_argument("--sequence-memory", type=_mib, default=limits.MAX_PENDING_BYTES >> 20,
                   metavar="MIB",
                   help="MiB of documents the partial matches of sequences and samples may "
                        "hold together (default %(default)s); past it the host holding the "
                        "most loses its oldest (counted in the summary as evicted). Logs of "
                        "many hosts may want more (README, The collector)")


def actions(given: Any) -> Any:
    """--action (repeated, or comma-separated) as PipelineOptions takes it:
    none given, the default; one value, itself; several, all of them."""
    from .ecs.common import DEFAULT_ACTIONS
    chosen = list(dict.fromkeys(a.strip() for text in given or () for a in text.split(",")
                                if a.strip()))
    if not chosen:
        return DEFAULT_ACTIONS
    return chosen[0] if len(chosen) == 1 else tuple(chosen)


def add_scan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="audit logs (plain or gzip), directories (read as the rotated set they "
                        "hold, such as /var/log/audit) or, with --input ecs, JSON documents; "
                        "rotated sets are read oldest first; '-' for stdin, which is read "
                        "when no FILE is named unless it is a terminal")
    add_rule_arguments(p)
    p.add_argument("--input", choices=("audit", "ecs"), default="audit",
                   help="audit records (default) or ECS JSON documents, one per line")
    p.add_argument("--format", choices=("auto", "text", "json"), default="auto",
                   help="alerts as text (default on a terminal) or one JSON alert per line")
    p.add_argument("--tags", action="append", metavar="TAG",
                   help="only rules with a tag containing TAG (case-insensitive); repeat it, "
                        "or separate tags with commas, for rules with any of them")
    p.add_argument("--include-non-production", action="store_true",
                   help="also run rules whose maturity is not production, and deprecated ones")
    p.add_argument("--action", action="append", metavar="ACTION",
                   help="event.action of process starts (default: both exec and executed, "
                        "Elastic Defend's and Auditbeat's terms, as a list); one: only it; "
                        "repeat it, or separate values with commas, for several")
    p.add_argument("--parser", choices=("auto", "auparse", "python"), default="auto",
                   help="record grouping: auparse (default when installed) or pure Python")
    p.add_argument("--hostname", default=None,
                   help="the host that wrote the records without node= (default: this "
                        "machine: its hostname, /etc/machine-id and OS)")
    p.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                   help="build documents and run the single-event rules in N worker "
                        f"processes (at most {limits.MAX_JOBS}); records are read and grouped, "
                        "and sequences, exceptions and alerts done, in this one, in input "
                        "order: the output is the same as with 1 (the default). It pays "
                        "only with cores to spare and many rules per event: on a 2-core "
                        "machine 2 workers were slower than 1 (README, Performance). With "
                        "--input ecs it has no effect")
    add_state_argument(p)
    p.add_argument("--summary-json", action="store_true", help="print the summary as JSON on stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary and no progress")


def add_rule_arguments(p: argparse.ArgumentParser) -> None:
    """-r/--rules and --exceptions, one path per occurrence (scan and check)."""
    p.add_argument("-r", "--rules", action="append", required=True, metavar="PATH",
                   help="a rule file (*.toml) or a directory searched recursively for them; "
                        "repeat for more (--rules DIR --rules FILE)")
    p.add_argument("--exceptions", action="append", metavar="PATH",
                   help="an exception file (*.toml, or a Kibana export *.ndjson) or a directory "
                        "of them; repeat for more (see audisp-eql-exceptions(5))")

"""`audisp-eql report`: audit logs -> a compliance report (HTML, CSV, JSON or an
ATT&CK Navigator layer).

    audisp-eql report [--rules PATH]... [--controls FILE]... [--since T] [--until T]
                      [--host NAME]... --format html|csv|json|navigator [-o OUT] FILE...

Records go through the one pipeline (pipeline.py): events -> documents ->
rules -> alerts; the collector keeps bounded aggregates of all three. CSV
rows are written as findings arrive (every finding, any number); the other
formats are written at the end. Exit status: 0 the report was written; 2 it
could not be (bad arguments, rules or mapping files, output not writable)
or an input could not be read (the report is still written, and says so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional, TextIO

from .. import exitstatus
from ..ecs.host import local_identity, named_identity
from ..escape import safe_text
from ..pipeline import PipelineOptions, build_pipeline
from ..progress import Progress
from ..rules import load_rules
from ..scan import add_state_argument
from .collect import Collector
from .controls import MappingError, load_controls
from .timerange import TimeRangeError, parse_range

FORMATS = ("html", "csv", "json", "navigator")
_PACKAGE = Path(__file__).resolve().parent.parent


def _first_existing(*candidates: Path) -> Optional[Path]:
    return next((c for c in candidates if c.exists()), None)


def default_rules() -> Optional[Path]:
    """The rule pack of the checkout this runs from, else the installed one."""
    return _first_existing(_PACKAGE.parent.parent / "rules", Path("/etc/audisp-eql/rules.d"))


def default_controls() -> Optional[Path]:
    """The mapping files of the checkout this runs from, else the installed ones."""
    return _first_existing(_PACKAGE.parent.parent / "controls",
                           Path("/etc/audisp-eql/controls.d"))


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audit logs (plain or gzip, rotated sets oldest first); '-' for stdin")
    p.add_argument("-r", "--rules", action="append", metavar="PATH",
                   help="rule files or directories (repeatable; default: the shipped pack, "
                        "/etc/audisp-eql/rules.d when installed)")
    p.add_argument("--controls", action="append", metavar="FILE",
                   help="control mapping files or directories (repeatable; default: the "
                        "shipped ones, /etc/audisp-eql/controls.d when installed); the "
                        "evidence categories (evidence.toml) must be among them")
    p.add_argument("--since", metavar="T", help="start, as ausearch -ts reads it (today, "
                   "yesterday, this-week, this-month, recent, MM/DD/YY [HH:MM:SS], ...)")
    p.add_argument("--until", metavar="T", help="end, as ausearch -te reads it")
    p.add_argument("--host", action="append", default=[], metavar="NAME",
                   help="only these hosts (host.name; repeatable)")
    p.add_argument("--hostname", default=None,
                   help="the host that wrote records without node= (default: this machine)")
    p.add_argument("--audit-rules", action="append", default=[], metavar="FILE",
                   help="audit rules the hosts ran (auditctl -l output or a rules.d file): "
                        "their keys count as event sources even when the log does not show "
                        "them being loaded")
    p.add_argument("--format", choices=FORMATS, required=True, help="output format")
    p.add_argument("-o", "--output", metavar="OUT", default="-",
                   help="output file (default: stdout)")
    p.add_argument("--parser", choices=("auto", "auparse", "python"), default="auto",
                   help="record grouping (default: auparse when installed)")
    add_state_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary line")


def declared_keys(paths: list[str]) -> frozenset[str]:
    """Keys of audit rules given as text (-k KEY, -F key=KEY)."""
    import re
    keys: set[str] = set()
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                keys.update(re.findall(r"(?:-k\s+|-F\s*key=|\bkey=)\"?([^\s\"]+)", line))
    return frozenset(keys)


class _Failed(Exception):
    pass


def run_report(args: argparse.Namespace, err: Optional[TextIO] = None) -> int:
    err = err or sys.stderr

    def fail(message: str) -> _Failed:
        err.write(f"audisp-eql: {safe_text(message)}\n")
        return _Failed(message)

    try:
        return _run(args, err, fail)
    except _Failed:
        return exitstatus.ERROR


def _run(args: argparse.Namespace, err: TextIO, fail: Any) -> int:
    try:
        window = parse_range(args.since, args.until)
    except TimeRangeError as exc:
        raise fail(f"--since/--until: {exc}")
    rule_paths = args.rules or ([str(default_rules())] if default_rules() else [])
    control_paths = args.controls or ([str(default_controls())] if default_controls() else [])
    if not rule_paths:
        raise fail("no rules: give --rules PATH")
    if not control_paths:
        raise fail("no control mapping files: give --controls FILE")
    try:
        controls = load_controls([Path(p) for p in control_paths])
    except MappingError as exc:
        raise fail(str(exc))
    ruleset = load_rules(rule_paths)
    for report in ruleset.invalid:
        err.write(f"audisp-eql: rule not loaded: {safe_text(report.reason)}\n")
    rules = [r for r in ruleset.rules if r.compiled is not None]
    if not rules:
        raise fail("no rules to run (see `audisp-eql check`)")
    try:
        keys = declared_keys(args.audit_rules)
    except OSError as exc:
        raise fail(f"--audit-rules: {exc}")
    if args.format == "html":
        # Said before the logs are read, not after: the page needs both.
        try:
            import jinja2  # noqa: F401
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise fail(f"--format html needs Jinja2 and matplotlib ({exc.name} is missing; "
                       "Debian: apt install python3-jinja2 python3-matplotlib)")
    from . import render
    try:
        out, close = render.open_output(args.output, args.format)
    except OSError as exc:
        raise fail(f"{args.output}: cannot write: {exc.strerror or exc}")
    csv_writer = render.csv_writer(out) if args.format == "csv" else None
    options = PipelineOptions(parser=args.parser, hostname=args.hostname, rules=rules,
                              state_bytes=args.sequence_memory << 20)
    local = (named_identity(args.hostname) if args.hostname else local_identity()).name
    collector = Collector(rules, controls, window, frozenset(args.host), local,
                         on_finding=csv_writer)
    pipeline = build_pipeline(options, on_document=collector.on_document,
                              on_alert=collector.on_alert, on_error=collector.parse_error,
                              on_event=collector.on_event)
    progress = Progress(None if args.quiet else err, args.files)
    unreadable: list[str] = []

    def cannot_read(name: str, exc: Exception) -> None:
        unreadable.append(name)
        collector.file_error(name, exc)
        with progress.between_lines():
            err.write(f"audisp-eql: {name}: cannot read: {safe_text(str(exc))}\n")

    def advance(name: str, nbytes: int) -> None:
        progress.advance(name, nbytes)
        progress.postfix(f"{collector.events_seen} events, {collector.findings} findings")

    started = time.time()
    pipeline.read_files(args.files, cannot_read, advance, on_file=collector.start_file)
    pipeline.flush()
    collector.finish()
    progress.close()
    meta = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "timezone": "UTC",
        "argv": ["report", *[safe_text(a) for a in sys.argv[2:]]] if sys.argv[1:2] == ["report"]
        else None,
        "rule_paths": rule_paths,
        "seconds": round(time.time() - started, 2),
        # Sequences and samples past their memory bound lose partial matches:
        # findings the report may lack, so it says how many (--sequence-memory).
        "partial_matches": _partial_matches(pipeline.engine, args.sequence_memory),
        "requested": {
            "since": window.since.seconds if window.since else None,
            "since_text": window.since.text if window.since else None,
            "until": window.until.seconds if window.until else None,
            "until_text": window.until.text if window.until else None,
            "hosts": list(args.host)},
    }
    from .model import ReportBuilder
    data = ReportBuilder(collector, ruleset, rules, controls, meta, keys).build()
    try:
        if args.format != "csv":
            render.write(args.format, data, out)
        out.flush()
    except OSError as exc:
        raise fail(f"{args.output}: cannot write: {exc.strerror or exc}")
    finally:
        close()
    if not args.quiet:
        counts = data["status_counts"]
        evicted = meta["partial_matches"]["evicted"]
        err.write(f"audisp-eql report: {collector.events_seen} events, {collector.findings} "
                  f"findings; controls: {counts['findings']} with findings, "
                  f"{counts['no_findings']} without, {counts['not_assessed']} not assessed"
                  + (f"; {evicted} partial matches of sequences evicted (raise "
                     "--sequence-memory)" if evicted else "")
                  + (f"; written to {safe_text(args.output)}" if args.output != "-" else "")
                  + "\n")
    return exitstatus.ERROR if unreadable else exitstatus.OK


def _partial_matches(engine: Any, memory_mib: int) -> dict[str, int]:
    """What the sequence and sample rules held and lost (engine.stats)."""
    stats = engine.stats() if engine is not None else {}
    return {"evicted": stats.get("evicted_partial_matches", 0),
            "expired": stats.get("expired_partial_matches", 0),
            "pending_at_end": stats.get("pending_partial_matches", 0),
            "memory_mib": memory_mib}


__all__ = ["add_report_arguments", "run_report", "FORMATS"]

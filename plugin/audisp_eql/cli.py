"""Command line: wires the pipeline stages together; no logic of its own.

    audisp-eql events FILE...          audit records -> ECS documents
    audisp-eql check --rules PATH...   load and validate rules
    audisp-eql scan --rules PATH... FILE...   offline evaluation of audit logs
    audisp-eql plugin [CONFIG]         run as an auditd plugin (stdin = records)
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from . import __version__
from . import limits


def _add_events(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "events", help="print the ECS documents of audit logs",
        description="Print one JSON ECS document per line. Malformed lines are "
                    "reported on stderr (file:line) and skipped; the exit status is 0 "
                    "even then, 1 only when an input cannot be read.")
    p.add_argument("files", nargs="*", default=["-"], metavar="FILE",
                   help="audit log files (plain or gzip); '-' for stdin (default); "
                        "a rotated set (audit.log audit.log.1 ...) is read oldest first")
    p.add_argument("--parser", choices=("auto", "auparse", "python"), default="auto",
                   help="record grouping: auparse (default when installed) or pure Python")
    p.add_argument("--include-failed", action="store_true",
                   help="also print failed execs (event.outcome=failure)")
    p.add_argument("--action", default="exec", help="event.action value (default: exec)")
    p.add_argument("--hostname", default=None,
                   help="host.name for records without node= (default: absent)")
    p.add_argument("--local-users", action="store_true",
                   help="resolve uid/gid names from this host's user database "
                        "(only right for this host's logs)")
    p.add_argument("--process-table-size", type=int, default=limits.MAX_PROCESSES, metavar="N",
                   help="processes remembered for process.parent.* "
                        f"(default: {limits.MAX_PROCESSES})")
    p.set_defaults(handler=_cmd_events)


def _cmd_events(args: argparse.Namespace) -> int:
    import json

    from .escape import safe_json, safe_text
    from .pipeline import PipelineOptions, build_pipeline

    def report(message: object) -> None:
        print(f"audisp-eql: {message}", file=sys.stderr)

    out = sys.stdout
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def write(doc: dict) -> None:
        out.write(safe_json(dumps(doc)))
        out.write("\n")

    unreadable = 0

    def cannot_read(name: str, error: Exception) -> None:
        nonlocal unreadable
        unreadable += 1
        report(f"{safe_text(name)}: cannot read: {safe_text(str(error))}")

    options = PipelineOptions(parser=args.parser, action=args.action,
                              include_failed=args.include_failed, hostname=args.hostname,
                              local_users=args.local_users,
                              process_table_size=max(1, args.process_table_size))
    pipeline = build_pipeline(options, on_document=write, on_error=report,
                              on_build_error=lambda event, exc: report(
                                  f"event {event.event_id}: cannot build ECS document: {exc!r}"))
    pipeline.read_files(args.files, cannot_read)
    pipeline.flush()
    out.flush()
    st, counts = pipeline.source.stats, pipeline.count()  # type: ignore[union-attr]
    if st.malformed or st.oversized_lines or st.evicted_pending or unreadable \
            or counts.build_errors or counts.malformed_values or st.enriched_lost:
        report(f"summary: {st.lines} lines, {st.records} records, {st.events} events, "
               f"{counts.documents} documents; {st.malformed} malformed lines, "
               f"{st.oversized_lines} oversized lines, {st.evicted_pending} events completed "
               f"early (too many pending), {unreadable} unreadable files, "
               f"{counts.build_errors} events no document could be built from, "
               f"{counts.malformed_values} numbers out of range left out, "
               f"{st.enriched_lost} ENRICHED parts dropped")
    return 1 if unreadable else 0


def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="load and validate detection rules",
        description="Report every rule: ok, unsupported (why), invalid (file:line:col why) "
                    "or cannot_fire (what audisp-eql never produces). Exit status 1 when a "
                    "rule is invalid.")
    p.add_argument("--rules", nargs="+", required=True, metavar="PATH",
                   help="rule files or directories (searched recursively for *.toml)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text lines (default) or one JSON object per rule")
    p.add_argument("--include-non-production", action="store_true",
                   help="also load rules whose maturity is not production")
    p.set_defaults(handler=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    import json

    from .escape import safe_json, safe_text
    from .rules import load_rules

    ruleset = load_rules(args.rules, include_non_production=args.include_non_production)
    out = sys.stdout
    for report in ruleset.reports:
        if args.format == "json":
            out.write(safe_json(json.dumps(report.to_json(), ensure_ascii=False)) + "\n")
            continue
        label = report.name or str(report.path)
        line = f"{report.status:12} {safe_text(label)}"
        if report.rule_id:
            line += f" [{safe_text(report.rule_id)}]"
        if report.reason:
            line += f": {safe_text(report.reason)}"
        out.write(line + "\n")
    counts = ruleset.counts()
    if args.format == "text":
        out.write(f"{len(ruleset.reports)} rules: "
                  + ", ".join(f"{n} {status}" for status, n in counts.items()) + "\n")
    return 1 if counts.get("invalid") else 0


def _add_scan(sub: argparse._SubParsersAction) -> None:
    from .scan import add_scan_arguments

    p = sub.add_parser(
        "scan", help="evaluate rules on audit logs and report alerts",
        description="Evaluate rules on audit logs (or ECS JSON documents) and print alerts, "
                    "then a summary on stderr.")
    add_scan_arguments(p)
    p.set_defaults(handler=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    from .scan import run_scan

    return run_scan(args)


def _add_plugin(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugin", help="run as an auditd plugin, reading records on stdin")
    # auditd 3.0 passes at most two words of `args`: "plugin" and this path.
    p.add_argument("config", nargs="?", default="/etc/audisp-eql/audisp-eql.toml",
                   help="plugin configuration (default: %(default)s)")
    p.set_defaults(handler=_cmd_plugin)


def _cmd_plugin(args: argparse.Namespace) -> int:
    from .daemon import run_plugin
    return run_plugin(args.config)


SUBCOMMANDS: Sequence[Callable[[argparse._SubParsersAction], None]] = (
    _add_events, _add_check, _add_scan, _add_plugin,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audisp-eql",
        description="Elastic EQL detection rules on the Linux audit trail.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        # `audisp-eql events log | head` is normal use, not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

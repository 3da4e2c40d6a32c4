"""Command line: wires the pipeline stages together; no logic of its own.

    audisp-eql events FILE...          audit records -> ECS process-start documents
    audisp-eql check --rules PATH...   load and validate rules
    audisp-eql scan --rules PATH... FILE...   offline evaluation of audit logs
    audisp-eql plugin [CONFIG]         run as an auditd plugin (stdin = records)
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from . import __version__
from .proctable import MAX_PROCESSES


def _add_events(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "events", help="print the ECS process-start documents of audit logs",
        description="Print one JSON document per process start. Malformed lines are "
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
    p.add_argument("--process-table-size", type=int, default=MAX_PROCESSES, metavar="N",
                   help=f"processes remembered for process.parent.* (default: {MAX_PROCESSES})")
    p.set_defaults(handler=_cmd_events)


def _cmd_events(args: argparse.Namespace) -> int:
    import json

    from .assemble import make_event_source
    from .ecs import EcsBuilder
    from .escape import safe_json, safe_text
    from .logfiles import display_name, iter_file, rotation_order
    from .proctable import ProcessTable
    from .users import UserDb

    def report(message: object) -> None:
        print(f"audisp-eql: {message}", file=sys.stderr)

    source = make_event_source(args.parser, on_error=report)
    builder = EcsBuilder(action=args.action, include_failed=args.include_failed,
                         table=ProcessTable(max(1, args.process_table_size)),
                         users=UserDb() if args.local_users else None,
                         hostname=args.hostname)
    out = sys.stdout
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    unreadable = 0

    def emit(events: list) -> None:
        for event in events:
            doc = builder.build(event)
            if doc is not None:
                source.stats.process_starts += 1
                out.write(safe_json(dumps(doc)))
                out.write("\n")

    for path in rotation_order(list(args.files)):
        emit(source.start_source(display_name(path)))
        try:
            for chunk in iter_file(path):
                emit(source.feed(chunk))
        except (OSError, EOFError) as e:
            unreadable += 1
            report(f"{safe_text(display_name(path))}: cannot read: {safe_text(str(e))}")
    emit(source.flush())
    out.flush()
    st = source.stats
    if st.malformed or st.oversized_lines or st.evicted_pending or unreadable:
        report(f"summary: {st.lines} lines, {st.records} records, {st.events} events, "
               f"{st.process_starts} process starts; {st.malformed} malformed lines, "
               f"{st.oversized_lines} oversized lines, {st.evicted_pending} events completed "
               f"early (too many pending), {unreadable} unreadable files")
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
            line += f" [{report.rule_id}]"
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

"""Command line: wires the pipeline stages together; no logic of its own.

    audisp-eql events [FILE...]                      audit records -> ECS documents
    audisp-eql check -r PATH [-r PATH...]            load and validate rules (and exceptions)
    audisp-eql scan -r PATH [-r PATH...] [FILE...]   offline evaluation of audit logs
    audisp-eql report --format F [FILE...]           compliance report of audit logs
    audisp-eql plugin [--check-config] [CONFIG]      run as an auditd plugin (stdin = records)

audisp-eql(8) is generated from these parsers (tools/manpage.py); the exit
status of each command is exitstatus.TABLE.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from . import __version__
from . import exitstatus, limits


class _Formatter(argparse.HelpFormatter):
    """Descriptions wrapped as usual; the exit status table kept as laid out."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit status:"):
            return "".join(indent + line + "\n" for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def _command(sub: argparse._SubParsersAction, name: str, **kwargs: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, formatter_class=_Formatter, epilog=exitstatus.epilog(name),
                          **kwargs)


def _add_events(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub, "events", help="print the ECS documents of audit logs",
        description="Print one JSON ECS document per line. Malformed lines are "
                    "reported on stderr (file:line) and skipped.")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="audit log files (plain or gzip) or directories (read as the rotated "
                        "set they hold, such as /var/log/audit); a rotated set (audit.log "
                        "audit.log.1 ...) is read oldest first; '-' for stdin, which is read "
                        "when no FILE is named unless it is a terminal")
    p.add_argument("--parser", choices=("auto", "auparse", "python"), default="auto",
                   help="record grouping: auparse (default when installed) or pure Python")
    p.add_argument("--include-failed", action="store_true",
                   help="also print failed execs (event.outcome=failure)")
    p.add_argument("--action", action="append", metavar="ACTION",
                   help="event.action of process starts (default: both exec and executed, "
                        "Elastic Defend's and Auditbeat's terms, as a list); one: only it; "
                        "repeat it, or separate values with commas, for several")
    p.add_argument("--hostname", default=None,
                   help="the host that wrote the records without node= (default: this "
                        "machine: its hostname, /etc/machine-id and OS)")
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
    from .scan import no_input_on_a_terminal

    def report(message: object) -> None:
        print(f"audisp-eql: {message}", file=sys.stderr)

    if no_input_on_a_terminal(args, sys.stderr, sys.stdin):
        return exitstatus.ERROR

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

    def no_records(name: str, malformed: int) -> None:
        nonlocal unreadable
        unreadable += 1
        report(f"{safe_text(name)}: no audit record in it ({malformed} malformed lines)")

    from .scan import actions
    options = PipelineOptions(parser=args.parser, action=actions(args.action),
                              include_failed=args.include_failed, hostname=args.hostname,
                              local_users=args.local_users,
                              process_table_size=max(1, args.process_table_size))
    pipeline = build_pipeline(options, on_document=write, on_error=report,
                              on_build_error=lambda event, exc: report(
                                  f"event {event.event_id}: cannot build ECS document: {exc!r}"))
    pipeline.read_files(args.files, cannot_read, on_no_records=no_records)
    pipeline.flush()
    out.flush()
    st, counts = pipeline.source.stats, pipeline.count()  # type: ignore[union-attr]
    if st.malformed or st.oversized_lines or st.evicted_pending or unreadable \
            or counts.build_errors or counts.malformed_values or st.enriched_lost:
        report(f"summary: {st.lines} lines, {st.records} records, {st.events} events, "
               f"{counts.documents} documents; {st.malformed} malformed lines, "
               f"{st.oversized_lines} oversized lines, {st.evicted_pending} events completed "
               f"early (too many pending), {unreadable} inputs unreadable or without records, "
               f"{counts.build_errors} events no document could be built from, "
               f"{counts.malformed_values} numbers out of range left out, "
               f"{st.enriched_lost} ENRICHED parts dropped")
    return exitstatus.ERROR if unreadable else exitstatus.OK


def _add_check(sub: argparse._SubParsersAction) -> None:
    from .scan import add_rule_arguments

    p = _command(
        sub, "check", help="load and validate detection rules and exceptions",
        description="Report every rule: ok, unsupported (why), invalid (file:line:col why), "
                    "cannot_fire (the first condition of the query that can never hold on "
                    "audisp-eql's documents, with its line and column) or disabled; under "
                    "each rule the exceptions attached to it, and those that can never match "
                    "or have expired; then problems of the exception files and a summary.")
    add_rule_arguments(p)
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text lines (default) or one JSON object per rule")
    p.add_argument("--include-non-production", action="store_true",
                   help="also load rules whose maturity is not production")
    p.set_defaults(handler=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args)


def _add_scan(sub: argparse._SubParsersAction) -> None:
    from .scan import add_scan_arguments

    p = _command(
        sub, "scan", help="evaluate rules on audit logs and report alerts",
        description="Evaluate rules on audit logs (or ECS JSON documents) and print alerts, "
                    "then a summary on stderr: alerts by rule, severity and ATT&CK tactic, "
                    "alerts suppressed by each exception, errors.")
    add_scan_arguments(p)
    p.set_defaults(handler=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    from .scan import run_scan

    return run_scan(args)


def _add_report(sub: argparse._SubParsersAction) -> None:
    from .report.command import add_report_arguments

    p = _command(
        sub, "report", help="compliance report of audit logs (HTML, CSV, JSON, ATT&CK layer)",
        description="Evaluate rules on audit logs and report, control by control, what they "
                    "evidence (findings / no findings / not assessed), with the scope, the "
                    "integrity of the audit trail and aureport-style summaries.")
    add_report_arguments(p)
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from .report.command import run_report

    return run_report(args)


def _add_plugin(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "plugin", help="run as an auditd plugin, reading records on stdin",
                 description="Run as an auditd plugin: audit records on standard input, alerts "
                             "to the outputs of the configuration file. With --check-config, "
                             "only load the configuration, rules and exceptions, say what "
                             "would run, and exit.")
    # auditd 3.0 passes at most two words of `args`: "plugin" and this path.
    p.add_argument("config", nargs="?", default="/etc/audisp-eql/audisp-eql.toml",
                   metavar="CONFIG", help="plugin configuration (default: %(default)s)")
    p.add_argument("--check-config", action="store_true",
                   help="check the configuration, the rules and the exceptions it names and "
                        "print what would run, opening no output and changing nothing "
                        "(like rsyslogd -N1)")
    p.set_defaults(handler=_cmd_plugin)


def _cmd_plugin(args: argparse.Namespace) -> int:
    if args.check_config:
        from .configcheck import check_config
        return check_config(args.config)
    from .daemon import run_plugin
    return run_plugin(args.config)


SUBCOMMANDS: Sequence[Callable[[argparse._SubParsersAction], None]] = (
    _add_events, _add_check, _add_scan, _add_report, _add_plugin,
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

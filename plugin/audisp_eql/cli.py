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


def _add_events(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="print the ECS process-start documents of audit logs")
    p.add_argument("files", nargs="*", default=["-"], metavar="FILE",
                   help="audit log files (plain or gzip); '-' for stdin (default)")
    p.set_defaults(handler=_cmd_events)


def _cmd_events(args: argparse.Namespace) -> int:
    raise NotImplementedError("events")


def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="load and validate detection rules")
    p.add_argument("--rules", nargs="+", required=True, metavar="PATH")
    p.set_defaults(handler=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    raise NotImplementedError("check")


def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="evaluate rules on audit logs and report alerts")
    p.add_argument("--rules", nargs="+", required=True, metavar="PATH")
    p.add_argument("files", nargs="*", default=["-"], metavar="FILE")
    p.set_defaults(handler=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    raise NotImplementedError("scan")


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

"""The exit status of every command, in one table, like clamscan's:
0 nothing to report, 1 something found, 2 an error. `--help`, audisp-eql(8)
(tools/manpage.py) and the README are written from this table; a usage
error (unknown option, missing argument) is 2 as well, argparse's own."""

from __future__ import annotations

OK = 0
FOUND = 1
ERROR = 2

TABLE: dict[str, tuple[tuple[int, str], ...]] = {
    "events": (
        (OK, "every input was read"),
        (ERROR, "an input could not be read or held no audit record (every line "
                "malformed), or no input was named while standard input is a terminal"),
    ),
    "check": (
        (OK, "every rule can run and may fire, and no exception has a warning"),
        (FOUND, "a rule is unsupported or can never fire on audisp-eql's documents, or an "
                "exception can never match, matches everything, has expired or names a "
                "rule that is not loaded"),
        (ERROR, "a rule or exception file is invalid, refused or unreadable"),
    ),
    "scan": (
        (OK, "the scan ran and no rule alerted"),
        (FOUND, "the scan ran and rules alerted"),
        (ERROR, "an error, even if rules alerted (alerts are still printed): an invalid "
                "rule or exception file, no rule to run, an input that could not be read or "
                "held no audit record (or ECS document), or no input named while standard "
                "input is a terminal"),
    ),
    "report": (
        (OK, "the report was written"),
        (ERROR, "the report could not be written (bad arguments, mapping files or output), "
                "or an input could not be read (the report is still written and names it)"),
    ),
    "plugin": (
        (OK, "end of input or SIGTERM; with --check-config: the configuration, rules and "
             "exceptions load without error (warnings are printed)"),
        (ERROR, "the plugin cannot start (invalid configuration, an output that cannot be "
                "opened, a user it cannot switch to); with --check-config: what would stop "
                "it or make it run without some rules or exceptions"),
    ),
}


def epilog(command: str) -> str:
    lines = ["exit status:"]
    lines += [f"  {code}  {text}" for code, text in TABLE[command]]
    return "\n".join(lines)

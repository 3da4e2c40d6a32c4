#!/usr/bin/env python3
"""audisp-eql(8) from the argument parsers themselves.

man/audisp-eql.8.in is the hand-written part (mdoc); three lines in it are
replaced by what the parsers of audisp_eql.cli and the exit status table
(audisp_eql.exitstatus) say:

    .\\" @SYNOPSIS@      one synopsis per command
    .\\" @COMMANDS@      each command: its description, arguments and options with their help
    .\\" @EXIT_STATUS@   each command's exit status

    tools/manpage.py            write man/audisp-eql.8
    tools/manpage.py --check    exit 1 when man/audisp-eql.8 is not what the parsers say

tests/test_man.py runs the check, so a changed option without a regenerated
page fails the tests (`make man` regenerates it). The page names the default
paths (/etc, /usr/local); `make install` writes the installed ones into it.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugin"))

from audisp_eql.cli import build_parser  # noqa: E402
from audisp_eql.exitstatus import TABLE  # noqa: E402

TEMPLATE = ROOT / "man" / "audisp-eql.8.in"
PAGE = ROOT / "man" / "audisp-eql.8"


def roff_text(text: str, width: int = 78) -> list[str]:
    """Prose as mdoc text lines: escaped, one sentence per line and none longer
    than `width` (mandoc's style)."""
    text = " ".join(text.split()).replace("\\", "\\e")
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'])", text)
    lines = []
    for sentence in sentences:
        for line in textwrap.wrap(sentence, width, break_long_words=False,
                                  break_on_hyphens=False):
            lines.append("\\&" + line if line[:1] in (".", "'") else line)
    return lines


def _sentence(text: str) -> str:
    """argparse's help ("rule files or ...") as a sentence of the page."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise SystemExit("no subcommands")


def _metavar(action: argparse.Action) -> str:
    if action.choices and action.metavar is None:
        return " | ".join(str(c) for c in action.choices)
    return str(action.metavar or action.dest.upper())


def _flags(action: argparse.Action) -> str:
    """`-r Ar PATH , Fl -rules Ar PATH` (without the leading macro)."""
    takes = action.nargs != 0
    parts = []
    for flag in action.option_strings:
        part = f"Fl {flag[1:]}"
        if takes:
            part += f" Ar {_metavar(action)}{_nargs_suffix(action)}"
        parts.append(part)
    return " , ".join(parts)


def _nargs_suffix(action: argparse.Action) -> str:
    return " ..." if action.nargs in ("*", "+") else ""


def synopsis(name: str, sub: argparse.ArgumentParser) -> list[str]:
    lines = [".Nm", f".Cm {name}"]
    options = [a for a in sub._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    positionals = [a for a in sub._actions if not a.option_strings]
    for action in sorted(options, key=lambda a: not a.required):
        text = f"Fl {action.option_strings[0][1:]}"
        if action.nargs != 0:
            text += f" Ar {_metavar(action)}{_nargs_suffix(action)}"
        if isinstance(action, argparse._AppendAction):
            text += " ..."
        lines.append(f".{text}" if action.required else f".Op {text}")
    for action in positionals:
        arg = f"Ar {_metavar(action)}{_nargs_suffix(action)}"
        lines.append(f".Op {arg}" if action.nargs in ("?", "*") else f".{arg}")
    return lines


def command_section(name: str, sub: argparse.ArgumentParser) -> list[str]:
    formatter = sub._get_formatter()
    lines = [f".Ss {name}"]
    lines += roff_text(_sentence(sub.description or ""))
    lines += [".Bl -tag -width Ds"]
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            item = _flags(action)
        else:
            item = f"Ar {_metavar(action)}{_nargs_suffix(action)}"
        lines.append(f".It {item}")
        help_text = _sentence(formatter._expand_help(action) if action.help else "")
        if action.option_strings and action.required:
            help_text += " Required."
        lines += roff_text(help_text)
    lines.append(".El")
    return lines


def exit_status(names: list[str]) -> list[str]:
    lines = [".Bl -tag -width Ds"]
    for name in names:
        lines.append(f".It Cm {name}")
        lines.append(".Bl -tag -width 2n -compact")
        for code, text in TABLE[name]:
            lines.append(f".It {code}")
            lines += roff_text(text[0].upper() + text[1:] + ".")
        lines.append(".El")
    lines += [".El", ".Pp"]
    lines += roff_text("A usage error (an unknown option, a missing argument) exits 2 as well.")
    return lines


def render() -> str:
    parser = build_parser()
    subs = commands(parser)
    names = list(subs)
    generated = {
        "SYNOPSIS": [line for name in names for line in synopsis(name, subs[name])],
        "COMMANDS": [line for name in names for line in command_section(name, subs[name])],
        "EXIT_STATUS": exit_status(names),
    }
    out = []
    for line in TEMPLATE.read_text().splitlines():
        marker = re.fullmatch(r'\.\\" @([A-Z_]+)@', line)
        if marker:
            out += generated[marker.group(1)]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="write audisp-eql(8) from the CLI's parsers")
    parser.add_argument("--check", action="store_true",
                        help="only compare with man/audisp-eql.8; exit 1 when they differ")
    args = parser.parse_args()
    text = render()
    if args.check:
        if PAGE.read_text() != text:
            print(f"{PAGE} is not what the parsers say: run `make man`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

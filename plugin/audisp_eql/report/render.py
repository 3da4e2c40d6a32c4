"""Writing the report: where to (a file or stdout) and in which format.

    json       the report data (model.py), one JSON document
    html       one self-contained page (render_html.py)
    csv        one row per finding, written as findings arrive (all of them)
    navigator  an ATT&CK Navigator layer of the loaded rules' techniques (navigator.py)

Every string from the audited system is attacker text: JSON escapes what a
terminal would act on (escape.safe_json), CSV cells are one printable line
each and never start a formula (= + - @, tab, CR get a leading '), HTML is
autoescaped by Jinja2.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Any, Callable, TextIO

from ..escape import safe_json, safe_text

CSV_COLUMNS = ("time", "host", "rule_id", "rule_name", "severity", "controls", "login_user",
               "user", "outcome", "what", "source_ip", "process", "event_id", "ausearch")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def open_output(path: str, fmt: str) -> tuple[TextIO, Callable[[], None]]:
    """The output stream and how to close it; files are written 0644 (a report
    is meant to be handed over), created or truncated."""
    if path == "-":
        return sys.stdout, lambda: None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    stream = io.open(fd, "w", encoding="utf-8", newline="" if fmt == "csv" else None)
    return stream, stream.close


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = safe_text(str(value))
    return "'" + text if text.startswith(_FORMULA) else text


def csv_writer(out: TextIO) -> Callable[[dict[str, Any]], None]:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def write(finding: dict[str, Any]) -> None:
        login = finding.get("login_user") or {}
        row = dict(finding, login_user=login.get("name") or login.get("auid"))
        writer.writerow([csv_cell(row.get(c)) for c in CSV_COLUMNS])

    return write


def to_json(data: dict[str, Any]) -> str:
    return safe_json(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False))


def write(fmt: str, data: dict[str, Any], out: TextIO) -> None:
    if fmt == "json":
        out.write(to_json(data) + "\n")
    elif fmt == "navigator":
        from .navigator import layer
        out.write(safe_json(json.dumps(layer(data), ensure_ascii=False, indent=1)) + "\n")
    elif fmt == "html":
        from .render_html import render_html
        out.write(render_html(data))
    else:
        raise ValueError(f"unknown format {fmt}")

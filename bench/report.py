"""Figures: one machine-readable `BENCH ...` line each, plus a human table at the end."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from typing import Iterable, TextIO

# A figure name is a token a script can split on; units too.
_TOKEN = re.compile(r"^[A-Za-z0-9_./%-]+$")
BENCH_LINE = re.compile(
    r"^BENCH name=(?P<name>[a-z0-9_./%-]+) value=(?P<value>-?[0-9]+(?:\.[0-9]+)?|nan) "
    r"unit=(?P<unit>[a-z0-9_./%-]+)(?: note=(?P<note>.*))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    note: str = ""

    def __post_init__(self) -> None:
        if not _TOKEN.match(self.name) or not _TOKEN.match(self.unit):
            raise ValueError(f"figure name/unit must be a plain token: {self.name!r} {self.unit!r}")

    def value_text(self) -> str:
        if math.isnan(self.value):
            return "nan"
        if abs(self.value) >= 100 or float(self.value).is_integer():
            return str(int(round(self.value)))
        return f"{self.value:.3f}".rstrip("0").rstrip(".")

    def bench_line(self) -> str:
        # The note is free text for humans; keep it on one line.
        note = " ".join(self.note.split())
        return (f"BENCH name={self.name} value={self.value_text()} unit={self.unit}"
                + (f" note={note}" if note else ""))


@dataclass
class Report:
    """Collects figures, printing each `BENCH` line as soon as it is measured."""
    out: TextIO = sys.stdout
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, note: str = "") -> Figure:
        figure = Figure(name, float(value), unit, note)
        self.figures.append(figure)
        print(figure.bench_line(), file=self.out, flush=True)
        return figure

    def skip(self, section: str, reason: str) -> None:
        line = f"BENCH-SKIP section={section} reason={' '.join(reason.split())}"
        self.notes.append(line)
        print(line, file=self.out, flush=True)

    def error(self, section: str, reason: str) -> None:
        line = f"BENCH-ERROR section={section} reason={' '.join(reason.split())}"
        self.notes.append(line)
        print(line, file=self.out, flush=True)

    def log(self, text: str) -> None:
        # Progress goes to stderr so stdout stays figures + table.
        print(f"bench: {text}", file=sys.stderr, flush=True)

    def table(self) -> str:
        return "\n".join([format_table(self.figures), *self.notes])


def format_table(figures: Iterable[Figure]) -> str:
    rows = [(f.name, f.value_text(), f.unit, f.note) for f in figures]
    header = ("figure", "value", "unit", "note")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) if i == 1 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row[:3], widths))) + "  " + row[3])
        if row is header:
            lines.append("-" * (sum(widths) + 6 + len(header[3])))
    return "\n".join(line.rstrip() for line in lines)


def parse_bench_lines(text: str) -> dict[str, Figure]:
    """Read back the `BENCH` lines of a run (the smoke test and scripts use this)."""
    figures: dict[str, Figure] = {}
    for line in text.splitlines():
        m = BENCH_LINE.match(line)
        if m:
            figures[m["name"]] = Figure(m["name"], float(m["value"]), m["unit"], m["note"] or "")
    return figures

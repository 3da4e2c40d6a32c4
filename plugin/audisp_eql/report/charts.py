"""Charts for the HTML report, drawn by matplotlib as SVG and inlined.

Only numbers, times and the report's own labels (statuses, control ids
from the mapping files) go into a chart, never text from the audited
system; the SVG keeps text as text (no embedded fonts, no external
reference) and carries no date, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import re
from typing import Any, Sequence

STATUS_COLORS = {"findings": "#c0392b", "no_findings": "#27ae60", "not_assessed": "#95a5a6"}
_XML_PROLOGUE = re.compile(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.DOTALL)
_IDS = re.compile(r'(id="|url\(#|href="#)([A-Za-z_][\w.-]*)')


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "audisp-eql",
                                "font.size": 9, "font.family": "sans-serif"})
    import matplotlib.pyplot as plt
    return plt


def _svg(fig: Any, prefix: str) -> str:
    """The figure as an <svg> element; its ids get `prefix`, as several charts
    share one page (matplotlib names clip paths after their content)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    _pyplot().close(fig)
    svg = _XML_PROLOGUE.sub("", buf.getvalue()).strip()
    return _IDS.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", svg)


def status_bars(rows: Sequence[tuple[str, dict[str, int]]], prefix: str = "status") -> str:
    """One horizontal stacked bar per framework: controls by status."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(rows) + 0.9))
    labels = [name for name, _ in rows]
    left = [0] * len(rows)
    for status, color in STATUS_COLORS.items():
        values = [counts.get(status, 0) for _, counts in rows]
        ax.barh(labels, values, left=left, color=color, label=status.replace("_", " "))
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("controls")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig, prefix)


def timeline(points: Sequence[tuple[str, int]], bucket_seconds: int, prefix: str,
             color: str = "#c0392b") -> str:
    """Findings per time bucket (the bucket keeps the chart at 60 bars at most)."""
    plt = _pyplot()
    from datetime import datetime
    fig, ax = plt.subplots(figsize=(7.0, 1.6))
    times = [datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S") for t, _ in points]
    counts = [n for _, n in points]
    width = bucket_seconds / 86400 * 0.9
    ax.bar(times, counts, width=width, align="edge", color=color)
    ax.set_ylabel("findings")
    ax.yaxis.get_major_locator().set_params(integer=True)
    unit = {60: "minute", 3600: "hour", 86400: "day", 604800: "week"}.get(
        bucket_seconds, f"{bucket_seconds} s")
    ax.set_title(f"per {unit} (UTC)", fontsize=8, loc="right")
    fig.autofmt_xdate()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig, prefix)

"""The HTML report: one self-contained page (inline CSS and SVG charts, no
script, no font, no request), laid out to read on screen and to print.
Templates are Jinja2 (templates/*.html.j2, autoescaped: every value from
the audited system is escaped); charts come from charts.py.

Numbers the page shows carry the same value in a data- attribute
(`data-count`), so a test can read the page and compare it with the JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import charts

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUS_TEXT = {"findings": "findings", "no_findings": "no findings",
               "not_assessed": "not assessed"}


def _environment() -> Any:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["status_text"] = lambda s: STATUS_TEXT.get(s, s)
    env.filters["dash"] = lambda v: "-" if v in (None, "", []) else v
    env.filters["anchor"] = lambda key: "c-" + "".join(ch if ch.isalnum() else "-" for ch in key)
    return env


def _charts(data: dict[str, Any]) -> dict[str, Any]:
    from markupsafe import Markup
    by_framework = []
    for fw in data["scope"]["frameworks"]:
        counts: dict[str, int] = {}
        for control in data["controls"]:
            if control["framework"] == fw["id"]:
                counts[control["status"]] = counts.get(control["status"], 0) + 1
        by_framework.append((fw["id"], counts))
    out: dict[str, Any] = {"status": Markup(charts.status_bars(by_framework)) if by_framework
                           else None, "timelines": {}}
    for n, control in enumerate(data["controls"]):
        timeline = control.get("timeline") or {}
        if timeline.get("points") and control["counts"].get("findings"):
            out["timelines"][control["key"]] = Markup(charts.timeline(
                [tuple(p) for p in timeline["points"]], timeline["bucket_seconds"], f"t{n}"))
    return out


def render_html(data: dict[str, Any]) -> str:
    env = _environment()
    frameworks = [(fw, [c for c in data["controls"] if c["framework"] == fw["id"]])
                  for fw in data["scope"]["frameworks"]]
    findings = {f["id"]: f for f in data["findings"]}
    return env.get_template("report.html.j2").render(
        data=data, frameworks=frameworks, findings=findings, charts=_charts(data))

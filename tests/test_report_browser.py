"""The HTML report in a real headless Chromium (Debian's `chromium`, driven over
the DevTools protocol): it opens offline without a console error, a failed
request or any request but its own file; every number it shows equals the JSON
report of the same run; it prints (PDF); a screenshot is kept in
build/test-output/report.png."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import LOGS, ROOT
from harness.browser import Chromium

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")
OUTPUT = ROOT / "build" / "test-output"
INPUTS = [LOGS / "debian12-auditd" / "accounts-logins-files-network.log",
          LOGS / "go-libaudit" / "auparse_testdata_audit-rhel7.log",
          ROOT / "tests" / "data" / "records" / "compliance-capture.log",
          ROOT / "examples" / "intrusion.log"]


def _report(tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"report.{fmt}"
    subprocess.run([TOOL, "report", "--format", fmt, "-q", "-o", str(out), "--parser", "python",
                    "--hostname", "web1", "--rules", str(ROOT / "rules"),
                    "--controls", str(ROOT / "controls"), *map(str, INPUTS)],
                   check=True, timeout=600)
    return out


def expected_numbers(data: dict) -> dict[str, str]:
    """What each data-count element must show, from the JSON."""
    numbers = {f"status.{k}": v for k, v in data["status_counts"].items()}
    numbers["findings_total"] = data["findings_total"]
    numbers["events_read"] = data["scope"]["events_read"]
    numbers["rules.loaded"] = data["scope"]["rules"]["loaded"]
    numbers["parse_errors"] = data["scope"]["parse_errors"]["count"]
    if data["scope"]["partial_matches"]["evicted"]:
        numbers["evicted_partial_matches"] = data["scope"]["partial_matches"]["evicted"]
    numbers["lost_records_detected"] = ("detected" if data["scope"]["lost_records_detected"]
                                        else "none detected")
    for host in data["scope"]["hosts"]:
        numbers[f"host.{host['name']}.events"] = host["events"]
        numbers[f"host.{host['name']}.lost_records"] = host["lost_records"]
    for control in data["controls"]:
        numbers[f"control.{control['key']}.findings"] = control["counts"]["findings"]
        if "completeness" not in control:
            numbers[f"control.{control['key']}.evidence_total"] = control["evidence_total"]
        if control.get("evidence_more"):
            numbers[f"control.{control['key']}.evidence_more"] = control["evidence_more"]
    for name, value in data["summaries"]["summary"].items():
        numbers[f"summary.{name}"] = value
    for tactic, value in data["attack"]["tactics"].items():
        numbers[f"tactic.{tactic}"] = value
    return {k: str(v) for k, v in numbers.items()}


def test_html_report_in_chromium(shared, tmp_path):
    html = _report(tmp_path, "html")
    data = json.loads(_report(tmp_path, "json").read_text())
    text = html.read_text()
    assert "<script" not in text and not re.search(r'(?:src|href)="(?!#)', text)
    with Chromium(tmp_path) as browser:
        page = browser.open(html)
        shown = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('[data-count]')]"
            ".map(e => [e.dataset.count, e.textContent.trim()]))")
        rows = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('article.control')]"
            ".map(a => [a.dataset.control, a.querySelectorAll('tr[data-finding]').length]))")
        svgs = page.evaluate("document.querySelectorAll('svg').length")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        shot = page.screenshot(tmp_path / "report.png")
        pdf = page.print_pdf()
        assert page.problems == []
        assert page.requests == [page.url]
    shutil.copyfile(tmp_path / "report.png", OUTPUT / "report.png")
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20000
    assert shown == expected_numbers(data)
    assert rows == {c["key"]: len(c["evidence"]) for c in data["controls"]}
    assert data["findings_total"] > 0 and sum(rows.values()) > 0
    assert svgs >= 2      # the status chart and at least one timeline
    assert pdf[:5] == b"%PDF-" and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 3


@pytest.mark.parametrize("fmt", ["html"])
def test_report_html_is_the_same_for_the_same_data(shared, tmp_path, fmt):
    """Charts carry no date and stable ids: two runs differ only in the
    generation time."""
    first = _report(tmp_path, fmt).read_text()
    second = _report(tmp_path, fmt).read_text()
    strip = re.compile(r"generated \S+")
    assert strip.sub("", first) == strip.sub("", second)

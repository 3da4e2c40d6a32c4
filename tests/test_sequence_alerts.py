"""What a sequence match becomes: one alert with the last event's fields, a
group id per match, ancestors naming every event, each event listed in the
text forms; `scan` prints it and counts partial matches in its summary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from audisp_eql.alerts import make_alert
from audisp_eql.engine import Match
from audisp_eql.outputs.format import format_text
from audisp_eql.summary import render_alert
from conftest import CORPUS, ROOT
from harness.records import exec_event
from harness.streams import event, make_rule

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")
MULTI_BASE64 = CORPUS / "rules" / "linux" / "defense_evasion_multi_base64_decoding_attempt.toml"


def test_one_alert_per_match_group_ids_differ_by_key_and_events_are_listed() -> None:
    rule = make_rule('sequence by k [process where t == "A"] [process where t == "B"]')
    first = event(0, "A", ["x", "y"], ident="1", process={"pid": 10, "executable": "/bin/a"})
    last = event(1, "B", ["x", "y"], ident="2", process={"pid": 11, "executable": "/bin/b"})
    x = make_alert(Match(rule, (first, last), ("x",)))
    y = make_alert(Match(rule, (first, last), ("y",)))
    assert x["kibana"]["alert"]["group"]["id"] != y["kibana"]["alert"]["group"]["id"]
    assert x["kibana"]["alert"]["group"]["id"] == make_alert(
        Match(rule, (first, last), ("x",)))["kibana"]["alert"]["group"]["id"]   # replayable
    assert x["process"] == last["process"] and x["event"]["id"] == "2"
    assert [a["id"] for a in x["kibana"]["alert"]["ancestors"]] == ["1", "2"]
    assert [e["event"]["id"] for e in x["audisp_eql"]["events"]] == ["1", "2"]
    assert x["audisp_eql"]["events"][0]["process"] == {"pid": 10, "executable": "/bin/a"}
    assert x["audisp_eql"]["join_keys"] == ["x"]
    numeric = make_alert(Match(rule, (first, last), (7, ("bool", True))))
    assert numeric["audisp_eql"]["join_keys"] == ["7", "true"]     # one keyword field
    text = render_alert(x)
    assert "2 events:" in text and "1. " in text and "pid=10 exe=/bin/a" in text
    assert "2. " in text and "pid=11 exe=/bin/b" in text
    assert format_text(x).endswith("events=\"1 2\"")


def _two_decodes(tmp_path: Path) -> Path:
    """bash in /tmp runs `base64 -d` twice within a second: the corpus rule fires."""
    lines = [*exec_event(10, ["bash"], "/usr/bin/bash", pid=100, ppid=1, sec=1_700_000_000),
             *exec_event(11, ["base64", "-d", "a"], "/usr/bin/base64", pid=101, ppid=100,
                         sec=1_700_000_001, cwd="/tmp/work"),
             *exec_event(12, ["base64", "-d", "b"], "/usr/bin/base64", pid=102, ppid=100,
                         sec=1_700_000_001, msec=500, cwd="/tmp/work")]
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(lines))
    return log


def test_scan_prints_every_event_of_a_sequence(tmp_path: Path, shared) -> None:
    log = _two_decodes(tmp_path)
    result = subprocess.run([TOOL, "scan", "--format", "text", "--rules", str(MULTI_BASE64),
                             str(log)], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr     # exit status 1: alerts found
    assert "Multi-Base64 Decoding Attempt" in result.stdout
    assert "2 events:" in result.stdout
    assert "event.id=1700000001.000:11" in result.stdout
    assert "event.id=1700000001.500:12" in result.stdout
    assert "partial matches: 1 pending, 0 evicted, 0 expired" in result.stderr


def test_scan_json_alert_and_summary(tmp_path: Path, shared) -> None:
    log = _two_decodes(tmp_path)
    result = subprocess.run([TOOL, "scan", "--format", "json", "--summary-json", "--rules",
                             str(MULTI_BASE64), str(log)], capture_output=True, text=True)
    [alert] = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in alert["kibana"]["alert"]["ancestors"]] == [
        "1700000001.000:11", "1700000001.500:12"]
    summary = json.loads(result.stderr.splitlines()[-1])
    # the second decode is pending as a first step too (it could start another match)
    assert summary["partial_matches"]["pending_partial_matches"] == 1
    assert summary["partial_matches"]["evicted_partial_matches"] == 0

"""`audisp-eql report` on real audit logs: the numbers aureport gives on the same
files, the controls' statuses and evidence, integrity gaps, CSV, the Navigator
layer, hostile values, bounds and exit statuses."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audisp_eql import limits
from audisp_eql.cli import build_parser
from conftest import LOGS, ROOT

DEB = LOGS / "debian12-auditd" / "accounts-logins-files-network.log"
CAPTURE = ROOT / "tests" / "data" / "records" / "compliance-capture.log"
AUREPORT_NAMES = {
    "Number of changes in configuration": "config_changes",
    "Number of changes to accounts, groups, or roles": "account_changes",
    "Number of logins": "logins", "Number of failed logins": "failed_logins",
    "Number of authentications": "authentications",
    "Number of failed authentications": "failed_authentications",
    "Number of users": "users", "Number of terminals": "terminals",
    "Number of host names": "hosts", "Number of executables": "executables",
    "Number of failed syscalls": "failed_syscalls", "Number of anomaly events": "anomalies",
    "Number of keys": "keys", "Number of process IDs": "pids", "Number of events": "events",
}


def report(tmp_path: Path, *files: Any, fmt: str = "json", extra: tuple = (),
           expect: int = 0) -> Any:
    out = tmp_path / f"report.{fmt}"
    rules = () if "--rules" in extra else ("--rules", str(ROOT / "rules"))
    controls = () if "--controls" in extra else ("--controls", str(ROOT / "controls"))
    args = build_parser().parse_args(["report", "--format", fmt, "-q", "-o", str(out),
                                      "--parser", "python", "--hostname", "web1", *rules,
                                      *controls, *extra, *[str(f) for f in files]])
    assert args.handler(args) == expect
    if not out.exists():
        return None
    if fmt in ("json", "navigator"):
        return json.loads(out.read_text())
    return out.read_text()


def aureport_summary(path: Path) -> dict[str, int]:
    out = subprocess.run(["aureport", "-if", str(path)], capture_output=True, text=True,
                         env={**os.environ, "LC_ALL": "C"}).stdout
    found = {}
    for line in out.splitlines():
        name, _, value = line.rpartition(":")
        if name in AUREPORT_NAMES:
            found[AUREPORT_NAMES[name]] = int(value)
    assert len(found) == len(AUREPORT_NAMES), out
    return found


@pytest.mark.parametrize("path, differ", [
    (DEB, ()),
    # aureport 3.0.9 counts each LOGIN+SYSCALL event of this capture twice (its
    # event grouping splits them); we count event ids.
    (CAPTURE, ("events",)),
])
def test_summaries_are_aureport_s(shared, tmp_path, path, differ):
    ours = report(tmp_path, path)["summaries"]["summary"]
    theirs = aureport_summary(path)
    assert {k: ours[k] for k in theirs if k not in differ} == \
        {k: v for k, v in theirs.items() if k not in differ}
    if differ:
        assert ours["events"] == theirs["events"] - 2


def _control(data: dict, key: str) -> dict:
    return next(c for c in data["controls"] if c["key"] == key)


def test_debian_capture_controls_and_evidence(shared, tmp_path):
    data = report(tmp_path, DEB)
    failed = _control(data, "pci-dss-4.0:10.2.1.4")
    assert failed["status"] == "findings"
    hits = {r["name"]: r["hits"] for r in failed["rules"]}
    # 4 failed ssh logins (USER_LOGIN), 4 failed PAM authentications, sudo's
    # bad_ident USER_ERR and its refused USER_CMD: the log's own records.
    assert hits["Failed Login"] == 4 and hits["Failed Authentication"] == 4
    assert hits["Account Access Refused"] == 1 and hits["sudo Command Refused"] == 1
    assert failed["counts"]["findings"] == 10
    # The capture holds file documents (cron drops, renames) and the file rules
    # can see them: denied file access is assessed too.
    assert failed["not_assessed"] == []
    assert _control(data, "pci-dss-4.0:10.2.1.1")["status"] == "not_assessed"
    accounts = _control(data, "nist-800-53-r5:AC-2")
    rules = {r["name"]: r["hits"] for r in accounts["rules"]}
    assert rules["User Account Created"] == 4 and rules["User Account Deleted"] == 2
    assert rules["Group Created or Deleted"] == 10
    stops = _control(data, "pci-dss-4.0:10.2.1.6")
    assert {r["name"]: r["hits"] for r in stops["rules"]}["Audit Rule Removed"] == 16
    login = next(f for f in failed["evidence"] if f["rule_name"] == "Failed Login")
    assert login["user"] == "dbadmin" and login["source_ip"] == "127.0.0.1"
    assert login["host"] == "web1" and login["controls"]


def test_integrity_of_the_debian_capture(shared, tmp_path):
    scope = report(tmp_path, DEB)["scope"]
    gaps = {g["kind"]: g for g in scope["integrity_gaps"]}
    assert gaps["auditd_stopped"]["detail"] == "DAEMON_END sent by auid=0 pid=27888"
    assert gaps["auditd_stopped"]["end"] is None           # never restarted in this file
    assert gaps["rules_removed"]["detail"].startswith("16 audit rules removed")
    assert "lost_records" not in gaps and scope["lost_records_detected"] is False
    assert scope["parse_errors"]["count"] == 0
    profiles = {p["profile"]: p["keys"] for p in scope["audit_profiles"]}
    assert profiles["audisp-eql exec rules"] == ["exec"]
    assert "modules" in profiles["CIS benchmark"]


def test_a_finding_s_ausearch_command_pulls_the_event_back(shared, tmp_path):
    data = report(tmp_path, DEB)
    finding = next(f for f in data["findings"] if f["rule_name"] == "Failed Login")
    command = finding["ausearch"].split()
    assert command[:2] == ["TZ=UTC", "LC_TIME=C"]
    env = {**os.environ, "TZ": "UTC", "LC_TIME": "C"}
    out = subprocess.run([*command[2:], "-if", str(DEB)], capture_output=True, text=True,
                         env=env).stdout
    serial = finding["event_id"].split(":")[1]
    assert f":{serial})" in out and "type=USER_LOGIN" in out and out.count("----") == 1


def _drop_event(text: str, serial: int) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if f":{serial}):" not in line)


def test_lost_records_are_detected_and_reordering_is_not_a_loss(shared, tmp_path):
    text = DEB.read_text(errors="surrogateescape")
    lossy = tmp_path / "lossy.log"
    lossy.write_text(_drop_event(_drop_event(text, 32100), 32101), errors="surrogateescape")
    scope = report(tmp_path, lossy)["scope"]
    gap = next(g for g in scope["integrity_gaps"] if g["kind"] == "lost_records")
    assert gap["detail"] == "2 event serials missing (32100..32101)"
    assert scope["hosts"][0]["lost_records"] == 2 and scope["lost_records_detected"]
    # The same events, two of them written out of order: nothing lost.
    lines = text.splitlines(keepends=True)
    first = [l for l in lines if ":32100):" in l]
    rest = [l for l in lines if ":32100):" not in l]
    at = next(i for i, l in enumerate(rest) if ":32104):" in l)
    reordered = tmp_path / "reordered.log"
    reordered.write_text("".join(rest[:at] + first + rest[at:]), errors="surrogateescape")
    assert report(tmp_path, reordered)["scope"]["lost_records_detected"] is False


def test_window_and_host_selection(shared, tmp_path):
    data = report(tmp_path, DEB, extra=("--since", "@1796286739", "--until", "@1796286745"))
    times = [f["seconds"] for f in data["findings"]]
    assert times and all(1796286739 <= t < 1796286746 for t in times)
    assert data["scope"]["requested"]["since_text"] == "@1796286739"
    nobody = report(tmp_path, DEB, extra=("--host", "no-such-host"))
    assert nobody["scope"]["hosts"] == [] and nobody["findings_total"] == 0
    assert {c["status"] for c in nobody["controls"]} == {"not_assessed"}


def test_evidence_is_capped_and_says_how_many_more(shared, tmp_path):
    with limits.lowered(REPORT_EVIDENCE=3):
        data = report(tmp_path, DEB)
    control = _control(data, "nist-800-53-r5:AC-2")
    assert len(control["evidence"]) == 3
    assert control["evidence_total"] == control["counts"]["findings"] > 3
    assert control["evidence_more"] == control["evidence_total"] - 3


def test_bounds_keep_counts_exact(shared, tmp_path):
    """Tiny bounds: distinct values and hosts are pooled, timelines coarsen,
    and every count stays what it is without bounds."""
    full = report(tmp_path, DEB, CAPTURE)
    with limits.lowered(REPORT_MAX_DISTINCT=2, REPORT_TIMELINE_KEYS=2, REPORT_MAX_HOSTS=1,
                        REPORT_ROWS=1):
        small = report(tmp_path, DEB, CAPTURE)
    for name in ("events", "logins", "failed_logins", "authentications", "account_changes"):
        assert small["summaries"]["summary"][name] == full["summaries"]["summary"][name]
    assert small["summaries"]["summary"]["executables"] == 2
    assert "executables" in small["summaries"]["distinct_counts_cut"]
    assert small["findings_total"] == full["findings_total"]
    assert len(small["summaries"]["logins"]) == 1
    for a, b in zip(small["controls"], full["controls"]):
        # Findings and failures exact; distinct users and hosts are lower bounds.
        assert a["counts"]["findings"] == b["counts"]["findings"]
        assert a["counts"].get("failures") == b["counts"].get("failures")
        assert a["counts"].get("users", 0) <= b["counts"].get("users", 0)
        points = a.get("timeline", {}).get("points", [])
        assert sum(n for _, n in points) == sum(n for _, n in b.get("timeline", {}).get("points", []))


def test_csv_has_every_finding_and_no_formula(shared, tmp_path):
    hostile = tmp_path / "hostile.log"
    hostile.write_text(
        "type=USER_LOGIN msg=audit(1796286800.100:900): pid=9 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=login acct=3D636D647C27202F432063616C6327214130 "
        'exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=sshd res=failed\'\n'
        "type=USER_LOGIN msg=audit(1796286800.200:901): pid=9 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=login acct=3C7363726970743E616C6572742831293C2F7363726970743E0A "
        'exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=sshd res=failed\'\n')
    text = report(tmp_path, DEB, hostile, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    data = report(tmp_path, DEB, hostile)
    assert len(rows) == data["findings_total"] > 0
    # Alerts of rules that evidence no control are findings without control ids.
    from audisp_eql.rules import load_rules
    evidencing = {r.rule_id for r in load_rules([ROOT / "rules"]).rules
                  if any(t.startswith("Evidence: ") for t in r.tags)}
    assert all(bool(row["controls"]) == (row["rule_id"] in evidencing) for row in rows)
    assert sum(1 for row in rows if row["controls"]) > len(rows) / 2
    users = [row["user"] for row in rows if row["event_id"].endswith(":900")]
    assert users == ["'=cmd|' /C calc'!A0"]                   # a formula, neutralised
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert "\n" not in "".join(r["user"] for r in rows)       # one line per cell
    html = report(tmp_path, hostile, fmt="html")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_navigator_layer(shared, tmp_path):
    layer = report(tmp_path, DEB, fmt="navigator")
    assert layer["versions"] == {"layer": "4.5", "navigator": "4.9.0"}
    assert layer["domain"] == "enterprise-attack"
    assert layer["filters"] == {"platforms": ["Linux"]}
    scores = {(t["techniqueID"], t["tactic"]): t["score"] for t in layer["techniques"]}
    assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", t) and re.fullmatch(r"[a-z-]+", tac)
               for t, tac in scores)
    # 4 failed logins, 4 failed authentications, 1 refused account (USER_ERR).
    assert scores[("T1110", "credential-access")] == 9
    # useradd: 4 ADD_USER records, and 8 execs of useradd/groupadd/userdel/groupdel.
    assert scores[("T1136.001", "persistence")] == 12
    data = report(tmp_path, DEB)
    for technique in data["attack"]["techniques"]:
        assert scores[(technique["id"], technique["tactic"])] == \
            sum(r["hits"] for r in technique["rules"])
    assert layer["gradient"]["maxValue"] == max(scores.values()) >= 1
    assert 0 in scores.values()                                 # loaded rules without hits


def test_exit_status_and_clear_errors(shared, tmp_path, capsys):
    assert report(tmp_path, DEB, extra=("--since", "12/03/2003"), expect=2) is None
    assert "--since/--until: 12/03/2003: not a date" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[framework]\nid = "x"\nname = "x"\n[[control]]\nid = "1"\ntitle = "t"\n'
                   'evidence = ["nope"]\n')
    assert report(tmp_path, DEB, extra=("--controls", str(ROOT / "controls"), "--controls",
                                        str(bad)), expect=2) is None
    assert f"{bad}:5: control 1: unknown evidence category nope" in capsys.readouterr().err
    data = report(tmp_path, DEB, tmp_path / "missing.log", expect=2)
    assert [f["unreadable"] is not None for f in data["scope"]["files"]] == [False, True]
    assert data["findings_total"] > 0                           # still a report


def test_report_on_every_shared_log_and_the_example(shared, tmp_path):
    """Every real log we have, with the demo intrusion: read, reported, consistent."""
    logs = sorted(p for p in LOGS.rglob("*") if p.is_file() and p.suffix in (".log", ".txt"))
    data = report(tmp_path, *logs, ROOT / "examples" / "intrusion.log")
    files = data["scope"]["files"]
    assert len(files) == len(logs) + 1 and not any(f["unreadable"] for f in files)
    assert data["summaries"]["summary"]["events"] == sum(f["events"] for f in files)
    # laurel's test files carry comment lines: reported as parse errors, not lost.
    assert data["scope"]["parse_errors"]["count"] == sum(f["parse_errors"] for f in files) > 0
    intrusion = next(c for c in data["controls"] if c["key"] == "pci-dss-4.0:10.2.1.6")
    assert intrusion["status"] == "findings"
    assert data["findings_total"] >= sum(c["evidence_total"] for c in data["controls"]
                                         if c["key"] == "nist-800-53-r5:AC-2")
    assert data["attack"]["tactics"]
    statuses = {c["status"] for c in data["controls"]}
    assert "findings" in statuses and "not_assessed" in statuses


def test_partial_matches_lost_to_the_memory_bound_are_reported(shared, tmp_path, capsys):
    """A sequence whose first steps were evicted cannot complete: the report
    says how many were (JSON scope, the HTML's integrity paragraph, the summary
    line) and with which bound, so an auditor knows findings may be missing."""
    log = tmp_path / "execs.log"
    subprocess.run([sys.executable, str(shared / "tools" / "gen_audit_log.py"), "--events",
                    "6000", "--seed", "3", "-o", str(log)], check=True, timeout=120)
    corpus = ("--rules", str(shared / "corpus" / "detection-rules"))
    small = report(tmp_path, log, extra=(*corpus, "--sequence-memory", "1"))["scope"]
    large = report(tmp_path, log, extra=(*corpus, "--sequence-memory", "64"))["scope"]
    assert small["partial_matches"]["memory_mib"] == 1
    assert small["partial_matches"]["evicted"] > 100 * large["partial_matches"]["evicted"]
    html = report(tmp_path, log, fmt="html", extra=(*corpus, "--sequence-memory", "1"))
    evicted = small["partial_matches"]["evicted"]
    assert f'data-count="evicted_partial_matches">{evicted}<' in html
    args = build_parser().parse_args(["report", "--format", "json", "-o", str(tmp_path / "r"),
                                      "--parser", "python", "--hostname", "web1", *corpus,
                                      "--controls",
                                      str(ROOT / "controls"), "--sequence-memory", "1",
                                      str(log)])
    capsys.readouterr()
    assert args.handler(args) == 0
    assert f"{evicted} partial matches of sequences evicted" in capsys.readouterr().err

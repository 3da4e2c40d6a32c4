"""`report`'s inputs: --since/--until as ausearch reads them, and the control
mapping files (shipped ones load; a bad one is refused with file:line; a
user's own framework is one more file; rule tags agree with the mappings)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from audisp_eql.report.controls import MappingError, load_controls, rule_categories
from audisp_eql.report.timerange import TimeRangeError, parse_point, parse_range
from audisp_eql.rules import load_rules
from conftest import LOGS, ROOT

CONTROLS = ROOT / "controls"
DEB = LOGS / "debian12-auditd" / "accounts-logins-files-network.log"


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# 2026-12-03 (a Thursday) 10:20:30 UTC
NOW = 1796293230


@pytest.mark.parametrize("text, end, expected", [
    ("now", False, "2026-12-03 10:20:30"),
    ("recent", False, "2026-12-03 10:10:30"),
    ("this-hour", False, "2026-12-03 10:00:00"),
    ("today", False, "2026-12-03 00:00:00"),
    ("today", True, "2026-12-03 10:20:30"),            # -te today is now
    ("yesterday", True, "2026-12-02 00:00:00"),
    ("this-week", False, "2026-11-29 00:00:00"),       # the Sunday before
    ("week-ago", False, "2026-11-26 00:00:00"),
    ("this-month", False, "2026-12-01 00:00:00"),
    ("this-year", False, "2026-01-01 00:00:00"),
    ("today 18:00", False, "2026-12-03 18:00:00"),
    ("18:00 today", False, "2026-12-03 18:00:00"),
    ("recent 00:00:00", False, "2026-12-03 10:10:30"),  # a clock keyword keeps its clock
    ("12/01/26", False, "2026-12-01 00:00:00"),
    ("12/01/26", True, "2026-12-01 10:20:30"),          # -te DATE: that day, now's clock
    ("12/01/26 08:32", False, "2026-12-01 08:32:00"),
    ("08:32:19", False, "2026-12-03 08:32:19"),
    ("2026-12-01", False, "2026-12-01 00:00:00"),
    ("2026-12-01T08:00:00+01:00", False, "2026-12-01 07:00:00"),
    ("@1796286739", False, "2026-12-03 08:32:19"),
])
def test_ausearch_time_words(utc, text, end, expected):
    point = parse_point(text, end=end, now=NOW, date_format="%m/%d/%y")
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(point.seconds)) == expected


def test_boot_is_this_machine_s_boot(utc):
    point = parse_point("boot", end=False, now=NOW, uptime=lambda: 3600.4)
    assert point.seconds == NOW - 3600


@pytest.mark.parametrize("text, message", [
    ("12/03/2003", "not a date"),                 # C form has two-digit years
    ("01/01/03", "before 2004"),
    ("tomorrow", "not a date"),
    ("12/03/26 25:00", "not a time"),
    ("a b c", "give a keyword"),
    ("checkpoint", "checkpoint"),
    ("02/30/26", "not a date"),
])
def test_bad_times_say_why(utc, text, message):
    with pytest.raises(TimeRangeError, match=message):
        parse_point(text, end=False, now=NOW, date_format="%m/%d/%y")


def test_locale_date_format_first_then_the_c_form(utc):
    # en_US writes %m/%d/%Y; de_DE %d.%m.%Y. The C form is always accepted too.
    assert parse_point("12/01/2026", end=False, now=NOW, date_format="%m/%d/%Y").seconds == \
        parse_point("2026-12-01", end=False, now=NOW).seconds
    assert parse_point("01.12.2026", end=False, now=NOW, date_format="%d.%m.%Y").seconds == \
        parse_point("12/01/26", end=False, now=NOW, date_format="%d.%m.%Y").seconds


def test_until_before_since_is_refused(utc):
    with pytest.raises(TimeRangeError, match="before"):
        parse_range("today", "yesterday", now=NOW)


@pytest.mark.parametrize("since, until", [
    ("12/03/26 08:32:19", "12/03/26 08:32:28"),
    ("12/03/26 08:32:28", None),
    (None, "12/03/26 08:32:16"),
])
def test_window_selects_the_events_ausearch_selects(shared, tmp_path, since, until):
    """The real ausearch on the Debian capture is the oracle: same -ts/-te, same events."""
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    args = ["ausearch", "-if", str(DEB), "--raw"]
    if since:
        args += ["-ts", *since.split()]
    if until:
        args += ["-te", *until.split()]
    raw = subprocess.run(args, capture_output=True, text=True, env=env).stdout
    expected = len(set(re.findall(r"msg=audit\((\d+\.\d+:\d+)\)", raw)))
    assert expected > 0
    out = tmp_path / "r.json"
    cmd = [str(ROOT / ".venv" / "bin" / "audisp-eql"), "report", "--format", "json", "-q",
           "-o", str(out), "--parser", "python", str(DEB)]
    if since:
        cmd += ["--since", since]
    if until:
        cmd += ["--until", until]
    subprocess.run(cmd, check=True, env=env)
    import json
    assert json.loads(out.read_text())["summaries"]["summary"]["events"] == expected


def test_shipped_mappings_load():
    controls = load_controls([CONTROLS])
    ids = {f.id: [c.id for c in f.controls] for f in controls.frameworks}
    assert {"10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5", "10.2.1.6", "10.2.1.7",
            "10.2.2", "10.3", "10.7"} <= set(ids["pci-dss-4.0"])
    assert {"AU-2", "AU-6", "AU-12", "AC-2", "AC-6(9)", "CM-5", "SI-4"} <= set(ids["nist-800-53-r5"])
    assert {"A.8.15", "A.8.16"} <= set(ids["iso-27001-2022"])


def test_rule_control_tags_are_what_the_mappings_give():
    """Alerts carry "Control:" tags for whoever receives them; the mapping files are
    what the report uses. They must agree, rule by rule."""
    controls = load_controls([CONTROLS])
    tagged = 0
    for rule in load_rules([ROOT / "rules"]).rules:
        if not rule_categories(rule):
            assert not [t for t in rule.tags if t.startswith("Control: ")], rule.name
            continue
        tagged += 1
        assert set(rule_categories(rule)) <= set(controls.evidence), rule.name
        expected = {c.key for c in controls.controls_of(rule)}
        assert {t[len("Control: "):] for t in rule.tags if t.startswith("Control: ")} == \
            expected, rule.name
    assert tagged >= 30


def test_every_evidence_category_has_a_rule_or_is_computed():
    controls = load_controls([CONTROLS])
    rules = load_rules([ROOT / "rules"]).rules
    for name, evidence in controls.evidence.items():
        assert evidence.computed or any(name in rule_categories(r) for r in rules), name


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


FRAMEWORK = '[framework]\nid = "site"\nname = "Site policy"\nversion = "1"\n'


@pytest.mark.parametrize("body, message", [
    (FRAMEWORK + '[[control]]\nid = "S-1"\ntitle = "t"\nevidence = ["no-such"]\n',
     r"site.toml:6: control S-1: unknown evidence category no-such"),
    (FRAMEWORK + '[[control]]\nid = "S-1"\ntitle = "t"\nevidence = ["failed-logins"]\n'
                 '[[control]]\nid = "S-1"\ntitle = "u"\nevidence = ["failed-logins"]\n',
     r"site.toml:10: control S-1 appears twice"),
    ('[[control]]\nid = "S-1"\ntitle = "t"\n', r"site.toml: no \[framework\] table"),
    (FRAMEWORK + '[[control]]\nid = "S-1"\ntitle = "t"\n', r"names no evidence"),
    (FRAMEWORK + '[[control]\nid = "x"\n', r"site.toml:5: TOML syntax error"),
    (FRAMEWORK + '[evidence.mine]\ntitle = "m"\nsources = ["file"]\n'
                 '[[control]]\nid = "S-1"\ntitle = "t"\nevidence = ["mine"]\n',
     r"site.toml:5: unknown source 'file'"),
    ('[framework]\nid = "pci-dss-4.0"\nname = "again"\n[[control]]\nid = "x"\ntitle = "t"\n'
     'evidence = ["failed-logins"]\n', r"site.toml:2: framework pci-dss-4.0 is already defined"),
])
def test_bad_mapping_files_are_refused_with_file_and_line(tmp_path, body, message):
    site = _write(tmp_path / "site.toml", body)
    with pytest.raises(MappingError, match=message):
        load_controls([CONTROLS, site])


def test_a_mapping_file_others_can_write_is_refused(tmp_path):
    site = _write(tmp_path / "site.toml", FRAMEWORK + '[[control]]\nid = "S-1"\ntitle = "t"\n'
                                                      'evidence = ["failed-logins"]\n')
    os.chmod(site, 0o666)
    with pytest.raises(MappingError, match="refusing to load"):
        load_controls([CONTROLS, site])


def test_one_more_file_adds_a_framework_with_its_own_category(tmp_path):
    site = _write(tmp_path / "site.toml", FRAMEWORK + (
        '[evidence.root-logins]\ntitle = "Root logins"\nsources = ["userspace"]\n'
        '[[control]]\nid = "S-1"\ntitle = "Failed logins are logged"\nevidence = ["failed-logins"]\n'
        '[[control]]\nid = "S-2"\ntitle = "Root logins"\nevidence = ["root-logins"]\n'
        'rules = ["e23a6e13-fc65-4f45-b9d3-896649363e11"]\n'))
    controls = load_controls([CONTROLS, site])
    site_fw = next(f for f in controls.frameworks if f.id == "site")
    assert [c.key for c in site_fw.controls] == ["site:S-1", "site:S-2"]
    assert controls.evidence["root-logins"].sources == ("userspace",)
    failed_login = next(r for r in load_rules([ROOT / "rules"]).rules if r.name == "Failed Login")
    assert {"site:S-1", "site:S-2"} <= {c.key for c in controls.controls_of(failed_login)}

"""Our rule pack (rules/): well-formed, all `ok`, and each rule fires on its
hit log exactly where expected and stays silent on its near misses."""

from __future__ import annotations

import sys
import uuid

import pytest

from conftest import ROOT
from audisp_eql.rules import OK, load_rules
from harness.pipelines import documents_of, run

DATA = ROOT / "tests" / "data" / "rules"
sys.path.insert(0, str(DATA))
import make_logs  # noqa: E402  (tests/data/rules/make_logs.py: the log writer)

RULE_FILES = sorted((ROOT / "rules").glob("*.toml"))
STEMS = [p.stem for p in RULE_FILES]


def documents(path) -> list[dict]:
    return documents_of(path.read_bytes(), process_table_size=4096)


def test_pack_has_at_least_20_rules_all_ok():
    ruleset = load_rules([ROOT / "rules"])
    assert len(RULE_FILES) >= 20
    assert [r.status for r in ruleset.reports] == [OK] * len(RULE_FILES), \
        [(r.name, r.reason) for r in ruleset.reports if r.status != OK]
    ids = [r.rule_id for r in ruleset.rules]
    assert len(set(ids)) == len(ids)
    for rule in ruleset.rules:
        assert uuid.UUID(rule.rule_id).version == 4
        assert rule.author == ("audisp-eql",) and rule.license == "Apache-2.0"
        assert rule.threat and all(t["tactic"]["id"].startswith("TA") for t in rule.threat)
        assert "OS: Linux" in rule.tags and rule.description


def test_compliance_rules_are_tagged():
    ruleset = load_rules([ROOT / "rules"])
    compliance = [r.name for r in ruleset.rules if "Use Case: Compliance" in r.tags]
    assert len(compliance) >= 8
    assert "Audit Rules Deleted or Auditing Disabled with auditctl" in compliance


def test_every_rule_has_hit_and_miss_logs():
    written = set(make_logs.logs())
    for stem in STEMS:
        assert {f"{stem}.hit.log", f"{stem}.miss.log"} <= written


def test_committed_logs_are_what_make_logs_writes():
    for name, content in make_logs.logs().items():
        assert (DATA / name).read_bytes() == content, f"{name}: rerun tests/data/rules/make_logs.py"
    assert (ROOT / "examples" / "intrusion.log").read_bytes() == make_logs.intrusion_log()


@pytest.mark.parametrize("stem", STEMS)
def test_rule_fires_on_its_hits_and_not_on_its_near_misses(stem):
    rule = load_rules([ROOT / "rules" / f"{stem}.toml"]).rules[0]
    hits, alerts, _ = run((DATA / f"{stem}.hit.log").read_bytes(), rules=[rule],
                          process_table_size=4096)
    expected = [hits[i]["event"]["id"] for i in make_logs.expected_alerts(stem)]
    assert expected
    assert [alert["event"]["id"] for alert in alerts] == expected
    misses, missed_alerts, _ = run((DATA / f"{stem}.miss.log").read_bytes(), rules=[rule],
                                   process_table_size=4096)
    assert misses
    assert [alert["process"]["args"] for alert in missed_alerts] == []
    alert = alerts[0]
    assert alert["rule"]["uuid"] == rule.rule_id and alert["threat"]["tactic"]["id"]

"""alerts.py: document + rule -> ECS alert."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from conftest import ROOT, SEED
from audisp_eql.alerts import make_alert
from audisp_eql.engine import Match
from audisp_eql.rules import load_rules

DOC = {
    "@timestamp": "2024-06-03T07:33:20.000Z",
    "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec",
              "id": "1717400000.000:7100"},
    "process": {"name": "nc", "args": ["nc", "-U", "/run/x.sock"], "pid": 4000},
    "host": {"os": {"type": "linux"}},
}
NOW = datetime(2024, 6, 3, 8, 0, 0, tzinfo=timezone.utc)


def test_alert_carries_event_rule_and_threat(shared):
    rule = load_rules([SEED]).rules[0]
    before = copy.deepcopy(DOC)
    alert = make_alert(Match(rule, (DOC,)), now=NOW)
    assert DOC == before  # the input is not mutated
    assert alert["event"]["kind"] == "alert"
    assert alert["event"]["id"] == "1717400000.000:7100"
    assert alert["@timestamp"] == "2024-06-03T07:33:20.000Z"
    assert alert["event"]["created"] == "2024-06-03T08:00:00.000Z"
    assert alert["event"]["severity"] == 21 and alert["event"]["risk_score"] == 21.0
    assert alert["kibana"]["alert"] == {"severity": "low", "risk_score": 21,
                                        "rule": {"tags": list(rule.tags)}}
    assert "audisp_eql" not in alert     # the seed rule names no control
    assert alert["rule"]["uuid"] == "41284ba3-ed1a-4598-bfba-a97f75d9aba2"
    assert alert["rule"]["name"] == "Unix Socket Connection"
    assert alert["rule"]["description"].startswith("This rule monitors")
    assert alert["threat"] == {
        "framework": "MITRE ATT&CK",
        "tactic": {"id": ["TA0002"], "name": ["Execution"],
                   "reference": ["https://attack.mitre.org/tactics/TA0002/"]},
        "technique": {"id": ["T1559"], "name": ["Inter-Process Communication"],
                      "reference": ["https://attack.mitre.org/techniques/T1559/"]},
    }
    assert alert["process"] == DOC["process"]
    # What the alert changes is its own; the rest is shared read-only with the document.
    assert alert["event"] is not DOC["event"] and alert is not DOC


def test_subtechniques_and_several_tactics():
    rule = load_rules([ROOT / "rules" / "execution_download_piped_to_shell.toml"]).rules[0]
    alert = make_alert(Match(rule, (DOC,)), now=NOW)
    threat = alert["threat"]
    assert threat["tactic"]["id"] == ["TA0011", "TA0002"]
    assert threat["technique"]["id"] == ["T1105", "T1059"]
    assert threat["technique"]["subtechnique"]["id"] == ["T1059.004"]
    assert threat["technique"]["subtechnique"]["reference"] == [
        "https://attack.mitre.org/techniques/T1059/004/"]


def test_document_without_event_or_time_still_gives_an_alert(shared):
    rule = load_rules([SEED]).rules[0]
    alert = make_alert(Match(rule, ({"process": {"name": "nc"}},)), now=NOW)
    assert alert["event"]["kind"] == "alert"
    assert alert["@timestamp"] == "2024-06-03T08:00:00.000Z"
    assert "id" not in alert["event"]


def test_alert_of_several_documents_names_each_in_order(shared):
    """A sequence's alert: the last document's fields, a group id per match and
    one ancestor per matched event, in order (each one `ausearch --event` finds)."""
    rule = load_rules([SEED]).rules[0]
    first = {**DOC, "event": {**DOC["event"], "id": "1717400000.000:7000"},
             "process": {"name": "bash", "pid": 3999}}
    last = DOC
    alert = make_alert(Match(rule, (first, last)), now=NOW)
    assert alert["process"] == last["process"] and alert["event"]["id"] == last["event"]["id"]
    ancestors = alert["kibana"]["alert"]["ancestors"]
    assert ancestors == [{"id": "1717400000.000:7000", "type": "event", "depth": 0},
                         {"id": "1717400000.000:7100", "type": "event", "depth": 0}]
    group = alert["kibana"]["alert"]["group"]["id"]
    assert group == make_alert(Match(rule, (first, last)), now=NOW)["kibana"]["alert"]["group"]["id"]
    other = make_alert(Match(rule, (last, first)), now=NOW)["kibana"]["alert"]["group"]["id"]
    assert other != group
    # Without event ids nothing tells matches apart: each gets its own group.
    bare = ({"process": {"name": "a"}}, {"process": {"name": "b"}})
    assert make_alert(Match(rule, bare))["kibana"]["alert"]["group"]["id"] != \
        make_alert(Match(rule, bare))["kibana"]["alert"]["group"]["id"]
    single = make_alert(Match(rule, (last,)), now=NOW)
    assert "group" not in single["kibana"]["alert"] and "ancestors" not in single["kibana"]["alert"]


def test_alert_carries_the_controls_its_rule_evidences():
    """A rule of our pack tagged "Control: <framework>:<id>": the alert names the
    control ids next to the rule's tags, for whoever receives it (SIEM, syslog)."""
    from conftest import ROOT
    rule = load_rules([ROOT / "rules" / "credential_access_failed_login.toml"]).rules[0]
    doc = {**DOC, "event": {**DOC["event"], "category": ["authentication"]}}
    alert = make_alert(Match(rule, (doc,)), now=NOW)
    assert alert["kibana"]["alert"]["rule"]["tags"] == list(rule.tags)
    assert "pci-dss-4.0:10.2.1.4" in alert["audisp_eql"]["controls"]
    assert all(f"Control: {c}" in rule.tags for c in alert["audisp_eql"]["controls"])


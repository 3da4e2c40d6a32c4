"""A match (a rule and the documents it matched) -> one ECS alert document.

Independent of how alerts are written (syslog, JSON lines, terminal): this
only builds the nested dict. The input document is never mutated: the alert is
a new top-level dict with its own `event` and `kibana`, and shares the rest
(`process`, `user`, ... and the per-rule `rule`/`threat` parts) read-only,
since copying a document with a long argv costs more than the evaluation.

Where the rule lands in the alert (ECS where ECS has a field, otherwise the
names Elastic Security uses for its own alerts):

    event.kind = "alert", event.severity = risk_score, event.risk_score
    rule.uuid / rule.id = rule_id, rule.name, rule.description,
    rule.reference (list), rule.author (list), rule.license
    threat.framework, threat.tactic.*, threat.technique.*,
    threat.technique.subtechnique.* (ECS arrays, one entry per mapping)
    kibana.alert.severity ("low".."critical"), kibana.alert.risk_score,
    kibana.alert.rule.tags (the rule's tags), audisp_eql.controls (the
    control ids of its "Control: <framework>:<id>" tags, when it has any)

An alert from several documents (a sequence, a sample) carries the
top-level fields of the last one, `kibana.alert.group.id` (derived from the
rule, the matched events and the join key: the same for a replay of the same
input, different for any other match) and `kibana.alert.ancestors`: one
`{"id": event.id, "type": "event", "depth": 0}` per matched document, in
order, so that each can be pulled back with `ausearch --event`. Kibana
writes a building-block alert per event and a shell alert with the fields
all events share instead; here it is one alert. `audisp_eql.events` lists
each matched event briefly (time, ids, process, file, destination) and
`audisp_eql.join_keys` the values they joined on, for people and scripts
reading the alert without the events at hand.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from .digest import sha256
from .engine import Match
from .rules import Rule


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _append_unique(target: dict[str, list[str]], key: str, value: Any) -> None:
    if isinstance(value, str) and value and value not in target.setdefault(key, []):
        target[key].append(value)


def _subtable(owner: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """A TOML sub-table that may be written as one table or as an array of tables."""
    value = owner.get(key)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def threat_fields(rule: Rule) -> dict[str, Any]:
    """The rule's [[rule.threat]] mapping as ECS `threat.*` arrays (empty if none)."""
    tactic: dict[str, list[str]] = {}
    technique: dict[str, list[str]] = {}
    sub: dict[str, list[str]] = {}
    framework = ""
    for entry in rule.threat:
        framework = framework or str(entry.get("framework", ""))
        for tac in _subtable(entry, "tactic"):
            for key in ("id", "name", "reference"):
                _append_unique(tactic, key, tac.get(key))
        for tech in _subtable(entry, "technique"):
            for key in ("id", "name", "reference"):
                _append_unique(technique, key, tech.get(key))
            for subtech in _subtable(tech, "subtechnique"):
                for key in ("id", "name", "reference"):
                    _append_unique(sub, key, subtech.get(key))
    if not (tactic or technique):
        return {}
    threat: dict[str, Any] = {"framework": framework or "MITRE ATT&CK"}
    if tactic:
        threat["tactic"] = tactic
    if technique or sub:
        threat["technique"] = dict(technique)
        if sub:
            threat["technique"]["subtechnique"] = sub
    return threat


def rule_fields(rule: Rule) -> dict[str, Any]:
    fields: dict[str, Any] = {"uuid": rule.rule_id, "id": rule.rule_id, "name": rule.name}
    if rule.description:
        fields["description"] = rule.description
    if rule.references:
        fields["reference"] = list(rule.references)
    if rule.author:
        fields["author"] = list(rule.author)
    if rule.license:
        fields["license"] = rule.license
    return fields


CONTROL_TAG = "Control: "

# rule_id -> (rule, its rule.* fields, its threat.* fields, its tags, its control ids),
# built once per rule object (a reload brings new objects and replaces the entries).
_RULE_PARTS: dict[str, tuple[Rule, dict[str, Any], dict[str, Any], list[str], list[str]]] = {}


def _rule_parts(rule: Rule) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    parts = _RULE_PARTS.get(rule.rule_id)
    if parts is None or parts[0] is not rule:
        controls = [t[len(CONTROL_TAG):].strip() for t in rule.tags if t.startswith(CONTROL_TAG)]
        parts = (rule, rule_fields(rule), threat_fields(rule), list(rule.tags), controls)
        _RULE_PARTS[rule.rule_id] = parts
    return parts[1], parts[2], parts[3], parts[4]


def make_alert(match: Match, *, now: datetime | None = None) -> dict[str, Any]:
    """The ECS alert for `match`; `now` stamps event.created.

    Treat the result as read-only: it shares sub-objects with the last
    document and with the other alerts of the same rule."""
    rule, documents = match.rule, match.documents
    doc = documents[-1]
    alert = dict(doc)
    moment = now if now is not None else datetime.now(timezone.utc)
    event = doc.get("event")
    event = dict(event) if isinstance(event, dict) else {}
    alert["event"] = event
    event["kind"] = "alert"
    event["severity"] = rule.risk_score
    event["risk_score"] = float(rule.risk_score)
    event["created"] = _iso(moment)
    # An alert from a document without a time still needs one to be indexed.
    alert.setdefault("@timestamp", event["created"])
    fields, threat, tags, controls = _rule_parts(rule)
    alert["rule"] = fields
    if threat:
        alert["threat"] = threat
    else:
        alert.pop("threat", None)
    kibana = doc.get("kibana")
    kibana = dict(kibana) if isinstance(kibana, dict) else {}
    kibana["alert"] = {"severity": rule.severity, "risk_score": rule.risk_score,
                       "rule": {"tags": tags}}
    if controls:
        audisp_eql = alert.get("audisp_eql")
        alert["audisp_eql"] = {**audisp_eql, "controls": controls} \
            if isinstance(audisp_eql, dict) else {"controls": controls}
    if len(documents) > 1 or match.join_key is not None:
        ids = [_event_id(d) for d in documents]
        key = [_key_text(v) for v in match.join_key] if match.join_key is not None else []
        kibana["alert"]["group"] = {"id": _group_id(rule, ids, key)}
        kibana["alert"]["ancestors"] = [{"id": i, "type": "event", "depth": 0} for i in ids]
        own = dict(alert["audisp_eql"]) if isinstance(alert.get("audisp_eql"), dict) else {}
        own["events"] = [_brief(d) for d in documents]
        if match.join_key is not None:
            own["join_keys"] = key
        alert["audisp_eql"] = own
    alert["kibana"] = kibana
    return alert


# What `audisp_eql.events` keeps of each matched event.
_BRIEF = (("event", ("id", "category", "action", "type")),
          ("process", ("pid", "entity_id", "name", "executable", "command_line")),
          ("user", ("id", "name")), ("file", ("path",)),
          ("source", ("ip", "port")), ("destination", ("ip", "port")))
# The fields of an alert of several events beside its last document's
# (the SIEM index template maps them).
MATCH_FIELDS: tuple[str, ...] = (
    "audisp_eql.join_keys", "audisp_eql.events.@timestamp", "audisp_eql.events.process.parent.pid",
    *(f"audisp_eql.events.{section}.{name}" for section, names in _BRIEF for name in names))


def _brief(doc: dict[str, Any]) -> dict[str, Any]:
    brief: dict[str, Any] = {}
    if "@timestamp" in doc:
        brief["@timestamp"] = doc["@timestamp"]
    for section, names in _BRIEF:
        part = doc.get(section)
        if isinstance(part, dict):
            kept = {n: part[n] for n in names if part.get(n) is not None}
            if kept:
                brief[section] = kept
    parent = doc.get("process", {}).get("parent") if isinstance(doc.get("process"), dict) \
        else None
    if isinstance(parent, dict) and parent.get("pid") is not None:
        brief.setdefault("process", {})["parent"] = {"pid": parent["pid"]}
    return brief


def _key_text(value: Any) -> Any:
    """A join key value as text (one keyword field for strings, numbers and
    booleans; null for a `?field` without a value)."""
    if isinstance(value, tuple) and len(value) == 2:   # the matcher's tagged boolean
        return "true" if value[1] else "false"
    return value if value is None or isinstance(value, str) else str(value)


def _event_id(doc: dict[str, Any]) -> str:
    event = doc.get("event")
    ident = event.get("id") if isinstance(event, dict) else None
    return ident if isinstance(ident, str) else ""


def _group_id(rule: Rule, event_ids: list[str], key: list[Any]) -> str:
    """Stable per match: the rule, the ids of the events it matched and the
    join key (random when a document has no event.id: nothing else tells two
    matches apart)."""
    if not all(event_ids):
        return uuid.uuid4().hex
    text = "\x00".join([rule.rule_id, *event_ids, "\x01", *map(repr, key)])
    return sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

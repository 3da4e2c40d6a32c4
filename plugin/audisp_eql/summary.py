"""What `scan` tells a person: alerts as readable text and a summary (progress:
progress.py).

Every string that comes from the audited system goes through `safe_text`:
an argv can hold terminal escapes and newlines.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .escape import safe_text

SEVERITY_ORDER = ("critical", "high", "medium", "low")
_COLORS = {"critical": "\033[1;31m", "high": "\033[31m", "medium": "\033[33m", "low": "\033[36m"}
_RESET = "\033[0m"


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(safe_text(str(v)) for v in value)
    return safe_text(str(value))


def render_alert(alert: dict[str, Any], *, color: bool = False) -> str:
    """A few readable lines for one alert (no trailing newline)."""
    severity = str(_get(alert, "kibana.alert.severity") or "")
    label = f"{safe_text(severity.upper()):8}"
    if color and severity in _COLORS:
        label = f"{_COLORS[severity]}{label}{_RESET}"
    user = _get(alert, "user.name") or _get(alert, "user.id")
    lines = [
        f"{_text(_get(alert, '@timestamp'))} {label} {_text(_get(alert, 'rule.name'))}",
        f"    {_text(_get(alert, 'process.executable'))} pid={_text(_get(alert, 'process.pid'))} "
        f"user={_text(user)} cwd={_text(_get(alert, 'process.working_directory'))}",
        f"    args: {_text(_get(alert, 'process.args'))}",
    ]
    parent = _get(alert, "process.parent.name") or _get(alert, "process.parent.executable")
    if parent is not None or _get(alert, "process.parent.pid") is not None:
        lines.append(f"    parent: {_text(parent)} pid={_text(_get(alert, 'process.parent.pid'))}")
    techniques = _get(alert, "threat.technique.subtechnique.id") or _get(alert, "threat.technique.id")
    tactics = _get(alert, "threat.tactic.name")
    host = _get(alert, "host.name")
    tail = f"    event.id={_text(_get(alert, 'event.id'))}"
    if host:
        tail += f" host={_text(host)}"
    if tactics or techniques:
        tail += f" ATT&CK: {_text(tactics)} {_text(techniques)}"
    lines.append(tail)
    events = _get(alert, "audisp_eql.events")
    if isinstance(events, list) and events:
        # A sequence or sample: every event of the match, in order.
        lines.append(f"    {len(events)} events:")
        for number, brief in enumerate(events, 1):
            if isinstance(brief, dict):
                lines.append(f"      {number}. {_event_line(brief)}")
    return "\n".join(lines)


def _event_line(brief: dict[str, Any]) -> str:
    line = (f"{_text(_get(brief, '@timestamp'))} event.id={_text(_get(brief, 'event.id'))} "
            f"{_text(_get(brief, 'event.category'))}")
    for label, dotted in (("pid", "process.pid"), ("ppid", "process.parent.pid"),
                          ("exe", "process.executable"), ("cmd", "process.command_line"),
                          ("file", "file.path"), ("dst", "destination.ip")):
        value = _get(brief, dotted)
        if value is not None:
            line += f" {label}={_text(value)}"
    return line


@dataclass
class ScanSummary:
    """Counts gathered during a scan; `render` for people, `to_json` for programs."""

    files: int = 0
    events: int = 0  # documents evaluated (process starts, or ECS input lines)
    alerts: int = 0
    by_rule: Counter = field(default_factory=Counter)  # (rule_id, name) -> alerts
    by_severity: Counter = field(default_factory=Counter)
    tactics: Counter = field(default_factory=Counter)
    parse_errors: int = 0
    unreadable: int = 0
    no_records: int = 0        # inputs of which no line was an audit record (or document)
    load_errors: int = 0       # rule and exception files not loaded
    rule_errors: int = 0
    rules: int = 0
    # (exception, alerts it suppressed) for every loaded exception
    excepted: list = field(default_factory=list)
    # the engine's state counters (Engine.stats(): pending, evicted, expired)
    state: dict = field(default_factory=dict)

    def count_alert(self, alert: dict[str, Any]) -> None:
        self.alerts += 1
        rule = alert.get("rule", {})
        self.by_rule[(rule.get("uuid"), rule.get("name"))] += 1
        self.by_severity[str(_get(alert, "kibana.alert.severity") or "unknown")] += 1
        for name in _get(alert, "threat.tactic.name") or ():
            self.tactics[name] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files, "events": self.events, "alerts": self.alerts, "rules": self.rules,
            "alerts_by_rule": [{"rule_id": rid, "name": name, "alerts": n}
                               for (rid, name), n in self.by_rule.most_common()],
            "alerts_by_severity": dict(self.by_severity),
            "tactics": dict(self.tactics),
            "parse_errors": self.parse_errors, "unreadable_files": self.unreadable,
            "inputs_without_records": self.no_records, "load_errors": self.load_errors,
            "rule_errors": self.rule_errors,
            "suppressed_by_exceptions": sum(n for _item, n in self.excepted),
            "exceptions": [{"name": item.name, "where": item.where, "key": item.key,
                            "suppressed": n} for item, n in self.excepted],
            "partial_matches": {k: v for k, v in self.state.items() if k != "rule_errors"},
        }

    def render(self) -> str:
        lines = [f"scan summary: {self.events} events from {self.files} input(s), "
                 f"{self.rules} rules, {self.alerts} alerts"]
        if self.by_severity:
            ordered = sorted(self.by_severity.items(),
                             key=lambda kv: SEVERITY_ORDER.index(kv[0]) if kv[0] in SEVERITY_ORDER else 9)
            lines.append("  by severity: " + ", ".join(f"{safe_text(k)} {v}" for k, v in ordered))
        if self.by_rule:
            lines.append("  by rule:")
            for (_rid, name), n in self.by_rule.most_common():
                lines.append(f"    {n:6}  {safe_text(str(name))}")
        if self.tactics:
            lines.append("  ATT&CK tactics: " + ", ".join(
                f"{safe_text(k)} {v}" for k, v in self.tactics.most_common()))
        if self.excepted:
            lines.append(f"  suppressed by exceptions: {sum(n for _i, n in self.excepted)}")
            for item, n in self.excepted:
                lines.append(f"    {n:6}  {safe_text(item.name)} ({safe_text(item.where)})")
        lines.append(f"  parse errors: {self.parse_errors}, unreadable inputs: {self.unreadable}, "
                     f"inputs without records: {self.no_records}, rule/exception files not "
                     f"loaded: {self.load_errors}, rule evaluation errors: {self.rule_errors}")
        if self.state:
            # Sequences and samples: what they held at the end, lost to a bound, or let expire.
            lines.append(f"  partial matches: {self.state.get('pending_partial_matches', 0)} "
                         f"pending, {self.state.get('evicted_partial_matches', 0)} evicted, "
                         f"{self.state.get('expired_partial_matches', 0)} expired")
        return "\n".join(lines)

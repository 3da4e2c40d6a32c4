"""The report as data: what the collector gathered, judged control by control.
The JSON output is this dict; the HTML renders it; the CSV lists its findings.

Status of a control (per host, then overall: findings > no_findings >
not_assessed):

    findings      a loaded rule of one of its evidence categories (or one it names)
                  alerted, or, for computed checks, the records show it
    no_findings   at least one of its categories is assessed (one of its event
                  sources is in the logs and a loaded rule of it can fire), and
                  nothing was found; the categories not assessed are listed
    not_assessed  none of its categories could be assessed: the logs lack the
                  event source, or no loaded rule can see it (`missing` says what
                  to load)
"""

from __future__ import annotations

from typing import Any

from .. import __version__, limits
from ..rules import OK, Rule, RuleSet
from .bounded import CappedCounter, Timeline, merged
from .collect import COMPLETENESS, Collector, RuleHits, ausearch_command, iso
from .controls import Control, ControlSet, rule_categories
from .profiles import audit_profiles

FINDINGS, NO_FINDINGS, NOT_ASSESSED = "findings", "no_findings", "not_assessed"
_ORDER = {FINDINGS: 0, NO_FINDINGS: 1, NOT_ASSESSED: 2}
# Integrity gaps that are findings of the computed lost-records category.
GAP_FINDINGS = ("lost_records", "auditd_stopped", "auditd_unclean_restart",
                "logging_suspended", "audit_disabled")


def _best(statuses: list[str]) -> str:
    return min(statuses, key=_ORDER.__getitem__) if statuses else NOT_ASSESSED


class ReportBuilder:
    def __init__(self, collector: Collector, ruleset: RuleSet, rules: list[Rule],
                 controls: ControlSet, meta: dict[str, Any],
                 declared_keys: frozenset[str] = frozenset()) -> None:
        self.c = collector
        self.ruleset = ruleset
        self.rules = rules
        self.controls = controls
        self.meta = meta
        self.status = {r.rule_id: r.status for r in ruleset.reports if r.rule_id}
        self.sources = {name: host.sources(declared_keys) for name, host in collector.hosts.items()}
        self.gap_findings = self._gap_findings()

    # -- categories ------------------------------------------------------------------
    def _rules_of(self, control: Control) -> list[Rule]:
        wanted = set(control.evidence)
        return [r for r in self.rules
                if wanted.intersection(rule_categories(r)) or r.rule_id in control.rules]

    def _runnable(self, category: str) -> list[Rule]:
        return [r for r in self.rules if category in rule_categories(r)
                and self.status.get(r.rule_id) == OK]

    def _assessed(self, category: str, host: str) -> bool:
        evidence = self.controls.evidence[category]
        if not set(evidence.sources) & self.sources.get(host, set()):
            return False
        return bool(evidence.computed) or bool(self._runnable(category))

    def _why_not(self, category: str) -> str:
        evidence = self.controls.evidence[category]
        rules = [r for r in self.rules if category in rule_categories(r)]
        if not rules and not evidence.computed:
            return "no loaded rule evidences it"
        if not evidence.computed and not self._runnable(category):
            return ("its rules cannot fire on audisp-eql's documents yet (they need "
                    "event kinds it does not build); " + (evidence.missing or ""))
        return "no event source in these logs: " + (evidence.missing or ", ".join(evidence.sources))

    def _gap_findings(self) -> list[dict[str, Any]]:
        out = []
        for host in self.c.hosts.values():
            for gap in host.integrity.to_json():
                if gap["kind"] in GAP_FINDINGS:
                    out.append(gap)
        return out

    # -- controls ----------------------------------------------------------------------
    def control(self, control: Control) -> dict[str, Any]:
        hits = [self.c.rules[r.rule_id] for r in self._rules_of(control)
                if r.rule_id in self.c.rules]
        integrity = any(self.controls.evidence[e].computed == "integrity"
                        for e in control.evidence)
        gaps = self.gap_findings if integrity else []
        hosts = sorted(self.c.hosts)
        per_host: dict[str, str] = {}
        assessed: set[str] = set()
        for host in hosts:
            found = sum(h.hosts.counts.get(host, 0) for h in hits) + \
                sum(1 for g in gaps if g["host"] == host)
            ok = [e for e in control.evidence if self._assessed(e, host)]
            assessed.update(ok)
            if control.computed == "record-completeness":
                per_host[host] = FINDINGS if found or any(h.hosts.counts.get(host) for h in
                                                         self.c.rules.values()) else NOT_ASSESSED
            else:
                per_host[host] = FINDINGS if found else NO_FINDINGS if ok else NOT_ASSESSED
        missing = [{"category": e, "why": self._why_not(e)} for e in control.evidence
                   if e not in assessed]
        entry: dict[str, Any] = {
            "framework": control.framework, "id": control.id, "key": control.key,
            "title": control.title, "status": _best(list(per_host.values())),
            "evidence_categories": list(control.evidence),
            "evidence_titles": {e: self.controls.evidence[e].title for e in control.evidence},
            "not_assessed": missing, "per_host": per_host,
        }
        if control.computed == "record-completeness":
            entry.update(self._completeness())
            return entry
        entry.update(self._aggregate(control, hits, gaps))
        return entry

    def _aggregate(self, control: Control, hits: list[RuleHits],
                   gaps: list[dict[str, Any]]) -> dict[str, Any]:
        timeline = Timeline()
        for h in hits:
            timeline.update(h.timeline)
        users = merged(h.users for h in hits)
        hosts: CappedCounter[str] = merged(h.hosts for h in hits)
        evidence: list[dict[str, Any]] = [f for h in hits for f in h.evidence.items]
        for gap in gaps:
            hosts.add(gap["host"])
            evidence.append(self._gap_row(gap, control))
        evidence.sort(key=lambda f: (f.get("time") or "", f["id"]))
        total = sum(h.count for h in hits) + len(gaps)
        shown = evidence[:limits.REPORT_EVIDENCE]
        first = [h.first for h in hits if h.first is not None]
        last = [h.last for h in hits if h.last is not None]
        points: list[list[Any]] = []
        width = 0
        if first:
            width, pts = timeline.points(int(min(first)), int(max(last)))
            points = [[iso(t), n] for t, n in pts]
        return {
            "counts": {"findings": total, "hosts": hosts.distinct, "users": users.distinct,
                       "failures": sum(h.failures for h in hits)},
            "top_users": [{"name": k, "count": n} for k, n in users.top()],
            "top_hosts": [{"name": k, "count": n} for k, n in hosts.top()],
            "timeline": {"bucket_seconds": width, "points": points},
            "rules": [{"rule_id": h.rule.rule_id, "name": h.rule.name, "hits": h.count,
                       "status": self.status.get(h.rule.rule_id, "?")}
                      for h in sorted(hits, key=lambda h: (-h.count, h.rule.name))],
            "evidence": shown, "evidence_total": total,
            "evidence_more": total - len(shown),
        }

    def _gap_row(self, gap: dict[str, Any], control: Control) -> dict[str, Any]:
        event_id = gap["event_ids"][0] if gap["event_ids"] else None
        seconds = None
        if event_id:
            try:
                seconds = float(event_id.split(":")[0])
            except ValueError:
                seconds = None
        return {"id": f"g-{gap['kind']}-{event_id}", "time": gap["start"], "host": gap["host"],
                "rule_id": f"integrity:{gap['kind']}",
                "rule_name": f"Audit trail gap: {gap['kind'].replace('_', ' ')}",
                "severity": "high", "controls": [control.key],
                "login_user": {"auid": None, "name": None}, "user": None, "outcome": None,
                "what": gap["detail"], "source_ip": None, "process": None,
                "event_id": event_id, "ausearch": ausearch_command(event_id, seconds),
                "tactics": [], "techniques": []}

    def _completeness(self) -> dict[str, Any]:
        total = sum(h.count for h in self.c.rules.values())
        have = {name: sum(h.complete[name] for h in self.c.rules.values()) for name in COMPLETENESS}
        return {"counts": {"findings": total},
                "completeness": {name: {"records": n, "percent": round(100 * n / total, 1)
                                        if total else None} for name, n in have.items()},
                "evidence": [], "evidence_total": 0, "evidence_more": 0,
                "top_users": [], "top_hosts": [], "rules": [],
                "timeline": {"bucket_seconds": 0, "points": []}}

    # -- the whole report ----------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        controls = [self.control(c) for c in self.controls.controls]
        findings: dict[str, dict[str, Any]] = {}
        for entry in controls:
            for row in entry["evidence"]:
                findings.setdefault(row["id"], row)
            entry["evidence_ids"] = [row["id"] for row in entry["evidence"]]
        return {
            "report": {"tool": "audisp-eql", "version": __version__, **self.meta,
                       "evidence_cap": limits.REPORT_EVIDENCE},
            "scope": self.scope(),
            "controls": controls,
            "status_counts": {s: sum(1 for c in controls if c["status"] == s)
                              for s in (FINDINGS, NO_FINDINGS, NOT_ASSESSED)},
            "findings": sorted(findings.values(), key=lambda f: (f.get("time") or "", f["id"])),
            "findings_total": self.c.findings,
            "summaries": self.c.summaries.to_json(),
            "attack": self.attack(),
        }

    def scope(self) -> dict[str, Any]:
        c = self.c
        firsts = [h.first for h in c.hosts.values() if h.first is not None]
        lasts = [h.last for h in c.hosts.values() if h.last is not None]
        gaps = [g for h in c.hosts.values() for g in h.integrity.to_json()]
        return {
            "hosts": [{"name": h.name, "first": iso(h.first), "last": iso(h.last),
                       "events": h.events, "documents": h.documents,
                       "lost_records": h.integrity.lost_records}
                      for h in sorted(c.hosts.values(), key=lambda h: h.name)],
            "requested": self.meta.get("requested", {}),
            "covered": {"first": iso(min(firsts)) if firsts else None,
                        "last": iso(max(lasts)) if lasts else None},
            "events_read": c.events_seen,
            "files": [{"path": f.path, "events": f.events, "first": iso(f.first),
                       "last": iso(f.last), "parse_errors": f.parse_errors,
                       "unreadable": f.unreadable} for f in c.files],
            "rules": {"loaded": len(self.rules),
                      "by_status": self.ruleset.counts(),
                      "paths": self.meta.get("rule_paths", [])},
            "frameworks": [{"id": f.id, "name": f.name, "version": f.version, "title": f.title,
                            "file": str(f.path), "controls": len(f.controls)}
                           for f in self.controls.frameworks],
            "audit_profiles": [p for h in sorted(c.hosts) for p in
                               audit_profiles(h, c.hosts[h].added_keys, c.hosts[h].keys)],
            "sources": {name: sorted(found) for name, found in sorted(self.sources.items())},
            "integrity_gaps": gaps,
            "integrity_counts": {h.name: h.integrity.counts for h in c.hosts.values()},
            "lost_records_detected": any(h.integrity.lost_records for h in c.hosts.values()),
            "parse_errors": {"count": c.parse_errors,
                             "examples": c.parse_error_examples.items},
            "alert_errors": c.alert_errors,
            "partial_matches": self.meta.get("partial_matches", {}),
        }

    def attack(self) -> dict[str, Any]:
        tactics: dict[str, int] = {}
        techniques: dict[tuple[str, str], dict[str, Any]] = {}
        for rule in self.rules:
            hits = self.c.rules[rule.rule_id].count if rule.rule_id in self.c.rules else 0
            for tactic, technique in _threats(rule):
                shortname = tactic.lower().replace(" ", "-")
                entry = techniques.setdefault((technique, shortname), {
                    "id": technique, "tactic": shortname, "tactic_name": tactic, "hits": 0,
                    "rules": []})
                entry["hits"] += hits
                entry["rules"].append({"name": rule.name, "hits": hits})
                if hits:
                    tactics[tactic] = tactics.get(tactic, 0) + hits
        return {"tactics": dict(sorted(tactics.items(), key=lambda kv: -kv[1])),
                "techniques": sorted(techniques.values(), key=lambda t: (-t["hits"], t["id"]))}


def _threats(rule: Rule) -> list[tuple[str, str]]:
    """(tactic name, technique or sub-technique id) of a rule's ATT&CK mapping."""
    out: list[tuple[str, str]] = []
    for entry in rule.threat:
        tactic = entry.get("tactic")
        tactic_name = tactic.get("name") if isinstance(tactic, dict) else None
        if not isinstance(tactic_name, str):
            continue
        techniques = entry.get("technique") or []
        for tech in techniques if isinstance(techniques, list) else [techniques]:
            if not isinstance(tech, dict) or not isinstance(tech.get("id"), str):
                continue
            subs = tech.get("subtechnique") or []
            sub_ids = [s.get("id") for s in (subs if isinstance(subs, list) else [subs])
                       if isinstance(s, dict) and isinstance(s.get("id"), str)]
            out.extend((tactic_name, i) for i in (sub_ids or [tech["id"]]))
    return out


def status_rank(status: str) -> int:
    return _ORDER.get(status, 9)



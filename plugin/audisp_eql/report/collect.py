"""Stream audit events, documents and alerts into bounded aggregates.

The pipeline (pipeline.py) calls `on_event` for every audit event, and
`on_document` / `on_alert` for what the builders and the rules make of
them. Everything kept is a count, a capped counter, a bucketed timeline or
the first few items of a list (limits.py): a log of any size fits.
Events outside --since/--until or of hosts not asked for are skipped here
(the rules still see them, so that state spanning the range holds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .. import limits
from ..rules import Rule
from ..source.event import AuditEvent
from .bounded import CappedCounter, FirstItems, Timeline
from .controls import ControlSet
from .describe import describe, first_action, get
from .facts import EventFacts, event_facts, is_userspace
from .integrity import HostIntegrity
from .summaries import Summaries
from .timerange import TimeRange

OTHER_HOSTS = "(other hosts)"
_EVENT_ID = re.compile(r"(\d+)\.(\d+):(\d+)$")
# What 10.2.2 asks of each audit record, and where a finding's document has it.
COMPLETENESS = {
    "user": ("user.name", "user.id", "user.audit.id"),
    "event_type": ("event.action",),
    "time": ("@timestamp",),
    "outcome": ("event.outcome",),
    "origin": ("source.ip", "source.address", "auditd.data.terminal", "process.executable",
               "host.name"),
    "object": ("file.path", "user.target.name", "user.target.id", "group.name", "group.id",
               "service.name", "auditd.data.key", "auditd.data.cmd", "process.command_line",
               "user.name"),
}


@dataclass
class HostState:
    name: str
    events: int = 0
    documents: int = 0
    first: Optional[float] = None
    last: Optional[float] = None
    types: CappedCounter[str] = field(default_factory=lambda: CappedCounter(4096))
    keys: CappedCounter[str] = field(default_factory=lambda: CappedCounter(4096))
    added_keys: CappedCounter[str] = field(default_factory=lambda: CappedCounter(4096))
    syscalls: CappedCounter[str] = field(default_factory=lambda: CappedCounter(1024))
    categories: CappedCounter[str] = field(default_factory=lambda: CappedCounter(256))
    userspace: int = 0
    execs: int = 0
    integrity: HostIntegrity = field(init=False)

    def __post_init__(self) -> None:
        self.integrity = HostIntegrity(self.name)

    def sources(self, declared_keys: frozenset[str] = frozenset()) -> set[str]:
        """The event sources present for this host (controls/evidence.toml)."""
        found = {"auditd"} if self.events else set()
        if self.userspace:
            found.add("userspace")
        if self.execs:
            found.add("exec")
        found.update(f"key:{k}" for k in self.keys.counts)
        found.update(f"key:{k}" for k in self.added_keys.counts)
        found.update(f"key:{k}" for k in declared_keys)
        found.update(f"syscall:{s}" for s in self.syscalls.counts)
        found.update(f"category:{c}" for c in self.categories.counts)
        return found


@dataclass
class RuleHits:
    rule: Rule
    controls: list[str]
    count: int = 0
    failures: int = 0
    first: Optional[float] = None
    last: Optional[float] = None
    hosts: CappedCounter[str] = field(default_factory=CappedCounter)
    users: CappedCounter[str] = field(default_factory=CappedCounter)
    timeline: Timeline = field(default_factory=Timeline)
    evidence: FirstItems[dict[str, Any]] = field(
        default_factory=lambda: FirstItems(limits.REPORT_EVIDENCE))
    complete: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPLETENESS, 0))


@dataclass
class FileState:
    path: str
    events: int = 0
    first: Optional[float] = None
    last: Optional[float] = None
    parse_errors: int = 0
    unreadable: Optional[str] = None


def _seconds_of(doc: dict[str, Any]) -> Optional[float]:
    ident = get(doc, "event.id")
    if isinstance(ident, str):
        found = _EVENT_ID.match(ident)
        if found:
            return int(found[1]) + int(found[2]) / 1000
    return None


def iso(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds))) + \
        ".%03dZ" % (int(round(seconds * 1000)) % 1000)


class Collector:
    def __init__(self, rules: list[Rule], controls: ControlSet, window: TimeRange,
                 hosts: frozenset[str], local_host: Optional[str],
                 on_finding: Optional[Callable[[dict[str, Any]], None]] = None) -> None:
        self.window = window
        self.wanted_hosts = hosts
        self.local_host = local_host or "-"
        self.on_finding = on_finding
        self.hosts: dict[str, HostState] = {}
        self.files: list[FileState] = []
        self.summaries = Summaries()
        self.rules = {rule.rule_id: RuleHits(rule, [c.key for c in controls.controls_of(rule)])
                      for rule in rules}
        self.findings = 0
        self.events_seen = 0           # before the time/host selection
        self.parse_error_examples: FirstItems[str] = FirstItems(20)
        self.parse_errors = 0
        self.alert_errors = 0
        self._last_key: Any = None

    # -- files ---------------------------------------------------------------------
    def start_file(self, name: str) -> None:
        self.files.append(FileState(name))

    def file_error(self, name: str, error: Exception) -> None:
        state = self._file(name)
        state.unreadable = str(error)

    def parse_error(self, error: Any) -> None:
        self.parse_errors += 1
        self.parse_error_examples.add(str(error))
        if self.files:
            self.files[-1].parse_errors += 1

    def _file(self, name: str) -> FileState:
        for state in reversed(self.files):
            if state.path == name:
                return state
        state = FileState(name)
        self.files.append(state)
        return state

    # -- hosts ---------------------------------------------------------------------
    def _host(self, name: str) -> HostState:
        state = self.hosts.get(name)
        if state is None:
            if len(self.hosts) >= limits.REPORT_MAX_HOSTS:
                name = OTHER_HOSTS
                state = self.hosts.get(name)
            if state is None:
                state = self.hosts[name] = HostState(name)
        return state

    def _selected(self, host: str, seconds: float) -> bool:
        if self.wanted_hosts and host not in self.wanted_hosts:
            return False
        return self.window.contains(int(seconds))

    # -- the pipeline's callbacks ----------------------------------------------------
    def on_event(self, event: AuditEvent) -> None:
        key = (event.node, event.sec, event.msec, event.serial)
        if key == self._last_key:
            return        # the rest of an event a source handed out in two parts
        self._last_key = key
        self.events_seen += 1
        host_name = event.node if event.node is not None else self.local_host
        when = event.sec + event.msec / 1000
        if not self._selected(host_name, when):
            return
        facts = event_facts(event)
        host = self._host(host_name)
        host.events += 1
        host.first = when if host.first is None else min(host.first, when)
        host.last = when if host.last is None else max(host.last, when)
        if self.files:
            state = self.files[-1]
            state.events += 1
            state.first = when if state.first is None else min(state.first, when)
            state.last = when if state.last is None else max(state.last, when)
        self._sources(host, facts, event)
        host.integrity.add(event, facts)
        self.summaries.add(facts, iso(when) or "", event.event_id)

    @staticmethod
    def _sources(host: HostState, facts: EventFacts, event: AuditEvent) -> None:
        for rtype in facts.types:
            host.types.add(rtype)
        if any(is_userspace(t) for t in facts.types):
            host.userspace += 1
        for key in facts.keys:
            if facts.types[:1] == ("CONFIG_CHANGE",):
                body = event.raw[0][1]
                if "op=add_rule" in body or 'op="add_rule"' in body:
                    host.added_keys.add(key)
            else:
                host.keys.add(key)
        if facts.syscall:
            host.syscalls.add(facts.syscall)

    def on_document(self, doc: dict[str, Any]) -> None:
        seconds = _seconds_of(doc)
        host_name = get(doc, "host.name") or self.local_host
        if seconds is not None and not self._selected(host_name, seconds):
            return
        host = self._host(host_name)
        host.documents += 1
        categories = get(doc, "event.category")
        for category in categories if isinstance(categories, list) else [categories]:
            if isinstance(category, str):
                host.categories.add(category)
        if first_action(doc) == "exec":
            host.execs += 1

    def on_alert(self, alert: dict[str, Any]) -> None:
        try:
            self._alert(alert)
        except Exception:  # noqa: BLE001 - one odd alert must not stop the report
            self.alert_errors += 1

    def _alert(self, alert: dict[str, Any]) -> None:
        rule_id = get(alert, "rule.id")
        hits = self.rules.get(rule_id) if isinstance(rule_id, str) else None
        if hits is None:
            return
        seconds = _seconds_of(alert)
        host = str(get(alert, "host.name") or self.local_host)
        if seconds is not None and not self._selected(host, seconds):
            return
        self.findings += 1
        finding = self._finding(alert, hits, host, seconds)
        hits.count += 1
        if finding["outcome"] == "failure":
            hits.failures += 1
        if seconds is not None:
            hits.first = seconds if hits.first is None else min(hits.first, seconds)
            hits.last = seconds if hits.last is None else max(hits.last, seconds)
            hits.timeline.add(int(seconds))
        hits.hosts.add(host)
        if finding["user"] is not None:
            hits.users.add(finding["user"])
        for name, fields in COMPLETENESS.items():
            if any(get(alert, f) not in (None, "", []) for f in fields):
                hits.complete[name] += 1
        hits.evidence.add(finding)
        if self.on_finding is not None:
            self.on_finding(finding)

    def _finding(self, alert: dict[str, Any], hits: RuleHits, host: str,
                 seconds: Optional[float]) -> dict[str, Any]:
        rule = hits.rule
        auid = get(alert, "user.audit.id")
        auid = None if auid in (None, "4294967295", "-1", "unset") else str(auid)
        event_id = get(alert, "event.id")
        user = get(alert, "user.name") or get(alert, "user.id")
        return {
            "id": f"f-{self.findings:06d}",
            "time": get(alert, "@timestamp"),
            "seconds": seconds,
            "host": host,
            "rule_id": rule.rule_id,
            "rule_name": rule.name,
            "severity": rule.severity,
            "controls": hits.controls,
            "login_user": {"auid": auid,
                           "name": get(alert, "user.audit.name") if auid is not None else None},
            "user": None if user is None else str(user),
            "outcome": get(alert, "event.outcome"),
            "what": describe(alert),
            "source_ip": get(alert, "source.ip"),
            "process": get(alert, "process.executable") or get(alert, "process.name"),
            "event_id": event_id,
            "ausearch": ausearch_command(event_id, seconds),
            "tactics": list(get(alert, "threat.tactic.name") or []),
            "techniques": list(get(alert, "threat.technique.subtechnique.id")
                               or get(alert, "threat.technique.id") or []),
        }

    def finish(self) -> None:
        for host in self.hosts.values():
            host.integrity.finish()


def ausearch_command(event_id: Any, seconds: Optional[float]) -> Optional[str]:
    """`ausearch` that pulls the event back: its serial within its second (serials
    restart at boot), in the C date form, times in UTC."""
    if not isinstance(event_id, str) or seconds is None:
        return None
    found = _EVENT_ID.match(event_id)
    if not found:
        return None
    import time
    stamp = time.strftime("%m/%d/%y %H:%M:%S", time.gmtime(int(seconds)))
    return (f"TZ=UTC LC_TIME=C ausearch --event {found[3]} --start {stamp} --end {stamp} "
            "--interpret")

"""Gaps in the audit trail of one host, from the records themselves.

The kernel numbers its events (the serial after the ':' in msg=audit(...)),
one per event, shared by kernel and userspace records; a record dropped
after it was numbered (rate limit, auditd not running, backlog overflow
while queued) leaves a hole in that sequence. auditd's own DAEMON_* records
have a counter of their own and are left out. The report says "lost records
detected" or "none detected", never "none lost": a drop before numbering
(the backlog limit at the kernel's entry, an `exclude` filter) leaves no hole.

    auditd_stopped          DAEMON_END / DAEMON_ABORT until the next DAEMON_START
    auditd_unclean_restart  DAEMON_START without a DAEMON_END since the last one
    unclean_shutdown        SYSTEM_BOOT without SYSTEM_SHUTDOWN since the last boot
    logging_suspended       DAEMON_RESUME (suspended before, start unknown)
    audit_disabled          CONFIG_CHANGE op=set audit_enabled=0 until =1 or =2
    rules_removed           CONFIG_CHANGE op=remove_rule (one entry per burst)
    lost_records            serial holes (events may arrive a little out of order:
                            a hole is final once `REPORT_REORDER_WINDOW` later
                            serials passed without the missing ones)
    time_jump               the clock was set (settimeofday, clock_settime, a
                            stepped adjtimex), or event time went backwards
                            by more than `REPORT_TIME_JUMP_SECONDS`
    serial_restart          serials started again from a lower number (a reboot)
"""

from __future__ import annotations

from typing import Any, Optional

from .. import limits
from ..source.event import AuditEvent
from ..source.records import split_body
from .bounded import FirstItems
from .facts import EventFacts


def _iso(seconds: float) -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds))) + \
        ".%03dZ" % int(round((seconds % 1) * 1000) % 1000)


class HostIntegrity:
    """Follows one host's events in arrival order."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.gaps: FirstItems[dict[str, Any]] = FirstItems(limits.REPORT_MAX_GAPS)
        self.counts: dict[str, int] = {}
        self.lost_records = 0           # serials missing in all
        self._max_serial: Optional[int] = None
        self._pending: list[list[int]] = []  # [first, last] missing ranges not yet final
        self._last_time: Optional[float] = None
        self._stopped: Optional[dict[str, Any]] = None
        self._daemon_started = False
        self._daemon_ended = True
        self._booted = False
        self._shut_down = True
        self._disabled: Optional[dict[str, Any]] = None
        self._removing: Optional[dict[str, Any]] = None

    def _gap(self, kind: str, start: float, end: Optional[float], event_ids: list[str],
             detail: str) -> dict[str, Any]:
        gap = {"host": self.host, "kind": kind, "start": _iso(start),
               "end": _iso(end) if end is not None else None, "event_ids": event_ids,
               "detail": detail}
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.gaps.add(gap)
        return gap

    def add(self, event: AuditEvent, facts: EventFacts) -> None:
        when = event.sec + event.msec / 1000
        types = facts.types
        first = types[0] if types else ""
        if first.startswith("DAEMON_"):
            self._daemon(event, first, when)
        else:
            self._serial(event, when)
        if self._last_time is not None and when < self._last_time - limits.REPORT_TIME_JUMP_SECONDS:
            self._gap("time_jump", when, self._last_time, [event.event_id],
                      f"event time went back {self._last_time - when:.0f} s, from "
                      f"{_iso(self._last_time)}")
        self._last_time = when if self._last_time is None else max(self._last_time, when)
        if first == "CONFIG_CHANGE":
            self._config(event, when)
        elif first == "SYSTEM_BOOT":
            if self._booted and not self._shut_down:
                self._gap("unclean_shutdown", when, when, [event.event_id],
                          "booted again without a recorded shutdown")
            self._booted, self._shut_down = True, False
        elif first == "SYSTEM_SHUTDOWN":
            self._shut_down = True
        if facts.syscall in ("settimeofday", "clock_settime", "stime") and facts.success or \
                "TIME_INJOFFSET" in types:
            self._gap("time_jump", when, when, [event.event_id],
                      f"clock set ({facts.syscall or 'TIME_INJOFFSET'}) by "
                      f"{facts.exe or facts.comm or '?'}, auid {facts.auid or '?'}")

    def _daemon(self, event: AuditEvent, rtype: str, when: float) -> None:
        fields = split_body(event.raw[0][1])[0]
        if rtype in ("DAEMON_END", "DAEMON_ABORT"):
            sender = f"auid={fields.get('auid', '?')} pid={fields.get('pid', '?')}"
            self._stopped = self._gap("auditd_stopped", when, None, [event.event_id],
                                      f"{rtype} sent by {sender}")
            self._daemon_ended = True
        elif rtype == "DAEMON_START":
            if self._stopped is not None:
                self._stopped["end"] = _iso(when)
                self._stopped["event_ids"].append(event.event_id)
                self._stopped = None
            elif self._daemon_started and not self._daemon_ended:
                self._gap("auditd_unclean_restart", when, when, [event.event_id],
                          "auditd started again without a recorded stop (crash or power loss)")
            self._daemon_started, self._daemon_ended = True, False
        elif rtype == "DAEMON_RESUME":
            self._gap("logging_suspended", when, when, [event.event_id],
                      "auditd resumed logging: it had been suspended (disk full or error)")

    def _config(self, event: AuditEvent, when: float) -> None:
        fields = split_body(event.raw[0][1])[0]
        op = fields.get("op", "").strip('"')
        if op == "set" and "audit_enabled" in fields:
            value = fields["audit_enabled"]
            if value == "0" and self._disabled is None:
                self._disabled = self._gap("audit_disabled", when, None, [event.event_id],
                                           f"auditing disabled by auid={fields.get('auid', '?')}")
            elif value in ("1", "2") and self._disabled is not None:
                self._disabled["end"] = _iso(when)
                self._disabled["event_ids"].append(event.event_id)
                self._disabled = None
        if op == "remove_rule":
            key = fields.get("key", "(null)").strip('"')
            burst = self._removing
            if burst is not None and burst["_last"] >= when - 60:
                burst["_last"] = when
                burst["_count"] += 1
                if key not in burst["_keys"] and len(burst["_keys"]) < 32:
                    burst["_keys"].append(key)
                burst["end"] = _iso(when)
                burst["detail"] = (f"{burst['_count']} audit rules removed, keys: "
                                   f"{', '.join(burst['_keys'])}")
                return
            self._removing = self._gap("rules_removed", when, when, [event.event_id],
                                       f"1 audit rule removed, keys: {key}")
            self._removing.update({"_last": when, "_count": 1, "_keys": [key]})

    def _serial(self, event: AuditEvent, when: float) -> None:
        serial = event.serial
        top = self._max_serial
        if top is None:
            self._max_serial = serial
            return
        window = limits.REPORT_REORDER_WINDOW
        if serial > top:
            if serial > top + 1:
                if len(self._pending) >= limits.REPORT_MAX_PENDING_GAPS:
                    self._finish(self._pending.pop(0))
                self._pending.append([top + 1, serial - 1, when, event.event_id])
            self._max_serial = serial
        elif serial < top - 10 * window:
            self._gap("serial_restart", when, when, [event.event_id],
                      f"event serials restarted at {serial} after {top} (a reboot, or "
                      "another host's records without node=)")
            for missing in self._pending:
                self._finish(missing)
            self._pending = []
            self._max_serial = serial
            return
        else:
            self._late(serial)
        while self._pending and self._pending[0][1] < self._max_serial - window:
            self._finish(self._pending.pop(0))

    def _late(self, serial: int) -> None:
        for i, (low, high, *_rest) in enumerate(self._pending):
            if low <= serial <= high:
                parts = []
                if low < serial:
                    parts.append([low, serial - 1, *_rest])
                if serial < high:
                    parts.append([serial + 1, high, *_rest])
                self._pending[i:i + 1] = parts
                return

    def _finish(self, missing: list) -> None:
        low, high, seen, event_id = missing
        count = high - low + 1
        self.lost_records += count
        stopped = self._stopped is not None
        detail = f"{count} event serial{'s' if count > 1 else ''} missing ({low}..{high})"
        if stopped:
            detail += " while auditd was stopped"
        self._gap("lost_records", seen, seen, [event_id], detail)

    def finish(self) -> None:
        """End of data: the holes still open are final."""
        for missing in self._pending:
            self._finish(missing)
        self._pending = []

    def to_json(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in gap.items() if not k.startswith("_")} for gap in self.gaps.items]

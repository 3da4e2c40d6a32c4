"""System clock changes -> host documents (changed-system-time).

The kernel audits settimeofday, stime, clock_settime, adjtimex and
clock_adjtime only when an audit rule asks (CIS / STIG:
`-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change`,
conf/profiles/compliance.rules). A successful settimeofday, stime or
clock_settime sets the clock (or, settimeofday with a null time, the kernel's
timezone); adjtimex and clock_adjtime are also how the time is *read*, so
only a call that changed something makes a document: the kernel then logs a
TIME_INJOFFSET (`sec= nsec=`, the clock stepped) or TIME_ADJNTPVAL
(`op=freq old= new=`, NTP values adjusted) record in the same event.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from ..source.records import split_body, value_text
from .common import EVENT_CONSTANTS, audit_tags, id_names, process_name, pruned, timestamp, to_int
from .registry import Document, EventBuilder, Syscall
from .userspace import HOST_FIELDS, is_set

SETTERS = frozenset({"settimeofday", "stime", "clock_settime"})
ADJUSTERS = frozenset({"adjtimex", "clock_adjtime"})

_FIELDS: frozenset[str] = HOST_FIELDS | frozenset("""
@timestamp tags event.kind event.category event.type event.action event.outcome event.id
event.module
process.pid process.executable process.name process.user.id process.user.name
user.id user.name user.audit.id user.audit.name related.user
auditd.data.syscall auditd.data.a0 auditd.data.sec auditd.data.nsec auditd.data.op
auditd.sequence auditd.session auditd.result
""".split())


class TimeChangeBuilder(EventBuilder):
    kind = "time_change"
    categories = ("host",)
    fields = _FIELDS
    constants = {**EVENT_CONSTANTS,
                 "event.category": ["host"], "event.type": ["change"],
                 "event.action": "changed-system-time", "event.outcome": "success"}
    syscalls = SETTERS | ADJUSTERS

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        if syscall is None:
            return []
        v = syscall.values
        if v.success != "yes":
            return []
        offset: dict[str, Any] = {}
        ops: list[str] = []
        for rtype, body in event.raw:
            if rtype == "TIME_INJOFFSET":
                fields = split_body(body)[0]
                offset = {"sec": fields.get("sec"), "nsec": fields.get("nsec")}
            elif rtype == "TIME_ADJNTPVAL":
                op = value_text(split_body(body)[0].get("op"))
                if op and op not in ops:
                    ops.append(op)
        if syscall.name in ADJUSTERS and not offset and not ops:
            return []     # a read, or a call that changed nothing
        context = self.context
        exe = value_text(v.exe)
        uid_name, audit_name = id_names(context, v.tail, (("UID", v.uid, "user"),
                                                          ("AUID", v.auid, "audit")))
        user = {"id": v.uid, "name": uid_name}
        doc: dict[str, Any] = {
            "@timestamp": timestamp(event.sec, event.msec),
            "event": {"kind": "event", "category": ["host"], "type": ["change"],
                      "action": "changed-system-time", "outcome": "success",
                      "id": event.event_id, "module": "auditd"},
            "process": {"pid": to_int(v.pid), "executable": exe,
                        "name": process_name(value_text(v.comm), exe), "user": dict(user)},
            "user": {**user, "audit": {"id": v.auid, "name": audit_name}},
            "auditd": {"data": {"syscall": syscall.name, "a0": v.a0, "op": ",".join(ops) or None,
                                **offset},
                       "sequence": event.serial, "result": "success",
                       "session": v.ses if is_set(v.ses) else None},
            "related": {"user": [n for n in dict.fromkeys((uid_name, audit_name)) if n] or None},
        }
        tags = audit_tags(v.key)
        if tags:
            doc["tags"] = tags
        doc = pruned(doc)
        doc["host"] = context.host_fields(event.node)
        return [doc]

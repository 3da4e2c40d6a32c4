"""systemd and init records -> host and service documents.

SYSTEM_BOOT, SYSTEM_SHUTDOWN, SYSTEM_RUNLEVEL (systemd-update-utmp),
SERVICE_START / SERVICE_STOP (systemd, `unit=` without `.service`;
`res=failed` when the unit failed) and USYS_CONFIG (a userspace program
changed a system setting: hwclock writes "changing system time").

    pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=auditd comm="systemd"
        exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'

event.category / type / action are Auditbeat's; the unit also goes to the ECS
field `service.name`. The SERVICE_STOP of auditd itself rarely reaches the
log (auditd has stopped by then): DAEMON_END is the record of that.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from .common import EVENT_CONSTANTS, table_variants
from .registry import Document, EventBuilder, Syscall
from .userspace import (COMMON_FIELDS, finish, outcome_of, related_users, sender, skeleton,
                        user_record)

_KINDS: dict[str, tuple[list[str], list[str], str]] = {
    "SYSTEM_BOOT": (["host"], ["start"], "booted-system"),
    "SYSTEM_SHUTDOWN": (["host"], ["end"], "shutdown-system"),
    "SYSTEM_RUNLEVEL": (["host"], ["change"], "changed-to-runlevel"),
    "SERVICE_START": (["process"], ["start"], "started-service"),
    "SERVICE_STOP": (["process"], ["end"], "stopped-service"),
    "USYS_CONFIG": (["configuration"], ["change"], "changed-configuration"),
}

_FIELDS = COMMON_FIELDS | frozenset("""
service.name message auditd.data.op auditd.data.unit auditd.data.old-level
auditd.data.new-level auditd.data.terminal
""".split())


class SystemBuilder(EventBuilder):
    kind = "system"
    categories = ("host", "process", "configuration")
    fields = _FIELDS
    constants = EVENT_CONSTANTS
    variants = table_variants(_KINDS.values())
    record_types = frozenset(_KINDS)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        category, types, action = _KINDS[rtype]
        context = self.context
        process, audit = sender(record, context, syscall)
        doc = skeleton(event, self.context, record, list(category), list(types), action,
                       outcome_of(record.get("res")))
        unit = record.plain("unit")
        doc["process"] = process
        doc["user"] = {"audit": audit}
        doc["service"] = {"name": unit}
        doc["message"] = record.text
        data: dict[str, Any] = {"unit": unit, "old-level": record.plain("old-level"),
                                "new-level": record.plain("new-level"),
                                "terminal": record.plain("terminal"), "op": record.op}
        doc["auditd"]["data"] = data
        doc["related"] = {"user": related_users(process["user"].get("name"), audit.get("name"))}
        return [finish(doc, event, context)]

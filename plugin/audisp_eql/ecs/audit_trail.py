"""The audit trail's own records -> documents: who changed the audit rules or
settings (CONFIG_CHANGE), and auditd starting, stopping, reconfiguring,
rotating and resuming (DAEMON_*).

CONFIG_CHANGE is a kernel record; when audit rules are loaded it comes with
the SYSCALL of the auditctl (or auditd) that sent the change, which names
the program, its uid and login uid. It carries the key of the rule added or
removed, never the rule text:

    op=add_rule key="exec" list=4 res=1
    op=remove_rule key="exec" list=4 res=1
    op="updated_rules" path="/etc/gshadow" key="auth" list=4 res=1
    op=set audit_enabled=0 old=1 auid=1000 ses=3 res=1

DAEMON_* records are auditd's (`op=start ver=3.0.9 format=enriched ...`;
auditd 2.x wrote `auditd start, ver=2.4.1 ...`, `config changed, auid=0 ...`,
`auditd normal halt, sending auid=? pid=? ...`). In DAEMON_END and
DAEMON_CONFIG, `auid`/`uid`/`pid` are those of whoever sent the signal.
Their event serials are auditd's own counter, not the kernel's.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from .common import EVENT_CONSTANTS, audit_tags, table_variants
from .registry import Document, EventBuilder, Syscall
from .userspace import (COMMON_FIELDS, UserRecord, finish, is_set, outcome_of, record_name,
                        related_users, sender, skeleton, user_record)

# Settings `op=set NAME=NEW old=OLD` reports (kernel/audit.c audit_log_config_change).
SETTINGS = ("audit_enabled", "audit_failure", "audit_pid", "audit_rate_limit",
            "audit_backlog_limit", "audit_backlog_wait_time", "audit_backlog_wait_time_actual")

_CONFIG_FIELDS = COMMON_FIELDS | frozenset(
    ["user.id", "user.name", "tags", "auditd.data.op", "auditd.data.key", "auditd.data.list",
     "auditd.data.path", "auditd.data.old", "auditd.data.syscall"]
    + [f"auditd.data.{name}" for name in SETTINGS])


class AuditConfigBuilder(EventBuilder):
    """CONFIG_CHANGE (with or without its SYSCALL) -> changed-audit-configuration."""

    kind = "audit_config"
    categories = ("process", "configuration")
    fields = _CONFIG_FIELDS
    constants = {**EVENT_CONSTANTS,
                 "event.category": ["process", "configuration"], "event.type": ["change"],
                 "event.action": "changed-audit-configuration"}
    record_types = frozenset({"CONFIG_CHANGE"})

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        context = self.context
        process, audit = sender(record, context, syscall)
        if syscall is None:
            # The kernel record names only the login user and session.
            process, audit = {}, {"id": record.number("auid"),
                                  "name": record_name(context, record, "AUID",
                                                      record.number("auid"), "audit")}
        doc = skeleton(event, context, record, ["process", "configuration"], ["change"],
                       "changed-audit-configuration", outcome_of(record.get("res")))
        keys = audit_tags(record.get("key"))
        data: dict[str, Any] = {"op": record.plain("op"),
                                "key": ",".join(keys) if keys else None,
                                "list": record.number("list"), "path": record.text_of("path"),
                                "old": record.number("old")}
        for name in SETTINGS:
            data[name] = record.number(name)
        if syscall is not None:
            data["syscall"] = syscall.name
            tags = audit_tags(syscall.values.key)
            if tags:
                doc["tags"] = tags
        actor = process.get("user", {})
        doc["process"] = process
        doc["user"] = {"id": actor.get("id"), "name": actor.get("name"), "audit": audit}
        doc["auditd"]["data"] = data
        doc["related"] = {"user": related_users(actor.get("name"), audit.get("name"))}
        return [finish(doc, event, context)]


# DAEMON_* type -> (event.category, event.type, event.action): Auditbeat's.
_DAEMON: dict[str, tuple[list[str], list[str], str]] = {
    "DAEMON_START": (["process"], ["start"], "started-audit"),
    "DAEMON_END": (["process"], ["end"], "shutdown-audit"),
    "DAEMON_ABORT": (["process"], ["end"], "aborted-auditd-startup"),
    "DAEMON_CONFIG": (["process", "configuration"], ["change"], "changed-auditd-configuration"),
    "DAEMON_RECONFIG": (["process", "configuration"], ["info"], "reconfigured-auditd"),
    "DAEMON_ROTATE": (["process"], ["change"], "rotated-audit-logs"),
    "DAEMON_RESUME": (["process"], ["change"], "resumed-audit-logging"),
    "DAEMON_ERR": (["process"], ["info"], "audit-error"),
}
# What auditd 2.x wrote instead of op= (the words before the first field).
_OLD_OPS = {"DAEMON_START": "start", "DAEMON_END": "terminate", "DAEMON_CONFIG": "reconfigure",
            "DAEMON_ROTATE": "rotate-logs", "DAEMON_RESUME": "resume-logging"}

_DAEMON_FIELDS = COMMON_FIELDS | frozenset("""
user.id user.name auditd.data.op auditd.data.ver auditd.data.format auditd.data.kernel
auditd.data.state message
""".split())


class AuditDaemonBuilder(EventBuilder):
    """DAEMON_START/END/ABORT/CONFIG/RECONFIG/ROTATE/RESUME/ERR."""

    kind = "audit_daemon"
    categories = ("process", "configuration")
    fields = _DAEMON_FIELDS
    constants = EVENT_CONSTANTS
    variants = table_variants(_DAEMON.values())
    record_types = frozenset(_DAEMON)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        category, types, action = _DAEMON[rtype]
        context = self.context
        doc = skeleton(event, context, record, list(category), list(types), action,
                       outcome_of(record.get("res")))
        uid, auid = record.number("uid"), record.number("auid")
        uid_name = record_name(context, record, "UID", uid, "user") if is_set(uid) else None
        audit_name = record_name(context, record, "AUID", auid, "audit")
        pid = record.number("pid")
        doc["process"] = {"pid": int(pid) if pid is not None and pid.isdigit() else None}
        doc["user"] = {"id": uid if is_set(uid) else None, "name": uid_name,
                       "audit": {"id": auid, "name": audit_name} if _known(auid) else None}
        doc["auditd"]["data"] = {"op": record.plain("op") or _old_op(rtype, record),
                                 "ver": record.plain("ver"), "format": record.plain("format"),
                                 "kernel": record.plain("kernel"),
                                 "state": record.plain("state")}
        doc["related"] = {"user": related_users(uid_name, audit_name)}
        return [finish(doc, event, context)]


def _known(ident: Optional[str]) -> bool:
    return ident is not None and ident not in ("?", "-1")


def _old_op(rtype: str, record: UserRecord) -> Optional[str]:
    if record.get("op") is None and rtype in _OLD_OPS:
        return _OLD_OPS[rtype]
    return None


__all__ = ["AuditConfigBuilder", "AuditDaemonBuilder", "SETTINGS"]

"""Anomaly records -> intrusion-detection documents.

Kernel anomalies (ANOM_ABEND: a program crashed; ANOM_PROMISCUOUS: a
network device entered or left promiscuous mode; ANOM_LINK / ANOM_CREAT:
protected symlink, hardlink or FIFO rules refused an access) and the
userspace ones PAM modules, the audit IDS plugin and others send
(ANOM_LOGIN_FAILURES from pam_faillock / pam_tally2, ANOM_LOGIN_TIME,
ANOM_ROOT_TRANS, ...). ANOM_PROMISCUOUS, ANOM_LINK and ANOM_CREAT come
before the SYSCALL of the call that caused them; the document is built from
the anomaly record alone (the record sources group that SYSCALL
differently), so the program is named only when the record names it.

event.category / type / action are Auditbeat's, except that kinds Auditbeat
also files under `file` are `intrusion_detection` only here (file documents
are the file builder's); event.kind stays "event" (Auditbeat overwrites its
`alert` too): an alert is what a rule makes of it.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from .common import EVENT_CONSTANTS, table_variants
from .registry import Document, EventBuilder, Syscall
from .userspace import (COMMON_FIELDS, finish, ip_of, outcome_of, related_users, sender,
                        skeleton, user_record)

_IDS = "intrusion_detection"
_LOGIN = (["authentication", _IDS], ["start", "denied"])
# type -> (event.category, event.type, event.action)
_KINDS: dict[str, tuple[list[str], list[str], str]] = {
    "ANOM_ABEND": (["process", _IDS], ["end", "info"], "crashed-program"),
    "ANOM_PROMISCUOUS": ([_IDS], ["info", "change"], "changed-promiscuous-mode-on-device"),
    "ANOM_LINK": ([_IDS], ["access", "info"], "used-suspicious-link"),
    "ANOM_CREAT": ([_IDS], ["creation", "info"], "created-suspicious-file"),
    "ANOM_LOGIN_FAILURES": (*_LOGIN, "failed-log-in-too-many-times-to"),
    "ANOM_LOGIN_TIME": (*_LOGIN, "attempted-log-in-during-unusual-hour-to"),
    "ANOM_LOGIN_SESSIONS": (*_LOGIN, "opened-too-many-sessions-to"),
    "ANOM_LOGIN_ACCT": (*_LOGIN, "attempted-log-in-to-watched-account"),
    "ANOM_LOGIN_LOCATION": (*_LOGIN, "attempted-log-in-from-unusual-place-to"),
    "ANOM_LOGIN_SERVICE": (*_LOGIN, "service-account-attempted-login"),
    "ANOM_LOGIN_ROOT": (*_LOGIN, "attempted-root-login"),
    "ANOM_ORIGIN_FAILURES": (*_LOGIN, "origin-failed-log-in-too-many-times"),
    "ANOM_MAX_DAC": ([_IDS], ["info"], "max-discretionary-access-control-failures-reached"),
    "ANOM_MAX_MAC": ([_IDS], ["info"], "max-mandatory-access-control-failures-reached"),
    "ANOM_ROOT_TRANS": (["authentication", _IDS], ["info"], "user-became-root"),
    "ANOM_ADD_ACCT": (["iam", _IDS], ["user", "creation"], "added-user-account"),
    "ANOM_DEL_ACCT": (["iam", _IDS], ["user", "deletion"], "deleted-user-account"),
    "ANOM_MOD_ACCT": (["iam", _IDS], ["user", "change"], "modified-user-account"),
}

_FIELDS = COMMON_FIELDS | frozenset("""
user.id user.name source.ip source.address message
auditd.data.op auditd.data.acct auditd.data.reason auditd.data.sig auditd.data.dev
auditd.data.prom auditd.data.old_prom auditd.data.comm auditd.data.terminal
""".split())
_PLAIN = ("reason", "sig", "dev", "prom", "old_prom", "terminal")   # written as is
_ENCODED = ("acct", "comm")                                          # may be hex


class AnomalyBuilder(EventBuilder):
    kind = "anomaly"
    categories = (_IDS, "authentication", "process", "iam")
    fields = _FIELDS
    constants = EVENT_CONSTANTS
    variants = table_variants(_KINDS.values())
    record_types = frozenset(_KINDS)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        category, types, action = _KINDS[rtype]
        context = self.context
        # From the record alone: auparse and the Python grouping disagree on
        # whether a kernel anomaly's SYSCALL belongs to its event.
        process, audit = sender(record, context, None)
        if not process.get("name"):
            process["name"] = record.text_of("comm")
        doc = skeleton(event, context, record, list(category), list(types), action,
                       outcome_of(record.get("res")))
        acct = record.text_of("acct")
        address = record.plain("addr")
        doc["process"] = process
        doc["user"] = {"id": process["user"].get("id"), "name": acct or process["user"].get("name"),
                       "audit": audit}
        doc["source"] = {"address": address, "ip": ip_of(address)}
        data: dict[str, Any] = {name: record.plain(name) for name in _PLAIN}
        data.update((name, record.text_of(name)) for name in _ENCODED)
        data["op"] = record.op
        doc["auditd"]["data"] = data
        doc["message"] = record.text
        doc["related"] = {"user": related_users(acct, process["user"].get("name"),
                                                audit.get("name"))}
        return [finish(doc, event, context)]

"""shadow-utils, passwd and PAM account records -> iam documents.

ADD_USER, DEL_USER, ADD_GROUP, DEL_GROUP, USER_MGMT, GRP_MGMT,
USER_CHAUTHTOK, GRP_CHAUTHTOK, ACCT_LOCK, ACCT_UNLOCK, USER_ROLE_CHANGE, and
the USER_ACCT records gpasswd writes for group membership changes (op not a
PAM one). No audit rule is needed: the programs send them whenever auditing
is enabled.

event.category / type / action are Auditbeat's. `user.*` is who did it (the
uid of the program, with its login user in `user.audit.*`), the account
changed is `user.target.*` and the group `group.*`. What really changed is
in `auditd.data.op`: shadow-utils uses USER_CHAUTHTOK for group membership and
password ageing too ("adding user to group", "change max age"), which keeps
Auditbeat's action `changed-password` (a corpus rule tests it) while the op
says what happened. One command writes several records (useradd: the group,
the user, the home directory), each a document.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from .authentication import is_pam_accounting
from .common import EVENT_CONSTANTS
from .registry import Document, EventBuilder, Syscall
from .userspace import (COMMON_FIELDS, finish, outcome_of, record_name, related_users, sender,
                        skeleton, user_record)

# record type -> (event.type, event.action, what the id/acct names: "user" or "group")
_KINDS: dict[str, tuple[list[str], str, str]] = {
    "ADD_USER": (["user", "creation"], "added-user-account", "user"),
    "DEL_USER": (["user", "deletion"], "deleted-user-account", "user"),
    "ADD_GROUP": (["group", "creation"], "added-group-account-to", "group"),
    "DEL_GROUP": (["group", "deletion"], "deleted-group-account-from", "group"),
    "USER_MGMT": (["user", "change"], "modified-user-account", "user"),
    "GRP_MGMT": (["group", "change"], "modified-group-account", "group"),
    "USER_CHAUTHTOK": (["user", "change"], "changed-password", "user"),
    "GRP_CHAUTHTOK": (["group", "change"], "changed-group-password", "group"),
    "ACCT_LOCK": (["user", "info"], "locked-account", "user"),
    "ACCT_UNLOCK": (["user", "info"], "unlocked-account", "user"),
    "USER_ROLE_CHANGE": (["user", "change"], "changed-role-to", "user"),
    "USER_ACCT": (["group", "change"], "modified-group-account", "group"),   # gpasswd
}

_FIELDS = COMMON_FIELDS | frozenset("""
user.id user.name user.target.id user.target.name group.id group.name
auditd.data.op auditd.data.acct auditd.data.id auditd.data.terminal auditd.data.hostname
auditd.data.addr auditd.data.grantors auditd.data.default-context auditd.data.selected-context
message
""".split())

_DATA = ("acct", "id", "terminal", "hostname", "addr", "grantors", "default-context",
         "selected-context")


class AccountChangeBuilder(EventBuilder):
    kind = "account"
    categories = ("iam",)
    fields = _FIELDS
    constants = {**EVENT_CONSTANTS,
                 "event.category": ["iam"]}
    variants = tuple({"event.type": list(t), "event.action": a}
                     for t, a in dict.fromkeys((tuple(t), a) for t, a, _ in _KINDS.values()))
    record_types = frozenset(_KINDS)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        if rtype == "USER_ACCT" and is_pam_accounting(record):
            return []
        types, action, target_kind = _KINDS[rtype]
        context = self.context
        process, audit = sender(record, context, syscall)
        doc = skeleton(event, context, record, ["iam"], list(types), action,
                       outcome_of(record.get("res")))
        ident = record.number("id")
        acct = record.text_of("acct")
        name = acct if acct is not None else record_name(context, record, "ID", ident,
                                                         target_kind)
        target: dict[str, Any] = {"id": ident, "name": name}
        actor = process["user"]
        doc["user"] = {"id": actor.get("id"), "name": actor.get("name"), "audit": audit}
        if target_kind == "user":
            doc["user"]["target"] = target
        else:
            doc["group"] = target
        doc["process"] = process
        data: dict[str, Any] = {field: record.plain(field) for field in _DATA}
        data["acct"] = acct
        data["id"] = ident
        data["op"] = record.op
        doc["auditd"]["data"] = data
        doc["message"] = record.text
        doc["related"] = {"user": related_users(
            name if target_kind == "user" else None, actor.get("name"), audit.get("name"))}
        return [finish(doc, event, context)]

"""PAM, sshd and login records -> authentication and session documents.

USER_AUTH, USER_ACCT, CRED_ACQ/REFR/DISP, USER_START/END, USER_LOGIN/LOGOUT,
USER_ERR (userspace, one record each) and LOGIN (the kernel's record of a
login uid being set, alone or followed by the SYSCALL of the write).

event.category / type / action are Auditbeat's (go-libaudit normalizations).
Deliberate differences, documented in audisp-eql-eql(7):

* `user.name` / `user.id` are the account being authenticated (`acct=`, or
  `id=` with its name), as Filebeat's system.auth and Auditbeat's login
  dataset name it; `user.effective.*` carries the same (Auditbeat's place for
  it) and `user.audit.*` the login user (auid) of the process that logged;
* `process.name` is the basename of `exe=`: the service (sshd, su, sudo,
  login...), which PAM does not name in the record;
* `source.ip` is `addr=` whenever it is an IP address, on every record type;
* USER_LOGIN also carries the actions Elastic's login rules test:
  `event.action` is ["logged-in", "user_login"], plus "ssh_login" when sshd
  wrote it. sshd writes USER_LOGIN for each failed attempt, but for a
  successful login only when the session has a terminal;
* a USER_ACCT whose op is not a PAM one is an account change (gpasswd logs
  group membership that way): the account builder takes it.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from .common import EVENT_CONSTANTS, table_variants
from .registry import Document, EventBuilder, Syscall
from .userspace import (COMMON_FIELDS, UserRecord, finish, ip_of, is_set, outcome_of,
                        record_name, related_users, sender, skeleton, user_record)

# record type -> (event.category, event.type, event.action)
_KINDS: dict[str, tuple[list[str], list[str], Any]] = {
    "USER_AUTH": (["authentication"], ["info"], "authenticated"),
    "USER_ACCT": (["authentication"], ["info"], "was-authorized"),
    "CRED_ACQ": (["authentication"], ["info"], "acquired-credentials"),
    "CRED_REFR": (["authentication"], ["info"], "refreshed-credentials"),
    "CRED_DISP": (["authentication"], ["info"], "disposed-credentials"),
    "USER_START": (["session"], ["start"], "started-session"),
    "USER_END": (["session"], ["end"], "ended-session"),
    "USER_LOGIN": (["authentication"], ["start"], ["logged-in", "user_login"]),
    "USER_LOGOUT": (["authentication"], ["end"], "logged-out"),
    "USER_ERR": (["authentication"], ["info"], "error"),
    "LOGIN": (["authentication"], ["start"], "changed-login-id-to"),
}
_SSH_LOGIN = ["logged-in", "user_login", "ssh_login"]

_DATA = ("acct", "grantors", "terminal", "hostname", "addr")

_FIELDS = COMMON_FIELDS | frozenset("""
user.id user.name user.effective.id user.effective.name
source.ip source.address source.domain
auditd.data.op auditd.data.acct auditd.data.grantors auditd.data.terminal
auditd.data.hostname auditd.data.addr auditd.data.old-auid auditd.data.old-ses auditd.data.tty
""".split())


def _variants() -> tuple[dict[str, Any], ...]:
    out = list(table_variants(_KINDS.values()))
    out.append({"event.category": ["authentication"], "event.type": ["start"],
                "event.action": _SSH_LOGIN})
    return tuple(out)


def is_pam_accounting(record: UserRecord) -> bool:
    """USER_ACCT from PAM (op=PAM:accounting, or no op), not gpasswd's group change."""
    return record.op is None or record.op.startswith("PAM:")


class AuthenticationBuilder(EventBuilder):
    kind = "authentication"
    categories = ("authentication", "session")
    fields = _FIELDS
    constants = EVENT_CONSTANTS
    variants = _variants()
    record_types = frozenset(_KINDS)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        rtype, body = event.raw[0]
        record = user_record(rtype, body)
        if rtype == "USER_ACCT" and not is_pam_accounting(record):
            return []
        category, types, action = _KINDS[rtype]
        context = self.context
        process, audit = sender(record, context, syscall if rtype != "LOGIN" else None)
        if rtype == "LOGIN":
            return [self._login(event, record, process)]
        if rtype == "USER_LOGIN" and process.get("name") == "sshd":
            action = _SSH_LOGIN
        doc = skeleton(event, context, record, list(category), list(types),
                       list(action) if isinstance(action, list) else action,
                       outcome_of(record.get("res")))
        ident = record.number("id")
        acct = record.text_of("acct")
        name = acct if acct is not None else record_name(context, record, "ID", ident, "user")
        account = {"id": ident, "name": name}
        address = record.plain("addr")
        hostname = record.plain("hostname")
        ip = ip_of(address)
        doc["user"] = {**account, "effective": dict(account), "audit": audit}
        doc["process"] = process
        doc["source"] = {"address": address, "ip": ip,
                         "domain": hostname if hostname is not None and hostname != address
                         and ip_of(hostname) is None else None}
        data: dict[str, Any] = {name: record.plain(name) for name in _DATA}
        data["acct"] = acct
        data["op"] = record.op
        doc["auditd"]["data"] = data
        doc["related"] = {"user": related_users(name, process["user"].get("name"),
                                                audit.get("name"))}
        return [finish(doc, event, context)]

    def _login(self, event: AuditEvent, record: UserRecord, process: dict[str, Any]) -> Document:
        """LOGIN: the login uid (auid) of a process set, by pam_loginuid at login.

        From the record alone: auparse ends an event at a LOGIN record (libaudit's
        audit_is_last_record), so whether the SYSCALL of the write comes with it
        depends on the parser; the document must not."""
        context = self.context
        auid = record.number("auid")
        ses = record.number("ses")
        new_name = record_name(context, record, "AUID", auid, "audit")
        doc = skeleton(event, context, record, ["authentication"], ["start"],
                       "changed-login-id-to", outcome_of(record.get("res")))
        process = {"pid": process.get("pid"), "user": process.get("user")}
        account = {"id": auid if is_set(auid) else None, "name": new_name}
        doc["user"] = {**account, "effective": dict(account),
                       "audit": {"id": auid, "name": new_name}}
        doc["process"] = process
        doc["auditd"]["session"] = ses if is_set(ses) else None
        doc["auditd"]["data"] = {"old-auid": record.number("old-auid"),
                                 "old-ses": record.number("old-ses"),
                                 "tty": record.number("tty")}
        doc["related"] = {"user": related_users(new_name, process["user"].get("name")
                                                if process.get("user") else None)}
        return finish(doc, event, context)

"""The record layout shared by userspace audit messages (PAM, shadow-utils,
sudo, sshd, systemd) and the kernel's own non-syscall records (LOGIN,
CONFIG_CHANGE, DAEMON_*), and the document skeleton every builder of those
events starts from.

A userspace record is framed by the kernel and carries the sender's text in
single quotes::

    pid=P uid=U auid=A ses=S [subj=C ]msg='op=OP acct="NAME" exe="PATH"
        hostname=H addr=A terminal=T res=success'[\\x1dUID="root" ...]

The inner text is split a second time. `op=` is free text up to the next
known field (`op=adding user id=1001`, `op=user bob added by root to group
staff acct=...`): it is cut out first, so that words in it never become
fields. Values are decoded as elsewhere: "quoted" as is, bare upper-case hex
(`acct=28696E76...` for a name with a space) decoded; `?` means absent. Old
libaudit wrote `(hostname=?, addr=?, terminal=pts/0 res=failed)`: the
parentheses and commas are dropped. A `msg='` without its closing quote
(a cut record) keeps everything to the end of the record.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable, Optional

from ..source.event import AuditEvent
from ..source.records import (ENRICHED_SEPARATOR, enriched_text, plain_value, split_fields,
                              value_text)
from .common import BuildContext, id_names, pruned, timestamp
from .registry import Syscall

UNSET_ID = "4294967295"   # auid/ses not set (also written -1 by some auditd versions)
_UNSET = frozenset({UNSET_ID, "-1", "?", "unset"})

# Fields that follow a free-text op= in the messages libaudit, PAM, sshd and
# shadow-utils build (audit_log_acct_message, audit_log_user_message, ...).
_AFTER_OP = ("acct", "id", "exe", "hostname", "addr", "terminal", "res", "grantors", "suid",
             "uid", "reset", "rport", "cmd", "cwd", "comm", "unit", "old-level", "new-level")
# Linear: the lazy part tries one fixed-length lookahead per character.
_OP = re.compile(r"(?:^|(?<=\s))op=(.*?)(?=\s(?:%s)=|$)" % "|".join(map(re.escape, _AFTER_OP)),
                 re.DOTALL)
# libaudit before 1.7 closed user messages with "(hostname=?, addr=?, terminal=T res=R)".
_OLD_STYLE = re.compile(r"\(hostname=|, (?=addr=|terminal=)|\)\s*$")


class UserRecord:
    """One userspace (or non-syscall kernel) record, split: `outer` (the kernel's
    framing or the whole body), `inner` (the sender's fields, op removed), `op`,
    `text` (leading free text of the message, e.g. "changing system time") and
    `enriched` (ENRICHED names)."""

    __slots__ = ("rtype", "outer", "inner", "op", "text", "enriched")

    def __init__(self, rtype: str, body: str) -> None:
        self.rtype = rtype
        raw, _sep, tail = body.partition(ENRICHED_SEPARATOR)
        self.enriched = split_fields(tail) if tail else {}
        start = raw.find("msg='")
        if start >= 0 and (start == 0 or raw[start - 1] == " "):
            outer_text = raw[:start]
            inner_text = raw[start + 5:]
            if inner_text.endswith("'"):
                inner_text = inner_text[:-1]
        else:
            outer_text, inner_text = raw, ""
        self.outer = split_fields(outer_text)
        self.op: Optional[str] = None
        self.text: Optional[str] = None
        source = inner_text if start >= 0 else ""
        if source:
            if "(hostname=" in source:
                source = _OLD_STYLE.sub(" hostname=", source, count=1)
                source = _OLD_STYLE.sub(" ", source)
            match = _OP.search(source)
            if match is not None:
                self.op = match.group(1).strip()
                source = source[:match.start()] + " " + source[match.end():]
            else:
                self.text = _leading_words(source)
            self.inner = split_fields(source)
        else:
            self.inner = {}

    def get(self, name: str) -> Optional[str]:
        """A field of the message (inner first, then the framing), as written."""
        value = self.inner.get(name)
        return value if value is not None else self.outer.get(name)

    def plain(self, name: str) -> Optional[str]:
        """A field programs write as is (hostname, addr, terminal, grantors, unit,
        op...): unquoted, never hex-decoded ("cafe" is a host name); None when
        absent, `?` or empty."""
        value = plain_value(self.get(name))
        if value is None or value in ("?", ""):
            return None
        return value

    def text_of(self, name: str) -> Optional[str]:
        """A field that may be hex-encoded (acct, exe, cmd, cwd, comm, path: names
        libaudit and the kernel encode when they hold odd bytes), decoded to text;
        None when absent, `?` or empty."""
        value = value_text(self.get(name))
        if value is None or value in ("?", ""):
            return None
        return value

    def number(self, name: str) -> Optional[str]:
        """An id or number field as written (unquoted); None when absent."""
        value = self.get(name)
        if value is None:
            return None
        if value[:1] == '"' and value[-1:] == '"' and len(value) > 1:
            value = value[1:-1]
        return value or None

    def enriched_name(self, name: str) -> Optional[str]:
        return enriched_text(self.enriched.get(name))


def _leading_words(text: str) -> Optional[str]:
    """The words before the first key=value ("changing system time")."""
    words = []
    for word in text.split():
        if "=" in word:
            break
        words.append(word)
    return " ".join(words) or None


def user_record(rtype: str, body: str) -> UserRecord:
    """The record split. Not remembered: every body carries the sender's pid, so
    bodies hardly ever repeat, and a cache of them cost the plugin 10 MiB."""
    return UserRecord(rtype, body)


def outcome_of(res: Optional[str]) -> Optional[str]:
    """event.outcome of `res=`: success/yes/1 -> success; failed/no/0 -> failure;
    absent -> None (the outcome is unknown)."""
    if res is None:
        return None
    res = res.strip('"').lower()
    if res in ("success", "yes", "1") or res.startswith("suc"):
        return "success"
    return "failure"


def is_set(ident: Optional[str]) -> bool:
    return ident is not None and ident not in _UNSET


def ip_of(address: Optional[str]) -> Optional[str]:
    """`addr=` as an IP address (IPv4-mapped IPv6 kept as written), else None."""
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return None


def basename(path: Optional[str]) -> Optional[str]:
    if not path:
        return None
    return path.rpartition("/")[2] or None


def related_users(*names: Optional[str]) -> Optional[list[str]]:
    seen: list[str] = []
    for name in names:
        if name and name not in seen:
            seen.append(name)
    return seen or None


def sender(record: UserRecord, context: BuildContext,
           syscall: Optional[Syscall] = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(process, user.audit) of whoever sent the record: the framing's pid, uid,
    auid and exe, or the SYSCALL's when the record was logged inside a syscall."""
    if syscall is not None:
        v = syscall.values
        exe = value_text(v.exe)
        pid, uid, auid = v.pid, v.uid, v.auid
        uid_name, audit_name = id_names(context, v.tail, (("UID", uid, "user"),
                                                          ("AUID", auid, "audit")))
        if not is_set(auid):
            audit_name = None
        comm = value_text(v.comm)
        name = basename(exe) or comm
    else:
        exe = record.text_of("exe")
        pid, uid, auid = record.number("pid"), record.number("uid"), record.number("auid")
        uid_name = record_name(context, record, "UID", uid, "user")
        audit_name = record_name(context, record, "AUID", auid, "audit")
        name = basename(exe) or record.text_of("comm")
    process = {"pid": _int(pid), "executable": exe, "name": name,
               "user": {"id": uid if is_set(uid) else None, "name": uid_name}}
    audit = {"id": auid, "name": audit_name} if auid is not None else {}
    return process, audit


def record_name(context: BuildContext, record: UserRecord, field: str,
                ident: Optional[str], kind: str) -> Optional[str]:
    """The name of an id: the record's ENRICHED field, else (not for audit ids,
    and only with --local-users) the local user database."""
    if ident is None or not is_set(ident) and kind == "audit":
        return None
    name = record.enriched_name(field)
    if name is None and kind != "audit" and context.users is not None:
        name = context.users.group_name(ident) if kind == "group" else context.users.user_name(ident)
    return name


def _int(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number < 1 << 63 else None


def skeleton(event: AuditEvent, context: BuildContext, record: UserRecord,
             category: list[str], types: list[str], action: Any,
             outcome: Optional[str]) -> dict[str, Any]:
    """The fields every document of a userspace/kernel record carries."""
    result = None if outcome is None else ("success" if outcome == "success" else "fail")
    ses = record.number("ses")
    return {
        "@timestamp": timestamp(event.sec, event.msec),
        "event": {"kind": "event", "category": category, "type": types, "action": action,
                  "outcome": outcome, "id": event.event_id, "module": "auditd"},
        "auditd": {"message_type": record.rtype.lower(), "result": result,
                   "sequence": event.serial, "session": ses if is_set(ses) else None},
    }


def finish(doc: dict[str, Any], event: AuditEvent, context: BuildContext) -> dict[str, Any]:
    """Without None values and emptied dicts, with the (shared) host object."""
    doc = pruned(doc)
    doc["host"] = context.host_fields(event.node)
    return doc


def data_fields(record: UserRecord, names: Iterable[str]) -> dict[str, Optional[str]]:
    """auditd.data.* from the record's fields (decoded, `?` dropped), op included."""
    data: dict[str, Optional[str]] = {name: record.text_of(name) for name in names}
    if record.op is not None:
        data["op"] = record.op
    return data


# host.* as BuildContext.host_fields gives it.
HOST_FIELDS: frozenset[str] = frozenset("""
host.name host.hostname host.id host.architecture host.os.type host.os.family host.os.platform
host.os.name host.os.version host.os.full host.os.codename host.os.kernel
""".split())

# The fields of `skeleton`, `sender` and `finish`, for the kinds' `fields` declarations.
COMMON_FIELDS: frozenset[str] = HOST_FIELDS | frozenset("""
@timestamp event.kind event.category event.type event.action event.outcome event.id
event.module
auditd.message_type auditd.result auditd.sequence auditd.session
process.pid process.executable process.name process.user.id process.user.name
user.audit.id user.audit.name related.user
""".split())

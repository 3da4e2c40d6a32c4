"""The acting process of a syscall event, and the envelope every document
about a syscall shares (file, network, driver and process-change documents).

The acting process is the one the SYSCALL record names (pid, ppid, comm,
exe, ids, tty). Its arguments come from its exec seen earlier in the
stream (the process table, or /proc in the plugin, guarded against pid
reuse), and only when that exec ran the same executable; otherwise from
PROCTITLE (its argv memory at the time of the call, cut by the kernel at
128 bytes: a possibly cut last argument is left out). `process.title` is
PROCTITLE as written. Its working directory is the CWD record's; a call
that touches no path (exit_group, set*id, kill, setsid) has none, then it
is the one of its exec, from the same table entry (a later chdir is not
seen there). Users and groups follow the process-start documents:
user.id = uid, user.effective.id = euid, process.user = the effective user.

`acting_process` is the one place the `process` object of these documents
is built: per-process identity (entity ids, leaders) is added there.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from .. import limits
from ..source.event import AuditEvent
from ..source.record_bodies import SyscallValues
from ..source.records import value_text
from .common import (EVENT_CONSTANTS, BuildContext, audit_tags, id_names, process_name,
                     timestamp, to_int)
from .parts import EventParts

# Fields of the envelope and the acting process (builders add their own).
ACTOR_FIELDS: frozenset[str] = frozenset("""
@timestamp tags
event.kind event.category event.type event.action event.outcome event.id event.module
host.name host.hostname host.id host.architecture
host.os.type host.os.family host.os.platform host.os.name host.os.version host.os.full
host.os.codename host.os.kernel
process.pid process.entity_id process.executable process.name process.args process.args_count
process.command_line process.working_directory process.title process.interactive
process.user.id process.user.name process.real_user.id process.real_user.name
process.group.id process.group.name process.real_group.id process.real_group.name
process.saved_user.id process.saved_group.id
process.parent.pid process.parent.entity_id process.parent.name process.parent.executable
process.parent.args process.parent.args_count process.parent.command_line process.parent.user.id
process.parent.group.id process.parent.working_directory process.parent.interactive
user.id user.name user.effective.id user.effective.name user.audit.id user.audit.name
group.id group.name
auditd.data.syscall auditd.data.a0 auditd.data.a1 auditd.data.a2 auditd.data.a3
auditd.data.arch auditd.data.exit auditd.data.tty auditd.sequence auditd.session auditd.result
""".split())

ACTOR_CONSTANTS = EVENT_CONSTANTS


def _id(ident: Optional[str], name: Optional[str]) -> Optional[dict[str, str]]:
    if ident is None:
        return None
    return {"id": ident, "name": name} if name is not None else {"id": ident}


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that have a value (records may lack any field)."""
    return {k: v for k, v in values.items() if v is not None}


def acting_process(context: BuildContext, event: AuditEvent, values: SyscallValues,
                   parts: EventParts, names: list[Optional[str]]) -> dict[str, Any]:
    """The `process` object of the process that made the call."""
    v = values
    exe = value_text(v.exe)
    pid = to_int(v.pid)
    ppid = to_int(v.ppid)
    user_name, euser_name, group_name, egroup_name, _audit_name = names
    process = _present({
        "pid": pid, "executable": exe, "name": process_name(value_text(v.comm), exe),
        "interactive": v.tty is not None and v.tty != "(none)",
        "working_directory": parts.cwd, "title": parts.title,
        "user": _id(v.euid, euser_name), "real_user": _id(v.uid, user_name),
        "group": _id(v.egid, egroup_name), "real_group": _id(v.gid, group_name),
        "saved_user": _id(v.suid, None), "saved_group": _id(v.sgid, None),
    })
    table = context.table
    when = event.sec + event.msec / 1000
    # /proc describes the process now: only worth reading for an event just made.
    fresh = time.time() - when <= limits.MAX_PROC_READ_EVENT_AGE
    args = None
    if table is not None and pid is not None:
        known = table.get(event.node, pid, when, from_proc=fresh)
        # The table's entry describes this process only if it runs the same image.
        if known is not None and known.executable is not None and known.executable == exe:
            args = list(known.args)
            # The same image: its entity id joins this document to its start.
            if known.entity_id is not None:
                process["entity_id"] = known.entity_id
            if parts.cwd is None and known.working_directory is not None:
                process["working_directory"] = known.working_directory
    if args is None:
        args = parts.title_args()
    if args:
        process["args"] = args
        process["args_count"] = len(args)
        process["command_line"] = " ".join(args)
    if ppid is not None:
        parent = table.get(event.node, ppid, when, from_proc=fresh) \
            if table is not None else None
        process["parent"] = {"pid": ppid} if parent is None else parent.as_parent(ppid)
    return process


def envelope(context: BuildContext, event: AuditEvent, values: SyscallValues,
             syscall_name: str, parts: EventParts, success: bool) -> dict[str, Any]:
    """A document about a syscall: time, ids, host, the acting process, its
    users, the raw syscall arguments and the audit rule key(s), without the
    values the records lack. The builder adds event.category/type/action and
    its own fields (never None)."""
    v = values
    names = id_names(context, v.tail, (("UID", v.uid, "user"), ("EUID", v.euid, "user"),
                                       ("GID", v.gid, "group"), ("EGID", v.egid, "group"),
                                       ("AUID", v.auid, "audit"))) \
        if v.tail or context.users is not None else [None] * 5
    user = _present({"id": v.uid, "name": names[0] if v.uid is not None else None,
                     "effective": _id(v.euid, names[1]), "audit": _id(v.auid, names[4])})
    doc: dict[str, Any] = {
        "@timestamp": timestamp(event.sec, event.msec),
        "event": {"kind": "event", "outcome": "success" if success else "failure",
                  "id": event.event_id, "module": "auditd"},
        "host": context.host_fields(event.node),
        "process": acting_process(context, event, values, parts, names),
        "auditd": _present({
            "data": _present({"syscall": syscall_name, "a0": v.a0, "a1": v.a1, "a2": v.a2,
                              "a3": v.a3, "arch": v.arch, "exit": v.exit, "tty": v.tty}),
            "sequence": event.serial, "result": "success" if success else "fail",
            "session": v.ses}),
    }
    if user:
        doc["user"] = user
    group = _id(v.gid, names[2])
    if group is not None:
        doc["group"] = group
    key_raw = v.key
    if key_raw is not None and key_raw != "(null)":
        tags = audit_tags(key_raw)
        if tags:
            doc["tags"] = tags
    return doc

"""Audit event -> ECS process-start document (nested dicts, no None values).

A process start is a successful execve/execveat on any architecture the
audit bindings know (x86_64, i386, aarch64, ...): syscall numbers are turned
into names with `audit.audit_syscall_to_name`, never compared as numbers.
Failed execs are skipped unless `include_failed` (then event.outcome is
"failure"; exe/comm are those of the process that tried).

Field decisions:
* ids are ECS keyword strings exactly as in the record ("0", "4294967295");
* user.id = uid (real), user.effective.id = euid, group.id = gid;
  process.user.id = euid and process.real_user.id = uid (ECS: process.user is
  the effective user), likewise process.group / process.real_group, and
  process.saved_user/saved_group from suid/sgid; user.audit.id = auid;
* names come from the ENRICHED fields (UID="root" ...) or, when a `UserDb`
  is given, the local user database;
* process.name is comm, except that comm is cut at 15 bytes by the kernel:
  then the executable's basename is used when it starts with comm;
* argument bytes that are not UTF-8 appear as `\\xNN` (see records.py);
* an argv longer than limits.MAX_ARGS_CHARS (or an argument longer than
  limits.MAX_ARG_CHARS, which the kernel never writes) is cut in the
  document (ecs/truncate.py): `audisp_eql.args_truncated` is true and
  process.args_count stays the real count; `audisp_eql.parent_truncated`
  says the same of process.parent.* (kept cut in the process table);
* process.previous is one object {"executable": ...}: the image this pid ran
  before this exec, when known (from an earlier exec, or the parent's image
  for a forked child);
* the audit rule key(s) go to `tags` (a list; several keys, which the
  kernel joins with 0x01, are split); absent when key=(null);
* process.env_vars: in the plugin only, the variables asked for, read from
  /proc/PID/environ (environ.py).
"""

from __future__ import annotations

from typing import Any, Optional

from .. import limits
from ..source.event import AuditEvent
from ..source.record_bodies import SyscallValues, plain_cwd, plain_proctitle, single_record_argv
from ..source.records import argv_of, proctitle_text, split_body, value_text
from .actor import ACTOR_FIELDS
from .common import DEFAULT_ACTIONS, audit_tags, id_names, process_name, pruned, timestamp, to_int
from .entity import audit_start, entity_id
from .identity import LEADER_FIELDS, leaders
from .proctable import ProcessInfo
from .registry import Document, EventBuilder, Syscall
from .truncate import cut_args

# A process start: the envelope and acting process every syscall document has
# (actor.py), the process it replaced, its environment and its leaders.
_FIELDS: frozenset[str] = ACTOR_FIELDS | LEADER_FIELDS | frozenset("""
process.previous.executable process.env_vars
audisp_eql.args_truncated audisp_eql.parent_truncated
""".split())

_NO_NAMES = (None, None, None, None, None)

# Record bodies repeat (a host runs the same commands again and again): their
# decoded argv and title are kept per body text, bounded in count and length.
_ARGVS = limits.BoundedCache("MAX_BODY_CACHE")
_TITLES = limits.BoundedCache("MAX_BODY_CACHE")


def _remember(cache: limits.BoundedCache, body: str, value: Any) -> None:
    if len(body) <= limits.MAX_BODY_CACHE_LENGTH:
        cache.remember(body, value)


def _single_argv(body: str) -> Optional[list[str]]:
    """`single_record_argv`, remembered per body; each document gets its own list."""
    args = _ARGVS.get(body)
    if args is None:
        found = single_record_argv(body)
        if found is None:
            return None
        args = tuple(found)
        _remember(_ARGVS, body, args)
    return list(args)


class ProcessStartBuilder(EventBuilder):
    """execve/execveat -> one process-start document (failed ones only with
    `include_failed`)."""

    kind = "process"
    categories = ("process",)
    fields = _FIELDS
    constants = {"event.action": list(DEFAULT_ACTIONS), "event.category": ["process"],
                 "event.type": ["start"], "event.kind": "event", "host.os.type": "linux"}
    # A new image's entity id is derived from its own exec event (identity.py).
    fresh = frozenset({"process.entity_id"})
    syscalls = frozenset({"execve", "execveat"})

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        assert syscall is not None
        values = syscall.values
        success = values.success == "yes"
        if not success and not self.context.include_failed:
            return []
        return [self._document(event, values, syscall.name or "", success)]

    def _document(self, event: AuditEvent, values: SyscallValues, syscall_name: str,
                  success: bool) -> Document:
        v = values
        execve: list[str] = []
        cwd = title = None
        for rtype, body in event.raw:
            if rtype == "EXECVE":
                execve.append(body)
            elif rtype == "CWD":
                cwd = plain_cwd(body)
                if cwd is None:
                    cwd = value_text(split_body(body)[0].get("cwd"))
            elif rtype == "PROCTITLE":
                title = _TITLES.get(body)
                if title is None:
                    raw_title = plain_proctitle(body)
                    if raw_title is None:
                        raw_title = split_body(body)[0].get("proctitle")
                    title = proctitle_text(raw_title)
                    _remember(_TITLES, body, title)
        args = _single_argv(execve[0]) if len(execve) == 1 else None
        if args is None:
            args = argv_of([split_body(b)[0] for b in execve])[0] if execve else []
        exe = value_text(v.exe)
        comm = value_text(v.comm)
        pname = process_name(comm, exe)
        tty = v.tty
        interactive = tty is not None and tty != "(none)"
        args_count = len(args)
        all_args = args
        command_line = " ".join(args)
        cut = None
        if len(command_line) > limits.MAX_ARG_CHARS:    # else every argument fits both bounds
            cut = cut_args(args, limits.MAX_ARG_CHARS, limits.MAX_ARGS_CHARS)
            if cut is not None:
                args = cut
                command_line = " ".join(args)
        pid = to_int(v.pid, self.context)
        ppid = to_int(v.ppid, self.context)
        uid, euid, gid, egid, auid = v.uid, v.euid, v.gid, v.egid, v.auid
        context = self.context
        user_name, euser_name, group_name, egroup_name, audit_name = \
            id_names(context, v.tail, (("UID", uid, "user"), ("EUID", euid, "user"),
                                       ("GID", gid, "group"), ("EGID", egid, "group"),
                                       ("AUID", auid, "audit"))) \
            if v.tail or context.users is not None else _NO_NAMES
        outcome = "success" if success else "failure"
        action = context.action

        node = event.node
        host = context.host_fields(node)
        # A new image: its own entity id (identity.py), stored for its children.
        ident = entity_id(host.get("id"), pid, audit_start(event.sec, event.msec, event.serial)) \
            if pid is not None and success else None
        process: dict[str, Any] = {
            "args": args, "args_count": args_count, "command_line": command_line,
            "interactive": interactive, "pid": pid, "entity_id": ident,
            "executable": exe, "name": pname,
            "working_directory": cwd, "title": title,
            "user": {"id": euid, "name": euser_name} if euser_name is not None else {"id": euid},
            "real_user": {"id": uid, "name": user_name} if user_name is not None else {"id": uid},
            "group": {"id": egid, "name": egroup_name} if egroup_name is not None else {"id": egid},
            "real_group": ({"id": gid, "name": group_name} if group_name is not None
                           else {"id": gid}),
            "saved_user": {"id": v.suid}, "saved_group": {"id": v.sgid},
        }
        table = context.table
        when = event.sec + event.msec / 1000
        parent_cut = False
        if ppid is not None:
            known = table.get(node, ppid, when) if table is not None else None
            process["parent"] = {"pid": ppid} if known is None else known.as_parent(ppid)
            parent_cut = known is not None and known.truncated
        if ident is None:
            del process["entity_id"]
        elif pid is not None:
            if table is not None:
                # Only an exec seen earlier is a previous image: /proc shows this one.
                previous = table.get(node, pid, from_proc=False)
                if previous is not None and previous.executable is not None:
                    process["previous"] = {"executable": previous.executable}
                info = ProcessInfo(exe, pname, all_args, euid, egid, cwd, interactive, ident)
                table.put(node, pid, info)
                if table.proc_fallback and node is None:
                    process.update(leaders(table, node, pid, when, info))
        if context.environ is not None and ident is not None and node is None:
            env_vars = context.environ.read(pid, exe, when)
            if env_vars is not None:
                process["env_vars"] = env_vars
        if pid is None:
            del process["pid"]
        if exe is None:
            del process["executable"]
        if pname is None:
            del process["name"]
        if cwd is None:
            del process["working_directory"]
        if title is None:
            del process["title"]
        user = {"id": uid, "name": user_name} if user_name is not None else {"id": uid}
        user["effective"] = {"id": euid, "name": euser_name} if euser_name is not None \
            else {"id": euid}
        user["audit"] = {"id": auid, "name": audit_name} if audit_name is not None \
            else {"id": auid}
        doc: dict[str, Any] = {
            "@timestamp": timestamp(event.sec, event.msec),
            "event": {"kind": "event", "category": ["process"], "type": ["start"],
                      "action": action if action.__class__ is str else list(action),
                      "outcome": outcome,
                      "id": event.event_id, "module": "auditd"},
            "host": host,
            "process": process,
            "auditd": {"data": {"syscall": syscall_name, "a0": v.a0, "a1": v.a1, "a2": v.a2,
                                "a3": v.a3, "arch": v.arch, "exit": v.exit, "tty": tty},
                       "sequence": event.serial, "result": "success" if success else "fail",
                       "session": v.ses},
            "user": user,
            "group": {"id": gid, "name": group_name} if group_name is not None else {"id": gid},
        }
        if cut is not None or parent_cut:
            doc["audisp_eql"] = ({"args_truncated": True, "parent_truncated": True}
                                 if cut is not None and parent_cut
                                 else {"args_truncated": True} if cut is not None
                                 else {"parent_truncated": True})
        key_raw = v.key
        if key_raw is not None and key_raw != "(null)":
            tags = audit_tags(key_raw)
            if tags:
                doc["tags"] = tags
        if None in values:
            # The slow path's record lacked a field: drop what is absent.
            return pruned(doc)
        return doc

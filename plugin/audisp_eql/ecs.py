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
* process.previous is one object {"executable": ...}: the image this pid ran
  before this exec, when known (from an earlier exec, or the parent's image
  for a forked child);
* the audit rule key(s) go to `tags` (a list; several keys, which the
  kernel joins with 0x01, are split); absent when key=(null).
"""

from __future__ import annotations

import re
import time
from typing import Any, Optional

from .assemble import AuditEvent
from .proctable import ProcessInfo, ProcessTable
from .record_bodies import (SYSCALL_HEAD, SyscallValues, plain_cwd, plain_proctitle,
                            single_record_argv, syscall_values)
from .records import (argv_of, enriched_text, proctitle_text, split_body, split_fields,
                      value_bytes, value_text)
from .users import UserDb

try:
    import audit as _audit
except ImportError:  # pragma: no cover - without the bindings no names are known
    _audit = None  # type: ignore[assignment]

EXEC_SYSCALLS = frozenset({"execve", "execveat"})
FORK_SYSCALLS = frozenset({"clone", "clone3", "fork", "vfork"})

PRODUCED_FIELDS: frozenset[str] = frozenset("""
@timestamp tags
event.kind event.category event.type event.action event.outcome event.id event.module
host.name host.os.type
process.pid process.executable process.name process.args process.args_count
process.command_line process.working_directory process.title process.interactive
process.user.id process.user.name process.real_user.id process.real_user.name
process.group.id process.group.name process.real_group.id process.real_group.name
process.saved_user.id process.saved_group.id
process.parent.pid process.parent.name process.parent.executable process.parent.args
process.parent.args_count process.parent.command_line process.parent.user.id
process.parent.group.id process.parent.working_directory process.parent.interactive
process.previous.executable
user.id user.name user.effective.id user.effective.name user.audit.id user.audit.name
group.id group.name
auditd.data.syscall auditd.data.a0 auditd.data.a1 auditd.data.a2 auditd.data.a3
auditd.data.arch auditd.data.exit auditd.data.tty auditd.sequence auditd.session auditd.result
""".split())


def _syscall_name(arch: Optional[str], number: Optional[str],
                  cache: dict[tuple[Optional[str], Optional[str]], Optional[str]] = {}) -> Optional[str]:
    key = (arch, number)
    try:
        return cache[key]
    except KeyError:
        pass
    name: Optional[str] = None
    if _audit is not None and arch and number:
        try:
            machine = _audit.audit_elf_to_machine(int(arch, 16))
            if machine >= 0:
                name = _audit.audit_syscall_to_name(int(number), machine)
        except (ValueError, OverflowError, OSError, TypeError):
            name = None
    if len(cache) < 65536:       # (arch, number) pairs come from the input
        cache[key] = name
    return name


# ".000Z" ... ".999Z": the millisecond tail of @timestamp without formatting.
_MSEC_SUFFIX = tuple(".%03dZ" % i for i in range(1000))


def _timestamp(sec: int, msec: int, cache: dict[int, str] = {}) -> str:
    prefix = cache.get(sec)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        if len(cache) > 1024:
            cache.clear()
        cache[sec] = prefix
    if msec < 1000:
        return prefix + _MSEC_SUFFIX[msec]
    return f"{prefix}.{msec:03d}Z"


def _process_name(comm: Optional[str], exe: Optional[str]) -> Optional[str]:
    if comm is not None and exe:
        if len(comm) == 15:
            base = exe.rpartition("/")[2]
            if base.startswith(comm):
                return base
        elif not comm.isascii() or "\\" in comm:
            # The cut is at 15 bytes, maybe inside a character (then \xNN).
            cut = _raw_bytes(comm)
            base = exe.rpartition("/")[2]
            if len(cut) == 15 and _raw_bytes(base).startswith(cut):
                return base
    return comm if comm is not None else (exe.rpartition("/")[2] if exe else None)


_BYTE_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def _raw_bytes(text: str) -> bytes:
    """The bytes a decoded value came from (\\xNN escapes undone)."""
    return _BYTE_ESCAPE.sub(lambda m: bytes((int(m[1], 16),)),
                            text.encode("utf-8", "surrogatepass"))


def _tags(raw: Optional[str], cache: dict[str, tuple[str, ...]] = {}) -> Optional[list[str]]:
    if raw is None or raw == "(null)":
        return None
    # A host has a few audit rule keys: decode each once (bounded, keys are input).
    keys = cache.get(raw)
    if keys is None:
        data = value_bytes(raw)
        keys = tuple(k.decode("utf-8", "backslashreplace")
                     for k in data.split(b"\x01") if k) if data else ()
        if len(raw) <= 512:      # memory bounded whatever the input
            if len(cache) >= 1024:
                cache.clear()
            cache[raw] = keys
    return list(keys) if keys else None   # each document owns its list


# Record bodies repeat (a host runs the same commands again and again): their
# decoded argv and title are kept per body text, bounded in count and length.
_BODY_CACHE_LIMIT = 4096
_BODY_LENGTH_LIMIT = 512
_ARGVS: dict[str, tuple[str, ...]] = {}
_TITLES: dict[str, Optional[str]] = {}


def _remember(cache: dict[str, Any], body: str, value: Any) -> None:
    if len(body) <= _BODY_LENGTH_LIMIT:
        if len(cache) >= _BODY_CACHE_LIMIT:
            cache.clear()
        cache[body] = value


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


def _int(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _pruned(value: Any) -> Any:
    """Without None values and the dicts left empty (the slow path's documents,
    whose SYSCALL record may lack any field)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            if isinstance(v, dict):
                v = _pruned(v)
                if not v:
                    continue
            out[k] = v
        return out
    return value


class EcsBuilder:
    def __init__(self, action: str = "exec", include_failed: bool = False,
                 table: Optional[ProcessTable] = None, users: Optional[UserDb] = None,
                 hostname: Optional[str] = None) -> None:
        self.action = action
        self.include_failed = include_failed
        self.table = table
        self.users = users
        self.hostname = hostname

    def build(self, event: AuditEvent) -> Optional[dict[str, Any]]:
        """The document for a process start, or None for any other event."""
        for rtype, body in event.raw:
            if rtype == "SYSCALL":
                break
        else:
            return None
        # Name the syscall from the first two fields before reading anything else.
        head = SYSCALL_HEAD.match(body)
        values: Optional[SyscallValues] = None
        if head is not None:
            name = _syscall_name(head[1], head[2])
        else:
            values = syscall_values(body)
            name = _syscall_name(values[0], values[1])
        if name not in EXEC_SYSCALLS:
            if name in FORK_SYSCALLS and self.table is not None:
                self._fork(event.node, values or syscall_values(body))
            return None
        if values is None:
            values = syscall_values(body)
        success = values[2] == "yes"
        if not success and not self.include_failed:
            return None
        return self._document(event, values, name, success)

    def _fork(self, node: Optional[str], values: SyscallValues) -> None:
        try:
            child = int(values[3] or "0")
            parent = int(values[9] or "0")
        except ValueError:
            return
        if child > 0 and values[2] == "yes":
            self.table.fork(node, parent, child)  # type: ignore[union-attr]

    def _names(self, tail: str, uid: Optional[str], euid: Optional[str],
               gid: Optional[str], egid: Optional[str], auid: Optional[str]) -> tuple:
        """(user, effective user, group, effective group, audit user) names: the
        ENRICHED ones, else the local database's (not for auid); None where the
        id is absent."""
        if tail:
            enriched = split_fields(tail)
            names = [enriched_text(enriched.get(n)) if ident is not None else None
                     for n, ident in (("UID", uid), ("EUID", euid), ("GID", gid),
                                      ("EGID", egid), ("AUID", auid))]
        else:
            names = [None, None, None, None, None]
        users = self.users
        if users is not None:
            for i, ident in enumerate((uid, euid, gid, egid)):
                if names[i] is None and ident is not None:
                    names[i] = users.group_name(ident) if i >= 2 else users.user_name(ident)
        return tuple(names)

    def _document(self, event: AuditEvent, values: SyscallValues, syscall_name: str,
                  success: bool) -> dict[str, Any]:
        (arch, _number, _success, exit_code, a0, a1, a2, a3, ppid_text, pid_text, auid, uid,
         gid, euid, suid, egid, sgid, tty, ses, comm_raw, exe_raw, key_raw, tail) = values
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
        exe = value_text(exe_raw)
        comm = value_text(comm_raw)
        pname = _process_name(comm, exe)
        interactive = tty is not None and tty != "(none)"
        command_line = " ".join(args)
        pid = _int(pid_text)
        ppid = _int(ppid_text)
        user_name, euser_name, group_name, egroup_name, audit_name = \
            self._names(tail, uid, euid, gid, egid, auid) if tail or self.users \
            else (None, None, None, None, None)
        hostname = event.node if event.node is not None else self.hostname
        outcome = "success" if success else "failure"

        process: dict[str, Any] = {
            "args": args, "args_count": len(args), "command_line": command_line,
            "interactive": interactive, "pid": pid, "executable": exe, "name": pname,
            "working_directory": cwd, "title": title,
            "user": {"id": euid, "name": euser_name} if euser_name is not None else {"id": euid},
            "real_user": {"id": uid, "name": user_name} if user_name is not None else {"id": uid},
            "group": {"id": egid, "name": egroup_name} if egroup_name is not None else {"id": egid},
            "real_group": ({"id": gid, "name": group_name} if group_name is not None
                           else {"id": gid}),
            "saved_user": {"id": suid}, "saved_group": {"id": sgid},
        }
        table = self.table
        if ppid is not None:
            known = table.get(event.node, ppid, event.sec + event.msec / 1000) \
                if table is not None else None
            process["parent"] = {"pid": ppid} if known is None else known.as_parent(ppid)
        if table is not None and pid is not None and success:
            # Only an exec seen earlier is a previous image: /proc shows this one.
            previous = table.get(event.node, pid, from_proc=False)
            if previous is not None and previous.executable is not None:
                process["previous"] = {"executable": previous.executable}
            table.put(event.node, pid, ProcessInfo(exe, pname, args, euid, egid, cwd,
                                                   interactive))
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
            "@timestamp": _timestamp(event.sec, event.msec),
            "event": {"kind": "event", "category": ["process"], "type": ["start"],
                      "action": self.action, "outcome": outcome,
                      "id": event.event_id, "module": "auditd"},
            "host": ({"os": {"type": "linux"}, "name": hostname} if hostname is not None
                     else {"os": {"type": "linux"}}),
            "process": process,
            "auditd": {"data": {"syscall": syscall_name, "a0": a0, "a1": a1, "a2": a2, "a3": a3,
                                "arch": arch, "exit": exit_code, "tty": tty},
                       "sequence": event.serial, "result": "success" if success else "fail",
                       "session": ses},
            "user": user,
            "group": {"id": gid, "name": group_name} if group_name is not None else {"id": gid},
        }
        if key_raw is not None and key_raw != "(null)":
            tags = _tags(key_raw)
            if tags:
                doc["tags"] = tags
        if None in values:
            # The slow path's record lacked a field: drop what is absent.
            return _pruned(doc)
        return doc

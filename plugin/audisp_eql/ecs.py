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

import time
from typing import Any, Optional

from .assemble import AuditEvent
from .proctable import ProcessInfo, ProcessTable
from .records import (argv_of, enriched_text, proctitle_text, split_body,
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


def _timestamp(sec: int, msec: int, cache: dict[int, str] = {}) -> str:
    prefix = cache.get(sec)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        if len(cache) > 1024:
            cache.clear()
        cache[sec] = prefix
    return f"{prefix}.{msec:03d}Z"


def _process_name(comm: Optional[str], exe: Optional[str]) -> Optional[str]:
    if comm is not None and len(comm) == 15 and exe:
        base = exe.rpartition("/")[2]
        if base.startswith(comm):
            return base
    return comm if comm is not None else (exe.rpartition("/")[2] if exe else None)


def _tags(raw: Optional[str]) -> Optional[list[str]]:
    data = value_bytes(raw)
    if not data:
        return None
    return [k.decode("utf-8", "backslashreplace") for k in data.split(b"\x01") if k]


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
        f, enriched = split_body(body)
        name = _syscall_name(_plain(f.get("arch")), _plain(f.get("syscall")))
        if name not in EXEC_SYSCALLS:
            if name in FORK_SYSCALLS and self.table is not None:
                self._fork(event.node, f)
            return None
        success = _plain(f.get("success")) == "yes"
        if not success and not self.include_failed:
            return None
        return self._document(event, f, enriched, name, success)

    def _fork(self, node: Optional[str], f: dict[str, str]) -> None:
        try:
            child = int(_plain(f.get("exit")) or "0")
            parent = int(_plain(f.get("pid")) or "0")
        except ValueError:
            return
        if child > 0 and _plain(f.get("success")) == "yes":
            self.table.fork(node, parent, child)  # type: ignore[union-attr]

    def _name(self, enriched: dict[str, str], field: str, ident: Optional[str],
              is_group: bool = False) -> Optional[str]:
        """ENRICHED name of an id field, else the local database's (if any)."""
        name = enriched_text(enriched.get(field))
        if name is None and ident is not None and self.users is not None:
            name = self.users.group_name(ident) if is_group else self.users.user_name(ident)
        return name

    def _document(self, event: AuditEvent, f: dict[str, str], enriched: dict[str, str],
                  syscall_name: str, success: bool) -> dict[str, Any]:
        execve: list[dict[str, str]] = []
        cwd = title = None
        for rtype, body in event.raw:
            if rtype == "EXECVE":
                execve.append(split_body(body)[0])
            elif rtype == "CWD":
                cwd = value_text(split_body(body)[0].get("cwd"))
            elif rtype == "PROCTITLE":
                title = proctitle_text(split_body(body)[0].get("proctitle"))
        args = argv_of(execve)[0] if execve else []
        exe = value_text(f.get("exe"))
        comm = value_text(f.get("comm"))
        pname = _process_name(comm, exe)
        tty = _plain(f.get("tty"))
        interactive = tty is not None and tty != "(none)"
        uid, euid, gid, egid = (_plain(f.get("uid")), _plain(f.get("euid")),
                                _plain(f.get("gid")), _plain(f.get("egid")))
        command_line = " ".join(args)

        process: dict[str, Any] = {"args": args, "args_count": len(args),
                                   "command_line": command_line, "interactive": interactive}
        pid = _int(_plain(f.get("pid")))
        ppid = _int(_plain(f.get("ppid")))
        if pid is not None:
            process["pid"] = pid
        if exe is not None:
            process["executable"] = exe
        if pname is not None:
            process["name"] = pname
        if cwd is not None:
            process["working_directory"] = cwd
        if title is not None:
            process["title"] = title
        user_name = self._name(enriched, "UID", uid)
        euser_name = self._name(enriched, "EUID", euid)
        group_name = self._name(enriched, "GID", gid, is_group=True)
        egroup_name = self._name(enriched, "EGID", egid, is_group=True)
        _put_id(process, "user", euid, euser_name)
        _put_id(process, "real_user", uid, user_name)
        _put_id(process, "group", egid, egroup_name)
        _put_id(process, "real_group", gid, group_name)
        _put_id(process, "saved_user", _plain(f.get("suid")), None)
        _put_id(process, "saved_group", _plain(f.get("sgid")), None)

        table = self.table
        if ppid is not None:
            parent: dict[str, Any] = {"pid": ppid}
            process["parent"] = parent
            if table is not None:
                known = table.get(event.node, ppid, event.sec + event.msec / 1000)
                if known is not None:
                    _put_parent(parent, known)
        if table is not None and pid is not None and success:
            previous = table.get(event.node, pid, event.sec + event.msec / 1000)
            if previous is not None and previous.executable is not None:
                process["previous"] = {"executable": previous.executable}
            table.put(event.node, pid, ProcessInfo(
                executable=exe, name=pname, args=args, command_line=command_line,
                user_id=euid, group_id=egid, working_directory=cwd, interactive=interactive))

        user: dict[str, Any] = {}
        _put_id(user, None, uid, user_name)
        _put_id(user, "effective", euid, euser_name)
        _put_id(user, "audit", _plain(f.get("auid")), enriched_text(enriched.get("AUID")))
        group: dict[str, Any] = {}
        _put_id(group, None, gid, group_name)

        data: dict[str, Any] = {"syscall": syscall_name}
        for name in ("a0", "a1", "a2", "a3", "arch", "exit", "tty"):
            value = _plain(f.get(name))
            if value is not None:
                data[name] = value
        auditd: dict[str, Any] = {"data": data, "sequence": event.serial,
                                  "result": "success" if success else "fail"}
        ses = _plain(f.get("ses"))
        if ses is not None:
            auditd["session"] = ses

        host: dict[str, Any] = {"os": {"type": "linux"}}
        hostname = event.node if event.node is not None else self.hostname
        if hostname is not None:
            host["name"] = hostname
        doc: dict[str, Any] = {
            "@timestamp": _timestamp(event.sec, event.msec),
            "event": {"kind": "event", "category": ["process"], "type": ["start"],
                      "action": self.action, "outcome": "success" if success else "failure",
                      "id": event.event_id, "module": "auditd"},
            "host": host,
            "process": process,
            "auditd": auditd,
        }
        if user:
            doc["user"] = user
        if group:
            doc["group"] = group
        tags = _tags(f.get("key"))
        if tags:
            doc["tags"] = tags
        return doc


def _plain(value: Optional[str]) -> Optional[str]:
    """A number or keyword field; some auditd versions quote them (success="yes")."""
    if value is not None and value[:1] == '"' and value[-1:] == '"' and len(value) > 1:
        return value[1:-1]
    return value


def _int(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _put_id(target: dict[str, Any], key: Optional[str], ident: Optional[str],
            name: Optional[str]) -> None:
    if ident is None:
        return
    entry = target if key is None else target.setdefault(key, {})
    entry["id"] = ident
    if name is not None:
        entry["name"] = name


def _put_parent(parent: dict[str, Any], known: ProcessInfo) -> None:
    if known.executable is not None:
        parent["executable"] = known.executable
    if known.name is not None:
        parent["name"] = known.name
    parent["args"] = known.args
    parent["args_count"] = len(known.args)
    parent["command_line"] = known.command_line
    if known.user_id is not None:
        parent["user"] = {"id": known.user_id}
    if known.group_id is not None:
        parent["group"] = {"id": known.group_id}
    if known.working_directory is not None:
        parent["working_directory"] = known.working_directory
    if known.interactive is not None:
        parent["interactive"] = known.interactive

"""AppArmor AVC records -> `violated-apparmor-policy` documents.

AppArmor logs through the kernel's LSM audit path as `type=AVC` with
`apparmor="DENIED"` (enforced), `"ALLOWED"` (complain mode: would have been
denied), `"AUDIT"` or `"STATUS"` (policy loads). Only DENIED and ALLOWED are
violations. The record is written during the call it concerns, so it comes
before that call's SYSCALL record when one is written (any loaded audit
rule makes the kernel write it); without one the record stands alone and
names the process by pid and comm only.

| class / operation | event.category | event.type |
|---|---|---|
| file (writes: w a c d l in requested_mask, or rename/unlink/chmod/chown/mkdir/rmdir/link) | file | change |
| file (reads, exec, mmap) | file | access |
| net | network | info |
| anything else (capability, signal, ptrace, mount ...) | process | info |

plus `denied` or `allowed` in event.type; event.action
`violated-apparmor-policy` (Auditbeat's term; Elastic Defend has none);
outcome failure when denied. `file.path` is the AVC `name=`; the profile,
operation and masks are in `auditd.data`. SELinux AVCs (`avc: denied {...}`)
are not turned into documents.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from ..source.records import split_body, value_text
from .actor import ACTOR_CONSTANTS, ACTOR_FIELDS, envelope
from .common import process_name, timestamp, to_int
from .parts import EventParts
from .paths import PathItem, absolute, file_fields
from .registry import Document, EventBuilder, Syscall

_WRITE_MASK = frozenset("wacdl")
_WRITE_OPERATIONS = frozenset({"rename_src", "rename_dest", "unlink", "rmdir", "mkdir",
                               "chmod", "chown", "link", "symlink", "mknod", "truncate",
                               "setattr", "file_mprotect"})
_DATA = ("apparmor", "operation", "profile", "requested_mask", "denied_mask", "class", "info",
         "capname", "family", "sock_type", "protocol", "signal", "peer")

_CATEGORY_TYPES = ((["file"], ["change"]), (["file"], ["access"]),
                   (["network"], ["info"]), (["process"], ["info"]))
_VARIANTS = tuple({"event.category": category, "event.type": types + [verdict],
                   "event.action": ["violated-apparmor-policy"]}
                  for category, types in _CATEGORY_TYPES for verdict in ("denied", "allowed"))


def _category(fields: dict[str, str]) -> tuple[list[str], list[str]]:
    klass = value_text(fields.get("class"))
    operation = value_text(fields.get("operation")) or ""
    if klass == "file" or (klass is None and "name" in fields and "requested_mask" in fields):
        mask = value_text(fields.get("requested_mask")) or ""
        if _WRITE_MASK & set(mask) or operation in _WRITE_OPERATIONS:
            return ["file"], ["change"]
        return ["file"], ["access"]
    if klass == "net" or "family" in fields:
        return ["network"], ["info"]
    return ["process"], ["info"]


class AppArmorBuilder(EventBuilder):
    """AVC apparmor="DENIED"/"ALLOWED" -> one document per event."""

    kind = "apparmor"
    categories = ("file", "network", "process")
    fields = ACTOR_FIELDS | frozenset(f"auditd.data.{name}" for name in _DATA) | frozenset(
        f"file.{n}" for n in ("path", "name", "directory", "extension", "inode", "uid", "owner"))
    constants = dict(ACTOR_CONSTANTS)
    variants = _VARIANTS
    record_types = frozenset({"AVC"})

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        body = next((b for t, b in event.raw if t == "AVC"), None)
        if body is None:
            return []
        fields = split_body(body)[0]
        verdict = value_text(fields.get("apparmor"))
        if verdict not in ("DENIED", "ALLOWED"):
            return []
        denied = verdict == "DENIED"
        parts = EventParts(event)
        if syscall is not None and syscall.values.pid is not None:
            doc = envelope(self.context, event, syscall.values, syscall.name or "", parts,
                           not denied)
        else:
            doc = _standalone(self.context, event, fields, not denied)
        category, types = _category(fields)
        doc["event"]["category"] = category
        doc["event"]["type"] = types + ["denied" if denied else "allowed"]
        doc["event"]["action"] = ["violated-apparmor-policy"]
        data = doc["auditd"]["data"]
        for name in _DATA:
            value = value_text(fields.get(name))
            if value is not None:
                data[name] = value
        if category == ["file"]:
            name = value_text(fields.get("name"))
            item = PathItem(0, name, "NORMAL", fields.get("ino"), None, None,
                            fields.get("ouid"), None, None, None)
            file = file_fields(self.context, item, absolute(name, None, False))
            file.pop("gid", None)
            if file:
                doc["file"] = file
        return [doc]


def _standalone(context: Any, event: AuditEvent, fields: dict[str, str],
                success: bool) -> dict[str, Any]:
    """The envelope of an AVC without SYSCALL: the process by pid and comm."""
    comm = value_text(fields.get("comm"))
    return {
        "@timestamp": timestamp(event.sec, event.msec),
        "event": {"kind": "event", "outcome": "success" if success else "failure",
                  "id": event.event_id, "module": "auditd"},
        "host": context.host_fields(event.node),
        "process": {k: v for k, v in (("pid", to_int(fields.get("pid"))),
                                      ("name", process_name(comm, None))) if v is not None},
        "auditd": {"data": {}, "sequence": event.serial},
    }

"""Process syscalls other than exec -> ECS process documents: signals sent,
identity changes, new sessions, process exits.

| call (success only) | event.type | event.action |
|---|---|---|
| kill, tkill, tgkill | end | killed-pid |
| setuid, setreuid, setresuid, setfsuid (and i386 *32) | change | uid_change, changed-identity-of |
| setgid, setregid, setresgid, setfsgid (and i386 *32) | change | gid_change, changed-identity-of |
| setsid | change | session_id_change |
| exit_group | end | end |

Terms: Elastic Defend's first (uid_change, gid_change, session_id_change,
end), Auditbeat's next (go-libaudit: killed-pid and end with type end,
changed-identity-of with type change; it has no term for setsid). The
process is the caller; the ids in the document are those after the call
(the kernel logs them at syscall exit); the call's arguments stay in
`auditd.data.a0..a3` (a kill's signal is a1, in hex). A signal's target is
the OBJ_PID record: `auditd.data.opid`, `ocomm`, `ouid`, `oauid`, `oses`.
A process ended by a signal makes no exit call: its end is not audited.
In live mode (local records, /proc at hand) the caller's process group and
session leaders are added as process starts have them (identity.leaders):
a uid change joins the exec of another process of the same terminal session.
"""

from __future__ import annotations

from typing import Optional

from ..source.event import AuditEvent
from ..source.records import value_text
from .actor import ACTOR_CONSTANTS, ACTOR_FIELDS, envelope
from .common import to_int
from .identity import LEADER_FIELDS, leaders
from .parts import EventParts
from .registry import Document, EventBuilder, Syscall

_UID = ("setuid", "setreuid", "setresuid", "setfsuid")
_GID = ("setgid", "setregid", "setresgid", "setfsgid")

# syscall -> (event.type, event.action)
_CALLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kill": (("end",), ("killed-pid",)), "tkill": (("end",), ("killed-pid",)),
    "tgkill": (("end",), ("killed-pid",)),
    **{name: (("change",), ("uid_change", "changed-identity-of"))
       for base in _UID for name in (base, base + "32")},
    **{name: (("change",), ("gid_change", "changed-identity-of"))
       for base in _GID for name in (base, base + "32")},
    "setsid": (("change",), ("session_id_change",)),
    "exit_group": (("end",), ("end",)),
}
_TARGET = ("opid", "oauid", "ouid", "oses", "ocomm")


class ProcessChangeBuilder(EventBuilder):
    """kill family, set*uid / set*gid, setsid, exit_group -> process documents."""

    kind = "process_change"
    categories = ("process",)
    fields = ACTOR_FIELDS | frozenset(f"auditd.data.{name}" for name in _TARGET) | LEADER_FIELDS
    constants = {**ACTOR_CONSTANTS, "event.category": ["process"]}
    variants = tuple({"event.type": list(t), "event.action": list(a)}
                     for t, a in dict.fromkeys(_CALLS.values()))
    syscalls = frozenset(_CALLS)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        assert syscall is not None and syscall.name is not None
        values = syscall.values
        if values.success != "yes" and syscall.name != "exit_group":
            return []
        parts = EventParts(event)
        doc = envelope(self.context, event, values, syscall.name, parts, True)
        types, actions = _CALLS[syscall.name]
        doc["event"].update(category=["process"], type=list(types), action=list(actions))
        table = self.context.table
        if table is not None and table.proc_fallback and event.node is None:
            doc["process"].update(leaders(table, None, to_int(values.pid),
                                          event.sec + event.msec / 1000))
        target = parts.fields("OBJ_PID")
        if target:
            data = doc["auditd"]["data"]
            for name in _TARGET:
                value = target.get(name)
                if value is not None:
                    data[name] = value_text(value) if name == "ocomm" else value
        return [doc]

"""Kernel module syscalls -> ECS driver documents.

init_module / finit_module / delete_module, with the KERN_MODULE record the
kernel adds once it has read the module's name (a load that fails earlier,
e.g. a file that is not a module, has none). The KERN_MODULE record exists
only when the syscall itself is audited (the `modules` profile).

| call | event.category | event.type | event.action |
|---|---|---|---|
| init_module, finit_module, success | driver, process | start | load_module, loaded-kernel-module |
| same, failed | driver | start | loaded-kernel-module (outcome failure) |
| delete_module, success | driver | end | unloaded-kernel-module |

A successful load is one document for both vocabularies: Auditbeat's
`driver` event and Elastic Defend's `load_module`, a process event of the
loading process (a process rule gated on `event.type == "start"` alone sees
it, as it would see Defend's). Defend reports no failed loads: a failed one
carries Auditbeat's term only. The module name is `auditd.data.name`;
`process.Ext.load_module.taint_flags` is the kernel's taint letters of the
module (/sys/module/NAME/taint, read in the plugin right after the load;
absent offline, when empty, or when the module is gone again).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ..source.event import AuditEvent
from ..source.records import value_text
from .actor import ACTOR_CONSTANTS, ACTOR_FIELDS, envelope
from .parts import EventParts
from .registry import Document, EventBuilder, Syscall

_LOADS = frozenset({"init_module", "finit_module"})

_VARIANTS = (
    {"event.category": ["driver", "process"], "event.type": ["start"],
     "event.action": ["load_module", "loaded-kernel-module"]},
    {"event.category": ["driver"], "event.type": ["start"],
     "event.action": ["loaded-kernel-module"]},
    {"event.category": ["driver"], "event.type": ["end"],
     "event.action": ["unloaded-kernel-module"]},
)

SYS_MODULE = "/sys/module"
MAX_TAINT_BYTES = 64


def taint_flags(name: str, root: str = SYS_MODULE) -> Optional[str]:
    """The taint letters the kernel shows for a loaded module, None when none/unknown."""
    if not name or "/" in name or name in (".", ".."):
        return None
    try:
        with open(os.path.join(root, name, "taint"), "rb") as f:
            text = f.read(MAX_TAINT_BYTES).decode("ascii", "replace").strip()
    except OSError:
        return None
    return text or None


class DriverEventBuilder(EventBuilder):
    """Module loads and unloads -> driver documents."""

    kind = "driver"
    categories = ("driver", "process")
    fields = ACTOR_FIELDS | {"auditd.data.name", "process.Ext.load_module.taint_flags"}
    constants = dict(ACTOR_CONSTANTS)
    variants = _VARIANTS
    syscalls = frozenset({"init_module", "finit_module", "delete_module"})

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        assert syscall is not None and syscall.name is not None
        values = syscall.values
        success = values.success == "yes"
        load = syscall.name in _LOADS
        if not success and not load:
            return []
        parts = EventParts(event)
        record = parts.fields("KERN_MODULE")
        name = value_text(record.get("name")) if record else None
        doc = envelope(self.context, event, values, syscall.name, parts, success)
        variant: dict[str, Any] = _VARIANTS[0 if load and success else 1 if load else 2]
        doc["event"].update({key.partition(".")[2]: list(value)
                             for key, value in variant.items()})
        if name is not None:
            doc["auditd"]["data"]["name"] = name
            if load and success and self.context.live and event.node is None:
                flags = taint_flags(name)
                if flags is not None:
                    doc["process"]["Ext"] = {"load_module": {"taint_flags": flags}}
        return [doc]

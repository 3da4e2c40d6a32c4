"""fork/clone -> no document: the child enters the process table as a copy
of its parent, so that its later exec can name its parent's image, under
its own entity id (derived from the fork event: identity.py)."""

from __future__ import annotations

from typing import Optional

from ..source.event import AuditEvent
from .entity import audit_start, entity_id
from .registry import Document, EventBuilder, Syscall


class ForkTracker(EventBuilder):
    kind = "fork"
    syscalls = frozenset({"clone", "clone3", "fork", "vfork"})

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        table = self.context.table
        if table is None or syscall is None:
            return []
        values = syscall.values
        if values.success != "yes":
            return []
        try:
            child = int(values.exit or "0")    # fork returns the child's pid
            parent = int(values.pid or "0")
        except ValueError:
            return []
        if child > 0:
            host = self.context.host_fields(event.node).get("id")
            table.fork(event.node, parent, child, entity_id(
                host, child, audit_start(event.sec, event.msec, event.serial)))
        return []

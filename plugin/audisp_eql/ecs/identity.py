"""Process identities: `process.entity_id` and the ids sequences join on.

An entity id names one process image on one host: a new one at each exec,
the same value wherever that image appears (as the process of its exec
document, as the parent of its children, in later events of that process,
as a session or group leader). It is derived, never random (entity.py):

    base64(sha256("<host.id>|<pid>|<start>"))[:24]

where <start> is what began the image:
- "<sec>.<msec>:<serial>" of its exec's audit event (`audit(...)` header);
- the same of the fork/clone audit event that created a child which has not
  exec'd yet (Elastic Defend gives a forked child its own id, too);
- "boot<btime>+<ticks>" for a process read from /proc (live mode only), its
  start time since boot as /proc/PID/stat gives it, for a process whose
  exec (or fork) the stream did not show.

<host.id> is the document's host.id (records with node= get the id derived
from the node name), or "" when the host is unknown. The same image can
get two ids only when the process table forgot it (an LRU bound) and it is
then met again via /proc: joins across such a gap are lost, never wrong.

Leaders (live mode, from /proc/PID/stat when the plugin handles the exec):
`process.group_leader` (the process group, pgrp) and
`process.session_leader` (the POSIX session, sid; not audit's `ses=`),
each with pid, entity_id, name and executable when known. Read a moment
after the exec, so a process that changed its session or group in between
shows the new one. `process.entry_leader` (and its `entry_meta.type`) is
not produced: auditd records do not say honestly which process a session
was entered through.
"""

from __future__ import annotations

from typing import Any, Optional

from .entity import audit_start, entity_id
from .proctable import ProcessInfo, ProcessTable

# The fields `leaders` fills.
LEADER_FIELDS: frozenset[str] = frozenset(
    f"process.{leader}.{name}" for leader in ("group_leader", "session_leader")
    for name in ("pid", "entity_id", "name", "executable"))

__all__ = ["acting_process", "audit_start", "entity_id", "leaders"]


def acting_process(table: Optional[ProcessTable], node: Optional[str], pid: Optional[int],
                   ppid: Optional[int], event_time: float) -> dict[str, Any]:
    """For the builders of events a process causes (file, network...): the
    `process` fields that identify it and its parent, from the process table
    (live mode: /proc for what the stream did not show): `entity_id`, and
    `parent.entity_id` when known. Merge into the document's `process`."""
    found: dict[str, Any] = {}
    if table is None or pid is None:
        return found
    info = table.get(node, pid, event_time)
    if info is not None and info.entity_id is not None:
        found["entity_id"] = info.entity_id
    if ppid is not None:
        parent = table.get(node, ppid, event_time)
        if parent is not None and parent.entity_id is not None:
            found["parent"] = {"entity_id": parent.entity_id}
    return found


def _leader(table: ProcessTable, node: Optional[str], pid: int, event_time: float,
            itself: Optional[tuple[int, ProcessInfo]]) -> dict[str, Any]:
    info = itself[1] if itself is not None and itself[0] == pid else \
        table.get(node, pid, event_time)
    leader: dict[str, Any] = {"pid": pid}
    if info is not None:
        if info.entity_id is not None:
            leader["entity_id"] = info.entity_id
        if info.name is not None:
            leader["name"] = info.name
        if info.executable is not None:
            leader["executable"] = info.executable
    return leader


def leaders(table: Optional[ProcessTable], node: Optional[str], pid: Optional[int],
            event_time: float, itself: Optional[ProcessInfo] = None) -> dict[str, Any]:
    """`group_leader` and `session_leader` of `pid` (live mode, local records
    only; {} otherwise or when /proc no longer shows that process).
    `itself`: the process's own new image (the exec being built)."""
    if table is None or pid is None or node is not None or not table.proc_fallback:
        return {}
    found = table.stat_ids(pid, event_time)
    if found is None:
        return {}
    group, session = found
    own = (pid, itself) if itself is not None else None
    out: dict[str, Any] = {}
    if group > 0:
        out["group_leader"] = _leader(table, node, group, event_time, own)
    if session > 0:
        out["session_leader"] = _leader(table, node, session, event_time, own)
    return out

"""The entity id recipe (identity.py says where each <start> comes from):

    base64(sha256("<host.id>|<pid>|<start>"))[:24]

Derived, never random, so anyone holding the audit log can recompute it."""

from __future__ import annotations

import base64
from typing import Optional

from ..digest import sha256


def entity_id(host_id: Optional[str], pid: int, start: str) -> str:
    """The entity id of the image of `pid` that began at `start` on `host_id`."""
    digest = sha256(f"{host_id or ''}|{pid}|{start}".encode("utf-8", "surrogatepass"))
    return base64.b64encode(digest.digest()[:18]).decode("ascii")


def audit_start(sec: int, msec: int, serial: int) -> str:
    """<start> of an image begun by the audit event `audit(sec.msec:serial)`."""
    return f"{sec}.{msec:03d}:{serial}"


def proc_start(boot_time: float, ticks: int) -> str:
    """<start> of a process read from /proc: boot time and start ticks."""
    return f"boot{int(boot_time)}+{ticks}"

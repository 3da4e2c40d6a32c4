"""The records of one syscall event besides SYSCALL, found in one pass.

The kernel writes a syscall's auxiliary records after SYSCALL (CWD, PATH
items, SOCKADDR, KERN_MODULE, OPENAT2, OBJ_PID, PROCTITLE) and records a
security module logs during the call (AVC) before it. The file, network,
driver and process-change builders read these; the exec builder keeps its
own faster loop. Bodies stay raw text: each builder splits only what it uses.
"""

from __future__ import annotations

from typing import Optional

from .. import limits
from ..source.event import AuditEvent
from ..source.record_bodies import plain_cwd, plain_proctitle
from ..source.records import proctitle_text, split_body, value_bytes, value_text


class EventParts:
    """CWD, PROCTITLE, PATH bodies (in record order, at most
    limits.MAX_PATH_ITEMS), and the first body of each other record type."""

    __slots__ = ("cwd", "title_raw", "paths", "others", "paths_dropped")

    def __init__(self, event: AuditEvent) -> None:
        self.cwd: Optional[str] = None
        self.title_raw: Optional[str] = None
        self.paths: list[str] = []
        self.others: dict[str, str] = {}
        self.paths_dropped = 0
        max_paths = limits.MAX_PATH_ITEMS
        for rtype, body in event.raw:
            if rtype == "PATH":
                if len(self.paths) < max_paths:
                    self.paths.append(body)
                else:
                    self.paths_dropped += 1
            elif rtype == "CWD":
                if self.cwd is None:
                    cwd = plain_cwd(body)
                    self.cwd = cwd if cwd is not None else value_text(split_body(body)[0].get("cwd"))
            elif rtype == "PROCTITLE":
                if self.title_raw is None:
                    raw = plain_proctitle(body)
                    self.title_raw = raw if raw is not None else split_body(body)[0].get("proctitle")
            elif rtype not in self.others:
                self.others[rtype] = body

    def fields(self, rtype: str) -> Optional[dict[str, str]]:
        """The raw fields of the first `rtype` record, None when there is none."""
        body = self.others.get(rtype)
        return None if body is None else split_body(body)[0]

    @property
    def title(self) -> Optional[str]:
        """process.title: PROCTITLE with the argument separators as spaces."""
        return proctitle_text(self.title_raw)

    def title_args(self) -> Optional[list[str]]:
        """The arguments PROCTITLE holds: the process's argv memory at the time of
        the call, which the kernel cuts at 128 bytes; a possibly cut last
        argument is left out. None without PROCTITLE."""
        data = value_bytes(self.title_raw)
        if not data:
            return None
        parts = data.rstrip(b"\0").split(b"\0")
        if len(data) >= PROCTITLE_MAX and parts:
            parts.pop()
        return [p.decode("utf-8", "backslashreplace") for p in parts]


PROCTITLE_MAX = 128   # bytes of argv the kernel logs in PROCTITLE (MAX_PROCTITLE_AUDIT_LEN)

"""What a source hands on: one audit event (records sharing node and id), and
the interface both record sources implement."""

from __future__ import annotations

from typing import Optional, Protocol

from .framing import LineError, Stats
from .records import Record

# Seconds an event waits for its next record, as auparse's default.
EOE_TIMEOUT = 2


class AuditEvent:
    """One event: its id and its records as (type, body) pairs (`raw`).

    `records` gives them as `Record` objects, built on first use: the ECS
    builder reads `raw` directly, so most events never build them.
    """

    __slots__ = ("node", "sec", "msec", "serial", "raw", "_records")

    def __init__(self, node: Optional[str], sec: int, msec: int, serial: int,
                 raw: list[tuple[str, str]]) -> None:
        self.node = node
        self.sec = sec
        self.msec = msec
        self.serial = serial
        self.raw = raw
        self._records: Optional[list[Record]] = None

    def __reduce__(self) -> tuple:
        # (scan --jobs sends events to worker processes: by their fields, at C speed)
        return (AuditEvent, (self.node, self.sec, self.msec, self.serial, self.raw))

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            node, sec, msec, serial = self.node, self.sec, self.msec, self.serial
            self._records = [Record(rtype, node, sec, msec, serial, body)
                             for rtype, body in self.raw]
        return self._records

    @property
    def event_id(self) -> str:
        """`SEC.MSEC:SERIAL` exactly as auditd writes it in msg=audit(...)."""
        return f"{self.sec}.{self.msec:03d}:{self.serial}"

    def __repr__(self) -> str:
        return f"AuditEvent({self.node!r}, {self.event_id}, {[t for t, _ in self.raw]})"


class EventSource(Protocol):
    stats: Stats
    errors: list[LineError]

    def start_source(self, name: str) -> list[AuditEvent]: ...
    def feed(self, data: bytes) -> list[AuditEvent]: ...
    def age(self, now: Optional[float] = None) -> list[AuditEvent]: ...
    def flush(self) -> list[AuditEvent]: ...

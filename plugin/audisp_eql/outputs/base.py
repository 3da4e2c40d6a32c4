"""The interface every alert sink implements, and the counters it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass
class OutputStats:
    sent: int = 0       # alerts written or handed to the kernel
    dropped: int = 0    # alerts lost: buffer full, write error, closed
    errors: int = 0     # failed attempts (a retry may still deliver)

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "dropped": self.dropped, "errors": self.errors}


class Output:
    """An alert sink. `emit` never blocks for long: what cannot be delivered
    now is buffered (bounded) and retried by `flush`, or counted as dropped."""

    name = "output"

    def __init__(self) -> None:
        self.stats = OutputStats()
        self.last_error: str = ""

    def emit(self, alert: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Retry what is buffered, without blocking."""

    def reopen(self) -> None:
        """Reopen files / reconnect sockets (SIGHUP, rotation)."""

    def close(self) -> None:
        """Deliver what is buffered (bounded wait) and release resources."""

    def pending(self) -> int:
        """Messages buffered and not yet delivered."""
        return 0

    def describe(self) -> str:
        return self.name

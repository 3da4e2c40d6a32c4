"""The interface every alert sink implements, and the counters it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Tuple


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

    def start_close(self) -> None:
        """Begin delivering what is buffered; `close` waits for it (bounded)."""

    def closing_done(self) -> bool:
        """After `start_close`: has delivery ended, so that `close` will not wait?"""
        return True

    def close(self) -> None:
        """Deliver what is buffered (bounded wait) and release resources."""

    def pending(self) -> int:
        """Messages buffered and not yet delivered."""
        return 0

    def take_notices(self) -> List[Tuple[int, str]]:
        """(syslog priority, text) for the plugin's log since the last call:
        a destination failing (once per distinct error) or working again."""
        return []

    def describe(self) -> str:
        return self.name

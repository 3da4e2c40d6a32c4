"""Alerts as lines on standard output (for `scan`, debugging, pipelines)."""

from __future__ import annotations

import sys
from typing import Any, Mapping, TextIO

from .base import Output
from .format import format_alert


class StdoutOutput(Output):
    name = "stdout"

    def __init__(self, fmt: str = "json", stream: TextIO | None = None) -> None:
        super().__init__()
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stdout

    def emit(self, alert: Mapping[str, Any]) -> None:
        try:
            self.stream.write(format_alert(alert, self.fmt) + "\n")
            self.stats.sent += 1
        except (OSError, ValueError) as exc:  # closed pipe or stream
            self.stats.dropped += 1
            self.stats.errors += 1
            self.last_error = str(exc)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError) as exc:
            self.stats.errors += 1
            self.last_error = str(exc)

    def close(self) -> None:
        self.flush()

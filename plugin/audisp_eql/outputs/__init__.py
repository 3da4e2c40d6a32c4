"""Alert sinks and the fan-out in front of them.

`AlertSink` takes alerts from the plugin loop, applies the per-rule rate
limit, and hands each admitted alert to every configured `Output`.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence, Tuple

from .base import Output, OutputStats
from .format import FORMATS, alert_priority, format_alert
from .jsonfile import JsonFileOutput
from .ratelimit import RateLimiter
from .remote import RemoteSyslogOutput
from .stdout import StdoutOutput
from .syslog import FACILITIES, LocalSyslogOutput
from .tls import TlsSettings, TlsSetupError

__all__ = [
    "AlertSink", "FACILITIES", "FORMATS", "JsonFileOutput", "LocalSyslogOutput",
    "Output", "OutputStats", "RateLimiter", "RemoteSyslogOutput", "StdoutOutput",
    "TlsSettings", "TlsSetupError", "alert_priority", "format_alert",
]


class AlertSink:
    def __init__(self, outputs: Sequence[Output], limiter: RateLimiter | None = None) -> None:
        self.outputs: List[Output] = list(outputs)
        self.limiter = limiter or RateLimiter(burst=0)
        self.alerts = 0   # alerts offered, before rate limiting

    def emit(self, alert: Mapping[str, Any], now: float) -> None:
        self.alerts += 1
        for admitted in self.limiter.admit(alert, now):
            self._fan_out(admitted)

    def tick(self, now: float) -> None:
        for summary in self.limiter.expire(now):
            self._fan_out(summary)
        for output in self.outputs:
            output.flush()

    def _fan_out(self, alert: Mapping[str, Any]) -> None:
        for output in self.outputs:
            output.emit(alert)

    def reopen(self) -> None:
        for output in self.outputs:
            output.reopen()

    def start_close(self) -> None:
        """The rate limiter's last summaries out, then every output starts
        delivering its queue, so the bounded waits run side by side."""
        for summary in self.limiter.drain():
            self._fan_out(summary)
        for output in self.outputs:
            output.start_close()

    def closing_done(self) -> bool:
        """Would `close` return without waiting?"""
        return all(output.closing_done() for output in self.outputs)

    def close(self) -> None:
        self.start_close()
        for output in self.outputs:
            output.close()

    def notices(self) -> List[Tuple[int, str]]:
        """(syslog priority, text) the outputs have for the plugin's log."""
        return [notice for output in self.outputs for notice in output.take_notices()]

    def queued(self) -> List[Tuple[str, int]]:
        """(output name, messages waiting) for the outputs that hold any."""
        return [(o.name, n) for o in self.outputs for n in (o.pending(),) if n]

    def dropped(self) -> int:
        return sum(o.stats.dropped for o in self.outputs)

    def errors(self) -> List[str]:
        return [o.last_error for o in self.outputs if o.last_error]

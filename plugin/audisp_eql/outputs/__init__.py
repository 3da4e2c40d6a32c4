"""Alert sinks and the fan-out in front of them.

`AlertSink` takes alerts from the plugin loop, applies the per-rule rate
limit, and hands each admitted alert to every configured `Output`.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence

from .base import Output, OutputStats
from .format import FORMATS, alert_priority, format_alert
from .jsonfile import JsonFileOutput
from .ratelimit import RateLimiter
from .stdout import StdoutOutput
from .syslog import FACILITIES, LocalSyslogOutput, RemoteSyslogOutput

__all__ = [
    "AlertSink", "FACILITIES", "FORMATS", "JsonFileOutput", "LocalSyslogOutput",
    "Output", "OutputStats", "RateLimiter", "RemoteSyslogOutput", "StdoutOutput",
    "alert_priority", "format_alert",
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

    def close(self) -> None:
        for summary in self.limiter.drain():
            self._fan_out(summary)
        for output in self.outputs:
            output.close()

    def dropped(self) -> int:
        return sum(o.stats.dropped for o in self.outputs)

    def errors(self) -> List[str]:
        return [o.last_error for o in self.outputs if o.last_error]

"""Per-rule rate limiting: a burst of one rule's alerts collapses into a few
alerts plus one summary that carries how many were suppressed."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from .format import alert_rule_key


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0
    last: Optional[Mapping[str, Any]] = None   # the newest suppressed alert


@dataclass
class RateLimiter:
    """At most `burst` alerts of a rule per `interval` seconds; 0 disables."""

    burst: int = 10
    interval: float = 60.0
    windows: Dict[str, _Window] = field(default_factory=dict)
    total_suppressed: int = 0

    def admit(self, alert: Mapping[str, Any], now: float) -> List[Mapping[str, Any]]:
        """Alerts to emit now for this one: [] (suppressed), or the alert,
        preceded by the summary of the previous window if it suppressed any."""
        if self.burst <= 0:
            return [alert]
        key = alert_rule_key(alert)
        window = self.windows.get(key)
        out: List[Mapping[str, Any]] = []
        if window is not None and now - window.started >= self.interval:
            out.extend(self._summary(window))
            window = None
        if window is None:
            window = self.windows[key] = _Window(started=now)
        if window.passed < self.burst:
            window.passed += 1
            out.append(alert)
        else:
            window.suppressed += 1
            window.last = alert
            self.total_suppressed += 1
        return out

    def expire(self, now: float) -> List[Mapping[str, Any]]:
        """Summaries of windows that ended; call periodically."""
        out: List[Mapping[str, Any]] = []
        for key in [k for k, w in self.windows.items() if now - w.started >= self.interval]:
            out.extend(self._summary(self.windows.pop(key)))
        return out

    def drain(self) -> List[Mapping[str, Any]]:
        """Every pending summary (at exit)."""
        out: List[Mapping[str, Any]] = []
        for window in self.windows.values():
            out.extend(self._summary(window))
        self.windows.clear()
        return out

    def _summary(self, window: _Window) -> List[Mapping[str, Any]]:
        if not window.suppressed or window.last is None:
            return []
        summary: Dict[str, Any] = copy.deepcopy(dict(window.last))
        summary.setdefault("audisp_eql", {})
        summary["audisp_eql"]["suppressed"] = window.suppressed
        summary["audisp_eql"]["suppressed_seconds"] = self.interval
        window.suppressed, window.last = 0, None
        return [summary]

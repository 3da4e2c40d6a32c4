"""Rate limiting per rule and host: a burst of one rule's alerts on one host
collapses into a few alerts plus one summary that carries how many were
suppressed.

Per host as well as per rule, so that on a collector one noisy host cannot
use up a rule's burst for every host: each host (`host.id`, else
`host.name`, else none) gets `burst` alerts of each rule per `interval`.
The windows are state the input can grow (host names come from the
records), so they are bounded (limits.MAX_RATE_WINDOWS) with the fair share
of fairshare.py: when full, the host holding the most windows closes its
oldest one, whose summary goes out at once (a count is never lost, only
reported early; `evicted_windows` counts those)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import limits
from ..fairshare import NodeCounts
from .format import alert_rule_key

Host = Optional[str]


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0
    last: Optional[Mapping[str, Any]] = None   # the newest suppressed alert


def alert_host(alert: Mapping[str, Any]) -> Host:
    """Whose burst an alert uses: host.id, else host.name (as the engine keys state)."""
    host = alert.get("host")
    if not isinstance(host, dict):
        return None
    for key in ("id", "name"):
        value = host.get(key)
        if isinstance(value, str):
            return value
    return None


@dataclass
class RateLimiter:
    """At most `burst` alerts of a rule per host per `interval` seconds; 0 disables."""

    burst: int = 10
    interval: float = 60.0
    # host -> rule key -> window, each host's windows oldest first
    total_suppressed: int = field(default=0, init=False)
    evicted_windows: int = field(default=0, init=False)
    windows: Dict[Host, "OrderedDict[str, _Window]"] = field(
        default_factory=dict, init=False, repr=False)
    max_windows: int = field(default_factory=lambda: limits.MAX_RATE_WINDOWS, init=False)
    _counts: NodeCounts[Host] = field(default_factory=NodeCounts, init=False, repr=False)
    _size: int = field(default=0, init=False)

    def admit(self, alert: Mapping[str, Any], now: float) -> List[Mapping[str, Any]]:
        """Alerts to emit now for this one: [] (suppressed), or the alert,
        preceded by the summary of the previous window if it suppressed any
        (and by that of a window closed early to keep the bound)."""
        if self.burst <= 0:
            return [alert]
        key = alert_rule_key(alert)
        host = alert_host(alert)
        windows = self.windows.get(host)
        window = windows.get(key) if windows is not None else None
        out: List[Mapping[str, Any]] = []
        if window is not None and now - window.started >= self.interval:
            out.extend(self._summary(window))
            self._remove(host, key)
            window = None
        if window is None:
            if self._size >= self.max_windows:
                out.extend(self._evict())
            window = _Window(started=now)
            self._add(host, key, window)
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
        ended: List[Tuple[Host, str]] = [
            (host, key) for host, windows in self.windows.items()
            for key, window in windows.items() if now - window.started >= self.interval]
        for host, key in ended:
            out.extend(self._summary(self.windows[host][key]))
            self._remove(host, key)
        return out

    def drain(self) -> List[Mapping[str, Any]]:
        """Every pending summary (at exit)."""
        out: List[Mapping[str, Any]] = []
        for windows in self.windows.values():
            for window in windows.values():
                out.extend(self._summary(window))
        self.windows.clear()
        self._counts = NodeCounts()
        self._size = 0
        return out

    def open_windows(self) -> int:
        return self._size

    def _add(self, host: Host, key: str, window: _Window) -> None:
        windows = self.windows.get(host)
        if windows is None:
            windows = self.windows[host] = OrderedDict()
        windows[key] = window
        self._counts.add(host)
        self._size += 1

    def _remove(self, host: Host, key: str) -> None:
        windows = self.windows[host]
        del windows[key]
        if not windows:
            del self.windows[host]
        self._counts.remove(host)
        self._size -= 1

    def _evict(self) -> List[Mapping[str, Any]]:
        """The host holding the most windows closes its oldest: its summary now."""
        host = self._counts.largest()
        key, window = next(iter(self.windows[host].items()))
        self._remove(host, key)
        self.evicted_windows += 1
        return self._summary(window)

    def _summary(self, window: _Window) -> List[Mapping[str, Any]]:
        if not window.suppressed or window.last is None:
            return []
        summary: Dict[str, Any] = copy.deepcopy(dict(window.last))
        summary.setdefault("audisp_eql", {})
        summary["audisp_eql"]["suppressed"] = window.suppressed
        summary["audisp_eql"]["suppressed_seconds"] = self.interval
        window.suppressed, window.last = 0, None
        return [summary]

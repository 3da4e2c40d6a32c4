"""Event time of a document, in seconds since the epoch, for stateful rules
(maxspan, expiry). `@timestamp` as our builders write it (`...T..:..:...mmmZ`)
is read without a date parser; other ISO 8601 forms (ECS input) with one."""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from typing import Any, Optional

from .. import limits

_SECONDS = limits.BoundedCache("MAX_TIMESTAMPS")   # "YYYY-MM-DDTHH:MM:SS" -> epoch seconds


def event_time(doc: dict[str, Any]) -> Optional[float]:
    """`@timestamp` as seconds, None when absent or not a time."""
    stamp = doc.get("@timestamp")
    if stamp.__class__ is not str:
        return None
    if len(stamp) == 24 and stamp[19] == "." and stamp[23] == "Z" and stamp[20:23].isdigit():
        prefix = stamp[:19]
        seconds = _SECONDS.get(prefix)
        if seconds is None:
            try:
                seconds = calendar.timegm(time.strptime(prefix, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                return _parsed(stamp)
            _SECONDS.remember(prefix, seconds)
        return seconds + int(stamp[20:23]) / 1000
    return _parsed(stamp)


def _parsed(stamp: str) -> Optional[float]:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:   # ECS times are UTC
        return calendar.timegm(moment.timetuple()) + moment.microsecond / 1e6
    return moment.timestamp()

"""`--since` / `--until` as ausearch's `-ts` / `-te` read them.

Forms: KEYWORD, DATE, TIME, DATE TIME or TIME DATE (one or two words), in
local time:

    now  recent (10 minutes ago)  this-hour  boot  today  yesterday
    this-week (Sunday 00:00)  week-ago  this-month  this-year

* a keyword with a time: the keyword gives the day, the time the clock
  (`today 18:00`); for now / recent / this-hour / boot a time of 00:00:00
  keeps the keyword's own clock;
* a date alone starts at 00:00:00 of that day; as `--until` it ends at the
  current clock time of that day (ausearch's rule); `today` as `--until` is now;
* a time alone is today at that time; `HH:MM` means `HH:MM:00`;
* dates: the locale's date format (`LC_TIME`, e.g. en_US `12/03/2026`,
  en_GB `03/12/26`, de_DE `03.12.2026`), the C form `MM/DD/YY`, and, as
  documented extensions, ISO `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]`
  and `@EPOCH`; two-digit years 69-99 are 19xx, 00-68 20xx; years before
  2004 are refused, as ausearch does.

Matching is by whole seconds: `since <= second <= until`.
"""

from __future__ import annotations

import datetime as dt
import locale
import re
import time
from dataclasses import dataclass
from typing import Callable, Optional

KEYWORDS = ("now", "recent", "this-hour", "boot", "today", "yesterday", "this-week",
            "week-ago", "this-month", "this-year")
_CLOCK_KEYWORDS = ("now", "recent", "this-hour", "boot")


class TimeRangeError(ValueError):
    """A --since/--until value that cannot be read; the message says why."""


@dataclass(frozen=True)
class TimePoint:
    seconds: int          # epoch seconds
    text: str             # as given


def _local(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds).astimezone()


def _midnight(day: dt.datetime) -> dt.datetime:
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def _uptime() -> float:
    with open("/proc/uptime", encoding="ascii") as f:
        return float(f.read().split()[0])


def keyword_time(word: str, now: float, end: bool,
                 uptime: Callable[[], float] = _uptime) -> dt.datetime:
    current = _local(now).replace(microsecond=0)
    if word == "now":
        return current
    if word == "recent":
        return current - dt.timedelta(minutes=10)
    if word == "this-hour":
        return current.replace(minute=0, second=0)
    if word == "boot":
        return _local(round(now - uptime())).replace(microsecond=0)
    if word == "today":
        return current if end else _midnight(current)
    if word == "yesterday":
        return _midnight(current) - dt.timedelta(days=1)
    if word == "this-week":
        # ausearch: the last day whose tm_wday is 0 (Sunday).
        back = (current.weekday() + 1) % 7
        return _midnight(current) - dt.timedelta(days=back)
    if word == "week-ago":
        return _midnight(current) - dt.timedelta(days=7)
    if word == "this-month":
        return _midnight(current).replace(day=1)
    if word == "this-year":
        return _midnight(current).replace(month=1, day=1)
    raise TimeRangeError(f"unknown keyword {word!r}")


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})$")
_ISO_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{1,2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?$")
_C_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})$")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp][Mm]))?$")


def _locale_date_format() -> Optional[str]:
    try:
        locale.setlocale(locale.LC_TIME, "")
        fmt = locale.nl_langinfo(locale.D_FMT)
    except (locale.Error, AttributeError, ValueError):
        return None
    finally:
        try:
            locale.setlocale(locale.LC_TIME, "C")
        except locale.Error:  # pragma: no cover - C always exists
            pass
    return fmt or None


def _year(two_digits: int) -> int:
    return 1900 + two_digits if two_digits >= 69 else 2000 + two_digits


def parse_date(word: str, date_format: Optional[str] = None) -> dt.date:
    """A date word: ISO, the locale's format, or the C form MM/DD/YY."""
    found: Optional[dt.date] = None
    iso = _ISO_DATE.match(word)
    try:
        if iso:
            found = dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if found is None and date_format and date_format != "%m/%d/%y":
            try:
                found = dt.datetime.strptime(word, date_format).date()
            except ValueError:
                found = None
        if found is None:
            c_form = _C_DATE.match(word)
            if c_form:
                found = dt.date(_year(int(c_form[3])), int(c_form[1]), int(c_form[2]))
    except ValueError as exc:   # 02/30/26
        raise TimeRangeError(f"{word}: not a date ({exc})") from None
    if found is None:
        shown = date_format or "%m/%d/%y"
        raise TimeRangeError(f"{word}: not a date (expected {shown}, MM/DD/YY or YYYY-MM-DD)")
    if found.year < 2004:
        raise TimeRangeError(f"{word}: year {found.year} is before 2004 (ausearch refuses it too)")
    return found


def parse_clock(word: str) -> dt.time:
    match = _TIME.match(word)
    if not match:
        raise TimeRangeError(f"{word}: not a time (expected HH:MM[:SS])")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:
        if not 1 <= hour <= 12:
            raise TimeRangeError(f"{word}: not a 12-hour time")
        hour = hour % 12 + (12 if match[4].lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 60:
        raise TimeRangeError(f"{word}: not a time of day")
    return dt.time(hour, minute, min(second, 59))


def _at(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock).astimezone()


def parse_point(text: str, *, end: bool, now: Optional[float] = None,
                date_format: Optional[str] = None,
                uptime: Callable[[], float] = _uptime) -> TimePoint:
    """One --since (end=False) or --until (end=True) value -> epoch seconds."""
    now = time.time() if now is None else now
    words = text.split()
    if not words or len(words) > 2:
        raise TimeRangeError(f"{text!r}: give a keyword, a date, a time, or a date and a time")
    if len(words) == 1 and words[0].startswith("@"):
        try:
            return TimePoint(int(words[0][1:]), text)
        except ValueError:
            raise TimeRangeError(f"{text}: @ must be followed by epoch seconds") from None
    if len(words) == 1:
        stamp = _ISO_STAMP.match(words[0])
        if stamp:
            zone = stamp[3] or ""
            iso = f"{stamp[1]}T{stamp[2]}{'+00:00' if zone == 'Z' else zone}"
            try:
                moment = dt.datetime.fromisoformat(iso)
            except ValueError as exc:
                raise TimeRangeError(f"{text}: {exc}") from None
            if moment.tzinfo is None:
                moment = moment.astimezone()
            return TimePoint(int(moment.timestamp()), text)
    if len(words) == 2 and ":" in words[0]:
        words.reverse()               # TIME DATE
    fmt = date_format if date_format is not None else _locale_date_format()
    first = words[0]
    clock = parse_clock(words[1]) if len(words) == 2 else None
    if first in KEYWORDS:
        base = keyword_time(first, now, end and clock is None, uptime)
        if clock is not None and not (first in _CLOCK_KEYWORDS and clock == dt.time(0, 0)):
            base = _at(base.date(), clock)
        return TimePoint(int(base.timestamp()), text)
    if first == "checkpoint":
        raise TimeRangeError("checkpoint: audisp-eql keeps no ausearch checkpoint; give a time")
    if len(words) == 1 and ":" in first:
        return TimePoint(int(_at(_local(now).date(), parse_clock(first)).timestamp()), text)
    day = parse_date(first, fmt)
    if clock is None:
        clock = _local(now).time().replace(microsecond=0) if end else dt.time(0, 0)
    return TimePoint(int(_at(day, clock).timestamp()), text)


@dataclass(frozen=True)
class TimeRange:
    since: Optional[TimePoint] = None
    until: Optional[TimePoint] = None

    def contains(self, seconds: int) -> bool:
        if self.since is not None and seconds < self.since.seconds:
            return False
        return self.until is None or seconds <= self.until.seconds


def parse_range(since: Optional[str], until: Optional[str], now: Optional[float] = None,
                date_format: Optional[str] = None) -> TimeRange:
    start = parse_point(since, end=False, now=now, date_format=date_format) if since else None
    stop = parse_point(until, end=True, now=now, date_format=date_format) if until else None
    if start is not None and stop is not None and stop.seconds < start.seconds:
        raise TimeRangeError(f"--until {until!r} is before --since {since!r}")
    return TimeRange(start, stop)

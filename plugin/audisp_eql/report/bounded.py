"""Bounded aggregates for the report: whatever the input holds, memory stays
within the limits of limits.py and nothing is silently lost (what does not
fit is counted, and said)."""

from __future__ import annotations

from typing import Any, Generic, Hashable, Iterable, Optional, TypeVar

from .. import limits

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class CappedCounter(Generic[K]):
    """Counts per key for at most `limit` keys holding at most
    limits.REPORT_MAX_COUNTER_CHARS characters of text keys (paths and names
    come from the input: 65536 one-megabyte paths must not be kept); the
    counts of later keys go to `other` (`overflowed` says that happened)."""

    __slots__ = ("counts", "other", "limit", "chars", "max_chars")

    def __init__(self, limit: Optional[int] = None) -> None:
        self.counts: dict[K, int] = {}
        self.other = 0
        self.limit = limit if limit is not None else limits.REPORT_MAX_DISTINCT
        self.chars = 0
        self.max_chars = limits.REPORT_MAX_COUNTER_CHARS

    def add(self, key: K, n: int = 1) -> None:
        counts = self.counts
        if key in counts:
            counts[key] += n
            return
        size = len(key) if isinstance(key, str) else 0
        if len(counts) < self.limit and self.chars + size <= self.max_chars:
            counts[key] = n
            self.chars += size
        else:
            self.other += n

    def update(self, other: "CappedCounter[K]") -> None:
        for key, n in other.counts.items():
            self.add(key, n)
        self.other += other.other

    @property
    def overflowed(self) -> bool:
        return self.other > 0

    @property
    def distinct(self) -> int:
        """Distinct keys counted (a lower bound when `overflowed`)."""
        return len(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.other

    def top(self, n: Optional[int] = None) -> list[tuple[K, int]]:
        n = limits.REPORT_TOP if n is None else n
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


class FirstItems(Generic[T]):
    """The first `limit` items and how many there were in all."""

    __slots__ = ("items", "total", "limit")

    def __init__(self, limit: Optional[int] = None) -> None:
        self.items: list[T] = []
        self.total = 0
        self.limit = limit if limit is not None else limits.REPORT_ROWS

    def add(self, item: T) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(item)

    @property
    def more(self) -> int:
        return self.total - len(self.items)


# Bucket widths a timeline may use, in seconds: minute, hour, day, week.
WIDTHS = (60, 3600, 86400, 7 * 86400)


class Timeline:
    """Counts per time bucket; when there are more buckets than the limit, the
    width grows (minute -> hour -> day -> week) and counts merge."""

    __slots__ = ("width", "buckets")

    def __init__(self) -> None:
        self.width = WIDTHS[0]
        self.buckets: dict[int, int] = {}

    def add(self, seconds: int, n: int = 1) -> None:
        key = seconds - seconds % self.width
        self.buckets[key] = self.buckets.get(key, 0) + n
        if len(self.buckets) > limits.REPORT_TIMELINE_KEYS:
            self._widen()

    def _widen(self) -> None:
        wider = [w for w in WIDTHS if w > self.width]
        self.width = wider[0] if wider else self.width * 2
        merged: dict[int, int] = {}
        for key, n in self.buckets.items():
            start = key - key % self.width
            merged[start] = merged.get(start, 0) + n
        self.buckets = merged

    def update(self, other: "Timeline") -> None:
        while other.width > self.width:
            self._widen()
        for key, n in other.buckets.items():
            self.add(key, n)

    def points(self, first: int, last: int, max_points: int = 60) -> tuple[int, list[tuple[int, int]]]:
        """(width, [(bucket start, count)]) from `first` to `last`, at most
        `max_points` buckets, empty buckets included."""
        if last < first:
            first, last = last, first
        width = self.width
        for candidate in (w for w in WIDTHS if w >= self.width):
            width = candidate
            if (last - first) // candidate + 1 <= max_points:
                break
        else:
            while (last - first) // width + 1 > max_points:
                width *= 2
        counts: dict[int, int] = {}
        for key, n in self.buckets.items():
            start = key - key % width
            counts[start] = counts.get(start, 0) + n
        start = first - first % width
        return width, [(t, counts.get(t, 0)) for t in range(start, last + 1, width)]


def merged(counters: Iterable[CappedCounter[Any]]) -> CappedCounter[Any]:
    out: CappedCounter[Any] = CappedCounter()
    for counter in counters:
        out.update(counter)
    return out

"""When the plugin loop wakes up: fewer, fuller wake-ups at a quiet host.

auditd writes one record per write(), so a loop that reads whenever stdin is
readable wakes several times per event and runs each event with cold caches
(measured: ~3x the CPU per event of a busy stream). After a small read the loop
lets records gather first (`gather`); when nothing waits on the clock it sleeps
until input, a signal or the next status line (`timeout`), instead of ticking.
"""

from __future__ import annotations

import fcntl
import struct
import termios
import time
from typing import Callable, Iterable, Optional

from . import limits

TICK_SECONDS = 0.25   # while events wait to be aged, outputs retry, rate windows run


def queued_bytes(fd: int) -> Optional[int]:
    """Bytes waiting on a socket or pipe (FIONREAD); None where it cannot say."""
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return None


def gather(fd: int, stop: Callable[[], bool]) -> None:
    """Let records gather on `fd`, in steps, until limits.LIVE_GATHER_BYTES wait,
    limits.LIVE_GATHER_SECONDS passed, or `stop()` says so (a signal came)."""
    steps = int(limits.LIVE_GATHER_SECONDS / limits.LIVE_GATHER_STEP_SECONDS) if \
        limits.LIVE_GATHER_STEP_SECONDS > 0 else 0
    for _ in range(steps):
        waiting = queued_bytes(fd)
        if waiting is None or waiting >= limits.LIVE_GATHER_BYTES or stop():
            return
        time.sleep(limits.LIVE_GATHER_STEP_SECONDS)


def output_due(output: object, now: float) -> Optional[float]:
    """When an output holding messages next needs the loop: its retry time
    where it keeps one (local syslog's back-off), else the next tick; None
    when it holds nothing."""
    pending = getattr(output, "pending", None)
    if pending is None or not pending():
        return None
    retry_at = getattr(output, "retry_at", None)
    return max(now, retry_at) if isinstance(retry_at, float) else now + TICK_SECONDS


def timeout(due: Iterable[Optional[float]], now: float) -> Optional[float]:
    """select()'s timeout: until the earliest of the `due` times (monotonic;
    None: nothing due), or None (until input or a signal)."""
    times = [t for t in due if t is not None]
    return max(0.0, min(times) - now) if times else None

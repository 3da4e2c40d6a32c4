"""Audit records -> events, grouped by (node, event id).

Two event sources share one line splitter (`framing.LineSplitter`: partial
lines across reads, line numbers, comment lines, oversized lines; malformed
headers are reported with file and line here):

* `AuparseEventSource` hands the valid lines to the audit project's own
  parser, auparse, in feed mode; auparse decides when an event is complete
  (EOE, record types that end an event, its timeout) and we read back only
  the record texts (the cheap part of its Python API).
* `PythonEventSource` groups in Python with auparse 3.0.9's rules
  (grouping.py); it is the fallback when the auparse bindings are missing
  and gives the same events in the same order on any input, malformed or
  not, however it is cut into reads (tests/test_differential.py).

Both are bounded: line length, pending events (the oldest is completed
early, counted in `stats.evicted_pending`), the error list.
"""

from __future__ import annotations

import re
import time
from itertools import groupby
from operator import itemgetter
from typing import Callable, Optional

from .. import limits
from .event import EOE_TIMEOUT, AuditEvent
from .framing import LineError, Lines, LineSplitter
from .grouping import EventGrouper
from .records import RecordError, parse_line

try:  # Debian: python3-audit
    import audit as _audit
except ImportError:  # pragma: no cover - exercised only without the bindings
    _audit = None  # type: ignore[assignment]


# Record type -> whether auparse considers an event complete after it.
_ENDS_EVENT = limits.BoundedCache("MAX_RECORD_TYPES")
# The cached types known not to end an event (cleared with the cache).
_CONTINUING: set[str] = set()


def _ends_event(record_type: str) -> bool:
    """Record types after which auparse considers an event complete."""
    done = _ENDS_EVENT.get(record_type)
    if done is None:
        if record_type in ("EOE", "PROCTITLE"):
            done = True
        elif _audit is None:
            done = False
        else:
            n = _audit.audit_name_to_msg_type(record_type)
            # What auparse (3.0.9, measured type by type; the differential test
            # in test_differential.py holds both sources to it) does: user
            # space messages and names it does not know (-1) end themselves,
            # as do MAC label changes, KERNEL and the second user range;
            # kernel events (1300-1999 but those) run until EOE or PROCTITLE.
            done = (n < _audit.AUDIT_SYSCALL
                    or n == _audit.AUDIT_PROCTITLE or n == _audit.AUDIT_KERNEL
                    or _audit.AUDIT_MAC_UNLBL_ALLOW <= n <= _audit.AUDIT_MAC_CALIPSO_DEL
                    or n >= _audit.AUDIT_FIRST_USER_MSG2)
        # Record type names come from the input: long ones are not remembered.
        if len(record_type) <= limits.MAX_CACHE_KEY_CHARS:
            if _ENDS_EVENT.remember(record_type, done):
                _CONTINUING.clear()
            if not done:
                _CONTINUING.add(record_type)
    return done


# Every record line of a clean block, with HEADER's meaning per line: "node=N "
# or "", type, sec, msec, serial, body.
# (records.HEADER's rules; 20-digit serials, UNKNOWN[n] and AVC types go line by
# line for parse_line's checks).
_RECORD_LINE = re.compile(
    r"^((?:node=[!-~]{1,253} )?)type=((?!AVC |USER_AVC )[A-Z][A-Z0-9_]{0,27}) "
    r"msg=audit\(([0-9]{1,11})\.([0-9]{1,3}):([0-9]{1,19})\):?[ ]?(.*)$",
    re.MULTILINE)
_RUN_KEY = itemgetter(0, 2, 3, 4)
_TYPE_OF = itemgetter(1)


class PythonEventSource(LineSplitter):
    """Groups records in Python with auparse's rules (grouping.py), so that
    both sources hand out the same events in the same order; it is the
    fallback when the auparse bindings are missing. Besides auparse's rules:
    `age()` completes events idle for `timeout` seconds (monotonic clock),
    and more than `max_pending` building events or limits.MAX_PENDING_BYTES
    of their records complete the oldest early (`stats.evicted_pending`).
    """

    def __init__(self, timeout: float = EOE_TIMEOUT, max_pending: int = 0, max_line: int = 0,
                 on_error: Optional[Callable[[LineError], None]] = None) -> None:
        super().__init__(max_line or limits.MAX_LINE, limits.MAX_REPORTED_LINE_ERRORS, on_error)
        self._timeout = timeout
        self._events = EventGrouper(timeout, max_pending or limits.MAX_PENDING_EVENTS,
                                    limits.MAX_PENDING_BYTES, _ends_event)
        self._evictions_counted = 0

    def _consume(self, lines: Lines) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        grouper = self._events
        if lines.count:
            text = lines.block.decode("utf-8", "backslashreplace")
            found = _RECORD_LINE.findall(text)
            if len(found) == lines.count:
                grouper.hand_out(done)       # auparse does, as a feed begins
                self._consume_clean(found, done)
                self._count_evictions()
                return done
        now = time.monotonic()
        fed = False
        for line_no, line in lines.as_numbered():
            try:
                rec = parse_line(line, line_no)
            except RecordError as e:
                self._malformed(line_no, e, line)
                continue
            if not fed:
                grouper.hand_out(done)   # auparse does, as a feed with records begins
                fed = True
            self.stats.records += 1
            grouper.add(rec.node, rec.sec, rec.msec, rec.serial, rec.type, rec.body, now, done)
        self._count_evictions()
        return done

    def _consume_clean(self, found: list[tuple[str, ...]], done: list[AuditEvent]) -> None:
        """Records of a block whose every line is a record. A run of records of
        one new event in the plain shape (records that continue it, then one
        that ends it and maybe an EOE), coming after everything else, skips the
        record-by-record steps (EventGrouper.replace_waiting); anything else
        goes through `EventGrouper.add`."""
        grouper = self._events
        now = time.monotonic()
        continuing = _CONTINUING
        for _key, group in groupby(found, key=_RUN_KEY):
            run = list(group)
            last = run[-1][1]
            end = len(run) - 1 if last == "EOE" else len(run)
            if end and run[0][1] != "EOE" and run[end - 1][1] != "EOE" and \
                    (end < len(run) or _ends_event(last)) and \
                    continuing.issuperset(map(_TYPE_OF, run[:end - 1])):
                prefix, _t, sec, msec, serial, _b = run[0]
                sec_n, msec_n, serial_n = int(sec), int(msec), int(serial)
                if grouper.simple_after(sec_n, msec_n, serial_n) is not None:
                    event = AuditEvent(prefix[5:-1] if prefix else None, sec_n, msec_n,
                                       serial_n, [(r[1], r[5]) for r in run[:end]])
                    self.stats.records += len(run)
                    grouper.replace_waiting(event, done)
                    if end == 1 and _ends_event(run[0][1]):   # ended on creation: out at once
                        grouper.hand_out(done)
                    continue
            for prefix, rtype, sec, msec, serial, body in run:
                self.stats.records += 1
                grouper.add(prefix[5:-1] if prefix else None, int(sec), int(msec), int(serial),
                            rtype, body, now, done)

    def _count_evictions(self) -> None:
        # Added, not set: nodes.py's per-node sources share one `stats`.
        evicted = self._events.evicted
        self.stats.evicted_pending += evicted - self._evictions_counted
        self._evictions_counted = evicted

    # -- for nodes.py, which keeps one source per node ------------------------
    @property
    def pending_limit(self) -> int:
        return self._events.max_pending

    def pending(self) -> int:
        """Events held: building, or complete and waiting behind one building."""
        return len(self._events)

    def pending_bytes(self) -> int:
        """Bytes of the records held (the grouper's measure)."""
        return self._events.bytes

    def shed(self) -> list[AuditEvent]:
        """Give up the oldest building event (completed early, counted) and what waited for it."""
        done: list[AuditEvent] = []
        self._events.shed(done)
        self._count_evictions()
        return done

    def age(self, now: Optional[float] = None) -> list[AuditEvent]:
        """Complete the events that got no record for `timeout` seconds
        (time.monotonic() clock; `now` for tests)."""
        done: list[AuditEvent] = []
        self._events.age((time.monotonic() if now is None else now) - self._timeout, done)
        return self._counted(done)

    def _drain(self) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        self._events.finish_all(done)
        return done

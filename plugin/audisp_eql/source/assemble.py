"""Audit records -> events, grouped by (node, event id).

Two event sources share one line splitter (`framing.LineSplitter`: partial
lines across reads, line numbers, comment lines, oversized lines; malformed
headers are reported with file and line here):

* `AuparseEventSource` hands the valid lines to the audit project's own
  parser, auparse, in feed mode; auparse decides when an event is complete
  (EOE, record types that end an event, its timeout) and we read back only
  the record texts (the cheap part of its Python API).
* `PythonEventSource` groups in Python with the same completion rules; it is
  the fallback when the auparse bindings are missing and is proven to give
  identical process-start documents on every shared log (tests).

Both are bounded: line length, pending events (the oldest is completed
early, counted in `stats.evicted_pending`), the error list.
"""

from __future__ import annotations

import heapq
import re
import time
from itertools import groupby
from operator import itemgetter
from typing import Callable, Optional

from .. import limits
from .event import EOE_TIMEOUT, AuditEvent
from .framing import LineError, Lines, LineSplitter
from .records import Record, RecordError, parse_line

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
            # Single-record messages (user space, anomalies, MAC labels) end
            # themselves; kernel syscall events run from AUDIT_SYSCALL (1300).
            done = n >= 0 and (
                (n < _audit.AUDIT_SYSCALL and n != _audit.AUDIT_LOGIN)
                or n >= _audit.AUDIT_ANOM_PROMISCUOUS
                or n == _audit.AUDIT_KERNEL
                or _audit.AUDIT_MAC_UNLBL_ALLOW <= n <= _audit.AUDIT_MAC_CALIPSO_DEL)
        if _ENDS_EVENT.remember(record_type, done):   # record type names come from the input
            _CONTINUING.clear()
        if not done:
            _CONTINUING.add(record_type)
    return done


# Every record line of a clean block, with HEADER's meaning per line: "node=N "
# or "", type, sec, msec, serial, body.
_RECORD_LINE = re.compile(
    r"^((?:node=[^ \n]* )?)type=([^ \n]+) msg=audit\((\d{1,11})\.(\d+):(\d+)\):?[ ]?(.*)$",
    re.MULTILINE)
_RUN_KEY = itemgetter(0, 2, 3, 4)
_TYPE_OF = itemgetter(1)


class PythonEventSource(LineSplitter):
    """Groups records in Python with auparse's rules, so that both sources
    hand out the same events in the same order:

    * an event is complete after an ending record (EOE, PROCTITLE, a
      single-record type), when a record more than `timeout` seconds newer
      arrives (stream time), by `age()` (idle on the monotonic clock), when
      more than `max_pending` are open (oldest first), or at `flush()`;
    * events sit in numbered slots, a new one in the lowest free slot; the
      event in the lowest occupied slot is handed out once complete and the
      others wait for it (auparse 3's list of events, so the order of events,
      and therefore of parent lookups, is the same with both sources);
    * a record arriving after its event was completed starts a new event,
      and a lone EOE is dropped.
    """

    def __init__(self, timeout: float = EOE_TIMEOUT, max_pending: int = 0, max_line: int = 0,
                 on_error: Optional[Callable[[LineError], None]] = None) -> None:
        super().__init__(max_line or limits.MAX_LINE, limits.MAX_REPORTED_LINE_ERRORS, on_error)
        self._timeout = timeout
        self._max_pending = max_pending or limits.MAX_PENDING_EVENTS
        self._open: dict[tuple, int] = {}             # building event key -> slot
        self._touched: dict[tuple, float] = {}        # key -> monotonic time of last record
        self._slots: list[Optional[AuditEvent]] = []
        self._complete: list[bool] = []               # per slot
        self._free: list[int] = []                    # heap of free slot numbers
        self._newest_sec = -1

    def _consume(self, lines: Lines) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        if lines.count:
            text = lines.block.decode("utf-8", "backslashreplace")
            found = _RECORD_LINE.findall(text)
            if len(found) == lines.count:
                self._consume_clean(found, done)
                return done
        now = time.monotonic()
        for line_no, line in lines.as_numbered():
            try:
                rec = parse_line(line, line_no)
            except RecordError as e:
                self._malformed(line_no, e, line)
                continue
            self._add(rec, now, done)
        return done

    def _consume_clean(self, found: list[tuple[str, ...]], done: list[AuditEvent]) -> None:
        """Records of a block whose every line is a record. A run of records
        of one event that ends it while no other event is open is handed out
        at once (what `_add` would do, record by record); anything else goes
        through `_add`."""
        open_ = self._open
        now = time.monotonic()
        continuing = _CONTINUING
        for _key, group in groupby(found, key=_RUN_KEY):
            run = list(group)
            if not open_:
                last = run[-1][1]
                end = len(run) - 1 if last == "EOE" else len(run)
                if end and (end < len(run) or _ends_event(last)) and \
                        continuing.issuperset(map(_TYPE_OF, run[:end - 1])):
                    prefix, _t, sec, msec, serial, _b = run[0]
                    event = AuditEvent(prefix[5:-1] if prefix else None,
                                       int(sec), int(msec), int(serial),
                                       [(r[1], r[5]) for r in run[:end]])
                    self.stats.records += len(run)
                    if event.sec > self._newest_sec:
                        self._newest_sec = event.sec
                    done.append(event)
                    continue
            for prefix, rtype, sec, msec, serial, body in run:
                self._add(Record(rtype, prefix[5:-1] if prefix else None,
                                 int(sec), int(msec), int(serial), body), now, done)

    def _add(self, rec: Record, now: float, done: list[AuditEvent]) -> None:
        """One record, with every rule of the class docstring."""
        open_ = self._open
        self.stats.records += 1
        if rec.sec > self._newest_sec:
            # Stream time moved on: events `timeout` seconds older are
            # done (checked before this record joins, as auparse does).
            self._newest_sec = rec.sec
            limit = rec.sec - self._timeout
            slots = self._slots
            for k in [k for k, i in open_.items() if slots[i].sec < limit]:  # type: ignore[union-attr]
                self._close(k)
            self._ready(done)
        key = (rec.sec, rec.msec, rec.serial, rec.node)
        slot = open_.get(key)
        if slot is None:
            if rec.type == "EOE":
                return       # the event already ended (e.g. on its PROCTITLE)
            if len(open_) >= self._max_pending:
                self._evict_oldest(done)
            slot = self._new_slot(AuditEvent(rec.node, rec.sec, rec.msec, rec.serial,
                                             [(rec.type, rec.body)]))
            open_[key] = slot
        elif rec.type != "EOE":
            self._slots[slot].raw.append((rec.type, rec.body))  # type: ignore[union-attr]
        self._touched[key] = now
        if _ends_event(rec.type):
            self._close(key)
            self._ready(done)

    def _evict_oldest(self, done: list[AuditEvent]) -> None:
        """Complete the oldest open event early (counted) and hand out what follows."""
        self.stats.evicted_pending += 1
        # Force out the open event in the lowest slot, so _ready hands it
        # out now; evicting a higher one left it waiting behind the
        # lowest and the slots grew without bound.
        lowest = next(ev for ev, closed in zip(self._slots, self._complete)
                      if ev is not None and not closed)
        self._close((lowest.sec, lowest.msec, lowest.serial, lowest.node))
        self._ready(done)

    # -- for nodes.py, which keeps one source per node ------------------------
    @property
    def pending_limit(self) -> int:
        return self._max_pending

    def pending(self) -> int:
        """Events held: open, or complete and waiting behind an open one."""
        return len(self._slots) - len(self._free)

    def shed(self) -> list[AuditEvent]:
        """Give up the oldest open event (completed early, counted) and what waited for it."""
        done: list[AuditEvent] = []
        if self.pending():
            self._evict_oldest(done)
        return done

    def _new_slot(self, event: AuditEvent) -> int:
        if self._free:
            slot = heapq.heappop(self._free)
            self._slots[slot] = event
            self._complete[slot] = False
            return slot
        self._slots.append(event)
        self._complete.append(False)
        return len(self._slots) - 1

    def _close(self, key: tuple) -> None:
        self._complete[self._open.pop(key)] = True
        self._touched.pop(key, None)

    def _ready(self, done: list[AuditEvent]) -> None:
        """Hand out the lowest occupied slot while it is complete."""
        slots, complete = self._slots, self._complete
        for i, event in enumerate(slots):
            if event is None:
                continue
            if not complete[i]:
                break
            done.append(event)
            slots[i] = None
            heapq.heappush(self._free, i)
        if slots and slots[-1] is None:       # keep the list, and the scan, short
            while slots and slots[-1] is None:
                slots.pop()
                complete.pop()
            self._free = [i for i in self._free if i < len(slots)]
            heapq.heapify(self._free)

    def age(self, now: Optional[float] = None) -> list[AuditEvent]:
        """Complete the events that got no record for `timeout` seconds
        (time.monotonic() clock; `now` for tests)."""
        limit = (time.monotonic() if now is None else now) - self._timeout
        for key in [k for k, t in self._touched.items() if t <= limit]:
            self._close(key)
        done: list[AuditEvent] = []
        self._ready(done)
        return self._counted(done)

    def _drain(self) -> list[AuditEvent]:
        for key in list(self._open):
            self._close(key)
        done: list[AuditEvent] = []
        self._ready(done)
        return done

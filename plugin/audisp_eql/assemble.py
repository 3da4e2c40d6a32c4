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
from typing import Callable, Optional, Protocol

from .framing import LineError, Lines, LineSplitter, Stats
from .records import Record, RecordError, parse_line

try:  # Debian: python3-audit
    import audit as _audit
except ImportError:  # pragma: no cover - exercised only without the bindings
    _audit = None  # type: ignore[assignment]

MAX_LINE = (1 << 20) + 4096     # the kernel caps a record far below; 1 MiB + margin
MAX_PENDING = 4096              # events in progress before the oldest is forced out
MAX_ERRORS = 1000               # kept in `.errors`; the count goes on
MAX_ENRICHED_HELD = 65536       # auparse source: ENRICHED tails waiting for their event
EOE_TIMEOUT = 2                 # seconds, as auparse's default


class AuditEvent:
    """One event: its id and its records as (type, body) pairs (`raw`).

    `records` gives them as `Record` objects, built on first use: the ECS
    builder reads `raw` directly, so most events never build them.
    """

    __slots__ = ("node", "sec", "msec", "serial", "raw", "_records")

    def __init__(self, node: Optional[str], sec: int, msec: int, serial: int,
                 raw: list[tuple[str, str]]) -> None:
        self.node = node
        self.sec = sec
        self.msec = msec
        self.serial = serial
        self.raw = raw
        self._records: Optional[list[Record]] = None

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            node, sec, msec, serial = self.node, self.sec, self.msec, self.serial
            self._records = [Record(rtype, node, sec, msec, serial, body)
                             for rtype, body in self.raw]
        return self._records

    @property
    def event_id(self) -> str:
        """`SEC.MSEC:SERIAL` exactly as auditd writes it in msg=audit(...)."""
        return f"{self.sec}.{self.msec:03d}:{self.serial}"

    def __repr__(self) -> str:
        return f"AuditEvent({self.node!r}, {self.event_id}, {[t for t, _ in self.raw]})"


class EventSource(Protocol):
    stats: Stats
    errors: list[LineError]

    def start_source(self, name: str) -> None: ...
    def feed(self, data: bytes) -> list[AuditEvent]: ...
    def age(self, now: Optional[float] = None) -> list[AuditEvent]: ...
    def flush(self) -> list[AuditEvent]: ...


def _ends_event(record_type: str, cache: dict[str, bool] = {}) -> bool:
    """Record types after which auparse considers an event complete."""
    done = cache.get(record_type)
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
        if len(cache) < 4096:      # record type names come from the input
            cache[record_type] = done
            if not done:
                _CONTINUING.add(record_type)
    return done


# Record types known not to end an event (filled by _ends_event).
_CONTINUING: set[str] = set()

# Every record line of a clean block, with HEADER's meaning per line: "node=N "
# or "", type, sec, msec, serial, body.
_RECORD_LINE = re.compile(
    r"^((?:node=[^ \n]* )?)type=([^ \n]+) msg=audit\((\d{1,11})\.(\d+):(\d+)\):?[ ]?(.*)$",
    re.MULTILINE)
# (The auparse source, in auparse_source.py, checks blocks with this.)
# A block whose every line has a HEADER (no groups: only says yes or no). On
# bytes, so \\d is ASCII only: a line with other digits goes line by line.
_RECORD_BLOCK = re.compile(
    rb"(?:(?:node=[^ \n]* )?type=[^ \n]+ msg=audit\(\d{1,11}\.\d+:\d+\)[^\n]*\n)*")
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

    def __init__(self, timeout: float = EOE_TIMEOUT, max_pending: int = MAX_PENDING,
                 max_line: int = MAX_LINE,
                 on_error: Optional[Callable[[LineError], None]] = None) -> None:
        super().__init__(max_line, MAX_ERRORS, on_error)
        self._timeout = timeout
        self._max_pending = max_pending
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
                self.stats.evicted_pending += 1
                # Force out the open event in the lowest slot, so _ready hands it
                # out now; evicting a higher one left it waiting behind the
                # lowest and the slots grew without bound.
                lowest = next(ev for ev, closed in zip(self._slots, self._complete)
                              if ev is not None and not closed)
                self._close((lowest.sec, lowest.msec, lowest.serial, lowest.node))
                self._ready(done)
            slot = self._new_slot(AuditEvent(rec.node, rec.sec, rec.msec, rec.serial,
                                             [(rec.type, rec.body)]))
            open_[key] = slot
        elif rec.type != "EOE":
            self._slots[slot].raw.append((rec.type, rec.body))  # type: ignore[union-attr]
        self._touched[key] = now
        if _ends_event(rec.type):
            self._close(key)
            self._ready(done)

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


def make_event_source(parser: str = "auto", timeout: float = EOE_TIMEOUT,
                      max_pending: int = MAX_PENDING, max_line: int = MAX_LINE,
                      on_error: Optional[Callable[[LineError], None]] = None) -> EventSource:
    """`parser`: "auparse", "python", or "auto" (auparse when its bindings import)."""
    if parser not in ("auto", "auparse", "python"):
        raise ValueError(f"unknown parser {parser!r} (auto, auparse or python)")
    if parser != "python":
        from .auparse_source import AuparseEventSource
        try:
            return AuparseEventSource(timeout=timeout, max_line=max_line, on_error=on_error,
                                      max_pending=max_pending)
        except ImportError:
            if parser == "auparse":
                raise
    return PythonEventSource(timeout=timeout, max_pending=max_pending,
                             max_line=max_line, on_error=on_error)

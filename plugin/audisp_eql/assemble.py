"""Audit records -> events, grouped by (node, event id).

Two event sources share one line splitter (`framing.LineSplitter`-like logic
below: partial lines across reads, line numbers, comment lines, oversized
lines, malformed headers reported with file and line):

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
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

from .escape import safe_text
from .records import ENRICHED_SEPARATOR, HEADER, Record, RecordError, parse_line

try:  # Debian: python3-audit
    import audit as _audit
except ImportError:  # pragma: no cover - exercised only without the bindings
    _audit = None  # type: ignore[assignment]

MAX_LINE = (1 << 20) + 4096     # the kernel caps a record far below; 1 MiB + margin
MAX_PENDING = 4096              # events in progress before the oldest is forced out
MAX_ERRORS = 1000               # kept in `.errors`; the count goes on
MAX_ENRICHED_HELD = 65536       # auparse source: ENRICHED tails waiting for their event
EOE_TIMEOUT = 2                 # seconds, as auparse's default


@dataclass(slots=True)
class AuditEvent:
    node: Optional[str]
    sec: int
    msec: int
    serial: int
    records: list[Record]

    @property
    def event_id(self) -> str:
        """`SEC.MSEC:SERIAL` exactly as auditd writes it in msg=audit(...)."""
        return f"{self.sec}.{self.msec:03d}:{self.serial}"


@dataclass
class Stats:
    lines: int = 0             # non-blank, non-comment lines seen
    records: int = 0           # lines that parsed as audit records
    events: int = 0            # completed events handed out
    process_starts: int = 0    # filled in by the ECS builder's caller
    malformed: int = 0         # lines that are not audit records
    unstamped: int = 0         # records without event id (msg=?), skipped
    oversized_lines: int = 0   # lines longer than max_line (skipped)
    evicted_pending: int = 0   # events completed early because too many were pending
    enriched_lost: int = 0     # auparse source: times the held ENRICHED parts were dropped


@dataclass(frozen=True)
class LineError:
    source: str
    line_no: int
    reason: str
    excerpt: str   # escaped with safe_text, at most 80 characters of the line

    def __str__(self) -> str:
        return f"{self.source}:{self.line_no}: {self.reason}: {self.excerpt}"


class EventSource(Protocol):
    stats: Stats
    errors: list[LineError]

    def start_source(self, name: str) -> None: ...
    def feed(self, data: bytes) -> list[AuditEvent]: ...
    def age(self, now: Optional[float] = None) -> list[AuditEvent]: ...
    def flush(self) -> list[AuditEvent]: ...


def _excerpt(line: bytes) -> str:
    text = line[:80].decode("utf-8", "backslashreplace")
    return safe_text(text) + ("..." if len(line) > 80 else "")


class _LineSplitter:
    """Bytes -> complete lines with their numbers; reports bad lines.

    Subclasses turn lines into events in `_consume` and hand out what is
    still pending in `_drain`.
    """

    def __init__(self, max_line: int, on_error: Optional[Callable[[LineError], None]]) -> None:
        self.stats = Stats()
        self.errors: list[LineError] = []
        self._on_error = on_error
        self._max_line = max_line
        self._partial = b""
        self._skipping = False      # inside an oversized line, until its newline
        self._source = "-"
        self._line_no = 0

    # -- interface -----------------------------------------------------------
    def feed(self, data: bytes) -> list[AuditEvent]:
        """Bytes of any size, lines may be split anywhere; returns completed events."""
        return self._counted(self._consume(self._split(data)))

    def start_source(self, name: str) -> list[AuditEvent]:
        """A new file begins: its name is used in errors and its lines count from 1.
        The previous file's unterminated last line is ended here."""
        done = self._consume(self._take_tail())
        self._source = name
        self._line_no = 0
        return self._counted(done)

    def flush(self) -> list[AuditEvent]:
        """End of input: the last line even without newline, then every pending event."""
        done = self._consume(self._take_tail())
        return self._counted(done + self._drain())

    # -- for subclasses --------------------------------------------------------
    def _consume(self, lines: list[tuple[int, bytes]]) -> list[AuditEvent]:
        raise NotImplementedError

    def _drain(self) -> list[AuditEvent]:
        raise NotImplementedError

    def _counted(self, events: list[AuditEvent]) -> list[AuditEvent]:
        self.stats.events += len(events)
        return events

    def _error(self, line_no: int, reason: str, line: bytes) -> None:
        err = LineError(self._source, line_no, reason, _excerpt(line))
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(err)
        if self._on_error is not None:
            self._on_error(err)

    def _malformed(self, line_no: int, error: RecordError, line: bytes) -> None:
        if error.unstamped:
            self.stats.unstamped += 1
            return
        self.stats.malformed += 1
        self._error(line_no, error.reason, line)

    def _take_tail(self) -> list[tuple[int, bytes]]:
        tail, self._partial = self._partial, b""
        lines = self._split(tail + b"\n") if tail else []
        self._skipping = False
        return lines

    def _split(self, data: bytes) -> list[tuple[int, bytes]]:
        """Return the complete, non-blank, non-comment lines in data."""
        pieces = data.split(b"\n")
        if self._partial:
            pieces[0] = self._partial + pieces[0]
        self._partial = pieces.pop()
        out: list[tuple[int, bytes]] = []
        line_no = self._line_no
        max_line = self._max_line
        for line in pieces:
            line_no += 1
            if self._skipping:
                self._skipping = False
                continue
            if len(line) > max_line:
                self.stats.oversized_lines += 1
                self._error(line_no, f"line longer than {max_line} bytes, skipped", line)
                continue
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line or line[0] == 35:       # b"#": laurel's test files
                continue
            out.append((line_no, line))
        self._line_no = line_no
        if len(self._partial) > max_line:
            # Do not buffer an endless line: count it now, drop bytes until its newline
            # (once: while already skipping, the same line is not counted again).
            if not self._skipping:
                self.stats.oversized_lines += 1
                self._error(line_no + 1, f"line longer than {max_line} bytes, skipped", self._partial)
            self._partial = b""
            self._skipping = True
        self.stats.lines += len(out)
        return out


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
    return done


class PythonEventSource(_LineSplitter):
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
        super().__init__(max_line, on_error)
        self._timeout = timeout
        self._max_pending = max_pending
        self._open: dict[tuple, int] = {}             # building event key -> slot
        self._touched: dict[tuple, float] = {}        # key -> monotonic time of last record
        self._slots: list[Optional[AuditEvent]] = []
        self._complete: list[bool] = []               # per slot
        self._free: list[int] = []                    # heap of free slot numbers
        self._newest_sec = -1

    def _consume(self, lines: list[tuple[int, bytes]]) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        open_ = self._open
        now = time.monotonic()
        for line_no, line in lines:
            try:
                rec = parse_line(line, line_no)
            except RecordError as e:
                self._malformed(line_no, e, line)
                continue
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
                    continue       # the event already ended (e.g. on its PROCTITLE)
                if len(open_) >= self._max_pending:
                    self.stats.evicted_pending += 1
                    # Force out the open event in the lowest slot, so _ready hands it
                    # out now; evicting a higher one left it waiting behind the
                    # lowest and the slots grew without bound.
                    lowest = next(ev for ev, closed in zip(self._slots, self._complete)
                                  if ev is not None and not closed)
                    self._close((lowest.sec, lowest.msec, lowest.serial, lowest.node))
                    self._ready(done)
                slot = self._new_slot(AuditEvent(rec.node, rec.sec, rec.msec, rec.serial, [rec]))
                open_[key] = slot
            elif rec.type != "EOE":
                self._slots[slot].records.append(rec)  # type: ignore[union-attr]
            self._touched[key] = now
            if _ends_event(rec.type):
                self._close(key)
                self._ready(done)
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


class AuparseEventSource(_LineSplitter):
    """Groups records with auparse in feed mode (the audit project's own rules
    for event completion: EOE, ending record types, its EOE timeout).

    Lines are checked in Python first so that malformed ones are reported
    with their line number (auparse would drop them silently); a line that
    is not valid UTF-8 is handed over with the bad bytes written as `\\xNN`
    (auparse's Python binding cannot return such text). Records handed back
    carry line_no 0: auparse does not report line numbers in feed mode.
    """

    def __init__(self, timeout: float = EOE_TIMEOUT, max_line: int = MAX_LINE,
                 on_error: Optional[Callable[[LineError], None]] = None) -> None:
        import auparse
        super().__init__(max_line, on_error)
        self._auparse = auparse
        self._parser = auparse.AuParser(auparse.AUSOURCE_FEED)
        self._parser.set_eoe_timeout(int(timeout))
        self._ready: list[AuditEvent] = []
        self._enriched: dict[str, list[str]] = {}    # raw record text -> its ENRICHED tails
        self._failure: Optional[BaseException] = None
        # The binding insists on a plain function, not a bound method.
        self._parser.add_callback(lambda p, t, d: self._on_event(p, t, d), None)

    def _on_event(self, parser, cb_type: int, _data: object) -> None:
        # An exception escaping this callback corrupts the C caller's state:
        # keep it and raise it after auparse returns.
        if cb_type != self._auparse.AUPARSE_CB_EVENT_READY or self._failure is not None:
            return
        try:
            if not parser.first_record():
                return
            records: list[Record] = []
            enriched = self._enriched
            while True:
                text = parser.get_record_text()
                if enriched:
                    tails = enriched.get(text)
                    if tails:
                        text += tails.pop(0)
                        if not tails:
                            del enriched[text.partition(ENRICHED_SEPARATOR)[0]]
                records.append(parse_line(text))
                if not parser.next_record():
                    break
            records = [r for r in records if r.type != "EOE"]
            if records:
                r = records[0]
                self._ready.append(AuditEvent(r.node, r.sec, r.msec, r.serial, records))
        except BaseException as e:  # noqa: BLE001 - re-raised in _take_ready
            self._failure = e

    def _take_ready(self) -> list[AuditEvent]:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        ready, self._ready = self._ready, []
        return ready

    def _consume(self, lines: list[tuple[int, bytes]]) -> list[AuditEvent]:
        valid: list[bytes] = []
        match = HEADER.match
        for line_no, line in lines:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                text = line.decode("utf-8", "backslashreplace")
                line = text.encode("utf-8")
            if 0 in line:
                # auparse's C strings end at a NUL: the rest of the record would be lost.
                line = line.replace(b"\0", b"\\x00")
                text = line.decode("utf-8")
            if match(text) is None:
                try:
                    parse_line(text, line_no)   # for the reason
                except RecordError as e:
                    self._malformed(line_no, e, line)
                continue
            if ENRICHED_SEPARATOR in text:
                # auparse keeps the ENRICHED part to itself; put it back later.
                raw, sep, tail = text.partition(ENRICHED_SEPARATOR)
                if len(self._enriched) >= MAX_ENRICHED_HELD:
                    self._enriched.clear()
                    self.stats.enriched_lost += 1
                self._enriched.setdefault(raw, []).append(sep + tail)
            valid.append(line)
        if valid:
            self.stats.records += len(valid)
            valid.append(b"")
            self._parser.feed(b"\n".join(valid))
        return self._take_ready()

    def age(self, now: Optional[float] = None) -> list[AuditEvent]:
        """auparse's own rule: events whose timestamp is more than the EOE
        timeout older than the wall clock are complete (`now` is not used)."""
        self._parser.feed_age_events()
        return self._counted(self._take_ready())

    def _drain(self) -> list[AuditEvent]:
        self._parser.flush_feed()
        return self._take_ready()


def make_event_source(parser: str = "auto", timeout: float = EOE_TIMEOUT,
                      max_pending: int = MAX_PENDING, max_line: int = MAX_LINE,
                      on_error: Optional[Callable[[LineError], None]] = None) -> EventSource:
    """`parser`: "auparse", "python", or "auto" (auparse when its bindings import)."""
    if parser not in ("auto", "auparse", "python"):
        raise ValueError(f"unknown parser {parser!r} (auto, auparse or python)")
    if parser != "python":
        try:
            return AuparseEventSource(timeout=timeout, max_line=max_line, on_error=on_error)
        except ImportError:
            if parser == "auparse":
                raise
    return PythonEventSource(timeout=timeout, max_pending=max_pending,
                             max_line=max_line, on_error=on_error)

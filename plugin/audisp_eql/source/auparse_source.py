"""The auparse event source: records grouped by auparse in feed mode.

See assemble.py for the shared rules; this is the default source when the
auparse bindings import.
"""

from __future__ import annotations

import re
import time
import weakref
from typing import Any, Callable, Optional

from .. import limits
from .event import EOE_TIMEOUT, AuditEvent
from .framing import LineError, Lines, LineSplitter
from .records import ENRICHED_SEPARATOR, HEADER, RECORD_BLOCK, RecordError, parse_line


class AuparseEventSource(LineSplitter):
    """Groups records with auparse in feed mode (the audit project's own rules
    for event completion: EOE, ending record types, its EOE timeout).

    Lines are checked in Python first so that malformed ones are reported
    with their line number (auparse would drop them silently); a line that
    is not valid UTF-8 is handed over with the bad bytes written as `\\xNN`
    (auparse's Python binding cannot return such text). Records handed back
    carry line_no 0: auparse does not report line numbers in feed mode.

    Two things auparse does not do are done here:
    * a bound: auparse keeps every incomplete event, and every later one
      behind it. When more than `max_pending` events' worth of records (at
      most limits.MAX_HELD_RECORDS) or more than limits.MAX_HELD_BYTES of
      record text are held, everything auparse holds is completed
      at once (the only flush it offers), where the input ends an event, and
      counted in `stats.evicted_pending` (most of those were complete and only
      waiting behind an older incomplete one);
    * ageing by arrival: `age()` completes what is pending once no input has
      come for `timeout` seconds, or for `EOE_IDLE` seconds when the input
      ended with an EOE record: auparse holds even a complete event until the
      next line arrives, which on a quiet host would delay its alert by the
      whole timeout. auparse's own `feed_age_events` compares
      event time with the wall clock, which splits events of replayed logs
      and of nodes whose clocks are behind; under steady input auparse's
      stream-time rule (a record 2 s newer) completes stragglers anyway.
    """

    def __init__(self, timeout: float = EOE_TIMEOUT, max_line: int = 0,
                 on_error: Optional[Callable[[LineError], None]] = None,
                 max_pending: int = 0) -> None:
        import auparse
        super().__init__(max_line or limits.MAX_LINE, limits.MAX_REPORTED_LINE_ERRORS, on_error)
        self._max_enriched = limits.MAX_ENRICHED_HELD
        self._max_enriched_chars = limits.MAX_ENRICHED_HELD_BYTES
        self._enriched_chars = 0      # held tails and their records' text
        self._timeout = timeout
        # Records auparse holds: fed, less EOE (never handed back), less handed back;
        # and their bytes (an attacker's 1 MiB lines make the count meaningless).
        self._held = 0
        self._held_bytes = 0
        self._max_held_bytes = limits.MAX_HELD_BYTES
        self._max_held = min((max_pending or limits.MAX_PENDING_EVENTS) * RECORDS_PER_EVENT,
                             limits.MAX_HELD_RECORDS)
        self._last_input = time.monotonic()
        self._fed_since_drain = False
        self._ended_with_eoe = False
        self._auparse = auparse
        self._parser = auparse.AuParser(auparse.AUSOURCE_FEED)
        self._parser.set_eoe_timeout(int(timeout))
        self._ready: list[AuditEvent] = []
        self._enriched: dict[str, list[str]] = {}    # raw record text -> its ENRICHED tails
        self._failure: Optional[BaseException] = None
        # The binding insists on a plain function, not a bound method; it
        # reaches this source by a weak reference: a strong one made a cycle
        # through the parser that no collector frees (4 KiB per source).
        source = weakref.ref(self)
        self._parser.add_callback(lambda p, t, d: _forward(source, p, t, d), None)

    def _on_event(self, parser, cb_type: int, _data: object) -> None:
        # An exception escaping this callback corrupts the C caller's state:
        # keep it and raise it after auparse returns.
        if cb_type != self._auparse.AUPARSE_CB_EVENT_READY or self._failure is not None:
            return
        try:
            if not parser.first_record():
                return
            # Only the record texts here (what every consumer of auparse pays);
            # types and bodies come out of one regex call over the whole event.
            texts: list[str] = []
            append, get_text, next_record = texts.append, parser.get_record_text, \
                parser.next_record
            while True:
                append(get_text())
                if not next_record():
                    break
            self._held -= len(texts)
            self._held_bytes -= sum(map(len, texts)) + len(texts)
            if self._enriched:
                texts = [self._with_enriched(text) for text in texts]
            joined = "\n".join(texts)
            raw = _TYPE_AND_BODY.findall(joined)
            if "type=EOE" in joined:
                raw = [record for record in raw if record[0] != "EOE"]
            if raw:
                # auparse grouped these by node and id: the first header names them all.
                node, _type, sec, msec, serial = HEADER.match(texts[0]).groups()  # type: ignore[union-attr]
                self._ready.append(AuditEvent(node, int(sec), int(msec), int(serial), raw))
        except BaseException as e:  # noqa: BLE001 - re-raised in _take_ready
            self._failure = e

    def _with_enriched(self, text: str) -> str:
        """A record text with the ENRICHED tail auparse dropped put back."""
        tails = self._enriched.get(text)
        if not tails:
            return text
        tail = tails.pop(0)
        self._enriched_chars -= len(text) + len(tail)
        if not tails:
            del self._enriched[text]
        return text + tail

    def _take_ready(self) -> list[AuditEvent]:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        ready, self._ready = self._ready, []
        return ready

    def _consume(self, lines: Lines) -> list[AuditEvent]:
        block = lines.block
        if lines.count and b"\0" not in block and b"\x1d" not in block \
                and (block.isascii() or _is_utf8(block)) \
                and RECORD_BLOCK.fullmatch(block + b"\n") is not None:
            # Every line is a record auparse can take as is: one call.
            self.stats.records += lines.count
            data = block + b"\n"
            self._feed(data, lines.count, len(data) - _eoe_bytes(data))
            return self._take_ready()
        valid: list[bytes] = []
        held_bytes = 0
        for line_no, line in lines.as_numbered():
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                text = line.decode("utf-8", "backslashreplace")
                line = text.encode("utf-8")
            try:
                record = parse_line(text, line_no)   # the same header rules as the python source
            except RecordError as e:
                self._malformed(line_no, e, line)
                continue
            if 0 in line:
                # auparse's C strings end at a NUL: the rest of the record would be lost.
                line = line.replace(b"\0", b"\\x00")
                text = line.decode("utf-8")
            seconds = HEADER.match(text).span(3)  # type: ignore[union-attr]
            if seconds[1] - seconds[0] < 10:
                # auparse looks for the serial's ':' from the 10th character of the
                # id on: shorter seconds are zero-padded (the same number).
                text = text[:seconds[0]] + text[seconds[0]:seconds[1]].zfill(10) + text[seconds[1]:]
                line = text.encode("utf-8")
            if ENRICHED_SEPARATOR in text:
                # auparse would keep the ENRICHED part to itself (and a copy of
                # it): it gets the raw record, the tail waits here to be put back.
                raw, sep, tail = text.partition(ENRICHED_SEPARATOR)
                self._hold_enriched(raw, sep + tail)
                line = raw.encode("utf-8")
                held_bytes += len(line) + 1
            elif record.type != "EOE":
                held_bytes += len(line) + 1
            valid.append(line)
        if valid:
            self.stats.records += len(valid)
            count = len(valid)
            valid.append(b"")
            data = b"\n".join(valid)
            self._feed(data, count, held_bytes)
        return self._take_ready()

    def _hold_enriched(self, raw: str, tail: str) -> None:
        """Keep a record's ENRICHED tail until auparse hands the record back;
        bounded in entries and characters: when full, what is held is dropped
        (those records lose their names) and counted in `stats.enriched_lost`."""
        cost = len(raw) + len(tail)
        if len(self._enriched) >= self._max_enriched or \
                self._enriched_chars + cost > self._max_enriched_chars:
            self.stats.enriched_lost += sum(map(len, self._enriched.values()))
            self._enriched.clear()
            self._enriched_chars = 0
        if cost > self._max_enriched_chars:
            self.stats.enriched_lost += 1
            return
        self._enriched.setdefault(raw, []).append(tail)
        self._enriched_chars += cost

    def _feed(self, data: bytes, records: int, held_bytes: int) -> None:
        self._last_input = time.monotonic()
        self._fed_since_drain = True
        last_line = data[data.rfind(b"\n", 0, len(data) - 1) + 1:]
        self._ended_with_eoe = b"type=EOE " in last_line
        ended_an_event = self._ended_with_eoe or b"type=PROCTITLE " in last_line
        self._parser.feed(data)
        self._held += records - data.count(b"type=EOE ")   # auparse never hands EOE back
        self._held_bytes += held_bytes
        # Flush where the input ends an event (nothing cut in two), unless
        # that never comes: then at twice the bound.
        over = self._held > self._max_held or self._held_bytes > self._max_held_bytes
        if over and (ended_an_event or self._held > 2 * self._max_held
                     or self._held_bytes > 2 * self._max_held_bytes):
            before = len(self._ready)
            self._complete_all()
            self.stats.evicted_pending += len(self._ready) - before

    # -- for nodes.py, which keeps one source per node ------------------------
    @property
    def pending_limit(self) -> int:
        return self._max_held

    def pending(self) -> int:
        """Records auparse holds."""
        return self._held

    def pending_bytes(self) -> int:
        """Bytes of the records auparse holds and of the ENRICHED tails kept for them."""
        return self._held_bytes + self._enriched_chars

    def shed(self) -> list[AuditEvent]:
        """Complete everything auparse holds now (counted in evicted_pending)."""
        self._complete_all()
        events = self._take_ready()
        self.stats.evicted_pending += len(events)
        return events

    def age(self, now: Optional[float] = None) -> list[AuditEvent]:
        """Complete what is pending once no input came for `timeout` seconds
        (time.monotonic() clock; `now` for tests)."""
        now = time.monotonic() if now is None else now
        idle = EOE_IDLE if self._ended_with_eoe else self._timeout
        if self._fed_since_drain and now - self._last_input >= idle:
            return self._counted(self._drain())
        return self._counted(self._take_ready())

    def _drain(self) -> list[AuditEvent]:
        self._complete_all()
        return self._take_ready()

    def _complete_all(self) -> None:
        """auparse's only flush: every event it holds is handed to the callback."""
        self._parser.flush_feed()
        self._held = 0
        self._held_bytes = 0
        self._fed_since_drain = False


# How many records an event is assumed to hold when bounding what auparse
# keeps (an exec event has 5 to 7; a bound, not a measure).
RECORDS_PER_EVENT = 8
# auparse hands events out in order, so one event that never completes holds
# every later one for its timeout (2 s of stream time: thousands of events on
# a busy host, about 2 KiB of auparse's memory per record):
# limits.MAX_HELD_RECORDS caps it.
# Idle time after which an input that ended with EOE is completed: the event
# is done; only auparse's look-ahead holds it (see the class docstring).
EOE_IDLE = 0.05


# EOE lines, which auparse reads but never hands back: not held.
_EOE = re.compile(rb"\ntype=EOE [^\n]*")
_NODE_EOE = re.compile(rb"\nnode=[!-~]{1,253} type=EOE [^\n]*")
_FIRST_EOE = re.compile(rb"(?:node=[!-~]{1,253} )?type=EOE ")


def _eoe_bytes(data: bytes) -> int:
    """Bytes of the EOE lines of `data` (whole lines ending in newlines)."""
    total = sum(map(len, _EOE.findall(data)))
    if b"node=" in data:
        total += sum(map(len, _NODE_EOE.findall(data)))
    if _FIRST_EOE.match(data) is not None:
        total += data.find(b"\n") + 1
    return total


def _forward(source: "weakref.ref[AuparseEventSource]", parser: Any, cb_type: int,
             data: object) -> None:
    alive = source()
    if alive is not None:
        alive._on_event(parser, cb_type, data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# (type, body) of each line of an event's record texts, by position as HEADER
# reads them: the type runs to the first space, the body starts after the
# first ")" that follows (and an optional ": "). Not anchored with ^ (that
# makes findall try every position): every line matches from its start, so
# each match ends on a newline and the next starts the next line. Each part
# is bounded as HEADER bounds it, so that no position costs more than a
# header's length (linear, whatever a body holds).
_TYPE_AND_BODY = re.compile(
    r"(?:node=[!-~]{1,253} )?type=([A-Z][A-Z0-9_\[\]]{0,27}) [^)\n]{0,64}\):? ?(.*)\n?")

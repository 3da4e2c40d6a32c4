"""The auparse event source: records grouped by auparse in feed mode.

See assemble.py for the shared rules; this is the default source when the
auparse bindings import.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Optional

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
      most limits.MAX_HELD_RECORDS) are held, everything auparse holds is completed
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
        self._timeout = timeout
        # Records auparse holds: fed, less EOE (never handed back), less handed back.
        self._held = 0
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
            self._feed(block + b"\n", lines.count)
            return self._take_ready()
        valid: list[bytes] = []
        match = HEADER.match
        for line_no, line in lines.as_numbered():
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
                if len(self._enriched) >= self._max_enriched:
                    self._enriched.clear()
                    self.stats.enriched_lost += 1
                self._enriched.setdefault(raw, []).append(sep + tail)
            valid.append(line)
        if valid:
            self.stats.records += len(valid)
            count = len(valid)
            valid.append(b"")
            data = b"\n".join(valid)
            self._feed(data, count)
        return self._take_ready()

    def _feed(self, data: bytes, records: int) -> None:
        self._last_input = time.monotonic()
        self._fed_since_drain = True
        last_line = data[data.rfind(b"\n", 0, len(data) - 1) + 1:]
        self._ended_with_eoe = b"type=EOE " in last_line
        ended_an_event = self._ended_with_eoe or b"type=PROCTITLE " in last_line
        self._parser.feed(data)
        self._held += records - data.count(b"type=EOE ")   # auparse never hands EOE back
        # Flush where the input ends an event (nothing cut in two), unless
        # that never comes: then at twice the bound.
        if self._held > self._max_held and (ended_an_event or self._held > 2 * self._max_held):
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
# each match ends on a newline and the next starts the next line.
_TYPE_AND_BODY = re.compile(r"(?:node=[^ \n]* )?type=([^ \n]*) [^)\n]*\):? ?(.*)\n?")

"""Bytes -> complete lines with their numbers, shared by both event sources.

Handles partial lines across reads, line numbers, comment and blank lines,
CR line ends and oversized lines (reported with file and line). Most reads
are "clean" (none of those cases): they are handed on as one block of
bytes, so that a source can work on the whole block with a few C-level
calls instead of a Python loop per line; the rest go line by line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ..escape import safe_text
from .records import RecordError


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
    skipped_other_shards: int = 0   # lines of nodes another shard evaluates (shard.py)
    evicted_nodes: int = 0     # nodes whose grouping state was dropped to bound their number


@dataclass(frozen=True)
class LineError:
    source: str
    line_no: int
    reason: str
    excerpt: str   # escaped with safe_text, at most 80 characters of the line

    def __str__(self) -> str:
        return f"{self.source}:{self.line_no}: {self.reason}: {self.excerpt}"


@dataclass(slots=True)
class Lines:
    """Complete lines of one read. Either `block` (clean lines joined by
    newlines, the first numbered `first`, `count` of them; `numbers` when
    they are not consecutive: one node's lines of a read) or `numbered`."""
    block: bytes = b""
    first: int = 0
    count: int = 0
    numbered: list[tuple[int, bytes]] = field(default_factory=list)
    numbers: Optional[list[int]] = None

    def as_numbered(self) -> list[tuple[int, bytes]]:
        if self.count:
            numbers = self.numbers if self.numbers is not None else \
                range(self.first, self.first + self.count)
            return list(zip(numbers, self.block.split(b"\n")))
        return self.numbered


def excerpt(line: bytes) -> str:
    text = line[:80].decode("utf-8", "backslashreplace")
    return safe_text(text) + ("..." if len(line) > 80 else "")


class LineSplitter:
    """Subclasses turn `Lines` into events in `_consume` and hand out what is
    still pending in `_drain`."""

    def __init__(self, max_line: int, max_errors: int,
                 on_error: Optional[Callable[[LineError], None]]) -> None:
        self.stats = Stats()
        self.errors: list[LineError] = []
        self._on_error = on_error
        self._max_line = max_line
        self._max_errors = max_errors
        self._partial = b""
        self._skipping = False      # inside an oversized line, until its newline
        self._source = "-"
        self._line_no = 0

    # -- interface -----------------------------------------------------------
    def feed(self, data: bytes) -> list:
        """Bytes of any size, lines may be split anywhere; returns completed events."""
        return self._counted(self._consume(self._split(data)))

    def start_source(self, name: str) -> list:
        """A new file begins: its name is used in errors and its lines count from 1.
        The previous file's unterminated last line is ended here."""
        done = self._consume(self._take_tail())
        self._source = name
        self._line_no = 0
        return self._counted(done)

    def take_partial(self) -> bytes:
        """The start of a line not yet ended (for a source that reads on from here)."""
        partial = b"" if self._skipping else self._partial
        self._partial = b""
        return partial

    def flush(self) -> list:
        """End of input: the last line even without newline, then every pending event."""
        done = self._consume(self._take_tail())
        return self._counted(done + self._drain())

    # -- for subclasses --------------------------------------------------------
    def _consume(self, lines: Lines) -> list:
        raise NotImplementedError

    def _drain(self) -> list:
        raise NotImplementedError

    def _counted(self, events: list) -> list:
        self.stats.events += len(events)
        return events

    def _error(self, line_no: int, reason: str, line: bytes) -> None:
        err = LineError(self._source, line_no, reason, excerpt(line))
        if len(self.errors) < self._max_errors:
            self.errors.append(err)
        if self._on_error is not None:
            self._on_error(err)

    def _malformed(self, line_no: int, error: RecordError, line: bytes) -> None:
        if error.unstamped:
            self.stats.unstamped += 1
            return
        self.stats.malformed += 1
        self._error(line_no, error.reason, line)

    def _take_tail(self) -> Lines:
        tail, self._partial = self._partial, b""
        lines = self._split(tail + b"\n") if tail else Lines()
        self._skipping = False
        return lines

    def _split(self, data: bytes) -> Lines:
        end = data.rfind(b"\n")
        if end < 0:
            self._partial += data
            self._check_partial(self._line_no)
            return Lines()
        block = self._partial + data[:end] if self._partial else data[:end]
        if (not self._skipping and len(block) <= self._max_line and block
                and block[0] not in (10, 35)          # b"\n", b"#"
                and b"\n\n" not in block and b"\n#" not in block and b"\r" not in block):
            count = block.count(b"\n") + 1
            self._partial = data[end + 1:]
            lines = Lines(block=block, first=self._line_no + 1, count=count)
            self._line_no += count
            self.stats.lines += count
            self._check_partial(self._line_no)
            return lines
        return self._split_slowly(data)

    def _split_slowly(self, data: bytes) -> Lines:
        """Line by line: skips blank and comment lines, reports oversized ones."""
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
        self._check_partial(line_no)
        self.stats.lines += len(out)
        return Lines(numbered=out)

    def _check_partial(self, line_no: int) -> None:
        if len(self._partial) > self._max_line:
            # Do not buffer an endless line: count it now, drop bytes until its newline
            # (once: while already skipping, the same line is not counted again).
            if not self._skipping:
                self.stats.oversized_lines += 1
                self._error(line_no + 1, f"line longer than {self._max_line} bytes, skipped",
                            self._partial)
            self._partial = b""
            self._skipping = True

"""Structure-aware mutations of audit events, for the fuzz test and the long run.

An event is a list of record lines (bytes). Each mutation picks one of three
levels: bytes (flip, insert, delete, duplicate, truncate), fields (drop,
duplicate, rename, replace a value by a hostile one) or records (drop,
duplicate, reorder, retype, move to another event, splice from another seed,
add EOE). Everything is driven by one `random.Random`, so a run is
reproducible from its seed.
"""

from __future__ import annotations

import random
import re
from typing import Callable, Sequence

Event = list[bytes]

FIELD = re.compile(rb"([^\s=]+)=(\"[^\"]*\"|'[^']*'|\S*)")
HEADER_ID = re.compile(rb"msg=audit\(([^)]*)\)")
TYPE = re.compile(rb"type=(\S+)")

# Bytes that mean something to a parser of this format, plus the usual suspects.
INTERESTING_BYTES = b"\x00\xff\x1d\x0a\x0d\"'= ():.\\%\x1b\x7f\x80\xc3\xe2\t"

HOSTILE_VALUES: tuple[bytes, ...] = (
    b"", b'"', b'""', b"'", b'"unterminated', b"(null)", b"(none)", b"?",
    b"-1", b"-0", b"0", b"4294967295", b"4294967296", b"-9223372036854775809",
    b"18446744073709551616", b"9" * 400, b"1e308", b"0x10", b"nan", b"inf",
    b"abc", b"zz", b"0", b"00", b"f" * 3, b"41" * 2000, b"00" * 64, b"0a0d1b5b33316d",
    b"e280a8", b"ff" * 16, b'"\xff\xfe"', b'"\xc3"', b'"a\x00b"', b'"\x1b[31mred"',
    b'"' + b"A" * 5000 + b'"', b"unknown(99)", b"\x1dUID=\"root\"",
)

FIELD_NAMES: tuple[bytes, ...] = (
    b"argc", b"a0", b"a1", b"a2", b"a0_len", b"a1_len", b"a1[0]", b"a1[1]", b"a1[7]",
    b"pid", b"ppid", b"uid", b"auid", b"euid", b"gid", b"ses", b"syscall", b"arch",
    b"success", b"exit", b"items", b"item", b"name", b"nametype", b"cwd", b"exe",
    b"comm", b"proctitle", b"key", b"tty", b"inode", b"mode", b"node", b"type", b"msg",
)

RECORD_TYPES: tuple[bytes, ...] = (
    b"SYSCALL", b"EXECVE", b"PATH", b"CWD", b"PROCTITLE", b"EOE", b"EXECVE",
    b"UNKNOWN[1337]", b"USER_CMD", b"BPRM_FCAPS", b"CONFIG_CHANGE", b"", b"syscall",
    b"EXECVE\x00", b"DAEMON_END",
)

EVENT_IDS: tuple[bytes, ...] = (
    b"0.000:0", b"1.1:1", b"-1.000:5", b"99999999999999999999.999:1",
    b"1700000000.000:18446744073709551616", b"1700000000.999999:1", b"1700000000.000:",
    b"1700000000:1", b"", b"1700000000.000:1001", b"1700000000.000:1001)x(",
)


class Mutator:
    def __init__(self, rng: random.Random, seeds: Sequence[Event]) -> None:
        self.rng = rng
        self.seeds = seeds
        self._ops: tuple[Callable[[Event], Event], ...] = (
            self.flip_bit, self.set_byte, self.insert_bytes, self.delete_bytes,
            self.duplicate_bytes, self.truncate_line,
            self.drop_field, self.duplicate_field, self.rename_field, self.hostile_value,
            self.drop_record, self.duplicate_record, self.swap_records, self.retype_record,
            self.move_record, self.splice, self.add_eoe, self.hostile_event_id,
        )

    def seed(self) -> Event:
        return list(self.rng.choice(self.seeds))

    def mutate(self, event: Event, rounds: int = 0) -> Event:
        for _ in range(rounds or self.rng.choice((1, 1, 2, 3, 5))):
            event = self.rng.choice(self._ops)(event)
            if not event:
                event = [b""]
        return event

    def __call__(self) -> Event:
        return self.mutate(self.seed())

    # -- helpers ---------------------------------------------------------
    def _line_index(self, event: Event) -> int:
        return self.rng.randrange(len(event))

    def _edit_line(self, event: Event, edit: Callable[[bytes], bytes]) -> Event:
        i = self._line_index(event)
        event = list(event)
        event[i] = edit(event[i])
        return event

    def _field_spans(self, line: bytes) -> list[re.Match[bytes]]:
        # Skip the header's own fields so most mutations hit the body.
        body = line.find(b"): ")
        return [m for m in FIELD.finditer(line) if m.start() > body]

    # -- byte level ------------------------------------------------------
    def flip_bit(self, event: Event) -> Event:
        def edit(line: bytes) -> bytes:
            if not line:
                return line
            i = self.rng.randrange(len(line))
            return line[:i] + bytes([line[i] ^ (1 << self.rng.randrange(8))]) + line[i + 1:]
        return self._edit_line(event, edit)

    def set_byte(self, event: Event) -> Event:
        def edit(line: bytes) -> bytes:
            i = self.rng.randrange(len(line) + 1)
            b = self.rng.choice(INTERESTING_BYTES)
            return line[:i] + bytes([b]) + line[i + 1:]
        return self._edit_line(event, edit)

    def insert_bytes(self, event: Event) -> Event:
        def edit(line: bytes) -> bytes:
            i = self.rng.randrange(len(line) + 1)
            chunk = bytes(self.rng.choice(INTERESTING_BYTES) for _ in range(self.rng.randint(1, 8)))
            return line[:i] + chunk + line[i:]
        return self._edit_line(event, edit)

    def delete_bytes(self, event: Event) -> Event:
        def edit(line: bytes) -> bytes:
            i = self.rng.randrange(len(line) + 1)
            return line[:i] + line[i + self.rng.randint(1, 32):]
        return self._edit_line(event, edit)

    def duplicate_bytes(self, event: Event) -> Event:
        def edit(line: bytes) -> bytes:
            i = self.rng.randrange(len(line) + 1)
            j = min(len(line), i + self.rng.randint(1, 64))
            return line[:j] + line[i:j] * self.rng.randint(1, 16) + line[j:]
        return self._edit_line(event, edit)

    def truncate_line(self, event: Event) -> Event:
        return self._edit_line(event, lambda line: line[:self.rng.randrange(len(line) + 1)])

    # -- field level -----------------------------------------------------
    def _field_edit(self, event: Event, edit: Callable[[bytes, re.Match[bytes]], bytes]) -> Event:
        def line_edit(line: bytes) -> bytes:
            spans = self._field_spans(line)
            if not spans:
                return line + b" " + self.rng.choice(FIELD_NAMES) + b"=" + self.rng.choice(HOSTILE_VALUES)
            return edit(line, self.rng.choice(spans))
        return self._edit_line(event, line_edit)

    def drop_field(self, event: Event) -> Event:
        return self._field_edit(event, lambda line, m: line[:m.start()] + line[m.end():])

    def duplicate_field(self, event: Event) -> Event:
        def edit(line: bytes, m: re.Match[bytes]) -> bytes:
            value = self.rng.choice((m.group(2), self.rng.choice(HOSTILE_VALUES)))
            return line + b" " + m.group(1) + b"=" + value
        return self._field_edit(event, edit)

    def rename_field(self, event: Event) -> Event:
        def edit(line: bytes, m: re.Match[bytes]) -> bytes:
            return line[:m.start(1)] + self.rng.choice(FIELD_NAMES) + line[m.end(1):]
        return self._field_edit(event, edit)

    def hostile_value(self, event: Event) -> Event:
        def edit(line: bytes, m: re.Match[bytes]) -> bytes:
            return line[:m.start(2)] + self.rng.choice(HOSTILE_VALUES) + line[m.end(2):]
        return self._field_edit(event, edit)

    # -- record level ----------------------------------------------------
    def drop_record(self, event: Event) -> Event:
        event = list(event)
        del event[self._line_index(event)]
        return event

    def duplicate_record(self, event: Event) -> Event:
        event = list(event)
        i = self._line_index(event)
        event.insert(self.rng.randrange(len(event) + 1), event[i])
        return event

    def swap_records(self, event: Event) -> Event:
        event = list(event)
        i, j = self._line_index(event), self._line_index(event)
        event[i], event[j] = event[j], event[i]
        return event

    def retype_record(self, event: Event) -> Event:
        new = self.rng.choice(RECORD_TYPES)
        return self._edit_line(event, lambda line: TYPE.sub(b"type=" + new, line, count=1))

    def move_record(self, event: Event) -> Event:
        # Same record, other event id: a record of an event that never completes.
        new = b"msg=audit(1700000000.%03d:%d)" % (self.rng.randrange(1000), self.rng.randrange(10**6))
        return self._edit_line(event, lambda line: HEADER_ID.sub(new, line, count=1))

    def hostile_event_id(self, event: Event) -> Event:
        new = b"msg=audit(" + self.rng.choice(EVENT_IDS) + b")"
        return self._edit_line(event, lambda line: HEADER_ID.sub(new, line, count=1))

    def splice(self, event: Event) -> Event:
        other = self.rng.choice(self.seeds)
        i = self.rng.randrange(len(event) + 1)
        j = self.rng.randrange(len(other) + 1)
        return list(event[:i]) + list(other[j:j + self.rng.randint(1, 4)])

    def add_eoe(self, event: Event) -> Event:
        line = event[self._line_index(event)]
        m = HEADER_ID.search(line)
        eid = m.group(1) if m else b"1700000000.000:1"
        event = list(event)
        event.insert(self.rng.randrange(len(event) + 1),
                     b"type=EOE msg=audit(" + eid + b"): ")
        return event

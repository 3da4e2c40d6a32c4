"""Structure-aware mutations of audit events, for the fuzz test and the long run.

An event is a list of record lines (bytes). Each mutation picks one of three
levels: bytes (flip, insert, delete, duplicate, truncate), fields (drop,
duplicate, rename, replace a value by a hostile one) or records (drop,
duplicate, reorder, retype, move to another event, splice from another seed,
add EOE). Everything is driven by one `random.Random`, so a run is
reproducible from its seed.

The classes of issue 17 have mutators of their own: long runs without
separators (quadratic regexes), huge digit strings in the header and the
body, large kernel-chunked argv (memory), hostile node names and record
types (the parsers' agreement). Corrupted gzip and hostile JSON numbers and
nesting are file-level: see hostile_files.py.
"""

from __future__ import annotations

import random
import re
from typing import Callable, Sequence

Event = list[bytes]

# (The second branch eats a run without "=" whole: linear on long runs.)
FIELD = re.compile(rb"([^\s=]+)=(\"[^\"]*\"|'[^']*'|\S*)|[^\s=]+")
HEADER_ID = re.compile(rb"msg=audit\(([^)]*)\)")
TYPE = re.compile(rb"type=(\S+)")
NODE = re.compile(rb"^node=\S* ")

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

# Issue 17's classes.
RUNS: tuple[bytes, ...] = (b"z", b'"', b"'", b" ", b"\x1d", b"=", b"a=", b'a="', b"\\x", b"41",
                          b"node=", b"type=", b"(", b")", b"a1[0]=")
HUGE_NUMBERS: tuple[bytes, ...] = (b"9" * 4301, b"1" * 5000, b"9" * 20, b"18446744073709551616",
                                   b"9223372036854775808", b"0" * 30 + b"1", b"-" + b"9" * 4400)
HOSTILE_NODES: tuple[bytes, ...] = (b"", b"a\x1db", b"h" * 253, b"h" * 254, b"\xff\xfe", b"x)y",
                                    b"n\x00", b"a:b", b"\x1b[31m", b"h" * 400)
HOSTILE_TYPES: tuple[bytes, ...] = (b"eoe", b"Syscall", b"UNKNOWN[1320]", b"UNKNOWN[01337]",
                                    b"1300", b"S" * 29, b"AVC", b"USER_AVC", b"SYSCALL:",
                                    b"LOGIN", b"ANOM_PROMISCUOUS", b"KERNEL", b"UNKNOWN[99999999]")

EVENT_IDS: tuple[bytes, ...] = (
    b"0.000:0", b"1.1:1", b"-1.000:5", b"99999999999999999999.999:1",
    b"1700000000.000:18446744073709551616", b"1700000000.999999:1", b"1700000000.000:",
    b"1700000000:1", b"", b"1700000000.000:1001", b"1700000000.000:1001)x(",
)


BIG_EVERY = 5000


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
            self.long_run, self.huge_number, self.hostile_node, self.hostile_type,
            self.huge_number, self.hostile_node, self.hostile_type,
        )
        # Big inputs cost time: one in BIG_EVERY mutations at most.
        self._big = (self.big_argv, self.long_megabyte_run)

    def seed(self) -> Event:
        return list(self.rng.choice(self.seeds))

    def mutate(self, event: Event, rounds: int = 0) -> Event:
        for _ in range(rounds or self.rng.choice((1, 1, 2, 3, 5))):
            if self.rng.randrange(BIG_EVERY) == 0:
                event = self.rng.choice(self._big)(event)
            else:
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
        return [m for m in FIELD.finditer(line) if m.start() > body and m.group(1)]

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

    # -- issue 17's classes ------------------------------------------------------
    def long_run(self, event: Event) -> Event:
        """A run of one troublesome character sequence (up to 8192 of it) inside a line."""
        run = self.rng.choice(RUNS) * self.rng.randint(100, 8192)
        def edit(line: bytes) -> bytes:
            i = self.rng.randrange(len(line) + 1)
            return line[:i] + run + line[i:]
        return self._edit_line(event, edit)

    def long_megabyte_run(self, event: Event) -> Event:
        """A line as long as allowed (1 MiB) of one run, after a real header."""
        run = self.rng.choice(RUNS)
        def edit(line: bytes) -> bytes:
            head = line.find(b"): ")
            return line[:head + 3] + run * ((1 << 20) // len(run) - 64)
        return self._edit_line(event, edit)

    def huge_number(self, event: Event) -> Event:
        """A 4301+ digit or 2**64+ number in the header's id or in a field."""
        number = self.rng.choice(HUGE_NUMBERS)
        if self.rng.random() < 0.5:
            part = self.rng.randrange(3)
            def edit(line: bytes) -> bytes:
                m = HEADER_ID.search(line)
                if m is None:
                    return line
                sec, _dot, rest = m.group(1).partition(b".")
                msec, _colon, serial = rest.partition(b":")
                parts = [sec, msec, serial]
                parts[part] = number
                return line[:m.start(1)] + parts[0] + b"." + parts[1] + b":" + parts[2] \
                    + line[m.end(1):]
            return self._edit_line(event, edit)
        return self._field_edit(event, lambda line, m: line[:m.start(2)] + number + line[m.end(2):])

    def hostile_node(self, event: Event) -> Event:
        """Every record of the event with one hostile node= (or one record only)."""
        node = b"node=" + self.rng.choice(HOSTILE_NODES) + b" "
        every = self.rng.random() < 0.7
        target = self._line_index(event)
        return [node + (NODE.sub(b"", line) if line.startswith(b"node=") else line)
                if every or i == target else line for i, line in enumerate(event)]

    def hostile_type(self, event: Event) -> Event:
        new = self.rng.choice(HOSTILE_TYPES)
        body = b" avc:  denied  { " + b"read " * self.rng.randint(1, 80) + b"}" \
            if new.endswith(b"AVC") else b""
        return self._edit_line(event, lambda line: TYPE.sub(b"type=" + new, line, count=1) + body)

    def big_argv(self, event: Event) -> Event:
        """The event's EXECVE as the kernel writes a long argv: 3 x up to 100 kB,
        in aN_len / aN[i] chunks over records of about 7500 characters."""
        m = HEADER_ID.search(event[0]) if event else None
        eid = m.group(1) if m else b"1700000000.000:1"
        args = [b"sh"] + [bytes([self.rng.choice(b"xyz-=\"")]) * self.rng.randint(8000, 100_000)
                          for _ in range(3)] + [b"-e"]
        from harness.records import chunked_execve_bodies
        execve = [b"type=EXECVE msg=audit(" + eid + b"): " + body.encode()
                  for body in chunked_execve_bodies(args)]
        kept = [line for line in event if b"type=EXECVE " not in line]
        return kept[:1] + execve + kept[1:]

"""assemble.py: grouping by (node, event id), completion, errors, bounds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from audisp_eql.source import make_event_source
from audisp_eql.source.assemble import PythonEventSource

DATA = Path(__file__).parent / "data" / "records"
PARSERS = ["python", "auparse"]


def _ids(events) -> list[str]:
    return [e.event_id for e in events]


@pytest.mark.parametrize("parser", PARSERS)
def test_one_byte_chunks_give_the_same_events(parser: str) -> None:
    data = (DATA / "exec-variants.log").read_bytes()
    whole = make_event_source(parser)
    expected = whole.feed(data) + whole.flush()
    src = make_event_source(parser)
    got = []
    for i in range(len(data)):
        got += src.feed(data[i:i + 1])
    got += src.flush()
    assert _ids(got) == _ids(expected) == ["1700000000.100:1", "1700000000.200:2",
                                           "1700000000.300:3"]
    assert [[r.type for r in e.records] for e in got] == \
        [[r.type for r in e.records] for e in expected]


@pytest.mark.parametrize("parser", PARSERS)
def test_malformed_line_in_the_middle_is_reported_and_events_kept(parser: str) -> None:
    src = make_event_source(parser)
    src.start_source("malformed-middle.log")
    events = src.feed((DATA / "malformed-middle.log").read_bytes()) + src.flush()
    assert _ids(events) == ["1700000001.000:10", "1700000001.100:11"]
    assert [r.type for r in events[0].records] == ["SYSCALL", "EXECVE"]
    assert src.stats.malformed == 1
    (err,) = src.errors
    assert (err.source, err.line_no) == ("malformed-middle.log", 3)
    assert "garbage" in err.excerpt


@pytest.mark.parametrize("parser", PARSERS)
def test_interleaved_events_stay_apart(parser: str) -> None:
    lines = [
        "node=a type=SYSCALL msg=audit(5.000:1): pid=1",
        "node=b type=SYSCALL msg=audit(5.000:1): pid=2",
        "node=a type=CWD msg=audit(5.000:1): cwd=\"/a\"",
        "type=SYSCALL msg=audit(5.000:2): pid=3",
        "node=b type=CWD msg=audit(5.000:1): cwd=\"/b\"",
        "type=CWD msg=audit(5.000:2): cwd=\"/c\"",
    ]
    src = make_event_source(parser)
    events = src.feed(("\n".join(lines) + "\n").encode()) + src.flush()
    got = sorted((e.node or "", e.serial, [r.body for r in e.records]) for e in events)
    assert got == [("", 2, ["pid=3", 'cwd="/c"']), ("a", 1, ["pid=1", 'cwd="/a"']),
                   ("b", 1, ["pid=2", 'cwd="/b"'])]


@pytest.mark.parametrize("parser", PARSERS)
def test_age_completes_events_once_input_is_idle(parser: str) -> None:
    """Ageing is by arrival on the monotonic clock, on both paths: an event
    whose EOE never comes is completed `timeout` seconds after input stops."""
    src = make_event_source(parser, timeout=2)
    fed_at = time.monotonic()
    assert src.feed(b"type=SYSCALL msg=audit(9.000:1): pid=1\n") == []
    assert src.age(fed_at + 1) == []
    (event,) = src.age(time.monotonic() + 3)
    assert event.event_id == "9.000:1"
    assert src.flush() == []


@pytest.mark.parametrize("parser", PARSERS)
def test_age_never_splits_an_old_event_still_arriving(parser: str) -> None:
    """A replayed log (or a node whose clock is behind) has event times far in
    the past: an event read in two parts must still come out whole. (auparse's
    own wall-clock ageing split such events; the plugin ages after every read.)"""
    old = int(time.time()) - 3600
    src = make_event_source(parser)
    first = f"type=SYSCALL msg=audit({old}.000:7): arch=c000003e syscall=59 success=yes pid=1\n"
    rest = (f"type=EXECVE msg=audit({old}.000:7): argc=1 a0=\"ls\"\n"
            f"type=EOE msg=audit({old}.000:7): \n")
    assert src.feed(first.encode()) == []
    assert src.age() == []
    events = src.feed(rest.encode()) + src.flush()
    assert [(e.event_id, [r.type for r in e.records]) for e in events] == \
        [(f"{old}.000:7", ["SYSCALL", "EXECVE"])]


@pytest.mark.parametrize("parser", PARSERS)
def test_oversized_line_skipped_and_counted(parser: str) -> None:
    src = make_event_source(parser, max_line=100)
    data = b"type=CWD msg=audit(1.000:1): cwd=\"" + b"x" * 500 + b"\"\n" \
        + b"type=CWD msg=audit(1.000:2): cwd=\"/\"\n"
    events = []
    for i in range(0, len(data), 7):
        events += src.feed(data[i:i + 7])
    events += src.flush()
    assert _ids(events) == ["1.000:2"]
    assert src.stats.oversized_lines == 1 and src.errors[0].line_no == 1


def test_max_pending_completes_oldest_first() -> None:
    src = PythonEventSource(max_pending=2)
    lines = b"".join(f"type=SYSCALL msg=audit(1.000:{i}): pid={i}\n".encode() for i in range(5))
    events = src.feed(lines)
    # Never more than 2 open: the oldest open one is completed, nothing is lost
    # (hand-out order follows auparse's slots, so only the sets are compared).
    assert src.stats.evicted_pending == 3
    assert "1.000:0" in _ids(events) and len(events) == 3
    rest = src.flush()
    assert sorted(_ids(events + rest)) == [f"1.000:{i}" for i in range(5)]


def test_last_line_without_newline_is_read_at_flush_and_between_sources() -> None:
    src = make_event_source("python")
    src.start_source("a")
    src.feed(b"type=CWD msg=audit(1.000:1): cwd=\"/\"")
    src.start_source("b")
    events = src.feed(b"type=CWD msg=audit(1.000:2): cwd=\"/\"") + src.flush()
    assert src.stats.records == 2 and _ids(events) == ["1.000:1", "1.000:2"]


def test_auparse_completes_an_eoe_terminated_event_soon_after_input_stops() -> None:
    """auparse holds even a complete event until the next line arrives; on a
    quiet host the plugin's age() must hand it out after a short idle, not
    after the whole EOE timeout."""
    from audisp_eql.source import auparse_source
    src = make_event_source("auparse", timeout=2)
    data = (b'type=SYSCALL msg=audit(9.000:1): arch=c000003e syscall=59 success=yes pid=1\n'
            b'type=EXECVE msg=audit(9.000:1): argc=1 a0="ls"\n'
            b'type=EOE msg=audit(9.000:1): \n')
    fed_at = time.monotonic()
    assert src.feed(data) == []          # auparse's look-ahead holds it
    (event,) = src.age(fed_at + auparse_source.EOE_IDLE + 0.01)
    assert event.event_id == "9.000:1"
    # Without EOE last, the full timeout applies (it may still be arriving).
    src.feed(b'type=SYSCALL msg=audit(9.000:2): arch=c000003e syscall=59 success=yes pid=2\n')
    assert src.age(time.monotonic() + auparse_source.EOE_IDLE + 0.01) == []

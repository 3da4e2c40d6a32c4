"""Hostile audit input, by hand: each case through both parsers (auparse and python).

A crash is any exception out of the source/builder; a lie is a record silently
lost or altered. Every bound (line length, pending events, error list) is fed
more than it holds and the counter must equal what was dropped.
"""

from __future__ import annotations

import json

import pytest

from audisp_eql import limits
from audisp_eql.source import auparse_source
from audisp_eql.source import make_event_source
from harness import pipelines
from audisp_eql.source.records import execve_args

PARSERS = ("auparse", "python")

SYSCALL = (b"type=SYSCALL msg=audit(1700000000.000:%d): arch=c000003e syscall=59 success=yes "
           b"exit=0 items=1 ppid=1 pid=%d auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
           b"fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm=\"x\" exe=\"/bin/x\" "
           b"key=(null)")
EOE = b"type=EOE msg=audit(1700000000.000:%d): "
PROCTITLE = b"type=PROCTITLE msg=audit(1700000000.000:%d): proctitle=78"


def event_bytes(serial: int, *bodies: bytes) -> bytes:
    """SYSCALL + the given record lines (already with header) + EOE, newline-terminated."""
    lines = [SYSCALL % (serial, 1000 + serial), *bodies, EOE % serial]
    return b"\n".join(lines) + b"\n"


def execve(serial: int, body: bytes) -> bytes:
    return b"type=EXECVE msg=audit(1700000000.000:%d): " % serial + body


def run(parser: str, data: bytes, **kwargs: object) -> tuple[list, object]:
    source = make_event_source(parser=parser, **kwargs)
    events = source.feed(data)
    events += source.flush()
    return events, source


def argv_of(event: object) -> list[str]:
    return execve_args([r for r in event.records if r.type == "EXECVE"])[0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("parser", PARSERS)
def test_invalid_utf8_is_kept_as_escapes(parser: str) -> None:
    data = event_bytes(1, execve(1, b'argc=3 a0="cat" a1="\xff\xfe" a2=ff00c3'))
    events, source = run(parser, data)
    assert len(events) == 1
    assert argv_of(events[0]) == ["cat", "\\xff\\xfe", "\\xff\x00\\xc3"]
    assert source.stats.malformed == 0


@pytest.mark.parametrize("parser", PARSERS)
def test_raw_nul_byte_does_not_truncate_the_record(parser: str) -> None:
    # The kernel hex-encodes NUL, but a log file can hold anything.
    data = event_bytes(1, execve(1, b'argc=3 a0="x\x00y" a1="after-nul" a2="last"'))
    events, source = run(parser, data)
    assert len(events) == 1
    argv = argv_of(events[0])
    assert argv[1:] == ["after-nul", "last"], argv
    assert argv[0] in ("x\x00y", "x\\x00y")


@pytest.mark.parametrize("parser", PARSERS)
def test_line_of_nuls_is_reported(parser: str) -> None:
    data = b"\x00" * 100 + b"\n" + event_bytes(2)
    events, source = run(parser, data)
    assert len(events) == 1
    assert source.stats.malformed == 1
    assert source.errors[0].line_no == 1
    assert "\x00" not in str(source.errors[0])


@pytest.mark.parametrize("parser", PARSERS)
def test_one_megabyte_argument_line_is_accepted(parser: str) -> None:
    arg = b"41" * 500_000   # 500 kB argument, hex: a 1 MB record line
    events, source = run(parser, event_bytes(1, execve(1, b'argc=2 a0="x" a1=' + arg)))
    assert len(events) == 1
    assert argv_of(events[0]) == ["x", "A" * 500_000]
    assert source.stats.oversized_lines == 0


@pytest.mark.parametrize("parser", PARSERS)
def test_oversized_line_is_counted_reported_and_skipped(parser: str) -> None:
    too_long = b"x" * (limits.MAX_LINE + 1)
    data = event_bytes(1) + too_long + b"\n" + event_bytes(2)
    events, source = run(parser, data)
    assert [e.serial for e in events] == [1, 2]
    assert source.stats.oversized_lines == 1
    assert [e.line_no for e in source.errors] == [3]
    assert "longer than" in source.errors[0].reason


@pytest.mark.parametrize("parser", PARSERS)
def test_endless_line_is_not_buffered(parser: str) -> None:
    """3 MB without a newline, in 64 kB reads: counted once, the buffer stays bounded."""
    source = make_event_source(parser=parser)
    events = source.feed(event_bytes(1))
    chunk = b"y" * 65536
    biggest = 0
    for _ in range(48):
        events += source.feed(chunk)
        biggest = max(biggest, len(source._partial))
    events += source.feed(b"\n" + event_bytes(2))
    events += source.flush()
    assert [e.serial for e in events] == [1, 2]
    assert source.stats.oversized_lines == 1
    assert biggest <= limits.MAX_LINE


@pytest.mark.parametrize("parser", PARSERS)
def test_100k_argument_execve(parser: str) -> None:
    # The kernel splits a long argv over many EXECVE records; argc is in the first.
    per_record = 1000
    records = []
    for r in range(100):
        args = b" ".join(b'a%d="arg%d"' % (i, i) for i in range(r * per_record, (r + 1) * per_record))
        records.append(execve(1, (b"argc=100000 " if r == 0 else b"") + args))
    events, source = run(parser, event_bytes(1, *records))
    assert len(events) == 1
    argv = argv_of(events[0])
    assert len(argv) == 100_000
    assert argv[99_999] == "arg99999"


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("value,expected", [
    (b"ABC", "ABC"),          # odd length: not hex, kept as written
    (b"ZZ", "ZZ"),            # not hex digits
    (b"4G", "4G"),
    (b"", ""),
])
def test_bogus_hex_is_kept_as_written(parser: str, value: bytes, expected: str) -> None:
    events, source = run(parser, event_bytes(1, execve(1, b'argc=2 a0="x" a1=' + value)))
    assert len(events) == 1
    assert argv_of(events[0]) == ["x", expected]


@pytest.mark.parametrize("parser", PARSERS)
def test_huge_and_negative_event_ids(parser: str) -> None:
    huge = b"type=SYSCALL msg=audit(99999999999999999999999.000:18446744073709551616): syscall=59"
    negative = b"type=SYSCALL msg=audit(-1.000:5): syscall=59"
    events, source = run(parser, huge + b"\n" + negative + b"\n" + event_bytes(3))
    assert source.stats.malformed + source.stats.records == 2 + 2
    assert 3 in [e.serial for e in events]
    for err in source.errors:
        assert err.line_no in (1, 2) and err.source


@pytest.mark.parametrize("parser", PARSERS)
def test_unknown_record_types(parser: str) -> None:
    data = (b"type=NOT_A_TYPE msg=audit(1700000000.000:7): x=1\n"
            b"type=UNKNOWN[9999] msg=audit(1700000000.000:8): y=\"\xff\"\n"
            + event_bytes(9, b"type=WEIRD msg=audit(1700000000.000:9): z=3"))
    events, source = run(parser, data)
    assert source.stats.records == 5
    serials = sorted(e.serial for e in events)
    assert 9 in serials
    nine = next(e for e in events if e.serial == 9)
    assert [r.type for r in nine.records] == ["SYSCALL", "WEIRD"]


@pytest.mark.parametrize("parser", PARSERS)
def test_eoe_flood_leaves_nothing_pending(parser: str) -> None:
    flood = b"".join(EOE % i + b"\n" for i in range(100_000))
    source = make_event_source(parser=parser)
    assert source.feed(flood) == []
    events = source.feed(event_bytes(200_000))
    events += source.flush()
    assert [e.serial for e in events] == [200_000]
    assert source.stats.records == 100_000 + 2


@pytest.mark.parametrize("parser", PARSERS)
def test_missing_and_duplicated_fields_do_not_crash(parser: str) -> None:
    data = (b"type=SYSCALL msg=audit(1700000000.000:1):\n"
            b"type=EXECVE msg=audit(1700000000.000:1): argc=2 a0=\"first\" a0=\"second\" a1\n"
            b"type=CWD msg=audit(1700000000.000:1): cwd= cwd=\"/tmp\"\n"
            + EOE % 1 + b"\n")
    events, source = run(parser, data)
    assert len(events) == 1
    assert argv_of(events[0]) == ["first"]   # a repeated name keeps its first value


def test_python_pending_bound_hands_out_what_it_evicts() -> None:
    """More never-completing events than max_pending: the oldest are handed out
    early (counted), so what is held stays bounded and nothing is lost."""
    bound, total = 100, 1000
    source = make_event_source(parser="python", max_pending=bound)
    early: list = []
    most_held = 0
    for i in range(total):
        early += source.feed(SYSCALL % (i, i) + b"\n")
        if i % 3 == 0:   # some events complete, and wait behind older open ones
            early += source.feed(EOE % i + b"\n")
        most_held = max(most_held, i + 1 - len(early))
    completed = len(range(0, total, 3))
    assert source.stats.evicted_pending > 0
    # Complete events wait behind the oldest slot (auparse's order), so up to
    # twice the bound may be held; before the fix every evicted event was.
    assert most_held <= 2 * bound + 1
    assert len(early) >= total - 2 * bound - 1
    assert source.stats.evicted_pending <= total - completed
    rest = source.flush()
    assert sorted(e.serial for e in early + rest) == list(range(total))


def test_auparse_pending_bound() -> None:
    """auparse keeps every incomplete event; the source bounds what it holds
    (about max_pending events of records) by completing everything auparse
    holds, counts those events, and loses none."""
    bound = 100
    total = bound * 30   # single-record events that never complete on their own
    source = make_event_source(parser="auparse", max_pending=bound)
    early: list = []
    most_held = 0
    for i in range(total):
        early += source.feed(SYSCALL % (i, i) + b"\n")
        most_held = max(most_held, i + 1 - len(early))
    assert source.stats.evicted_pending == len(early) > 0
    # None of these lines ends an event, so the flush waits for twice the bound.
    assert most_held <= 2 * bound * auparse_source.RECORDS_PER_EVENT + 1
    rest = source.flush()
    assert sorted(e.serial for e in early + rest) == list(range(total))


def test_auparse_bound_flushes_where_an_event_ends() -> None:
    """One event that never completes holds every later one in auparse; past
    the bound, the flush comes where the input ends an event, so the events
    behind it come out whole and what is held stays near the bound."""
    bound = 50
    source = make_event_source(parser="auparse", max_pending=bound)
    out: list = []
    most_held = 0
    out += source.feed(SYSCALL % (0, 0) + b"\n")          # never completes
    for i in range(1, 2000):
        out += source.feed(SYSCALL % (i, i) + b"\n" + PROCTITLE % i + b"\n")
        most_held = max(most_held, i - len(out))
    assert most_held <= bound * auparse_source.RECORDS_PER_EVENT
    out += source.flush()
    whole = [e for e in out if e.serial != 0]
    assert len(whole) == 1999 and all(len(e.raw) == 2 for e in whole)


@pytest.mark.parametrize("parser", PARSERS)
def test_error_list_is_bounded_but_counted(parser: str) -> None:
    bad = 3 * limits.MAX_REPORTED_LINE_ERRORS
    reported: list[object] = []
    source = make_event_source(parser=parser, on_error=reported.append)
    source.feed(b"garbage line\n" * bad)
    source.flush()
    assert source.stats.malformed == bad
    assert len(source.errors) == limits.MAX_REPORTED_LINE_ERRORS
    assert len(reported) == bad    # the callback (rate-limited by its owner) sees every one


@pytest.mark.parametrize("parser", PARSERS)
def test_error_excerpts_are_safe_text(parser: str) -> None:
    source = make_event_source(parser=parser)
    source.feed(b"\x1b[2J\x1b[31mevil\r\nforged: type=\n")
    source.flush()
    text = "\n".join(str(e) for e in source.errors)
    assert "\x1b" not in text and "\r" not in text
    assert len(text.splitlines()) == len(source.errors)
    json.dumps([str(e) for e in source.errors])


@pytest.mark.parametrize("parser", PARSERS)
def test_event_time_beyond_time_t_is_a_bad_header(parser: str) -> None:
    """Found by the fuzzer: 20-digit seconds crashed the ECS builder (gmtime overflow)."""
    stamp = b"99999999999999999999.999:1"
    data = event_bytes(1).replace(b"1700000000.000:1", stamp) + event_bytes(2)
    docs, _alerts, pipeline = pipelines.run(data, parser)
    assert [d["event"]["id"] for d in docs] == ["1700000000.000:2"]
    assert pipeline.counts.build_errors == 0
    source = pipeline.source
    assert source.stats.malformed == 2
    assert [err.line_no for err in source.errors] == [1, 2]


# -- the other bounds: process table, alert queue, rate limit -------------------
def test_process_table_bound_counts_evictions() -> None:
    bound, total = 100, 1000
    data = b"".join(event_bytes(i, execve(i, b'argc=1 a0="x"')) for i in range(total))
    docs, _alerts, pipeline = pipelines.run(data, "python", process_table_size=bound)
    table = pipeline.builders.builders[0].context.table  # type: ignore[union-attr]
    assert len(docs) == total
    assert len(table) == bound
    assert table.evicted == total - bound


def _alert(n: int) -> dict:
    return {"rule": {"id": "r1", "name": "bound test"}, "kibana": {"alert": {"severity": "low"}},
            "process": {"args": ["x", str(n)]}}


def test_syslog_queue_bound_while_daemon_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Syslog socket absent: alerts queue up to the bound, the rest is counted as
    dropped; when the socket appears the queue is delivered, in order."""
    import socket

    from audisp_eql.outputs import LocalSyslogOutput
    from harness.procs import wait_for
    path = tmp_path / "log.sock"
    bound, total = 10, 25
    output = LocalSyslogOutput(str(path), "authpriv", "json", "audisp-eql", queue_size=bound)
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for n in range(total):
            output.emit(_alert(n))
        assert output.pending() == bound
        assert output.stats.dropped == total - bound
        assert output.stats.sent == 0 and output.stats.errors >= 1
        receiver.bind(str(path))
        receiver.settimeout(5)
        assert wait_for(lambda: (output.flush(), output.pending() == 0)[1], 15.0)
        got = [json.loads(receiver.recv(65536).split(b": ", 1)[1])["process"]["args"][1]
               for _ in range(bound)]
        assert got == [str(n) for n in range(total - bound, total)]   # the newest kept
        assert output.stats.sent == bound
        assert output.stats.dropped == total - bound
    finally:
        output.close()
        receiver.close()


def test_rate_limit_counts_what_it_suppresses() -> None:
    from audisp_eql.outputs import RateLimiter
    limiter = RateLimiter(burst=3, interval=60.0)
    passed = [a for n in range(10) for a in limiter.admit(_alert(n), now=100.0)]
    assert len(passed) == 3
    assert limiter.total_suppressed == 7
    [summary] = limiter.expire(now=161.0)
    assert summary["audisp_eql"]["suppressed"] == 7


def test_plugin_reports_a_flood_of_bad_lines_rate_limited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """10 000 garbage lines into the real plugin: every one counted, only the
    1st, 10th, 100th... reported, so an attacker cannot flood the log."""
    from fuzz.catchall import write_catchall
    from harness.procs import stop_process
    from test_faults import RunningPlugin, alert_args, plugin_config
    rules = tmp_path / "rules"
    rules.mkdir(mode=0o755)
    write_catchall(rules)
    alerts = tmp_path / "alerts.json"
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules, None, alerts))
    try:
        plugin.wait_stderr("started")
        plugin.stdin.sendall(b"\x1b[2Jgarbage\r line\n" * 10_000)
        plugin.send_execs(1, "after-flood")
        assert plugin.close() == 0
        reported = [line for line in plugin.stderr().splitlines() if "bad input" in line]
        assert [line.split("(#")[1].split(")")[0] for line in reported] == \
            ["1", "10", "100", "1000", "10000"]
        assert "parse_errors=10000" in plugin.stderr()
        assert all("\x1b" not in line and "\r" not in line for line in reported)
        assert alert_args(alerts) == [f"after-flood {plugin.serial}"]
    finally:
        stop_process(plugin.proc)

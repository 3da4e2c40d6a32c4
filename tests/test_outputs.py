"""Alert formatting and sinks, on real sockets and files (no daemons)."""

from __future__ import annotations

import json
import os
import socket
import syslog
from pathlib import Path
from typing import Any

import pytest

from audisp_eql.outputs import (AlertSink, JsonFileOutput, LocalSyslogOutput, RateLimiter,
                                RemoteSyslogOutput, StdoutOutput, alert_priority, format_alert)

HOSTILE_ARG = "/run/x\n<13>Jan  1 00:00:00 forged: root login\r\x1b[2J\u2028\x85end"


def alert(severity: str = "low", rule_id: str = "r-1", args: Any = None) -> dict[str, Any]:
    return {
        "@timestamp": "2024-01-01T00:00:00.000Z",
        "event": {"kind": "alert", "id": "1700000000.123:42", "risk_score": 21.0, "severity": 21},
        "rule": {"name": "Unix Socket Connection", "uuid": rule_id, "id": rule_id},
        "kibana": {"alert": {"severity": severity, "risk_score": 21}},
        "host": {"name": "box"},
        "user": {"name": "root", "id": "0"},
        "process": {"pid": 4242, "executable": "/usr/bin/nc",
                    "args": args if args is not None else ["nc", "-U", HOSTILE_ARG],
                    "parent": {"pid": 1, "executable": "/bin/bash"}},
    }


def one_printable_line(text: str) -> bool:
    return all(c.isprintable() for c in text)


@pytest.mark.parametrize("fmt", ["text", "json", "cee"])
def test_every_format_is_one_printable_line(fmt: str) -> None:
    line = format_alert(alert(), fmt)
    assert one_printable_line(line), repr(line)
    assert "\\n<13>" in line  # the newline is visible, escaped, not dropped


def test_text_format_reads_as_key_value() -> None:
    line = format_alert(alert(args=["nc", "-U", "/run/a b"]), "text")
    assert line.startswith('rule="Unix Socket Connection" rule_id=r-1 severity=low risk=21.0 ')
    assert "pid=4242" in line and "ppid=1" in line and "exe=/usr/bin/nc" in line
    assert "args=\"nc -U '/run/a b'\"" in line
    assert "event_id=1700000000.123:42" in line


def test_json_and_cee_round_trip() -> None:
    doc = alert()
    assert json.loads(format_alert(doc, "json")) == doc
    cee = format_alert(doc, "cee")
    assert cee.startswith("@cee: ") and json.loads(cee[6:]) == doc


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown alert format"):
        format_alert(alert(), "xml")


@pytest.mark.parametrize("severity, priority", [
    ("critical", syslog.LOG_CRIT), ("high", syslog.LOG_ERR), ("medium", syslog.LOG_WARNING),
    ("low", syslog.LOG_NOTICE), ("", syslog.LOG_WARNING)])
def test_priority_follows_severity(severity: str, priority: int) -> None:
    assert alert_priority(alert(severity)) == priority


def test_local_syslog_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        out = LocalSyslogOutput(path, facility="authpriv", fmt="text", tag="t")
        out.emit(alert("high"))
        data = server.recv(65536).decode()
        out.close()
    assert data.startswith(f"<{10 * 8 + 3}>")  # authpriv.err
    assert f" t[{os.getpid()}]: rule=" in data
    assert one_printable_line(data)
    assert out.stats.sent == 1 and out.stats.dropped == 0


def test_local_syslog_buffers_while_down_then_delivers(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    out = LocalSyslogOutput(path, queue_size=3)
    for i in range(5):
        out.emit(alert(rule_id=f"r{i}"))
    assert out.pending() == 3 and out.stats.dropped == 2 and out.stats.errors >= 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        out.retry_at = 0.0  # skip the back-off: this is not a timing test
        out.flush()
        got = [server.recv(65536).decode() for _ in range(3)]
    assert [("rule_id=r%d" % i) in g for i, g in zip((2, 3, 4), got)] == [True] * 3
    assert out.pending() == 0 and out.stats.sent == 3


def test_remote_udp_is_rfc5424(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        out = RemoteSyslogOutput("127.0.0.1", server.getsockname()[1], "udp",
                                 facility="local0", fmt="json", hostname=lambda: "h1")
        out.emit(alert("critical"))
        data = server.recv(65536).decode()
        out.close()
    header, _, msg = data.partition(" - ")
    pri_version, stamp, host, app, procid, msgid = header.split(" ")
    assert pri_version == f"<{16 * 8 + 2}>1"  # local0.crit, RFC 5424 version 1
    assert (host, app, procid, msgid) == ("h1", "audisp-eql", str(os.getpid()), "alert")
    assert stamp.endswith("Z") and "T" in stamp
    assert json.loads(msg)["rule"]["uuid"] == "r-1"


def read_frames(conn: socket.socket, count: int) -> list[bytes]:
    """RFC 6587 octet-counted frames."""
    buf = b""
    frames: list[bytes] = []
    conn.settimeout(10)
    while len(frames) < count:
        while b" " not in buf:
            buf += conn.recv(65536)
        length, _, rest = buf.partition(b" ")
        while len(rest) < int(length):
            rest += conn.recv(65536)
        frames.append(rest[:int(length)])
        buf = rest[int(length):]
    return frames


def test_remote_tcp_octet_counting_and_reconnect() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    out = RemoteSyslogOutput("127.0.0.1", port, "tcp", fmt="text")
    out.emit(alert(rule_id="first"))
    conn, _ = server.accept()
    for _ in range(50):  # a non-blocking connect completes on a later flush
        if out.stats.sent:
            break
        out.retry_at = 0.0
        out.flush()
        conn.settimeout(0.05)
        try:
            conn.recv(0)
        except OSError:
            pass
    out.emit(alert(rule_id="second"))
    frames = read_frames(conn, 2)
    assert [b"rule_id=first" in f for f in frames] == [True, False]
    assert b"rule_id=second" in frames[1]
    assert all(b"\n" not in f for f in frames)
    # The collector drops the connection; the next alerts reconnect.
    conn.close()
    out.emit(alert(rule_id="third"))
    out.emit(alert(rule_id="fourth"))
    conn2 = None
    for _ in range(100):
        out.retry_at = 0.0
        out.flush()
        server.settimeout(0.05)
        try:
            conn2, _ = server.accept()
            break
        except socket.timeout:
            continue
    assert conn2 is not None, f"no reconnect; last error {out.last_error}"
    for _ in range(100):
        out.retry_at = 0.0
        out.flush()
        if out.pending() == 0:
            break
    later = read_frames(conn2, 1)
    assert b"rule_id=" in later[0]
    out.close()
    conn2.close()
    server.close()
    assert out.stats.sent + out.stats.dropped == 4


def test_remote_unreachable_counts_loss_without_blocking() -> None:
    port = socket.create_server(("127.0.0.1", 0))
    unused = port.getsockname()[1]
    port.close()  # nothing listens there now
    out = RemoteSyslogOutput("127.0.0.1", unused, "tcp", queue_size=2)
    for i in range(4):
        out.emit(alert(rule_id=str(i)))
    out.close()
    assert out.stats.sent == 0 and out.stats.dropped == 4 and out.last_error


def test_json_file_lines_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    out = JsonFileOutput(str(path), mode=0o600)
    out.emit(alert(rule_id="a"))
    assert (path.stat().st_mode & 0o777) == 0o600
    os.rename(path, tmp_path / "alerts.json.1")  # logrotate moves it away
    out.checked_at = 0.0  # the rotation check is rate-limited; not a timing test
    out.emit(alert(rule_id="b"))
    old = (tmp_path / "alerts.json.1").read_text().splitlines()
    new = path.read_text().splitlines()
    assert [json.loads(x)["rule"]["uuid"] for x in old] == ["a"]
    assert [json.loads(x)["rule"]["uuid"] for x in new] == ["b"]
    assert all(one_printable_line(x) for x in old + new)
    # SIGHUP path: reopen() follows a rename even inside the check interval.
    os.rename(path, tmp_path / "alerts.json.2")
    out.reopen()
    out.emit(alert(rule_id="c"))
    assert [json.loads(x)["rule"]["uuid"] for x in path.read_text().splitlines()] == ["c"]
    out.close()


def test_json_file_write_error_is_counted(tmp_path: Path) -> None:
    out = JsonFileOutput(str(tmp_path / "alerts.json"))
    # The open descriptor now writes to /dev/full, which fails every write with
    # ENOSPC (the path itself must be a regular file, see the next tests).
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, out.fd)
    os.close(full)
    out.emit(alert())
    assert out.stats.dropped == 1 and "No space" in out.last_error
    out.close()


@pytest.mark.parametrize("kind", ["fifo", "fifo-with-reader", "device", "symlink", "directory"])
def test_json_file_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    """A FIFO at the alert path would hang open() for ever without O_NONBLOCK;
    none of these may be written to, and the error says what is there."""
    path = tmp_path / "alerts.json"
    reader = None
    if kind.startswith("fifo"):
        os.mkfifo(path, 0o600)
        if kind == "fifo-with-reader":   # then open() succeeds: refused after it
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    elif kind == "device":
        path = Path("/dev/full")
    elif kind == "symlink":
        path.symlink_to(tmp_path / "elsewhere.json")
    else:
        path.mkdir()
    try:
        with pytest.raises(OSError) as refused:
            JsonFileOutput(str(path))
    finally:
        if reader is not None:
            os.close(reader)
    what = {"fifo": "a FIFO", "fifo-with-reader": "a FIFO", "device": "a character device",
            "symlink": "a symbolic link", "directory": "a directory"}[kind]
    assert str(refused.value) == (f"{path}: {what}, not a regular file; "
                                  "alerts are written to regular files only")
    assert not (tmp_path / "elsewhere.json").exists()


def test_json_file_rotated_to_a_fifo_keeps_the_old_file(tmp_path: Path) -> None:
    """Rotation replaced the file with a FIFO: the reopen is refused without
    blocking, counted and reported once; alerts still go to the file opened before."""
    path = tmp_path / "alerts.json"
    out = JsonFileOutput(str(path))
    out.emit(alert(rule_id="a"))
    path.rename(tmp_path / "alerts.json.1")
    os.mkfifo(path, 0o600)
    out.checked_at = 0.0  # the rotation check is rate-limited; not a timing test
    out.emit(alert(rule_id="b"))
    out.reopen()          # SIGHUP / SIGUSR2: refused the same way
    out.emit(alert(rule_id="c"))
    rotated = [json.loads(x)["rule"]["uuid"] for x in (tmp_path / "alerts.json.1").read_text()
               .splitlines()]
    assert rotated == ["a", "b", "c"]
    assert (out.stats.sent, out.stats.dropped, out.stats.errors) == (3, 0, 2)
    assert "a FIFO, not a regular file" in out.last_error
    notices = out.take_notices()
    assert len(notices) == 1 and notices[0][0] == syslog.LOG_ERR
    assert notices[0][1].startswith(f"cannot reopen the alert file: {path}: a FIFO, not a "
                                    "regular file")
    assert "still writing to the file opened before" in notices[0][1]
    path.unlink()
    out.reopen()          # the FIFO is gone: a new regular file
    out.emit(alert(rule_id="d"))
    assert [json.loads(x)["rule"]["uuid"] for x in path.read_text().splitlines()] == ["d"]
    out.close()


def test_stdout_output(capsys: pytest.CaptureFixture[str]) -> None:
    out = StdoutOutput("text")
    out.emit(alert())
    out.flush()
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith('rule="Unix Socket Connection"')


def test_rate_limit_collapses_a_burst() -> None:
    limiter = RateLimiter(burst=2, interval=10.0)
    got = [limiter.admit(alert(rule_id="x"), now=100.0 + i * 0.1) for i in range(6)]
    assert [len(g) for g in got] == [1, 1, 0, 0, 0, 0]
    assert limiter.admit(alert(rule_id="other"), now=100.5) == [alert(rule_id="other")]
    summaries = limiter.expire(now=111.0)
    by_rule = {s["rule"]["uuid"]: s["audisp_eql"]["suppressed"] for s in summaries}
    assert by_rule == {"x": 4}
    assert limiter.total_suppressed == 4
    # A new window admits again.
    assert len(limiter.admit(alert(rule_id="x"), now=112.0)) == 1


def test_rate_limit_summary_precedes_next_window() -> None:
    limiter = RateLimiter(burst=1, interval=5.0)
    limiter.admit(alert(rule_id="x"), now=0.0)
    limiter.admit(alert(rule_id="x"), now=1.0)
    out = limiter.admit(alert(rule_id="x"), now=6.0)
    assert [o.get("audisp_eql", {}).get("suppressed") for o in out] == [1, None]


def test_sink_fans_out_and_drains_summaries_at_close(tmp_path: Path) -> None:
    a, b = JsonFileOutput(str(tmp_path / "a")), JsonFileOutput(str(tmp_path / "b"))
    sink = AlertSink([a, b], RateLimiter(burst=1, interval=60))
    for _ in range(3):
        sink.emit(alert(), now=0.0)
    sink.close()
    for path in (tmp_path / "a", tmp_path / "b"):
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        assert [x.get("audisp_eql", {}).get("suppressed") for x in lines] == [None, 2]
    assert sink.alerts == 3


def test_close_gives_up_at_once_when_the_syslog_socket_is_missing(tmp_path, monkeypatch) -> None:
    """An exiting plugin must not wait for a syslog daemon that is not there:
    the queued alert is counted as dropped instead."""
    import audisp_eql.outputs.syslog as syslog_module
    out = syslog_module.LocalSyslogOutput(socket_path=str(tmp_path / "no-such-socket"))
    out.emit({"rule": {"name": "r"}, "kibana": {"alert": {"severity": "low"}}})
    assert out.pending() == 1
    waits: list = []
    monkeypatch.setattr(syslog_module.time, "sleep", waits.append)  # count waits, not seconds
    out.close()
    assert waits == []
    assert out.pending() == 0 and out.stats.dropped == 1


def test_file_output_keeps_writing_when_its_path_cannot_be_checked(tmp_path, monkeypatch) -> None:
    """After a privilege drop the directory may not be searchable: stat() fails
    with EACCES, which says nothing about rotation; the open file keeps the alerts."""
    import audisp_eql.outputs.jsonfile as jsonfile
    from audisp_eql import limits
    out = jsonfile.JsonFileOutput(str(tmp_path / "alerts.json"))
    real_stat = os.stat

    def denied(path, *args, **kwargs):
        if str(path) == out.path:
            raise PermissionError(13, "Permission denied", path)
        return real_stat(path, *args, **kwargs)
    monkeypatch.setattr(jsonfile.os, "stat", denied)
    monkeypatch.setattr(limits, "ROTATION_CHECK_SECONDS", 0.0)   # check on every alert
    out.emit({"rule": {"name": "r"}})
    out.close()
    assert out.stats.sent == 1 and out.stats.dropped == 0
    assert (tmp_path / "alerts.json").read_text().count("\n") == 1


def test_oversized_alert_is_shortened_and_does_not_wedge_remote_udp() -> None:
    """An attacker chooses the argv: one alert larger than a UDP datagram must
    neither block every later alert behind it nor vanish; it arrives shortened."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        out = RemoteSyslogOutput("127.0.0.1", server.getsockname()[1], "udp", fmt="json")
        out.emit(alert(rule_id="big", args=["nc", "-U", "A" * 70000, *["x"] * 20000]))
        out.emit(alert(rule_id="small"))
        got = [server.recv(1 << 17) for _ in range(2)]
        out.close()
    assert all(len(g) <= 65507 for g in got)
    docs = [json.loads(g.decode().partition(" - ")[2]) for g in got]
    assert [d["rule"]["uuid"] for d in docs] == ["big", "small"]
    assert docs[0]["audisp_eql"]["truncated"] is True
    assert docs[0]["process"]["args"][:2] == ["nc", "-U"]
    assert docs[0]["process"]["args"][2].startswith("AAAA")
    assert "audisp_eql" not in docs[1]
    assert (out.stats.sent, out.stats.dropped) == (2, 0)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_oversized_alert_reaches_local_syslog_shortened(tmp_path: Path, fmt: str) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(5)
        out = LocalSyslogOutput(path, fmt=fmt)
        out.emit(alert(rule_id="big", args=["nc", "-U", "B" * (1 << 20)]))
        data = server.recv(1 << 21).decode()
        out.close()
    assert len(data) <= 1 << 16 and one_printable_line(data)
    assert "big" in data and "BBBB" in data and "truncated" in data
    assert (out.stats.sent, out.stats.dropped) == (1, 0)


def test_remote_sender_survives_an_error_that_is_not_an_oserror() -> None:
    """A host name IDNA cannot encode makes getaddrinfo raise UnicodeError: the
    attempt fails like any other (reported, retried, counted), the thread lives."""
    from harness.procs import wait_for
    out = RemoteSyslogOutput("x" * 70 + ".example", 514, "tcp")
    out.emit(alert())
    assert wait_for(lambda: "idna" in out.last_error, 10.0), out.last_error
    assert out._thread.is_alive() and out.pending() == 1
    out.close()
    assert (out.stats.sent, out.stats.dropped) == (0, 1)

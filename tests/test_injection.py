"""Attacker strings never inject into outputs: one printable line per alert, in every sink.

Part 1 checks `escape.safe_text` itself (property-based); part 2 drives hostile argv
through the whole path: audit records -> ECS -> rule -> alert -> each output format
and the `events` / `scan` terminal output.
"""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audisp_eql.escape import safe_text

# What may never reach a line sink raw: C0/C1 controls, DEL, line/paragraph
# separators, bidi overrides/isolates, and lone surrogates (not encodable).
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

HOSTILE_STRINGS = [
    "evil\nJan  1 00:00:00 host audisp-eql: forged alert",
    "carriage\rreturn",
    "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "nul\x00byte",
    "line\u2028separator\u2029para",
    "bidi\u202eexe.txt\u202c",
    "nel\x85c1",
    "back\\slash\\n-not-a-newline",
    "invalid-utf8-\udcff\udcfe",  # as produced by surrogateescape decoding
    "\t\v\f\x1c\x1d\x1e",
]


def unescape(text: str) -> str:
    """Inverse of safe_text, written independently to prove nothing is lost."""
    out: list[str] = []
    i = 0
    simple = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        kind = text[i + 1]
        if kind in simple:
            out.append(simple[kind])
            i += 2
        elif kind == "x":
            out.append(chr(int(text[i + 2:i + 4], 16)))
            i += 4
        elif kind == "u":
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        else:
            raise AssertionError(f"unknown escape {text[i:i + 2]!r} in {text!r}")
    return "".join(out)


def assert_one_safe_line(text: str) -> None:
    bad = FORBIDDEN.search(text)
    assert bad is None, f"raw {bad.group()!r} in {text!r}"
    assert len(text.splitlines()) <= 1, f"{text!r} splits into several lines"
    text.encode("utf-8")  # must not raise


@given(st.text())
@example("\udcff")
@example("\\x41")
@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
def test_safe_text_is_one_printable_line_and_lossless(value: str) -> None:
    escaped = safe_text(value)
    assert_one_safe_line(escaped)
    assert unescape(escaped) == value


def test_safe_text_hostile_examples() -> None:
    for value in HOSTILE_STRINGS:
        escaped = safe_text(value)
        assert_one_safe_line(escaped)
        assert unescape(escaped) == value


def test_safe_text_keeps_printable_text() -> None:
    value = "/usr/bin/python3 -c 'print(\"héllo wörld\")' — 日本語"
    assert safe_text(value) == value


def test_json_of_hostile_text_is_one_line() -> None:
    # json.dumps (ensure_ascii default) must already keep U+2028 etc. out; the JSON
    # output relies on it, so pin it here.
    for value in HOSTILE_STRINGS:
        line = json.dumps({"v": value})
        assert_one_safe_line(line)
        assert json.loads(line)["v"] == value


# ---------------------------------------------------------------------------
# Part 2: the whole path. A hostile exec event (argv, exe, cwd, comm as the
# kernel would hex-encode them) through records -> ECS -> alert -> each sink.
# ---------------------------------------------------------------------------
import os
import pty
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT
from fuzz.catchall import CATCHALL_RULE_ID, write_catchall
from harness.records import encode_value

PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"

HOSTILE_ARGV: list[bytes] = [
    b"sh", b"-c",
    b"evil\nJan  1 00:00:00 host sshd[1]: Accepted password for root",
    b"cr\rreturn",
    b"\x1b[31mred\x1b[0m\x1b]0;title\x07",
    b"nul\x00inside",
    "line\u2028sep\u2029para".encode(),
    b"bad\xff\xfeutf8\xc3",
    "bidi\u202eexe.txt\u2066".encode(),
    b"c1\xc2\x85nel\xc2\x9bcsi",
    b"back\\slash\\n",
]
HOSTILE_EXE = b"/tmp/\x1b[2J/ev\nil"
HOSTILE_CWD = b"/tmp/\r\n\x1b[1mcwd"
HOSTILE_KEY = encode_value(b"k\x1b[0m")
PROCTITLE = b"\0".join(HOSTILE_ARGV).hex().upper()


def expected_text(data: bytes) -> str:
    """How the ECS document must carry bytes: UTF-8, bad bytes as \\xNN (HACKING.md)."""
    return data.decode("utf-8", "backslashreplace")


def hostile_event(serial: int, pid: int = 31337) -> bytes:
    head = f"msg=audit(1700000000.000:{serial}):"
    lines = [
        f"type=SYSCALL {head} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 "
        f"items=1 ppid=1 pid={pid} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 "
        f"egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm={encode_value(HOSTILE_EXE[-6:])} "
        f"exe={encode_value(HOSTILE_EXE)} key={HOSTILE_KEY}",
        f"type=EXECVE {head} argc={len(HOSTILE_ARGV)} "
        + " ".join(f"a{i}={encode_value(a)}" for i, a in enumerate(HOSTILE_ARGV)),
        f"type=CWD {head} cwd={encode_value(HOSTILE_CWD)}",
        f"type=PATH {head} item=0 name={encode_value(HOSTILE_EXE)} inode=1 dev=fe:00 "
        f"mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL",
        f"type=PROCTITLE {head} proctitle={PROCTITLE}",
        f"type=EOE {head} ",
    ]
    return "".join(line + "\n" for line in lines).encode()


def assert_hostile_alert_json(alert: dict) -> None:
    """The JSON form carries every hostile byte, exactly (nothing lost, nothing raw)."""
    assert alert["process"]["args"] == [expected_text(a) for a in HOSTILE_ARGV]
    assert alert["process"]["executable"] == expected_text(HOSTILE_EXE)
    assert alert["process"]["working_directory"] == expected_text(HOSTILE_CWD)


def assert_safe_lines(blob: bytes, what: str) -> list[str]:
    text = blob.decode("utf-8")   # must be valid UTF-8
    lines = text.split("\n")
    for line in lines:
        bad = FORBIDDEN.search(line)
        assert bad is None, f"{what}: raw {bad.group()!r} in {line[:300]!r}"
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def hostile_docs() -> list[dict]:
    from harness.pipelines import documents_of
    docs = []
    for parser in ("auparse", "python"):
        docs += documents_of(hostile_event(1), parser)
    assert len(docs) == 2
    return docs


@pytest.fixture(scope="module")
def catchall_rule(tmp_path_factory: pytest.TempPathFactory) -> object:
    from audisp_eql.rules import load_rules
    directory = tmp_path_factory.mktemp("rules")
    write_catchall(directory)
    rules = load_rules([directory]).rules
    assert [r.rule_id for r in rules] == [CATCHALL_RULE_ID]
    return rules[0]


def test_documents_carry_hostile_bytes_exactly(hostile_docs: list[dict]) -> None:
    for doc in hostile_docs:
        assert_hostile_alert_json(doc)


def test_every_alert_format_is_one_safe_line(hostile_docs: list[dict], catchall_rule: object) -> None:
    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Engine
    from audisp_eql.outputs.format import FORMATS, format_alert
    engine = Engine([catchall_rule])
    for doc in hostile_docs:
        [match] = engine.process(doc)
        alert = make_alert(match)
        for fmt in FORMATS:
            line = format_alert(alert, fmt)
            assert_one_safe_line(line)
            if fmt != "text":
                assert_hostile_alert_json(json.loads(line.removeprefix("@cee: ")))
        text = format_alert(alert, "text")
        for arg in HOSTILE_ARGV:   # each argument still readable, escaped
            assert safe_text(expected_text(arg)).replace('"', '\\"') in text


def test_file_stdout_and_socket_outputs(tmp_path: Path, hostile_docs: list[dict],
                                        catchall_rule: object) -> None:
    """The real sinks: a JSON-lines file, a stream, the local syslog datagram
    socket and remote UDP syslog, each read back from the kernel."""
    import io

    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Match
    from audisp_eql.outputs import (JsonFileOutput, LocalSyslogOutput, RemoteSyslogOutput,
                                    StdoutOutput)
    alert = make_alert(Match(catchall_rule, (hostile_docs[0],)))
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind(str(tmp_path / "log.sock"))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    stream = io.StringIO()
    outputs = [JsonFileOutput(str(tmp_path / "alerts.json"), 0o600), StdoutOutput("text", stream),
               LocalSyslogOutput(str(tmp_path / "log.sock"), "authpriv", "text", "audisp-eql", 10),
               LocalSyslogOutput(str(tmp_path / "log.sock"), "authpriv", "json", "audisp-eql", 10),
               RemoteSyslogOutput("127.0.0.1", udp.getsockname()[1], "udp", "authpriv", "cee", 10)]
    try:
        for output in outputs:
            output.emit(alert)
            output.flush()
        [line] = assert_safe_lines((tmp_path / "alerts.json").read_bytes(), "file")
        assert_hostile_alert_json(json.loads(line))
        assert len(assert_safe_lines(stream.getvalue().encode(), "stdout")) == 1
        dgram.settimeout(5)
        udp.settimeout(5)
        for sock, what in ((dgram, "local syslog text"), (dgram, "local syslog json"),
                           (udp, "remote syslog cee")):
            message = sock.recv(1 << 20)
            assert len(assert_safe_lines(message, what)) == 1
    finally:
        for output in outputs:
            output.close()
        dgram.close()
        udp.close()


def _run_on_pty(argv: list[str]) -> tuple[bytes, int]:
    """Run `argv` with stdout and stderr on a pseudo-terminal, as a person would."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            cwd="/")
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return bytes(out), proc.wait(30)


def _terminal_lines(blob: bytes) -> list[str]:
    """Lines as the program wrote them: the tty turns \\n into \\r\\n; colour
    escapes of our own (SGR `ESC[...m` around the severity) are allowed, any
    other escape is not."""
    import re
    text = blob.decode("utf-8").replace("\r\n", "\n")
    own_colour = re.compile(r"\x1b\[[0-9;]*m")
    # The progress bar (tqdm, on stderr) rewrites its line after a carriage return
    # and is cleared with spaces before an alert is written: drop those segments;
    # any other carriage return stays and fails the test.
    bar = re.compile(r"[^\r]*(\d+%|\?B/s|B/s\])[^\r]*|\s*")
    lines = []
    for line in text.split("\n"):
        parts = line.split("\r")
        if len(parts) > 1:
            kept = [p for p in parts if not bar.fullmatch(p)]
            line = "\r".join(kept)
        lines.append(own_colour.sub("", line))
    return lines


@pytest.mark.parametrize("parser", ["auparse", "python"])
def test_events_and_scan_terminal_output(tmp_path: Path, parser: str) -> None:
    log = tmp_path / "hostile.log"
    log.write_bytes(hostile_event(1) + hostile_event(2, pid=31338))
    rules = tmp_path / "rules"
    rules.mkdir()
    write_catchall(rules)
    # events: JSON documents; on a terminal as in a pipe, one safe line each
    out, code = _run_on_pty([str(PROGRAM), "events", "--parser", parser, str(log)])
    assert code == 0, out
    lines = [line for line in _terminal_lines(out) if line]
    for line in lines:
        bad = FORBIDDEN.search(line)
        assert bad is None, f"events: raw {bad.group()!r} in {line[:300]!r}"
    docs = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(docs) == 2
    for doc in docs:
        assert_hostile_alert_json(doc)
    # scan, human-readable on a terminal (colour, progress), then JSON in a pipe
    out, code = _run_on_pty([str(PROGRAM), "scan", "--parser", parser, "--rules", str(rules),
                             str(log)])
    assert code == 1, out   # alerts
    text_lines = _terminal_lines(out)
    for line in text_lines:
        bad = FORBIDDEN.search(line)
        assert bad is None, f"scan: raw {bad.group()!r} in {line[:300]!r}"
    assert sum("Any process start" in line for line in text_lines) >= 2
    piped = subprocess.run([str(PROGRAM), "scan", "--parser", parser, "--rules", str(rules),
                            str(log)], capture_output=True, timeout=120)
    alerts = [json.loads(line) for line in assert_safe_lines(piped.stdout, "scan json")]
    assert len(alerts) == 2
    for alert in alerts:
        assert_hostile_alert_json(alert)
    assert_safe_lines(piped.stderr, "scan stderr")


def test_hostile_file_names_in_error_messages(tmp_path: Path) -> None:
    """A log file name is reported in errors: it must not inject either."""
    name = tmp_path / "audit\n\x1b[31mforged: ok.log"
    name.write_bytes(b"not an audit record\n" + hostile_event(1))
    rules = tmp_path / "rules"
    rules.mkdir()
    write_catchall(rules)
    for argv in ([str(PROGRAM), "events", str(name)],
                 [str(PROGRAM), "scan", "--rules", str(rules), str(name)]):
        result = subprocess.run(argv, capture_output=True, timeout=120)
        lines = assert_safe_lines(result.stderr, " ".join(argv[1:2]) + " stderr")
        assert any("not an audit record" in line or "no type=" in line for line in lines), lines


@given(st.recursive(st.one_of(st.text(), st.integers(), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12))
@settings(max_examples=500)
def test_safe_json_is_the_same_value_on_one_safe_line(value: object) -> None:
    from audisp_eql.escape import safe_json
    encoded = safe_json(json.dumps(value, ensure_ascii=False))
    assert_one_safe_line(encoded)
    assert json.loads(encoded) == value

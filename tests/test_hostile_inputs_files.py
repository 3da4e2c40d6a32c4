"""Issue 17, items 9 and 10: hostile input files for `scan` and `events`.

Item 9: a corrupted audit.log.1.gz in a rotated set aborted the whole scan
(zlib.error is not an OSError): that file "cannot be read", the others are.
Item 10: --input ecs with a 5000-digit number (ValueError), a key of 5000
dotted parts (RecursionError writing the alert), 1e999 / NaN (written back
as Infinity / NaN, which strict parsers refuse). Class: output JSON is
strict RFC 8259; what cannot be made so is a reported bad line.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SEED
from harness.records import exec_event

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")


def strict_json(line: str) -> object:
    """RFC 8259 only: Python's parser would take NaN and Infinity."""
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")
    return json.loads(line, parse_constant=refuse)


def nc_event(serial: int) -> bytes:
    return b"".join(exec_event(serial, ["nc", "-U", "/run/app.sock"], "/usr/bin/nc.openbsd",
                               pid=3000 + serial))


def corrupted_gzip(data: bytes, how: str) -> bytes:
    packed = bytearray(gzip.compress(data))
    if how == "deflate":          # a bad block type: zlib.error
        packed[10] = 0xFF
    else:                         # intact stream, wrong CRC: BadGzipFile (an OSError)
        packed[-8] ^= 0xFF
    return bytes(packed)


@pytest.mark.parametrize("how", ["deflate", "crc"])
@pytest.mark.parametrize("command", ["scan", "events"])
def test_a_corrupted_gzip_in_a_rotated_set_is_named_and_the_rest_read(
        tmp_path: Path, how: str, command: str) -> None:
    (tmp_path / "audit.log.2.gz").write_bytes(gzip.compress(nc_event(1)))
    (tmp_path / "audit.log.1.gz").write_bytes(corrupted_gzip(nc_event(2), how))
    (tmp_path / "audit.log").write_bytes(nc_event(3))
    args = [str(tmp_path / n) for n in ("audit.log", "audit.log.1.gz", "audit.log.2.gz")]
    extra = ["--format", "json", "--rules", str(SEED)] if command == "scan" else []
    result = subprocess.run([TOOL, command, *extra, *args], capture_output=True, text=True)
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{tmp_path / 'audit.log.1.gz'}: cannot read:" in result.stderr
    ids = [strict_json(line)["event"]["id"] for line in result.stdout.splitlines()]
    assert "1700000000.000:1" in ids and "1700000000.000:3" in ids
    assert result.returncode != 0      # an input could not be read


HOSTILE_DOCUMENTS = [
    (b'{"process": {"pid": ' + b"9" * 5000 + b'}}', "number of 5000 characters"),
    (b'{"process": {"pid": 1e999}}', "number out of range: 1e999"),
    (b'{"process": {"pid": NaN}}', "NaN is not a JSON number"),
    (b'{"process": {"pid": -Infinity}}', "-Infinity is not a JSON number"),
    (b'{"' + b".".join([b"k"] * 5000) + b'": 1}', "key of 5000 dotted parts: nested deeper than 20"),
    (b'{"a":' * 50 + b"1" + b"}" * 50, "nested deeper than 20 levels"),
]


def test_hostile_ecs_documents_are_reported_lines_and_output_is_strict_json(
        tmp_path: Path) -> None:
    good = (b'{"@timestamp": "2024-01-01T00:00:00.000Z", "event": {"category": ["process"], '
            b'"type": ["start"], "action": "exec", "id": "ok"}, "host": {"os": {"type": "linux"}},'
            b' "process": {"name": "nc", "args": ["nc", "-U", "/run/app.sock"], "pid": 1.5e3}}')
    lines = [doc for doc, _words in HOSTILE_DOCUMENTS] + [good]
    data = tmp_path / "docs.json"
    data.write_bytes(b"\n".join(lines) + b"\n")
    result = subprocess.run([TOOL, "scan", "--input", "ecs", "--format", "json", "--rules",
                             str(SEED), str(data)], capture_output=True, text=True)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    for number, (_doc, words) in enumerate(HOSTILE_DOCUMENTS, start=1):
        assert f"docs.json:{number}: {words}" in result.stderr, (words, result.stderr[-2000:])
    alerts = [strict_json(line) for line in result.stdout.splitlines()]
    assert [a["event"]["id"] for a in alerts] == ["ok"]
    assert alerts[0]["process"]["pid"] == 1500.0

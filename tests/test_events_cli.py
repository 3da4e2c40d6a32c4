"""`audisp-eql events` as a subprocess on real and gzip logs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from conftest import LOGS, ROOT

TOOL = Path(sys.executable).parent / "audisp-eql"
DATA = Path(__file__).parent / "data" / "records"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOL), "events", *args], capture_output=True, timeout=120)


def test_events_on_a_shared_log() -> None:
    out = _run(str(LOGS / "laurel" / "shell-proc-trace.txt"))
    assert out.returncode == 0, out.stderr
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["process"]["name"] for d in docs] == ["test-script.sh", "grep", "echo", "sed"]
    assert out.stderr == b""


def test_events_on_gzip_and_rotation_order(tmp_path: Path) -> None:
    src = (LOGS / "laurel" / "shell-proc-trace.txt").read_bytes()
    with gzip.open(tmp_path / "audit.log.1", "wb") as f:    # older file, gzip
        f.write(src)
    (tmp_path / "audit.log").write_bytes((DATA / "malformed-middle.log").read_bytes())
    out = _run(str(tmp_path / "audit.log"), str(tmp_path / "audit.log.1"))
    assert out.returncode == 0
    ids = [json.loads(line)["event"]["id"] for line in out.stdout.splitlines()]
    assert ids[:4] == ["1682609045.526:29238", "1682609045.530:29242",
                       "1682609045.530:29244", "1682609045.534:29245"]
    assert ids[4:] == ["1700000001.000:10", "1700000001.100:11"]
    err = out.stderr.decode()
    assert f"{tmp_path / 'audit.log'}:3:" in err and "1 malformed" in err


def test_unreadable_file_is_reported() -> None:
    out = _run(str(ROOT / "does-not-exist.log"))
    assert out.returncode == 2 and b"cannot read" in out.stderr

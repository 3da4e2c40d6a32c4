"""Issue 17, item 6: a msec or serial of 4 301+ digits raised a ValueError in
both parsers (Python's int() limit), which killed `scan` and lost the rest of
the plugin's input. Class: a number out of range in any record field is
counted, never an exception: in the header the record is a malformed line
(reported with its reason, both parsers alike), in the body the value is
left out of the document (an ECS long cannot hold it) and counted.
"""

from __future__ import annotations

import subprocess

import pytest

from audisp_eql.source import make_event_source
from conftest import ROOT
from harness.pipelines import run
from harness.records import exec_event

PARSERS = ("auparse", "python")
HUGE = b"9" * 4400


def exec_bytes(serial: int) -> bytes:
    return b"".join(exec_event(serial, ["ls"], "/bin/ls", pid=100 + serial))


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("header, reason", [
    (b"msg=audit(1700000000." + HUGE + b":7)", "bad record header"),
    (b"msg=audit(1700000000.000:" + HUGE + b")", "bad record header"),
    (b"msg=audit(" + HUGE + b".000:7)", "bad record header"),
    (b"msg=audit(1700000000.000:18446744073709551616)", "event serial above 2**64 - 1"),
    (b"msg=audit(1700000000.1000:7)", "bad record header"),
])
def test_header_numbers_out_of_range_are_malformed_lines(parser: str, header: bytes,
                                                         reason: str) -> None:
    bad = exec_bytes(7).replace(b"msg=audit(1700000000.000:7)", header)
    source = make_event_source(parser=parser)
    events = source.feed(exec_bytes(1) + bad + exec_bytes(2))
    events += source.flush()
    assert [e.serial for e in events] == [1, 2]
    assert source.stats.malformed == 6            # every line of the bad event
    assert all(reason in err.reason for err in source.errors), source.errors[0]


@pytest.mark.parametrize("parser", PARSERS)
def test_body_numbers_out_of_range_are_left_out_and_counted(parser: str) -> None:
    data = exec_bytes(1).replace(b" pid=101 ", b" pid=" + HUGE + b" ") \
        .replace(b"ppid=3999", b"ppid=9223372036854775808")
    docs, _alerts, pipeline = run(data, parser)
    (doc,) = docs
    assert "pid" not in doc["process"] and "parent" not in doc["process"]
    assert pipeline.count().malformed_values == 2


def test_scan_and_events_survive_and_say_so(tmp_path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(exec_bytes(1).replace(b"msg=audit(1700000000.000:1)",
                                          b"msg=audit(1700000000.000:" + HUGE + b")")
                    + exec_bytes(2))
    tool = str(ROOT / ".venv" / "bin" / "audisp-eql")
    result = subprocess.run([tool, "events", str(log)], capture_output=True, text=True)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert f"{log}:1: bad record header" in result.stderr
    assert "6 malformed lines" in result.stderr

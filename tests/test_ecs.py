"""ecs/process.py: process-start documents from hand-written exec events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audisp_eql.ecs import catalog
from harness.pipelines import run

PRODUCED_FIELDS = catalog().fields()

DATA = Path(__file__).parent / "data" / "records"


def _docs(data: bytes, parser: str = "python", **kw) -> list[dict]:
    docs, _alerts, pipeline = run(data, parser, **kw)
    assert not pipeline.source.errors and not pipeline.counts.build_errors
    return docs


def _flat(doc: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


@pytest.mark.parametrize("parser", ["python", "auparse"])
def test_i386_execve_execveat_and_failed_exec(parser: str) -> None:
    data = (DATA / "exec-variants.log").read_bytes()
    i386, execveat = _docs(data, parser)
    assert i386["auditd"]["data"]["syscall"] == "execve"
    assert i386["process"]["args"] == ["ls", ""]            # a1=(null)
    assert i386["process"]["interactive"] is False
    assert i386["tags"] == ["i386"]
    assert i386["event"]["id"] == "1700000000.100:1"
    assert i386["@timestamp"] == "2023-11-14T22:13:20.100Z"
    assert execveat["auditd"]["data"]["syscall"] == "execveat"
    assert execveat["process"]["name"] == "abcdefghijklmnopqrs"   # comm cut at 15
    assert execveat["process"]["args"] == ["abcdefghijklmnopqrs", "\\xffhi"]
    assert execveat["process"]["title"] == "abc hi x"
    assert execveat["process"]["parent"]["executable"] == "/bin/ls"
    assert "tags" not in execveat
    json.dumps(execveat)   # the \xNN form keeps it valid JSON

    all_docs = _docs(data, parser, include_failed=True, action="executed")
    failed = all_docs[-1]
    assert failed["event"]["outcome"] == "failure" and failed["event"]["action"] == "executed"
    assert failed["process"]["working_directory"] == "/home/u"


@pytest.mark.parametrize("parser", ["python", "auparse"])
@pytest.mark.parametrize("program", ["\u00ebxfiltr\u00e4tor-daemon",   # 15 bytes are 13 characters
                                     "abcdefghijklmn\u00e9x"])           # the cut splits the \u00e9
def test_comm_cut_at_15_bytes_of_utf8_gives_the_executable_name(parser: str, program: str) -> None:
    """The kernel cuts comm at 15 bytes, not characters: a non-ASCII name is
    cut too (maybe inside a character) and must still be completed."""
    name = program.encode()
    comm, exe = name[:15], b"/opt/" + name
    record = (f"type=SYSCALL msg=audit(1700000000.100:300): arch=c000003e syscall=59 success=yes "
              f"exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=42 auid=0 uid=0 gid=0 euid=0 "
              f"suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm={comm.hex().upper()} "
              f"exe={exe.hex().upper()} key=(null)\n"
              f"type=EXECVE msg=audit(1700000000.100:300): argc=1 a0={exe.hex().upper()}\n")
    doc, = _docs(record.encode(), parser)
    assert doc["process"]["executable"] == "/opt/" + program
    assert doc["process"]["name"] == program


def test_hundred_thousand_arguments(tmp_path: Path) -> None:
    n = 100_000
    lines = ["type=SYSCALL msg=audit(2.000:7): arch=c000003e syscall=59 success=yes exit=0 "
             "ppid=1 pid=2 uid=0 gid=0 euid=0 egid=0 tty=(none) ses=1 comm=\"x\" exe=\"/x\" key=(null)"]
    per = 1000
    for start in range(0, n, per):
        head = f"argc={n} " if start == 0 else ""
        lines.append(f"type=EXECVE msg=audit(2.000:7): {head}"
                     + " ".join(f'a{i}="v{i}"' for i in range(start, start + per)))
    data = ("\n".join(lines) + "\n").encode()
    for parser in ("python", "auparse"):
        (doc,) = _docs(data, parser)
        assert doc["process"]["args_count"] == n
        assert doc["process"]["args"][99_999] == "v99999"


def test_no_none_values_and_fields_declared() -> None:
    for doc in _docs((DATA / "exec-variants.log").read_bytes(), include_failed=True):
        flat = _flat(doc)
        assert None not in flat.values()
        assert set(flat) <= PRODUCED_FIELDS, set(flat) - PRODUCED_FIELDS


def test_non_exec_and_syscall_less_events_are_skipped() -> None:
    data = (b'type=SYSCALL msg=audit(3.000:1): arch=c000003e syscall=2 success=yes exit=3 pid=5\n'
            b'type=EXECVE msg=audit(3.000:2): argc=1 a0="x"\n')
    assert _docs(data) == []

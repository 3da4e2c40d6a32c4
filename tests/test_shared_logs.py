"""Every real log in ../shared/logs/: no errors, both parsers agree, tricky cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import LOGS
from harness.pipelines import run

# The go-libaudit *.yaml files embed records in YAML block scalars: the
# indented record lines are pulled out here without a YAML library.
LOG_FILES = sorted(p for p in LOGS.rglob("*")
                   if p.is_file() and p.suffix in (".log", ".txt", ".yaml")
                   and p.name != "README.txt")


def _records_of(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix != ".yaml":
        return data
    lines = [ln.strip() for ln in data.splitlines()]
    return b"\n".join(ln for ln in lines if ln.startswith((b"type=", b"node="))) + b"\n"


def _docs(path: Path, parser: str) -> tuple[list[dict], object]:
    docs, _alerts, pipeline = run(_records_of(path), parser, name=str(path))
    assert pipeline.counts.build_errors == 0
    return docs, pipeline.source


@pytest.mark.parametrize("path", LOG_FILES, ids=lambda p: str(p.relative_to(LOGS)))
def test_read_without_errors_and_parsers_agree(path: Path) -> None:
    auparse_docs, a = _docs(path, "auparse")
    python_docs, p = _docs(path, "python")
    assert a.errors == [] and p.errors == []
    assert a.stats.malformed == p.stats.malformed == 0
    # The same documents. Process starts come in the same order; a record that
    # may or may not be followed by its SYSCALL (a CONFIG_CHANGE outside syscall
    # context, an old kernel's ANOM_PROMISCUOUS) ends its event when the next one
    # starts for the Python grouping, at the timeout or the end for auparse.
    assert sorted(map(json.dumps, auparse_docs)) == sorted(map(json.dumps, python_docs))
    starts = [d for d in auparse_docs if d["event"]["action"] == "exec"]
    assert json.dumps(starts) == json.dumps([d for d in python_docs
                                             if d["event"]["action"] == "exec"])


def _one(rel: str, parser: str = "auparse") -> list[dict]:
    return _docs(LOGS / rel, parser)[0]


def test_long_argument_rebuilt_from_three_execve_records() -> None:
    (doc,) = _one("laurel/record-execve-long.txt")
    assert max(len(a) for a in doc["process"]["args"]) == 8192


def test_hex_perl_one_liner() -> None:
    (doc,) = _one("laurel/record-perl-reverse-shell.txt")
    assert doc["process"]["name"] == "perl"
    assert "socket" in doc["process"]["args"][2].lower()


def test_aarch64_execve() -> None:
    docs = _one("laurel/fork-sleep-exec.txt")
    assert docs and {d["auditd"]["data"]["arch"] for d in docs} == {"c00000b7"}
    assert {d["auditd"]["data"]["syscall"] for d in docs} == {"execve"}


def test_node_and_enriched() -> None:
    (doc,) = _one("laurel/record-execve.txt")
    assert doc["host"]["name"] == "work"
    assert doc["user"]["name"] == "root" and doc["user"]["audit"]["name"] == "user"
    assert doc["process"]["title"] == "whoami"


def test_interleaved_out_of_order() -> None:
    docs = [d for d in _one("go-libaudit/testdata_out_of_order.log")
            if d["event"]["category"] == ["process"] and d["event"]["type"] == ["start"]]
    assert [d["process"]["args"] for d in docs] == [["grep", "--color=auto", "mapping"],
                                                   ["cat", "securitybeat"]]


@pytest.mark.parametrize("rel", ["laurel/shell-proc-trace.txt",
                                 "laurel/shell-proc-trace-reordered.txt"])
def test_parent_chain_from_earlier_exec(rel: str) -> None:
    docs = _one(rel)
    by_name = {d["process"]["name"]: d for d in docs}
    script = by_name["test-script.sh"]
    for child in ("grep", "echo", "sed"):
        parent = by_name[child]["process"]["parent"]
        assert parent["executable"] == script["process"]["executable"]
        assert parent["args"] == script["process"]["args"]


def test_argc_zero_and_execve_without_syscall_are_not_process_starts() -> None:
    assert _one("linux-audit-parser-rs/line-execve.txt") == []
    assert _one("beats/filebeat_module_auditd_log_test_execve-hex-arg.log") == []

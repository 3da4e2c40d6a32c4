"""The command line as a new user and their cron jobs meet it (issue 14's
first paragraph, rerun as written): a log directory is an input, not a rule
path; nothing waits on a terminal; the exit status says what happened
(0 nothing found, 1 alerts, 2 an error), for every command."""

from __future__ import annotations

import gzip
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from audisp_eql.exitstatus import TABLE
from conftest import ROOT, SEED

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")
DATA = ROOT / "tests" / "data" / "rules"
HIT = DATA / "seed_unix_socket.hit.log"
MISS = DATA / "seed_unix_socket.miss.log"
RULES = ROOT / "rules"


def on_a_terminal(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run with a terminal on stdin, as typed at a shell prompt. A program that
    waited for input there would hang until the deadline (TimeoutExpired)."""
    master, slave = pty.openpty()
    try:
        return subprocess.run([TOOL, *args], stdin=slave, capture_output=True, text=True,
                              timeout=timeout)
    finally:
        os.close(slave)
        os.close(master)


def piped(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([TOOL, *args], input=stdin, capture_output=True, timeout=300)


def audit_dir(tmp_path: Path) -> Path:
    """A directory laid out like /var/log/audit: the current file and two rotated
    ones (the oldest compressed), each holding some of the events."""
    lines = (HIT.read_bytes() + MISS.read_bytes()).splitlines(keepends=True)
    third = len(lines) // 3
    while not lines[third - 1].startswith(b"type=EOE") and third < len(lines):
        third += 1
    directory = tmp_path / "audit"
    directory.mkdir()
    (directory / "audit.log.2").write_bytes(gzip.compress(b"".join(lines[:third])))
    (directory / "audit.log.1").write_bytes(b"".join(lines[third:2 * third]))
    (directory / "audit.log").write_bytes(b"".join(lines[2 * third:]))
    return directory


def test_scan_rules_dir_then_log_directory_reads_the_directory(tmp_path: Path, shared) -> None:
    """`scan --rules rules/ /var/log/audit`: the directory is the input, read
    as its rotated set oldest first; nothing waits on the terminal."""
    directory = audit_dir(tmp_path)
    result = on_a_terminal("scan", "--format", "json", "--rules", str(RULES), str(directory))
    assert result.returncode == 1, result.stderr
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(a["process"]["name"] for a in alerts) == ["nc", "socat"]
    assert "3 input(s)" in result.stderr
    events = piped("events", str(directory))
    ids = [json.loads(line)["event"]["id"] for line in events.stdout.decode().splitlines()]
    whole = [json.loads(line)["event"]["id"] for line in
             piped("events", str(HIT), str(MISS)).stdout.decode().splitlines()]
    assert ids == whole and events.returncode == 0   # oldest (audit.log.2) first


def test_scan_of_var_log_audit_as_written(shared) -> None:
    """The command of the issue, literally, on this machine: whatever
    /var/log/audit holds, it is read as input and the scan ends."""
    result = on_a_terminal("scan", "--rules", str(RULES), "/var/log/audit")
    assert "rule not loaded" not in result.stderr
    audit = Path("/var/log/audit")
    files = [p for p in audit.iterdir() if p.is_file() and not p.name.startswith(".")] \
        if audit.is_dir() else []
    if not audit.exists():
        assert result.returncode == 2 and "/var/log/audit: cannot read" in result.stderr
    elif not files:
        assert result.returncode == 2
        assert "/var/log/audit: cannot read: directory holds no files" in result.stderr
    else:
        assert result.returncode in (0, 1, 2) and "scan summary" in result.stderr


@pytest.mark.parametrize("command", ["scan", "events"])
def test_no_input_and_a_terminal_is_an_error_not_a_wait(command: str) -> None:
    args = ["scan", "-r", str(SEED)] if command == "scan" else ["events"]
    result = on_a_terminal(*args)
    assert result.returncode == 2
    assert "no input: name audit log files or directories" in result.stderr


def test_no_input_and_a_pipe_reads_stdin(shared) -> None:
    result = piped("scan", "--format", "json", "-r", str(SEED), stdin=HIT.read_bytes())
    assert result.returncode == 1 and len(result.stdout.splitlines()) == 2
    # '-' reads the terminal when asked to: an explicit choice, ended by EOF.
    master, slave = pty.openpty()
    proc = subprocess.Popen([TOOL, "events", "-"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    os.close(slave)
    os.write(master, b"\x04")   # ^D: end of input on the terminal
    try:
        assert proc.wait(60) == 0
    finally:
        os.close(master)
        proc.kill()


def test_scan_exit_status_0_1_2(tmp_path: Path, shared) -> None:
    assert piped("scan", "-r", str(SEED), str(MISS)).returncode == 0      # nothing found
    assert piped("scan", "-r", str(SEED), str(HIT)).returncode == 1       # alerts
    # Every line unparseable: an error, with a hint.
    garbage = tmp_path / "not-audit.log"
    garbage.write_text("hello\nworld\n")
    result = piped("scan", "-r", str(SEED), str(garbage))
    assert result.returncode == 2
    assert f"{garbage}: no audit record in it (2 malformed lines" in result.stderr.decode()
    # JSON documents given as audit records: the hint names --input ecs.
    docs = tmp_path / "docs.json"
    docs.write_bytes(piped("events", str(HIT)).stdout)
    result = piped("scan", "-r", str(SEED), str(docs))
    assert result.returncode == 2 and b"--input ecs" in result.stderr
    assert piped("scan", "--input", "ecs", "-r", str(SEED), str(docs)).returncode == 1
    result = piped("scan", "--input", "ecs", "-r", str(SEED), str(HIT))
    assert result.returncode == 2 and b"no ECS document in it" in result.stderr
    # An invalid rule beside a good one: the good one's alerts are printed, status 2.
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "bad.toml").write_text('[rule]\nname = "b"\nrule_id = "b"\ntype = "eql"\n'
                                  "query = 'process where process.name = \"x\"'\n")
    result = piped("scan", "--format", "json", "-r", str(SEED), "-r", str(bad), str(HIT))
    assert result.returncode == 2 and len(result.stdout.splitlines()) == 2
    assert f"rule not loaded: {bad / 'bad.toml'}:5:" in result.stderr.decode()
    # A partly bad file is not an error: the bad lines are reported and skipped.
    mixed = tmp_path / "mixed.log"
    mixed.write_bytes(b"garbage\n" + HIT.read_bytes())
    assert piped("scan", "-r", str(SEED), str(mixed)).returncode == 1
    # An unreadable input among readable ones: an error, the rest scanned.
    result = piped("scan", "--format", "json", "-r", str(SEED), str(tmp_path / "gone.log"),
                   str(HIT))
    assert result.returncode == 2 and len(result.stdout.splitlines()) == 2


def test_events_exit_status(tmp_path: Path) -> None:
    garbage = tmp_path / "g.log"
    garbage.write_text("nothing here\n")
    assert piped("events", str(HIT)).returncode == 0
    assert piped("events", str(garbage)).returncode == 2
    assert piped("events", str(tmp_path / "gone.log")).returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = piped("events", str(empty))
    assert result.returncode == 2 and b"directory holds no files" in result.stderr


def test_rules_takes_one_path_per_option_and_the_rest_are_inputs(shared) -> None:
    result = piped("scan", "--format", "json", "--rules", str(RULES), "-r", str(SEED),
                   str(HIT), str(MISS))
    uuids = {json.loads(line)["rule"]["uuid"] for line in result.stdout.splitlines()}
    assert result.returncode == 1 and len(uuids) == 2   # ours and the seed
    assert b"2 input(s)" in result.stderr


@pytest.mark.parametrize("command", sorted(TABLE))
def test_help_shows_the_exit_status_table(command: str) -> None:
    result = subprocess.run([TOOL, command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    tail = result.stdout[result.stdout.index("exit status:"):]
    for code, text in TABLE[command]:
        assert f"  {code}  {text}" in tail


def test_tags_take_one_value_each_and_leave_the_inputs_alone(tmp_path: Path) -> None:
    """`scan --rules rules/ --tags compliance /var/log/audit`: the directory is
    an input, not a second tag."""
    directory = tmp_path / "audit"
    directory.mkdir()
    (directory / "audit.log").write_bytes((ROOT / "examples" / "intrusion.log").read_bytes())
    result = on_a_terminal("scan", "--format", "json", "--rules", str(RULES), "--tags",
                           "compliance", str(directory))
    names = {json.loads(line)["rule"]["name"] for line in result.stdout.splitlines()}
    assert result.returncode == 1, result.stderr
    assert "Audit Rules Deleted or Auditing Disabled with auditctl" in names
    assert "Shell Started by a Web Server Process" not in names   # not a compliance rule
    both = piped("scan", "--format", "json", "-r", str(RULES), "--tags", "compliance",
                 "--tags", "persistence", str(directory))
    commas = piped("scan", "--format", "json", "-r", str(RULES), "--tags",
                   "compliance,persistence", str(directory))
    def fired(result: subprocess.CompletedProcess) -> list:
        return sorted((a["rule"]["uuid"], a["event"]["id"])
                      for a in map(json.loads, result.stdout.splitlines()))
    assert fired(both) == fired(commas) and len(fired(both)) > len(names)

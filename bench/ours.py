"""audisp-eql end to end, as auditd runs it: `audisp-eql plugin CONFIG` with the records
on stdin and every alert written to a JSON-lines file."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

from tests.harness import plugin_config as harness_config

from .measure import Measured, run_measured

_STATUS_FIELD = re.compile(r"\b(events|documents|alerts|suppressed|dropped|rules|rule_errors|"
                           r"pending_partial_matches|pending_bytes|evicted_partial_matches|"
                           r"expired_partial_matches)=(\d+)")


@dataclass(frozen=True)
class Corpus:
    shared: Path

    @property
    def rules_dir(self) -> Path:
        return self.shared / "corpus" / "detection-rules"

    @property
    def seed(self) -> Path:
        return self.shared / "seed" / "execution_unix_socket_communication.toml"

    def process_rules(self) -> list[Path]:
        """The 204 single-event `process where` rules, as listed in the corpus."""
        listing = self.shared / "corpus" / "process_rules.txt"
        paths = []
        for line in listing.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                paths.append(self.rules_dir / line.split("\t", 1)[0])
        return paths

    def all_rules(self) -> list[Path]:
        return sorted(self.rules_dir.rglob("*.toml"))

    def sequence_rules(self, process_only: bool = False) -> list[Path]:
        """The 78 sequence and sample rules (the 28 sequences of process steps only)."""
        from audisp_eql.eql import parse_query
        from audisp_eql.rules import load_rules
        found = []
        for rule in load_rules([self.rules_dir]).rules:
            query = parse_query(rule.query)
            if query.kind == "event":
                continue
            if process_only and (query.kind != "sequence" or
                                 any(s.event.category != "process" for s in query.steps)):
                continue
            found.append(rule.path)
        return sorted(found)


def write_plugin_config(directory: Path, rule_paths: Sequence[Path | str], alerts: Path,
                        parent_from_proc: bool, event_action: str | None = None) -> Path:
    """A private plugin config: no syslog, no rate limit (every alert reaches the file).

    event_action: the plugin's default (both "exec" and "executed", Elastic Defend's
    and Auditbeat's terms) unless given; it lets every process rule written for
    either past its event.action gate, the heaviest realistic case."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return harness_config.write_plugin_config(directory, rule_paths, alerts, burst=0,
                                              parent_from_proc=parent_from_proc,
                                              event_action=event_action)


plugin_argv = harness_config.plugin_argv


@dataclass(frozen=True)
class OursRun:
    measured: Measured
    alerts_out: int
    status: dict[str, int]


def status_counts(stderr: str) -> dict[str, int]:
    """Counters of the plugin's last status line (printed at end of input)."""
    lines = [line for line in stderr.splitlines() if "status:" in line]
    return {k: int(v) for k, v in _STATUS_FIELD.findall(lines[-1])} if lines else {}


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def run_plugin(stdin: IO[bytes] | int, workdir: Path, rule_paths: Sequence[Path],
               parent_from_proc: bool = False, sample: bool = True) -> OursRun:
    alerts = workdir / "alerts.jsonl"
    alerts.unlink(missing_ok=True)
    config = write_plugin_config(workdir, rule_paths, alerts, parent_from_proc)
    measured = run_measured(plugin_argv(config), stdin, open(os.devnull, "wb"),
                            sample=sample).check()
    result = OursRun(measured, count_lines(alerts), status_counts(measured.stderr_tail))
    alerts.unlink(missing_ok=True)
    return result


def run_plugin_on_file(log: Path, workdir: Path, rule_paths: Sequence[Path]) -> OursRun:
    # Replayed PIDs are not this host's: looking them up in /proc would be wrong.
    with open(log, "rb") as stdin:
        return run_plugin(stdin, workdir, rule_paths, parent_from_proc=False)


def count_events(log: Path) -> int:
    """Audit events in a log: runs of consecutive records sharing one event id."""
    events, last = 0, b""
    with open(log, "rb") as f:
        for line in f:
            start = line.find(b"msg=audit(")
            end = line.find(b")", start)
            ident = line[start:end] if start >= 0 else line
            if ident != last:
                events += 1
                last = ident
    return events


@dataclass(frozen=True)
class ScanRun:
    measured: Measured
    alerts_out: int
    status: int


def run_scan_on_file(log: Path, workdir: Path, rule_paths: Sequence[Path], jobs: int) -> ScanRun:
    """`audisp-eql scan --jobs N` over one file, alerts as JSON lines to a file; CPU
    counts the worker processes too (they are waited for). Exit 1 (alerts) is success;
    2 only from a rule file that did not load (reported in stderr)."""
    import sys
    workdir.mkdir(parents=True, exist_ok=True)
    alerts = workdir / f"scan-{jobs}.jsonl"
    argv = [sys.executable, "-m", "audisp_eql.cli", "scan", "--jobs", str(jobs), "--quiet",
            "--format", "json"]
    for path in rule_paths:
        argv += ["--rules", str(path)]
    argv.append(str(log))
    with open(alerts, "wb") as out:
        measured = run_measured(argv, subprocess.DEVNULL, out, sample=True)
    if measured.returncode not in (0, 1, 2):
        raise RuntimeError(f"scan --jobs {jobs} exited {measured.returncode}: "
                           f"{measured.stderr_tail}")
    result = ScanRun(measured, count_lines(alerts), measured.returncode)
    alerts.unlink(missing_ok=True)
    return result

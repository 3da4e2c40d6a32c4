"""Fuzz seeds: real audit records read from ../shared/logs/ at run time (never copied),
and this repository's own test records (tests/data/records/: file, network,
module, process-change and AppArmor events captured or written here).

A seed is one event: the record lines (bytes, no newline) that share an event
id, in file order. Files whose records are embedded in YAML are read too
(leading indentation stripped); JSON golden files and READMEs are skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

Event = list[bytes]
OWN_RECORDS = Path(__file__).resolve().parent.parent / "data" / "records"

_EVENT_ID = re.compile(rb"msg=audit\((\d+\.\d+:\d+)\)")
_NODE = re.compile(rb"^node=(\S*) ")
# Where a record starts in a line (YAML files prefix it with indentation or "- ").
_RECORD_START = re.compile(rb"(?:node=\S* )?type=\S+ msg=audit\(")


def record_lines(path: Path) -> list[bytes]:
    """The audit record lines of one file, without comments, blanks or YAML indentation."""
    lines: list[bytes] = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.strip(b" \t\r")
        if not line or line.startswith(b"#"):
            continue
        start = _RECORD_START.search(line)
        if start is not None:
            lines.append(line[start.start():])
    return lines


def group_events(lines: list[bytes]) -> list[Event]:
    """Split lines into events by (node, event id), keeping first-seen order."""
    events: dict[tuple[bytes, bytes], Event] = {}
    for line in lines:
        m = _EVENT_ID.search(line)
        if m is None:
            continue
        node = _NODE.match(line)
        events.setdefault((node.group(1) if node else b"", m.group(1)), []).append(line)
    return list(events.values())


def log_files(logs_dir: Path) -> list[Path]:
    return sorted(p for p in logs_dir.rglob("*")
                  if p.is_file() and p.suffix in (".log", ".txt", ".yaml")
                  and p.name != "README.txt")


def generated_events(shared: Path, count: int, seed: int) -> list[Event]:
    """Events from the shared workload generator (plain and ENRICHED, with node=)."""
    tool = shared / "tools" / "gen_audit_log.py"
    events: list[Event] = []
    for extra in ([], ["--enriched", "--node", "fuzz-node"]):
        out = subprocess.run([sys.executable, str(tool), "--events", str(count),
                              "--seed", str(seed), *extra],
                             check=True, capture_output=True).stdout
        events += group_events([line for line in out.split(b"\n") if line])
    return events


def load_seeds(shared: Path, generated: int = 200, seed: int = 7) -> list[Event]:
    """Every event of every shared log, plus `generated` synthetic ones (x2 formats)."""
    events: list[Event] = []
    for path in log_files(shared / "logs") + sorted(OWN_RECORDS.glob("*.log")):
        events += group_events(record_lines(path))
    if generated:
        events += generated_events(shared, generated, seed)
    if not events:
        raise FileNotFoundError(f"no audit records found under {shared / 'logs'}")
    return events

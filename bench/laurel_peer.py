"""laurel (Debian package, 0.5.1) as the end-to-end peer: records on stdin, JSON lines
on stdout, with the same enrichment it does as an auditd plugin (pid/parent context)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .measure import Measured, run_measured

# laurel reads its whole configuration from one TOML file; `file = "-"` sends the
# JSON lines to stdout. Enrichment that reads /proc or the environment of the bench
# host (container, script, execve-env) is off so both sides do the same kind of work;
# pid enrichment (the parent's exe/comm/event id, laurel's "PPID") stays on.
LAUREL_CONFIG = """\
directory = "{directory}"
statusreport-period = 0

[auditlog]
{auditlog}

[transform]
execve-argv = [ "array" ]

[translate]
universal = false
user-db = false

[enrich]
pid = true
execve-env = []
container = false
script = false
"""


def laurel_config(directory: Path, auditlog: str) -> str:
    """LAUREL_CONFIG for `directory`, with `auditlog` the lines of its [auditlog] table."""
    return LAUREL_CONFIG.format(directory=directory, auditlog=auditlog)


@dataclass(frozen=True)
class LaurelRun:
    measured: Measured
    events_out: int     # JSON lines laurel wrote, one per event
    version: str


def laurel_path() -> str | None:
    return shutil.which("laurel") or (
        "/usr/sbin/laurel" if Path("/usr/sbin/laurel").exists() else None)


def laurel_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def run_laurel(log: Path, workdir: Path) -> LaurelRun:
    binary = laurel_path()
    if binary is None:
        raise RuntimeError("laurel not installed (tools/bootstrap.sh --bench installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "laurel.toml"
    config.write_text(laurel_config(workdir, 'file = "-"'))
    out_path = workdir / "laurel.jsonl"
    with open(log, "rb") as stdin, open(out_path, "wb") as stdout:
        measured = run_measured([binary, "--config", str(config)], stdin, stdout).check()
    with open(out_path, "rb") as f:
        events = sum(1 for line in f if line.startswith(b"{"))
    out_path.unlink()
    return LaurelRun(measured, events, laurel_version(binary))

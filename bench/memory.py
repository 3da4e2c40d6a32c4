"""Peak and steady memory of the plugin streaming millions of events from a pipe.

The stream is made on the fly by `python -m bench.workloads` (its own process, so its
memory is not counted), piped into `audisp-eql plugin`. RSS is sampled from /proc while
it runs; progress is the share of the stream the plugin had read (its rchar)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .ours import OursRun, run_plugin

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MemoryRun:
    kind: str
    exec_events: int
    run: OursRun

    @property
    def peak_mib(self) -> float:
        return self.run.measured.peak_kib / 1024

    def rss_mib_at(self, fraction: float) -> float:
        return self.run.measured.rss_at(fraction) / 1024


def stream_into_plugin(shared: Path, kind: str, exec_events: int, seed: int, workdir: Path,
                       rule_paths: Sequence[Path]) -> MemoryRun:
    generator = subprocess.Popen(
        [sys.executable, "-m", "bench.workloads", "--kind", kind, "--events", str(exec_events),
         "--seed", str(seed), "--shared", str(shared)],
        stdout=subprocess.PIPE, cwd=ROOT)
    assert generator.stdout is not None
    try:
        run = run_plugin(generator.stdout, workdir, rule_paths, parent_from_proc=False, sample=True)
    finally:
        generator.stdout.close()
        if generator.wait(timeout=60) not in (0, None):
            raise RuntimeError(f"stream generator ({kind}) exited {generator.returncode}")
    return MemoryRun(kind, exec_events, run)

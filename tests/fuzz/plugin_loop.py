"""Fuzz the whole plugin process: mutated events on its stdin, as auditd would write them.

The plugin runs as `audisp-eql plugin CONFIG` (a real process, real rules: the
seed rule plus a catch-all, so most process starts alert) with a JSON-lines
file output. It must stay alive for the whole stream, exit 0 at end of input,
and every line it writes (alerts file, stderr diagnostics) must be one safe line.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import SEED, SHARED
from fuzz.catchall import write_catchall
from fuzz.mutators import Mutator
from fuzz.pipeline import FORBIDDEN
from fuzz.seeds import load_seeds
from harness.plugin_config import plugin_argv, write_plugin_config

CHUNK_INPUTS = 200   # events per write; auditd writes whatever it has


@dataclass
class PluginReport:
    inputs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    exit_code: int | None = None
    died_early: bool = False
    alerts: int = 0
    unsafe_lines: list[str] = field(default_factory=list)
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.died_early and not self.unsafe_lines

    def summary(self) -> str:
        state = "ok" if self.ok else "FAILED"
        text = (f"plugin process:        {self.inputs} inputs ({self.bytes / 1e6:.1f} MB) in "
                f"{self.seconds:.1f} s, exit {self.exit_code}, alerts written {self.alerts}, "
                f"unsafe lines {len(self.unsafe_lines)}: {state}")
        if not self.ok:
            text += "\n" + "\n".join(self.unsafe_lines[:5]) + "\nstderr: " + self.stderr_tail
        return text


def plugin_config(directory: Path, alerts: Path, rules: list[Path]) -> Path:
    return write_plugin_config(directory, rules, alerts, burst=0, parent_from_proc=False,
                               file_mode="0600")


def fuzz_plugin_process(inputs: int, seed: int, crash_dir: Path) -> PluginReport:
    report = PluginReport()
    mutator = Mutator(random.Random(seed), load_seeds(SHARED))
    workdir = Path(tempfile.mkdtemp(prefix="audisp-eql-fuzz-plugin-"))
    try:
        alerts = workdir / "alerts.json"
        rules_dir = workdir / "rules"
        rules_dir.mkdir(mode=0o755)
        write_catchall(rules_dir)
        config = plugin_config(workdir, alerts, [SEED, rules_dir])
        stderr_path = workdir / "stderr"
        t0 = time.monotonic()
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(plugin_argv(config), stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                sent_log = crash_dir / "plugin-stream.last"
                recent: list[bytes] = []
                while report.inputs < inputs:
                    batch = [b"\n".join(mutator()) + b"\n" for _ in range(CHUNK_INPUTS)]
                    chunk = b"".join(batch)
                    recent = (recent + [chunk])[-5:]
                    try:
                        proc.stdin.write(chunk)  # type: ignore[union-attr]
                        proc.stdin.flush()       # type: ignore[union-attr]
                    except BrokenPipeError:
                        report.died_early = True
                        crash_dir.mkdir(parents=True, exist_ok=True)
                        sent_log.write_bytes(b"".join(recent))
                        break
                    report.inputs += len(batch)
                    report.bytes += len(chunk)
                proc.stdin.close()  # type: ignore[union-attr]
                report.exit_code = proc.wait(timeout=600)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        report.seconds = time.monotonic() - t0
        report.stderr_tail = stderr_path.read_bytes()[-2000:].decode("utf-8", "replace")
        for name, path in (("alerts", alerts), ("stderr", stderr_path)):
            if not path.exists():
                continue
            for line in path.read_bytes().split(b"\n"):
                text = line.decode("utf-8", "surrogateescape")
                bad = FORBIDDEN.search(text)
                if bad is not None:
                    report.unsafe_lines.append(f"{name}: raw {bad.group()!r} in {text[:200]!r}")
                elif name == "alerts" and line:
                    try:
                        json.loads(text)
                    except ValueError as err:
                        report.unsafe_lines.append(f"alerts: not JSON ({err}): {text[:200]!r}")
                        continue
                    report.alerts += 1
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

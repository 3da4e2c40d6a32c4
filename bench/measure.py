"""Run one process under measurement: wall time, CPU, peak RSS (its own rusage via
wait4, so earlier children do not pollute it), and RSS/read-progress samples from /proc."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping, Sequence

SAMPLE_PERIOD_S = 0.05


@dataclass(frozen=True)
class Sample:
    t_s: float          # since start
    rss_kib: int        # VmRSS
    hwm_kib: int        # VmHWM: peak RSS since exec
    read_bytes: int     # rchar: bytes the process has read so far (its stdin, mostly)


@dataclass
class Measured:
    argv: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kib: int
    samples: list[Sample] = field(default_factory=list)
    stderr_tail: str = ""

    def check(self) -> "Measured":
        if self.returncode != 0:
            raise RuntimeError(f"{self.argv[0]} exited {self.returncode}: {self.stderr_tail}")
        return self

    @property
    def peak_kib(self) -> int:
        """Peak RSS of the program itself. ru_maxrss also counts the forked copy of the
        (big) bench process before exec; VmHWM starts again at exec."""
        if self.samples:
            return max(s.hwm_kib for s in self.samples)
        return self.maxrss_kib

    def rss_at(self, fraction: float) -> int:
        """VmRSS when the process had read `fraction` of everything it read in the run."""
        if not self.samples:
            return 0
        total = max(s.read_bytes for s in self.samples) or 1
        for s in self.samples:
            if s.read_bytes >= fraction * total:
                return s.rss_kib
        return self.samples[-1].rss_kib


def _read_status(pid: int) -> tuple[int, int, int] | None:
    try:
        rss = hwm = 0
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                    break
        with open(f"/proc/{pid}/io", "rb") as f:
            for line in f:
                if line.startswith(b"rchar:"):
                    return rss, hwm, int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sampler(pid: int, start: float, out: list[Sample], stop: threading.Event) -> None:
    while not stop.is_set():
        got = _read_status(pid)
        if got is not None and got[0] > 0:  # 0 once the process is a zombie
            out.append(Sample(time.monotonic() - start, *got))
        stop.wait(SAMPLE_PERIOD_S)


def run_measured(argv: Sequence[str], stdin: IO[bytes] | int | None, stdout: IO[bytes] | int | None,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 sample: bool = False) -> Measured:
    """Start argv, wait for it, and measure only that process (and what it waited for)."""
    stderr_path = Path(f"/tmp/audisp-eql-bench-stderr.{os.getpid()}.{time.monotonic_ns()}")
    with open(stderr_path, "w+b") as err:
        start = time.monotonic()
        proc = subprocess.Popen(list(argv), stdin=stdin, stdout=stdout, stderr=err,
                                env=dict(env) if env is not None else None, cwd=cwd)
        samples: list[Sample] = []
        stop = threading.Event()
        thread = threading.Thread(target=_sampler, args=(proc.pid, start, samples, stop), daemon=True)
        if sample:
            thread.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.monotonic() - start
        stop.set()
        if sample:
            thread.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    stderr_path.unlink(missing_ok=True)
    # ru_maxrss is in KiB on Linux.
    return Measured(list(argv), proc.returncode, wall, usage.ru_utime, usage.ru_stime,
                    usage.ru_maxrss, samples, tail)

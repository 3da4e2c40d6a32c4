"""What each audit rule profile (conf/profiles/) costs: under a real auditd with
the plugin (every corpus rule and our pack), one fixed workload runs with the
exec profile alone, then with exec plus each other profile, then with all.

The workload (as the same login uid, so that only its own events count,
whatever else the machine does):
  package   dpkg --unpack of a small package (anacron: cron and systemd files,
            /etc/init.d) and dpkg --purge; fetched beforehand with apt-get download
            (left out, and said so, when the package is installed or cannot be fetched)
  compile   gcc -c of a small C file, 50 times
  web       python3 -m http.server on 127.0.0.1, fetched by curl 500 times

Per configuration: the records auditd wrote for the workload's events, per
second of workload; auditd's and the plugin's CPU time while it ran and drained.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tests.harness import plugin_config as harness_config
from tests.harness.profiles import (events_of_login_uid, keep_login_uid, profile_rules,
                                    records_written)

from .live import _cpu_seconds
from .ours import write_plugin_config

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "anacron"
COMPILES, FETCHES = 50, 500
CONFIGURATIONS = (("exec",), ("exec", "files"), ("exec", "network"), ("exec", "modules"),
                  ("exec", "process"), ("exec", "files", "network", "modules", "process"))
C_SOURCE = """#include <stdio.h>
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(void) { printf("%d\\n", fib(20)); return 0; }
"""


@dataclass
class ProfileRun:
    profiles: tuple[str, ...]
    seconds: float
    records: int
    by_part: dict[str, int] = field(default_factory=dict)
    auditd_cpu_s: float = 0.0
    plugin_cpu_s: float = 0.0

    @property
    def name(self) -> str:
        return "+".join(self.profiles)

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


class Workload:
    """The fixed workload, run as LOGIN_UID; `parts` says what could run here."""

    def __init__(self, workdir: Path, log: Callable[[str], None]) -> None:
        self.workdir = workdir
        self.log = log
        (workdir / "fib.c").write_text(C_SOURCE)
        self.deb = self._fetch_package()
        self.parts = (["package"] if self.deb else []) + ["compile", "web"]

    def _fetch_package(self) -> Path | None:
        installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE],
                                   capture_output=True, text=True).stdout
        if "install ok installed" in installed:
            self.log(f"profiles: {PACKAGE} is installed here: no package part")
            return None
        fetch = subprocess.run(["apt-get", "download", PACKAGE], cwd=self.workdir,
                               capture_output=True, text=True, timeout=300)
        found = sorted(self.workdir.glob(f"{PACKAGE}_*.deb"))
        if fetch.returncode != 0 or not found:
            self.log(f"profiles: apt-get download {PACKAGE} failed: no package part "
                     f"({fetch.stderr.strip()[:200]})")
            return None
        return found[0]

    def _run(self, argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), preexec_fn=keep_login_uid, capture_output=True,
                              timeout=600, cwd=self.workdir, **kw)

    def _dpkg(self, *args: str) -> None:
        # Other jobs on the machine may hold dpkg's lock for a while: wait (bounded).
        for _ in range(120):
            done = self._run(["dpkg", *args], env={**os.environ, "DEBIAN_FRONTEND":
                                                   "noninteractive"})
            if done.returncode == 0:
                return
            if b"lock" not in done.stderr:
                raise RuntimeError(f"dpkg {' '.join(args)}: {done.stderr.decode()[-300:]}")
            time.sleep(1)
        raise RuntimeError("dpkg lock held for 2 minutes")

    def run(self, part: str) -> None:
        if part == "package":
            assert self.deb is not None
            try:
                self._dpkg("--unpack", str(self.deb))
            finally:
                self._dpkg("--purge", PACKAGE)
        elif part == "compile":
            self._run(["bash", "-c", f"for i in $(seq {COMPILES}); do gcc -O2 -c fib.c -o "
                       f"fib.o || exit 1; done"], check=True)
        elif part == "web":
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            server = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1",
                                       str(port)], cwd=self.workdir, preexec_fn=keep_login_uid,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                self._run(["bash", "-c", f"for i in $(seq 100); do curl -s -o /dev/null "
                           f"http://127.0.0.1:{port}/ && break; sleep 0.1; done; "
                           f"for i in $(seq {FETCHES}); do curl -s -o /dev/null "
                           f"http://127.0.0.1:{port}/fib.c; done"], check=True)
            finally:
                server.terminate()
                server.wait(10)


def _settled(ad, plugin_pids: list[int], quiet_s: float = 1.5, limit_s: float = 120.0) -> None:
    """Wait until auditd writes nothing new and the plugin uses no more CPU."""
    out = ad.directory / "auditd.stderr"
    deadline = time.monotonic() + limit_s
    last = (-1, -1.0)
    since = time.monotonic()
    while time.monotonic() < deadline:
        now = (out.stat().st_size, sum(_cpu_seconds(p) for p in plugin_pids))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.25)


def _records(text: str) -> int:
    return sum(1 for line in events_of_login_uid(text).splitlines() if line)


def run_profiles(workdir: Path, rule_paths: Sequence[Path],
                 log: Callable[[str], None]) -> tuple[list[ProfileRun], list[str]]:
    sys.path.insert(0, str(ROOT))
    from tests.harness.auditd import auditctl, running_auditd

    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)       # the workload's tools read files here
    plugin_dir = workdir / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    os.chmod(plugin_dir, 0o700)
    config = write_plugin_config(plugin_dir, rule_paths, plugin_dir / "alerts.jsonl",
                                 parent_from_proc=True)
    dropin = harness_config.dropin_text(Path(sys.executable).parent / "audisp-eql", config)
    workload = Workload(workdir, log)
    results: list[ProfileRun] = []
    if True:
        with running_auditd(workdir, plugins={"audisp-eql": dropin}) as ad:
            auditctl("-b", "8192")
            deadline = time.monotonic() + 30
            while not ad.children() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3)    # the plugin loads its rules
            plugin_pids = ad.children()
            for profiles in CONFIGURATIONS:
                auditctl("-D")
                for rule in profile_rules(list(profiles)):
                    auditctl(*rule.split())
                run = ProfileRun(profiles, 0.0, 0)
                _settled(ad, plugin_pids)
                cpu = (_cpu_seconds(ad.pid), sum(_cpu_seconds(p) for p in plugin_pids))
                for part in workload.parts:
                    before = len(records_written(ad.directory))
                    t0 = time.monotonic()
                    workload.run(part)
                    run.seconds += time.monotonic() - t0
                    _settled(ad, plugin_pids)
                    run.by_part[part] = _records(records_written(ad.directory)[before:])
                run.records = sum(run.by_part.values())
                run.auditd_cpu_s = _cpu_seconds(ad.pid) - cpu[0]
                run.plugin_cpu_s = sum(_cpu_seconds(p) for p in plugin_pids) - cpu[1]
                log(f"profiles: {run.name}: {run.records} records in {run.seconds:.1f} s "
                    f"{run.by_part}; auditd {run.auditd_cpu_s:.2f} s, plugin "
                    f"{run.plugin_cpu_s:.2f} s CPU")
                results.append(run)
    return results, workload.parts

"""Live exec rate under a real auditd (private config, foreground, plugin = audisp-eql).

For each target rate, bench/loadgen (compiled here) starts /bin/true with a marker
argument at that rate; an audit rule limited to the loadgen's children (-F ppid=PID)
sends each exec to auditd, which dispatches it to the plugin; a bench rule alerts on
the marker. A step holds when auditd saw no plugin queue overflow (its state report
and its own messages), the kernel lost nothing, and every exec became an alert.

The kernel's audit state is restored on the way out: rules deleted, auditing off,
backlog limit as found, auditd stopped by PID (tests/harness/auditd.py does most).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tests.harness import plugin_config as harness_config

from .ours import write_plugin_config

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = Path("/var/run/auditd.state")
QUEUE_FULL = "queue to plugins is full"
TRUE = "/bin/true"
BENCH_RULE_ID = "7d3c1a52-audisp-eql-bench-load"


@dataclass(frozen=True)
class StepResult:
    target_rate: float
    seconds: float
    spawned: int
    achieved_rate: float
    alerts: int
    overflow: bool
    max_queue_depth: int
    queue_full_messages: int
    kernel_lost: int
    plugin_cpu_s: float
    drain_s: float

    @property
    def held(self) -> bool:
        return (not self.overflow and self.kernel_lost == 0 and self.queue_full_messages == 0
                and self.spawned > 0 and self.alerts == self.spawned)


def compile_loadgen(workdir: Path) -> Path:
    binary = workdir / "loadgen"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(binary), str(ROOT / "bench" / "loadgen.c")],
                   check=True)
    return binary


def write_bench_rule(directory: Path, marker_prefix: str) -> Path:
    """A rule that fires on every exec of the load, so the output counts them."""
    rule = directory / "bench_load.toml"
    rule.write_text(
        "[metadata]\nmaturity = \"production\"\n\n[rule]\n"
        f'rule_id = "{BENCH_RULE_ID}"\n'
        'name = "audisp-eql benchmark load process"\n'
        'description = "Every process the live benchmark starts."\n'
        'type = "eql"\nlanguage = "eql"\nrisk_score = 1\nseverity = "low"\n'
        f"query = '''\nprocess where process.args : \"{marker_prefix}*\"\n'''\n")
    os.chmod(rule, 0o600)
    return rule


def dropin_text(config: Path) -> str:
    # auditd starts the plugin with an empty environment; the console script's
    # shebang names the venv interpreter.
    return harness_config.dropin_text(Path(sys.executable).parent / "audisp-eql", config)


def read_state(auditd_pid: int) -> dict[str, str]:
    """auditd dumps its internal state to /var/run/auditd.state on SIGCONT."""
    before = STATE_FILE.stat().st_mtime_ns if STATE_FILE.exists() else 0
    os.kill(auditd_pid, signal.SIGCONT)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if STATE_FILE.exists() and STATE_FILE.stat().st_mtime_ns != before:
            break
        time.sleep(0.05)
    time.sleep(0.1)  # let it finish writing
    state: dict[str, str] = {}
    try:
        for line in STATE_FILE.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(" = ")
            if sep:
                state[key.strip()] = value.strip()
    except OSError:
        pass
    return state


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _count_marker(alerts: Path, marker: str) -> int:
    if not alerts.exists():
        return 0
    needle = marker.encode()
    with open(alerts, "rb") as f:
        return sum(1 for line in f if needle in line and BENCH_RULE_ID.encode() in line)


def drive_load(loadgen: Path, rate: float, seconds: float, marker: str,
               auditctl: Callable[..., str]) -> dict[str, str]:
    """Run the load generator at `rate` for `seconds`, its execs (and only
    theirs: an audit rule on its pid as parent) audited meanwhile; the
    figures it reports (spawned=N ...)."""
    proc = subprocess.Popen([str(loadgen), str(rate), str(seconds), TRUE, marker],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rule = f"-a always,exit -F arch=b64 -S execve -F ppid={proc.pid} -k audisp-eql-bench"
    try:
        auditctl(*rule.split())
        out, _ = proc.communicate("go\n", timeout=seconds * 4 + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        auditctl(*rule.replace("-a always,exit", "-d always,exit").split(), check=False)
    return dict(re.findall(r"(\w+)=([\d.]+)", out))


def run_step(ad, loadgen: Path, alerts: Path, rate: float, seconds: float,
             marker: str, auditctl: Callable[..., str], audit_status: Callable[[], dict]) -> StepResult:
    plugin_pids = ad.children()
    cpu_before = sum(_cpu_seconds(p) for p in plugin_pids)
    lost_before = int(audit_status().get("lost", "0"))
    full_before = ad.stderr_text().count(QUEUE_FULL)
    fields = drive_load(loadgen, rate, seconds, marker, auditctl)
    spawned = int(fields.get("spawned", 0))
    # The plugin drains what auditd queued; wait until every exec is counted or
    # the count stops moving for a few seconds.
    drain_start = time.monotonic()
    last, still_since = -1, time.monotonic()
    while True:
        count = _count_marker(alerts, marker)
        if count >= spawned:
            break
        if count != last:
            last, still_since = count, time.monotonic()
        elif time.monotonic() - still_since > 5:
            break
        time.sleep(0.25)
    drain = time.monotonic() - drain_start
    state = read_state(ad.pid)
    return StepResult(
        target_rate=rate, seconds=float(fields.get("seconds", 0.0)), spawned=spawned,
        achieved_rate=float(fields.get("rate", 0.0)), alerts=count,
        overflow=state.get("plugin queue overflow detected", "no") != "no",
        max_queue_depth=int(state.get("max plugin queue depth used", "0") or 0),
        queue_full_messages=ad.stderr_text().count(QUEUE_FULL) - full_before,
        kernel_lost=int(audit_status().get("lost", "0")) - lost_before,
        plugin_cpu_s=sum(_cpu_seconds(p) for p in plugin_pids) - cpu_before,
        drain_s=drain)


def loadgen_ceiling(loadgen: Path, seconds: float = 3.0) -> float:
    """What the load generator reaches with no auditing at all: the machine's limit."""
    out = subprocess.run([str(loadgen), "1000000", str(seconds), TRUE, "ceiling"],
                         input="go\n", capture_output=True, text=True, check=True).stdout
    return float(dict(re.findall(r"(\w+)=([\d.]+)", out)).get("rate", 0.0))


def run_live(workdir: Path, rule_paths: Sequence[Path], rates: Sequence[float],
             seconds: Sequence[float], log: Callable[[str], None]) -> tuple[list[StepResult], float]:
    """Step through `rates`; stop after the first step that does not hold or that the
    load generator could not reach (a higher target would not be reached either)."""
    sys.path.insert(0, str(ROOT))
    from tests.harness.auditd import audit_status, auditctl, running_auditd

    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    loadgen = compile_loadgen(workdir)
    ceiling = loadgen_ceiling(loadgen)
    log(f"live: load generator ceiling without audit: {ceiling:.0f} execs/s")
    marker_prefix = f"audisp-eql-bench-{uuid.uuid4().hex[:8]}-"
    plugin_dir = workdir / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    os.chmod(plugin_dir, 0o700)
    bench_rule = write_bench_rule(plugin_dir, marker_prefix)
    alerts = plugin_dir / "alerts.jsonl"
    config = write_plugin_config(plugin_dir, [*rule_paths, bench_rule], alerts, parent_from_proc=True)
    backlog_before = audit_status().get("backlog_limit")
    results: list[StepResult] = []
    try:
        with running_auditd(workdir, plugins={"audisp-eql": dropin_text(config)}) as ad:
            # The kernel's default backlog (64 here) would drop records before auditd
            # ever saw them; the plugin is what is measured, not that queue.
            auditctl("-b", "8192")
            deadline = time.monotonic() + 30
            while not ad.children() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # the plugin loads its rules before it reads
            for rate, step_s in zip(rates, seconds):
                log(f"live: {rate:.0f} execs/s for {step_s:.0f} s")
                step = run_step(ad, loadgen, alerts, rate, step_s, f"{marker_prefix}{int(rate)}",
                                auditctl, audit_status)
                log(f"live: {step}")
                results.append(step)
                if not step.held or step.achieved_rate < 0.9 * rate:
                    break
    finally:
        if backlog_before:
            auditctl("-b", backlog_before, check=False)
    return results, ceiling

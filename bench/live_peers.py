"""Both plugins on one private auditd: audisp-eql and laurel see the same execs.

One auditd (foreground, private config dir; tests/harness/auditd.py) starts both
plugins: audisp-eql with the corpus rules and rules/ as the plugin loads them
(directories), plus a bench rule that alerts on every load exec so its output
counts them; laurel (Debian's package) with a private config and output dir.
Then:

  idle   no audit rule, no load, `idle_seconds`: each plugin's CPU when nothing
         happens (wake-ups, timers, status lines).
  steps  bench/loadgen starts /bin/true with a marker argument at a rate for a
         time; an audit rule limited to its children (-F ppid=PID) sends the
         execs to auditd. A step ends when both outputs hold every exec (or stop
         growing); each plugin's CPU over the step, drain included, divided by
         the execs is its cost per exec.

CPU = utime + stime + cutime + cstime of each plugin process (/proc/PID/stat):
every thread, and children it waited for. The kernel's audit state is restored
on the way out (rules deleted, auditing off, backlog limit as found, auditd
stopped by PID).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .laurel_peer import laurel_config as peer_config
from .laurel_peer import laurel_path
from .live import (QUEUE_FULL, compile_loadgen, drive_load, dropin_text, loadgen_ceiling,
                   read_state, write_bench_rule)
from .ours import write_plugin_config

ROOT = Path(__file__).resolve().parent.parent
# The plugin's shipped status interval (conf/audisp-eql.toml): idle CPU as installed.
STATUS_INTERVAL = 300.0
SETTLE_SECONDS = 2.0        # a plugin is ready when its CPU stood still this long
SETTLE_DEADLINE = 120.0     # rule loading on a busy 2-core machine
STALL_SECONDS = 5.0         # a drain ends when neither output grew for this long

# laurel as the e2e peer runs it (bench/laurel_peer.py: pid enrichment on, nothing
# read from /proc or the environment beyond that), writing to a private directory.
LAUREL_AUDITLOG = 'file = "audit.log"\nsize = 4000000000\ngenerations = 2'


def laurel_dropin(binary: str, config: Path) -> str:
    return ("active = yes\ndirection = out\n"
            f"path = {binary}\ntype = always\nformat = string\nargs = --config {config}\n")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid` (all threads, waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def count_marker(path: Path, marker: bytes, also: bytes = b"") -> int:
    """Lines of `path` holding `marker` (and `also`)."""
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if marker in line and also in line)


@dataclass(frozen=True)
class PeerStep:
    name: str                 # "idle" or the target rate
    target_rate: float
    seconds: float            # load (or idle) duration
    spawned: int
    achieved_rate: float
    seen: dict[str, int]      # execs each plugin's output holds
    cpu_s: dict[str, float]   # CPU each plugin spent over the step and its drain
    drain_s: float
    overflow: bool
    queue_full_messages: int
    kernel_lost: int

    def held(self, plugin: str) -> bool:
        return (self.spawned > 0 and self.seen.get(plugin, 0) == self.spawned
                and not self.overflow and self.queue_full_messages == 0
                and self.kernel_lost == 0)

    def us_per_exec(self, plugin: str) -> float:
        return 1e6 * self.cpu_s[plugin] / self.spawned if self.spawned else float("nan")

    def core_pct(self, plugin: str) -> float:
        return 100 * self.cpu_s[plugin] / max(self.seconds, 1e-9)


@dataclass
class PeersRun:
    ceiling: float
    laurel_version: str
    idle: list[PeerStep] = field(default_factory=list)
    steps: list[PeerStep] = field(default_factory=list)


@dataclass(frozen=True)
class Plugins:
    pids: dict[str, int]        # "ours", "laurel" -> pid
    outputs: dict[str, Path]    # where each writes its events/alerts
    also: dict[str, bytes]      # a second needle per output (our bench rule's id)


def _identify(children: Sequence[int], laurel_binary: str) -> dict[str, int]:
    pids: dict[str, int] = {}
    for pid in children:
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        pids["laurel" if os.path.realpath(exe) == os.path.realpath(laurel_binary) else "ours"] = pid
    return pids


def _settle(pids: dict[str, int], log: Callable[[str], None]) -> None:
    """Wait until every plugin has done its start-up work (rule loading)."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    last = {name: -1.0 for name in pids}
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        now = {name: cpu_seconds(pid) for name, pid in pids.items()}
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= SETTLE_SECONDS:
            log("live_peers: plugins ready, start-up CPU "
                + ", ".join(f"{k} {v:.2f} s" for k, v in now.items()))
            return
        time.sleep(0.2)
    log("live_peers: plugins still busy after the settle deadline; measuring anyway")


def measure_idle(plugins: Plugins, seconds: float) -> PeerStep:
    before = {name: cpu_seconds(pid) for name, pid in plugins.pids.items()}
    time.sleep(seconds)
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in plugins.pids.items()}
    return PeerStep("idle", 0.0, seconds, 0, 0.0, {}, spent, 0.0, False, 0, 0)


def run_step(ad, plugins: Plugins, loadgen: Path, rate: float, seconds: float, marker: str,
             auditctl: Callable[..., str], audit_status: Callable[[], dict]) -> PeerStep:
    before = {name: cpu_seconds(pid) for name, pid in plugins.pids.items()}
    lost_before = int(audit_status().get("lost", "0"))
    full_before = ad.stderr_text().count(QUEUE_FULL)
    fields = drive_load(loadgen, rate, seconds, marker, auditctl)
    spawned = int(fields.get("spawned", 0))
    needle = marker.encode()
    drain_start = time.monotonic()
    last: dict[str, int] = {}
    still_since = time.monotonic()
    while True:
        seen = {name: count_marker(path, needle, plugins.also.get(name, b""))
                for name, path in plugins.outputs.items()}
        if all(n >= spawned for n in seen.values()):
            break
        if seen != last:
            last, still_since = seen, time.monotonic()
        elif time.monotonic() - still_since > STALL_SECONDS:
            break
        time.sleep(0.25)
    drain = time.monotonic() - drain_start
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in plugins.pids.items()}
    state = read_state(ad.pid)
    return PeerStep(
        name=str(int(rate)), target_rate=rate, seconds=float(fields.get("seconds", 0.0)),
        spawned=spawned, achieved_rate=float(fields.get("rate", 0.0)), seen=seen, cpu_s=spent,
        drain_s=drain, overflow=state.get("plugin queue overflow detected", "no") != "no",
        queue_full_messages=ad.stderr_text().count(QUEUE_FULL) - full_before,
        kernel_lost=int(audit_status().get("lost", "0")) - lost_before)


def _private(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def run_live_peers(workdir: Path, rule_paths: Sequence[Path], low_rate: float,
                   low_seconds: float, high_rates: Sequence[float], high_seconds: float,
                   idle_seconds: float, log: Callable[[str], None]) -> PeersRun:
    """Idle, then `low_rate` for `low_seconds`, then `high_rates` in turn for
    `high_seconds` each until a step that either plugin does not hold or the load
    generator cannot reach."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.harness.auditd import audit_status, auditctl, running_auditd
    from .laurel_peer import laurel_version

    binary = laurel_path()
    if binary is None:
        raise RuntimeError("laurel not installed (tools/bootstrap.sh --bench installs it)")
    workdir = _private(workdir)
    loadgen = compile_loadgen(workdir)
    ceiling = loadgen_ceiling(loadgen)
    log(f"live_peers: load generator ceiling without audit: {ceiling:.0f} execs/s")
    marker_prefix = f"audisp-eql-bench-{uuid.uuid4().hex[:8]}-"
    ours_dir, laurel_dir = _private(workdir / "ours"), _private(workdir / "laurel")
    bench_rule = write_bench_rule(ours_dir, marker_prefix)
    alerts = ours_dir / "alerts.jsonl"
    config = write_plugin_config(ours_dir, [*rule_paths, bench_rule], alerts,
                                 parent_from_proc=True)
    # write_plugin_config turns the periodic status line off; the shipped config has it.
    config.write_text(config.read_text().replace("status_interval = 0",
                                                 f"status_interval = {STATUS_INTERVAL:g}"))
    laurel_config = laurel_dir / "laurel.toml"
    laurel_config.write_text(peer_config(laurel_dir, LAUREL_AUDITLOG))
    os.chmod(laurel_config, 0o600)
    result = PeersRun(ceiling, laurel_version(binary))
    backlog_before = audit_status().get("backlog_limit")
    dropins = {"audisp-eql": dropin_text(config), "laurel": laurel_dropin(binary, laurel_config)}
    try:
        with running_auditd(workdir, plugins=dropins) as ad:
            # The kernel's default backlog would drop records before auditd saw them.
            auditctl("-b", "8192")
            deadline = time.monotonic() + 30
            while len(ad.children()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            pids = _identify(ad.children(), binary)
            if set(pids) != {"ours", "laurel"}:
                raise RuntimeError(f"auditd started {pids}, not both plugins:\n{ad.stderr_text()}")
            plugins = Plugins(pids, {"ours": alerts, "laurel": laurel_dir / "audit.log"},
                              {"ours": b"audisp-eql-bench-load"})
            _settle(pids, log)
            log(f"live_peers: idle for {idle_seconds:.0f} s")
            result.idle.append(measure_idle(plugins, idle_seconds))
            log(f"live_peers: {result.idle[-1]}")
            for rate, step_s in [(low_rate, low_seconds)] + [(r, high_seconds) for r in high_rates]:
                log(f"live_peers: {rate:.0f} execs/s for {step_s:.0f} s")
                step = run_step(ad, plugins, loadgen, rate, step_s,
                                f"{marker_prefix}{int(rate)}", auditctl, audit_status)
                log(f"live_peers: {step}")
                result.steps.append(step)
                if rate != low_rate and (not all(step.held(p) for p in pids)
                                         or step.achieved_rate < 0.9 * rate):
                    break
    finally:
        if backlog_before:
            auditctl("-b", backlog_before, check=False)
    return result

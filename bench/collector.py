"""The collector section of `make bench`: one collector's plugin instances
(shard = "k/N") over a replay of many nodes (bench/fleet.py), each fed the
whole replay on stdin as a collector's auditd feeds every plugin, all N at
once on this machine's cores (2 here).

Figures, for N = 1, 2, 4:
  collector_shards{N}_events_per_s   the replay's events / wall time until
                                     every instance is done (the collector's rate)
  collector_shards{N}_cpu_s_per_shard CPU seconds of the busiest instance (user+sys)
  collector_shards{N}_events_per_cpu_s the replay's events / all instances' CPU seconds
and collector_python_parser_events_per_s: one instance with parser = "python"
(the per-node grouping in Python instead of auparse) on the same replay.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path
from typing import Sequence

from tests.harness import plugin_config as harness_config

from .fleet import fleet_log, node_names
from .report import Report

SHARD_COUNTS = (1, 2, 4)


def _config(workdir: Path, rules: Sequence[Path], name: str, extra: str) -> tuple[Path, Path]:
    alerts = workdir / f"alerts-{name}.jsonl"
    alerts.unlink(missing_ok=True)
    config = harness_config.write_plugin_config(workdir, rules, alerts, burst=0,
                                                parent_from_proc=False, plugin_extra=extra,
                                                name=f"{name}.toml")
    return config, alerts


def _alert_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def run_instances(replay: Path, workdir: Path, rules: Sequence[Path],
                  extras: Sequence[str]) -> tuple[float, list[float], int]:
    """Start one plugin per `extras` entry ([plugin] lines) at once, each reading
    the whole replay; (wall seconds, CPU seconds of each, alerts of all)."""
    procs = []
    outputs = []
    started = time.monotonic()
    for index, extra in enumerate(extras):
        config, alerts = _config(workdir, rules, f"instance{index}", extra)
        outputs.append(alerts)
        with open(replay, "rb") as stdin:
            procs.append(subprocess.Popen(harness_config.plugin_argv(config), stdin=stdin,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    cpu: dict[int, float] = {}
    errors: list[str] = []
    for proc in procs:
        # wait4: this child's own rusage, so that each instance's CPU is its own.
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu[proc.pid] = usage.ru_utime + usage.ru_stime
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode != 0:
            errors.append(f"exit {proc.returncode}: {stderr[-400:]}")
        if proc.stderr:
            proc.stderr.close()
    wall = time.monotonic() - started
    if errors:
        raise RuntimeError("; ".join(errors))
    alerts = sum(_alert_count(path) for path in outputs)
    for path in outputs:
        path.unlink(missing_ok=True)
    return wall, [cpu[p.pid] for p in procs], alerts


def collector(args: argparse.Namespace, report: Report, workdir: Path,
              rules: Sequence[Path]) -> None:
    names = node_names(args.collector_nodes)
    replay = workdir / "fleet.log"
    replay.write_bytes(fleet_log(args.shared, names, args.collector_events, args.seed))
    events = args.collector_nodes * args.collector_events
    note = (f"{args.collector_nodes} nodes x {args.collector_events} exec events, interleaved "
            f"by record; {len(rules)} rules; {os.cpu_count()} cores")
    alerts_of_one = None
    for count in SHARD_COUNTS:
        extras = [f'shard = "{k}/{count}"' for k in range(1, count + 1)]
        report.log(f"collector: {count} instance(s) over {events} events")
        wall, cpu, alerts = run_instances(replay, workdir, rules, extras)
        if alerts_of_one is None:
            alerts_of_one = alerts
        elif alerts != alerts_of_one:
            raise RuntimeError(f"{count} shards wrote {alerts} alerts, one instance "
                               f"{alerts_of_one}: the shards do not add up")
        report.add(f"collector_shards{count}_events_per_s", events / wall, "events/s",
                   f"{note}; wall {wall:.1f} s; {alerts} alerts")
        report.add(f"collector_shards{count}_cpu_s_per_shard", max(cpu), "s",
                   "busiest instance; all: " + ", ".join(f"{c:.1f}" for c in cpu))
        report.add(f"collector_shards{count}_events_per_cpu_s", events / sum(cpu), "events/s",
                   "replay events / CPU seconds of all instances together")
    wall, cpu, alerts = run_instances(replay, workdir, rules, ['parser = "python"'])
    report.add("collector_python_parser_events_per_s", events / wall, "events/s",
               f"one instance, parser = \"python\"; CPU {cpu[0]:.1f} s; {alerts} alerts")
    replay.unlink(missing_ok=True)

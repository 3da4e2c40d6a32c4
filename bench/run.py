#!/usr/bin/env python3
"""`make bench`: audisp-eql's figures, each as one `BENCH name=... value=... unit=...`
line on stdout as it is measured, then a human table. Progress goes to stderr.

Sections (all by default; --only/--skip pick):
  e2e     audisp-eql plugin vs laurel, end to end on the same files (shared + mixed workload)
  eval    our rule evaluation alone vs the `eql` package, same ECS documents
  load    rule load time for every corpus rule (351), in a fresh interpreter
  memory  peak RSS and RSS at 10/50/100% while streaming millions of events from a pipe
  sequences  e2e cost of the corpus' sequences (28 process-only, all 78) over the 205
          single-event rules, and peak RSS under 1,000,000 new first steps
  live    exec rate held under a real auditd with the plugin (root; several minutes)
  live_peers  audisp-eql and laurel on one auditd, same execs: CPU per exec at ~300/s
          and at rising rates, and idle CPU (root; ~5 minutes)
  collector  1, 2 and 4 shard instances of one collector over a 50-node replay, at once
  profiles  audit records/s and auditd + plugin CPU each audit rule profile adds under a
          fixed workload (package unpack, compiles, a web server under curl; root)

A section that cannot run here prints `BENCH-SKIP section=... reason=...`; one that
fails prints `BENCH-ERROR ...` and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import sections  # noqa: E402
from bench.report import Report  # noqa: E402

SECTIONS: dict[str, Callable[[argparse.Namespace, Report, Path], None]] = {
    "e2e": sections.end_to_end,
    "eval": sections.evaluation,
    "load": sections.rule_load,
    "memory": sections.memory,
    "sequences": sections.sequences,
    "live": sections.live,
    "live_peers": sections.live_peers,
    "collector": sections.collector,
    "profiles": sections.profiles,
}


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _float_list(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--events", type=int, default=200_000,
                   help="exec events of the shared workload (default 200000)")
    p.add_argument("--mixed-events", type=int, default=40_000,
                   help="exec events of the mixed workload, ~18%% of its events (default 40000)")
    p.add_argument("--eval-events", type=int, default=20_000,
                   help="documents our engine evaluates (default 20000)")
    p.add_argument("--eval-peer-events", type=int, default=2_000,
                   help="documents the eql package evaluates; it is ~1000/s (default 2000)")
    p.add_argument("--stream-events", type=int, default=2_000_000,
                   help="exec events of the plain memory stream (default 2000000)")
    p.add_argument("--stream-variant-events", type=int, default=500_000,
                   help="exec events of the no-EOE and orphan streams (default 500000)")
    p.add_argument("--flood-events", type=int, default=1_000_000,
                   help="execs that each start a new sequence, for its memory (default 1000000)")
    # The first step asks for more than the 2000/s target for the full 60 s: a
    # load generator sharing 2 cores with the kernel, auditd and the plugin
    # falls a little short of what it is asked, and it is the rate achieved
    # (and held) that counts.
    p.add_argument("--live-rates", type=_float_list, default=[2500, 4000, 8000],
                   help="exec rates to step through (default 2500,4000,8000)")
    p.add_argument("--live-seconds", type=_float_list, default=[60, 60, 20],
                   help="seconds per rate step; the last value repeats (default 60,60,20)")
    p.add_argument("--peers-low-rate", type=float, default=300,
                   help="the typical exec rate of live_peers (default 300)")
    p.add_argument("--peers-low-seconds", type=float, default=60,
                   help="seconds at the typical rate (default 60)")
    p.add_argument("--peers-rates", type=_float_list, default=[1000, 2000, 3000, 4500],
                   help="higher exec rates live_peers steps through (default 1000,2000,3000,4500)")
    p.add_argument("--peers-seconds", type=float, default=30,
                   help="seconds per higher rate (default 30)")
    p.add_argument("--peers-idle-seconds", type=float, default=60,
                   help="seconds of no load for idle CPU (default 60)")
    p.add_argument("--collector-nodes", type=int, default=50,
                   help="nodes of the collector replay (default 50)")
    p.add_argument("--collector-events", type=int, default=600,
                   help="exec events per node of the collector replay (default 600)")
    p.add_argument("--only", nargs="+", choices=list(SECTIONS), default=None)
    p.add_argument("--skip", nargs="+", choices=list(SECTIONS), default=[])
    p.add_argument("--quick", action="store_true",
                   help="tiny workloads and no live step: checks that the harness runs")
    p.add_argument("--workdir", type=Path, default=None, help="keep temp files here")
    return p


def apply_quick(args: argparse.Namespace) -> None:
    args.events, args.mixed_events = 2000, 500
    args.eval_events, args.eval_peer_events = 500, 100
    args.stream_events, args.stream_variant_events = 3000, 1000
    args.flood_events = 3000
    args.collector_nodes, args.collector_events = 6, 40
    if args.only is None:
        args.skip = sorted(set(args.skip) | {"live", "live_peers", "profiles"})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        apply_quick(args)
    args.shared = args.shared.resolve()
    if not (args.shared / "tools" / "gen_audit_log.py").exists():
        print(f"bench: shared data not found at {args.shared} (use --shared)", file=sys.stderr)
        return 2
    report = Report()
    chosen = [s for s in (args.only or SECTIONS) if s not in args.skip]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="audisp-eql-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    failed = False
    started = time.monotonic()
    try:
        for name in chosen:
            report.log(f"== {name}")
            t0 = time.monotonic()
            try:
                SECTIONS[name](args, report, workdir)
            except sections.Skip as skip:
                report.skip(name, str(skip))
            except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
                failed = True
                report.error(name, f"{type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            report.log(f"== {name} took {time.monotonic() - t0:.1f} s")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report.table())
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The long fuzz run (`make fuzz`): millions of mutated audit events, zero crashes or hangs.

Seeds are the events of ../shared/logs/ (read at run time) plus generated ones.
Each input is one mutated event, fed as bytes through a long-lived pipeline per
parser (auparse and python alternate), exactly as the plugin feeds stdin:
source -> ECS builder -> engine with the 351 corpus rules -> alert -> every
output format (see pipeline.py for the invariants checked).

Watchdogs: a per-input SIGALRM (setitimer) turns a slow input into a reported
hang; the parent also watches each worker's progress counter, so a hang inside
C code (auparse), where no Python signal handler can run, is caught too: the
worker is killed by PID and restarted after the input it was stuck on.

Issue 17's classes are checked too: every DIFF_EVERY-th input goes through
both sources afresh, which must agree on it (fuzz/differential.py); every
JSON_EVERY-th document is made hostile ECS JSON (numbers, nesting) and read
as `scan --input ecs` reads it, every GZIP_EVERY-th input is written as a
damaged gzip log and read (fuzz/hostile_files.py); the mutators add long
runs without separators, huge numbers, hostile nodes and types and large
kernel-chunked argv. The peak RSS of the workers is printed.

Then a second phase streams mutated input into a real `audisp-eql plugin`
process (file output) and checks that it neither dies nor writes an unsafe line.

Every failing input is saved under --crash-dir with the inputs fed just before
it (the pipeline keeps state), and can be replayed with --replay FILE.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import multiprocessing as mp
import os
import random
import resource
import signal
import sys
import time
import traceback
from collections import Counter, deque
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))            # tests/ -> `fuzz` package, conftest paths

from conftest import CORPUS, SEED, SHARED        # noqa: E402
from fuzz.differential import disagreement       # noqa: E402
from fuzz.hostile_files import check_ecs_json, check_gzip  # noqa: E402
from fuzz.mutators import Mutator                # noqa: E402
from fuzz.pipeline import InvariantError, Pipeline, load_rule_set  # noqa: E402
from fuzz.seeds import load_seeds                # noqa: E402

PARSERS = ("auparse", "python")
INPUT_BUFFER = 4 << 20      # bytes of the current input shared with the parent
CONTEXT = 16                # inputs saved before a failing one
AGE_EVERY = 1000            # inputs between forced ageing of pending events
STALL_FACTOR = 10           # parent declares a hard hang after timeout * this
DIFF_EVERY = 4              # inputs between two differential checks of the sources
JSON_EVERY = 16             # inputs between two hostile ECS JSON checks
GZIP_EVERY = 500            # inputs between two damaged gzip checks


class Hang(BaseException):
    """Not an Exception: the engine's per-rule `except Exception` must not swallow it."""


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise Hang()


def input_bytes(event: list[bytes]) -> bytes:
    return b"\n".join(event) + b"\n"


def make_input(run_seed: int, index: int, mutator: Mutator) -> bytes:
    mutator.rng.seed(run_seed * 1_000_003 + index)
    return input_bytes(mutator())


def save_failure(crash_dir: Path, kind: str, data: bytes, context: list[bytes],
                 detail: str) -> Path:
    crash_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:16]
    base = crash_dir / f"{kind}-{digest}"
    base.with_suffix(".input").write_bytes(data)
    base.with_suffix(".context").write_bytes(b"".join(context))
    base.with_suffix(".txt").write_text(detail)
    return base


class Shared:
    """Progress and current input of one worker, readable by the parent."""

    def __init__(self) -> None:
        self.index = mp.RawValue(ctypes.c_long, -1)
        self.length = mp.RawValue(ctypes.c_long, 0)
        self.buffer = mp.RawArray(ctypes.c_char, INPUT_BUFFER)

    def publish(self, index: int, data: bytes) -> None:
        n = min(len(data), INPUT_BUFFER)
        ctypes.memmove(self.buffer, data, n)
        self.length.value = n
        self.index.value = index

    def current(self) -> bytes:
        return bytes(self.buffer[:self.length.value])


def worker(wid: int, workers: int, start: int, end: int, args: argparse.Namespace,
           shared: Shared, results: "mp.Queue[dict[str, Any]]") -> None:
    seeds = load_seeds(SHARED)
    rules, alert_rule = load_rule_set(CORPUS, SEED)
    mutator = Mutator(random.Random(), seeds)
    parsers = [p for p in PARSERS if p in args.parsers]
    def new_pipeline(parser: str) -> Pipeline:
        return Pipeline(parser, rules, alert_rule, engine_every=args.engine_every,
                        alert_every=args.alert_every)
    pipelines = {p: new_pipeline(p) for p in parsers}
    recent: dict[str, deque[bytes]] = {p: deque(maxlen=CONTEXT) for p in parsers}
    counts: Counter[str] = Counter()
    failures: list[str] = []
    retired: list[Pipeline] = []
    signal.signal(signal.SIGALRM, _on_alarm)
    crash_dir = Path(args.crash_dir)
    gzip_path = Path(crash_dir.parent / f"fuzz-gzip-{os.getpid()}.log.gz")
    crash_dir.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    for index in range(start, end, workers):
        data = make_input(args.seed, index, mutator)
        parser = parsers[(index // workers) % len(parsers)]
        pipe = pipelines[parser]
        shared.publish(index, data)
        try:
            # Generous: inputs are small; a few ms is normal, seconds is a hang.
            signal.setitimer(signal.ITIMER_REAL, args.timeout + len(data) / 1e6)
            pipe.feed(data)
            if done % AGE_EVERY == AGE_EVERY - 1:
                pipe.age_all(time.monotonic() + 3600)
            check_rng = random.Random(args.seed * 7919 + index)
            if index % DIFF_EVERY == 0:
                counts["differential_checks"] += 1
                found = disagreement([data])
                if found:
                    raise InvariantError(f"the sources disagree: {found}")
            if index % JSON_EVERY == 0 and pipe.last_document is not None:
                counts["json_" + check_ecs_json(pipe.last_document, check_rng, pipe.engine,
                                                pipe.alert_rule)] += 1
            if index % GZIP_EVERY == 0:
                counts["gzip_" + check_gzip(data, check_rng, gzip_path)] += 1
            signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as err:  # noqa: BLE001 - everything is a finding here
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(err, KeyboardInterrupt):
                raise
            # A Hang raised inside a Python callback of auparse's C code comes
            # back as a SystemError whose context is the Hang.
            hung = isinstance(err, Hang) or isinstance(err.__context__, Hang)
            kind = "hang" if hung else (
                "violation" if isinstance(err, InvariantError) else "crash")
            counts[kind + "es" if kind == "crash" else kind + "s"] += 1
            detail = (f"parser={parser} seed={args.seed} index={index}\n"
                      + "".join(traceback.format_exception(err)))
            path = save_failure(crash_dir, kind, data, list(recent[parser]), detail)
            failures.append(f"{kind} at input {index} ({parser}): {type(err).__name__}: "
                            f"{str(err)[:200]} -> {path}")
            # Its state may be broken now: start a fresh pipeline for this parser.
            retired.append(pipe)
            pipelines[parser] = new_pipeline(parser)
        recent[parser].append(data)
        done += 1
        counts["inputs"] += 1
        counts["bytes"] += len(data)
    gzip_path.unlink(missing_ok=True)
    for parser, pipe in pipelines.items():
        try:
            pipe.finish()
        except Exception as err:  # noqa: BLE001
            counts["crashes"] += 1
            failures.append(f"crash at final flush ({parser}): {err!r}")
    shapes_events: set[tuple[str, ...]] = set()
    shapes_docs: set[tuple[str, ...]] = set()
    for parser, pipe in [*((p.parser, p) for p in retired), *pipelines.items()]:
        for key, value in pipe.counts.items():
            counts[f"{parser}.{key}"] += value
        src_stats = getattr(pipe.source, "stats", None)
        for key, value in (vars(src_stats) if src_stats is not None else {}).items():
            if isinstance(value, int):
                counts[f"{parser}.source.{key}"] += value
        shapes_events |= pipe.event_shapes
        shapes_docs |= pipe.doc_shapes
    results.put({"wid": wid, "counts": dict(counts), "failures": failures,
                 "event_shapes": shapes_events, "doc_shapes": shapes_docs,
                 "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})


def run_workers(args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    results: "mp.Queue[dict[str, Any]]" = ctx.Queue()
    shareds = [Shared() for _ in range(args.workers)]
    procs: dict[int, Any] = {}
    last_seen: dict[int, tuple[int, float]] = {}
    hard_hangs: list[str] = []

    def start(wid: int, first: int) -> None:
        p = ctx.Process(target=worker, args=(wid, args.workers, first, args.inputs, args,
                                             shareds[wid], results), daemon=True)
        p.start()
        procs[wid] = p
        last_seen[wid] = (-2, time.monotonic())

    for wid in range(args.workers):
        start(wid, wid)
    reports: list[dict[str, Any]] = []
    t0 = time.monotonic()
    next_progress = t0 + 30
    stall = max(args.timeout * STALL_FACTOR, 120.0)   # first inputs include rule compilation
    while len(reports) < args.workers:
        try:
            reports.append(results.get(timeout=0.5))
            continue
        except Exception:  # queue.Empty
            pass
        now = time.monotonic()
        for wid, proc in list(procs.items()):
            if any(r["wid"] == wid for r in reports):
                continue
            index = shareds[wid].index.value
            seen, since = last_seen[wid]
            if index != seen:
                last_seen[wid] = (index, now)
            elif index < 0 and not proc.is_alive():
                raise SystemExit(f"fuzz: worker {wid} failed to start (exit {proc.exitcode}); "
                                 "see its traceback above")
            elif now - since > stall or not proc.is_alive():
                # Stuck where SIGALRM cannot reach (C code), or died outright.
                kind = "hang" if proc.is_alive() else "crash"
                data = shareds[wid].current()
                path = save_failure(Path(args.crash_dir), kind + "-process", data, [],
                                    f"worker {wid} {'stuck' if kind == 'hang' else 'died'} "
                                    f"(exit {proc.exitcode}) at input {index}\n")
                hard_hangs.append(f"{kind} (process) at input {index} -> {path}")
                if proc.is_alive():
                    os.kill(proc.pid, signal.SIGKILL)
                proc.join()
                start(wid, index + args.workers)
        if now >= next_progress:
            # Worker w runs inputs w, w + W, ...: its count is index // W + 1.
            progress = sum(s.index.value // args.workers + 1 for s in shareds
                           if s.index.value >= 0)
            print(f"fuzz: ~{progress} inputs after {now - t0:.0f} s", file=sys.stderr, flush=True)
            next_progress = now + 30
    for proc in procs.values():
        proc.join()
    elapsed = time.monotonic() - t0
    counts: Counter[str] = Counter()
    failures: list[str] = list(hard_hangs)
    event_shapes: set[tuple[str, ...]] = set()
    doc_shapes: set[tuple[str, ...]] = set()
    for report in reports:
        counts.update(report["counts"])
        failures += report["failures"]
        event_shapes |= report["event_shapes"]
        doc_shapes |= report["doc_shapes"]
    for line in hard_hangs:
        counts["hangs" if line.startswith("hang") else "crashes"] += 1
    return {"elapsed": elapsed, "counts": counts, "failures": failures,
            "distinct_event_shapes": len(event_shapes), "distinct_doc_shapes": len(doc_shapes),
            "maxrss_kb": max(r["maxrss_kb"] for r in reports)}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    # Generous: one input can complete a few thousand pending events at once
    # (a forged far-future timestamp, or the periodic ageing), ~1 ms each.
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds one small input may take before it is a hang")
    parser.add_argument("--engine-every", type=int, default=2,
                        help="run the corpus rules on every Nth document")
    parser.add_argument("--alert-every", type=int, default=4,
                        help="also alert + format every Nth document with the seed rule")
    parser.add_argument("--parsers", nargs="+", default=list(PARSERS), choices=PARSERS)
    parser.add_argument("--crash-dir", default=str(HERE.parent.parent / "build" / "fuzz-crashes"))
    parser.add_argument("--plugin-inputs", type=int, default=50_000,
                        help="mutated events streamed through a real plugin process afterwards")
    parser.add_argument("--replay", type=Path, metavar="FILE",
                        help="feed FILE.context then FILE.input through both parsers and exit")
    args = parser.parse_args(argv)
    if args.replay:
        from fuzz.replay import replay
        return replay(args.replay)

    print(f"fuzz: {args.inputs} inputs, {args.workers} workers, seed {args.seed}, "
          f"parsers {' '.join(args.parsers)}; seeds from {SHARED / 'logs'}", flush=True)
    figures = run_workers(args)
    counts = figures["counts"]
    rate = counts["inputs"] / figures["elapsed"] if figures["elapsed"] else 0.0
    print(f"inputs run:            {counts['inputs']} ({counts['bytes'] / 1e6:.1f} MB)")
    print(f"time:                  {figures['elapsed']:.1f} s  ({rate:.0f} inputs/s)")
    print(f"crashes:               {counts['crashes']}")
    print(f"hangs:                 {counts['hangs']}")
    print(f"invariant violations:  {counts['violations']}")
    for parser_name in args.parsers:
        print(f"{parser_name + ':':<22} records {counts[parser_name + '.records']}, "
              f"events {counts[parser_name + '.events']}, "
              f"documents {counts[parser_name + '.documents']} "
              f"({counts[parser_name + '.matched_documents']} through the rules), "
              f"alerts {counts[parser_name + '.alerts']}, "
              f"malformed lines {counts[parser_name + '.source.malformed']}, "
              f"evicted pending {counts[parser_name + '.source.evicted_pending']}")
        kinds = sorted((k.split(".", 2)[2], v) for k, v in counts.items()
                       if k.startswith(parser_name + ".documents."))
        print(f"{'':<22} documents by event.category: "
              + ", ".join(f"{name} {count}" for name, count in kinds))
    print(f"issue 17 checks:       {counts['differential_checks']} differential (both sources "
          f"agree), ECS JSON {counts['json_document']} read / {counts['json_refused']} refused, "
          f"damaged gzip {counts['gzip_read']} read / {counts['gzip_unreadable']} unreadable")
    print(f"distinct event shapes: {figures['distinct_event_shapes']} (record-type sequences)")
    print(f"distinct doc shapes:   {figures['distinct_doc_shapes']} (ECS field sets)")
    print(f"peak RSS per worker:   {figures['maxrss_kb'] / 1024:.0f} MiB")
    failed = counts["crashes"] + counts["hangs"] + counts["violations"]
    if args.plugin_inputs:
        from fuzz.plugin_loop import fuzz_plugin_process
        plugin_report = fuzz_plugin_process(args.plugin_inputs, args.seed, Path(args.crash_dir))
        print(plugin_report.summary())
        failed += 0 if plugin_report.ok else 1
    for line in figures["failures"][:50]:
        print("FAIL " + line)
    if failed:
        print(f"fuzz: FAILED, inputs saved under {args.crash_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark's sections: each measures, then adds its figures to the report."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from . import workloads
from .report import Report

# The targets, printed beside the figures they apply to.
TARGET_E2E_RATIO = 2.0
SCAN_JOBS = 2                     # the parallel scan's figure: scan --jobs 2
TARGET_EVAL_RATIO = 50.0
TARGET_PEAK_RSS_MIB = 64.0
TARGET_LIVE_RATE = 2000.0
TARGET_LIVE_SECONDS = 60.0
TARGET_SEQUENCE_COST = 0.15      # the 28 process-only sequences may cost this share of e2e
SEQUENCE_ROUNDS = 3              # alternating rounds per rule set; the fastest counts
TARGET_IDLE_EXTRA_PCT = 0.1      # our idle CPU may exceed laurel's by this much of a core


class Skip(Exception):
    """This section cannot run here (what is missing is the message)."""


def _target(met: bool, text: str) -> str:
    return f"target {text}: {'met' if met else 'NOT met'}"


def _corpus(args: argparse.Namespace):
    from .ours import Corpus
    return Corpus(args.shared)


def _engine_rules(args: argparse.Namespace) -> list[Path]:
    corpus = _corpus(args)
    rules = corpus.process_rules()
    # The seed is a copy of a corpus rule (same rule_id): loading both is an error.
    if all(p.name != corpus.seed.name for p in rules):
        rules.append(corpus.seed)
    return rules


def _every_rule(args: argparse.Namespace) -> list[Path]:
    """What a host loads: the whole corpus and our pack, as directories."""
    return [_corpus(args).rules_dir, Path(__file__).resolve().parent.parent / "rules"]


def _require_pipeline() -> None:
    """Our end-to-end path needs every stage; say which is missing instead of a traceback."""
    try:
        import audisp_eql.daemon  # noqa: F401
        import audisp_eql.pipeline  # noqa: F401
    except ImportError as exc:
        raise Skip(f"audisp-eql pipeline not importable yet: {exc}") from None


def end_to_end(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    from .laurel_peer import laurel_path, run_laurel
    from .ours import count_events, run_plugin_on_file, run_scan_on_file

    _require_pipeline()
    rules = _engine_rules(args)
    logs = {
        "e2e": workloads.write_shared_workload(args.shared, workdir / "shared.log", args.events, args.seed),
    }
    mixed = workdir / "mixed.log"
    with open(mixed, "wb") as f:
        workloads.write_stream(args.shared, "mixed", args.mixed_events, args.seed, f)
    logs["mixed"] = mixed
    have_laurel = laurel_path() is not None
    if not have_laurel:
        report.skip("e2e-laurel", "laurel not installed (tools/bootstrap.sh --bench)")
    for name, log in logs.items():
        events = count_events(log)
        report.log(f"{name}: {log.name}, {events} audit events, {os.path.getsize(log)} bytes")
        ours = run_plugin_on_file(log, workdir / "ours", rules)
        ours_rate = events / ours.measured.wall_s
        report.add(f"{name}_ours_events_per_s", ours_rate, "events/s",
                   f"{events} events in {ours.measured.wall_s:.2f} s wall incl. start-up; "
                   f"cpu {ours.measured.user_s + ours.measured.sys_s:.2f} s; "
                   f"{ours.alerts_out} alerts; {len(rules)} rules; plugin status {ours.status}")
        report.add(f"{name}_ours_peak_rss", ours.measured.peak_kib / 1024, "MiB", "VmHWM")
        # Every event kind and rule kind loaded (sequences, samples, file and network rules).
        every = run_plugin_on_file(log, workdir / "ours-every", _every_rule(args))
        report.add(f"{name}_ours_every_rule_events_per_s", events / every.measured.wall_s,
                   "events/s", f"the whole corpus and rules/ loaded: "
                   f"cpu {every.measured.user_s + every.measured.sys_s:.2f} s; "
                   f"{every.alerts_out} alerts; plugin status {every.status}")
        report.add(f"{name}_ours_every_rule_peak_rss", every.measured.peak_kib / 1024, "MiB",
                   "VmHWM")
        scans = {}
        if name == "e2e":
            # `scan` over the same file, one process and --jobs 2 (workers' CPU included)
            for jobs in (1, SCAN_JOBS):
                run = run_scan_on_file(log, workdir / "scan", rules, jobs)
                scans[jobs] = events / run.measured.wall_s
                report.add(f"{name}_scan_jobs{jobs}_events_per_s", scans[jobs], "events/s",
                           f"scan --jobs {jobs}: {run.measured.wall_s:.2f} s wall incl. start-up, "
                           f"cpu {run.measured.user_s + run.measured.sys_s:.2f} s (workers "
                           f"included), {run.alerts_out} alerts, exit {run.status}, peak RSS "
                           f"{run.measured.peak_kib / 1024:.0f} MiB (merging process)")
        if not have_laurel:
            continue
        peer = run_laurel(log, workdir / "laurel")
        peer_rate = events / peer.measured.wall_s
        report.add(f"{name}_laurel_events_per_s", peer_rate, "events/s",
                   f"laurel {peer.version}, {peer.events_out} JSON lines in "
                   f"{peer.measured.wall_s:.2f} s wall")
        report.add(f"{name}_laurel_peak_rss", peer.measured.maxrss_kib / 1024, "MiB")
        ratio = ours_rate / peer_rate
        report.add(f"{name}_ratio_ours_to_laurel", ratio, "x",
                   _target(ratio >= TARGET_E2E_RATIO, f">= {TARGET_E2E_RATIO:g}x"))
        for jobs, rate in scans.items():
            ratio = rate / peer_rate
            target = TARGET_E2E_RATIO if jobs > 1 else 1.0
            report.add(f"{name}_ratio_scan_jobs{jobs}_to_laurel", ratio, "x",
                       _target(ratio >= target, f">= {target:g}x"))
        log.unlink()


def evaluation(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    from .evaluation import ROUNDS, compare

    _require_pipeline()
    log = workdir / "eval.log"
    if not log.exists():
        workloads.write_shared_workload(args.shared, log, max(args.eval_events, args.eval_peer_events),
                                        args.seed)
    result = compare(log, _engine_rules(args), args.eval_events, args.eval_peer_events)
    report.add("eval_ours_events_per_s", result.ours_rate, "events/s",
               f"{result.ours_events} documents x {result.ours_rules} rules, "
               f"{result.ours_matches} matches; fastest of {ROUNDS} rounds")
    report.add("eval_eql_package_events_per_s", result.peer_rate, "events/s",
               f"eql 1.0.1, {result.peer.events} documents x {result.peer.rules} rules, "
               f"{result.peer.matches} matches (its semantics differ: not an oracle); "
               f"fastest of {ROUNDS} rounds")
    ratio = result.ours_rate / result.peer_rate
    report.add("eval_ratio_ours_to_eql_package", ratio, "x",
               _target(ratio >= TARGET_EVAL_RATIO, f">= {TARGET_EVAL_RATIO:g}x"))


def rule_load(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    from .ruleload import measure_in_subprocess

    corpus = _corpus(args)
    got = measure_in_subprocess(corpus.rules_dir)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(got["counts"].items()))
    report.add("rule_load_s", got["load_s"], "s",
               f"{got['files']} corpus files read, parsed, compiled; {got['rules']} runnable ({counts})")
    report.add("rule_load_import_s", got["import_s"], "s", "importing the package first")


def memory(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    from .memory import stream_into_plugin

    _require_pipeline()
    rules = _engine_rules(args)
    runs = [("plain", args.stream_events), ("no_eoe", args.stream_variant_events),
            ("orphans", args.stream_variant_events)]
    for kind, events in runs:
        report.log(f"memory: streaming {events} exec events ({kind})")
        run = stream_into_plugin(args.shared, kind, events, args.seed, workdir / "memory", rules)
        m = run.run.measured
        report.add(f"mem_{kind}_peak_rss", run.peak_mib, "MiB",
                   f"{events} exec events piped in {m.wall_s:.1f} s; "
                   + _target(run.peak_mib <= TARGET_PEAK_RSS_MIB, f"<= {TARGET_PEAK_RSS_MIB:g} MiB"))
        for pct in (10, 50, 100):
            report.add(f"mem_{kind}_rss_at_{pct}pct", run.rss_mib_at(pct / 100), "MiB",
                       f"VmRSS when {pct}% of the stream had been read")
        report.add(f"mem_{kind}_events_per_s", events / m.wall_s, "events/s",
                   f"exec events; plugin status {run.run.status}")


def sequences(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    """What sequences cost end to end (same workload, same run, rule sets
    alternating, fastest of SEQUENCE_ROUNDS each), and the plugin's memory when
    a stream starts a new sequence with every event."""
    from .memory import stream_into_plugin
    from .ours import count_events, run_plugin_on_file

    _require_pipeline()
    corpus = _corpus(args)
    single = _engine_rules(args)
    sets = {"single": single,
            "process_sequences": single + corpus.sequence_rules(process_only=True),
            "all_sequences": single + corpus.sequence_rules()}
    log = workloads.write_shared_workload(args.shared, workdir / "sequences.log", args.events,
                                          args.seed)
    events = count_events(log)
    best: dict[str, float] = {}      # events per wall second
    cpu: dict[str, float] = {}       # events per CPU second of the plugin
    runs: dict[str, object] = {}
    for round_ in range(SEQUENCE_ROUNDS):
        for name, rules in sets.items():
            run = run_plugin_on_file(log, workdir / "ours", rules)
            m = run.measured
            rate = events / m.wall_s
            cpu[name] = max(cpu.get(name, 0.0), events / max(m.user_s + m.sys_s, 1e-9))
            report.log(f"sequences round {round_ + 1}: {name} {rate:,.0f} events/s")
            if rate > best.get(name, 0.0):
                best[name], runs[name] = rate, run
    for name, rules in sets.items():
        run = runs[name]
        report.add(f"seq_e2e_{name}_events_per_s", best[name], "events/s",
                   f"{events} events, {len(rules)} rules, fastest of {SEQUENCE_ROUNDS} "
                   f"(wall, start-up included); {run.alerts_out} alerts; "  # type: ignore[attr-defined]
                   f"plugin status {run.status}")  # type: ignore[attr-defined]
        report.add(f"seq_e2e_{name}_cpu_events_per_s", cpu[name], "events/s",
                   "per CPU second of the plugin (user+sys), best of the rounds")
    for name in ("process_sequences", "all_sequences"):
        cost, wall = 1.0 - cpu[name] / cpu["single"], 1.0 - best[name] / best["single"]
        note = (f"events/s lost to the {len(sets[name]) - len(single)} sequence/sample rules, "
                f"by the plugin's CPU time (other jobs on a shared machine disturb it less "
                f"than wall time, which gives {100 * wall:.1f}%)")
        if name == "process_sequences":
            note += "; " + _target(cost <= TARGET_SEQUENCE_COST,
                                   f"<= {TARGET_SEQUENCE_COST * 100:g}%")
        report.add(f"seq_e2e_cost_{name}", 100 * cost, "%", note)
    log.unlink()
    flood = args.flood_events
    report.log(f"sequences: streaming {flood} execs that each start a new sequence")
    memory = stream_into_plugin(args.shared, "seq_flood", flood, args.seed, workdir / "memory",
                                sets["all_sequences"])
    m = memory.run.measured
    status = memory.run.status
    report.add("seq_flood_peak_rss", memory.peak_mib, "MiB",
               f"{flood} first steps with distinct keys, {len(sets['all_sequences'])} rules, "
               f"{m.wall_s:.1f} s; evicted {status.get('evicted_partial_matches')}, pending "
               f"{status.get('pending_partial_matches')} at the end; "
               + _target(memory.peak_mib <= TARGET_PEAK_RSS_MIB, f"<= {TARGET_PEAK_RSS_MIB:g} MiB"))
    for pct in (10, 50, 100):
        report.add(f"seq_flood_rss_at_{pct}pct", memory.rss_mib_at(pct / 100), "MiB",
                   f"VmRSS when {pct}% of the stream had been read")
    report.add("seq_flood_events_per_s", flood / m.wall_s, "events/s", "exec events")


def live(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    from .live import run_live

    _require_pipeline()
    if os.geteuid() != 0:
        raise Skip("needs root (a real auditd)")
    if shutil.which("gcc") is None:
        raise Skip("gcc not installed (it builds bench/loadgen.c)")
    seconds = list(args.live_seconds) or [60.0]
    seconds += [seconds[-1]] * (len(args.live_rates) - len(seconds))
    try:
        steps, ceiling = run_live(workdir / "live", _engine_rules(args), args.live_rates, seconds,
                                  report.log)
    except BaseException as exc:
        # The auditd harness is pytest's: it skips (BaseException) where auditd cannot run.
        if type(exc).__name__ == "Skipped":
            raise Skip(f"auditd unavailable: {exc}") from None
        raise
    report.add("live_loadgen_ceiling_execs_per_s", ceiling, "execs/s",
               "fork+exec of /bin/true with no auditing: this machine's limit")
    held = 0.0
    for step in steps:
        name = f"live_{int(step.target_rate)}"
        report.add(f"{name}_achieved_execs_per_s", step.achieved_rate, "execs/s",
                   f"{step.spawned} execs in {step.seconds:.1f} s; held={'yes' if step.held else 'no'}")
        report.add(f"{name}_missing_alerts", step.spawned - step.alerts, "events",
                   f"{step.alerts} of {step.spawned} execs reached the output; "
                   f"drained {step.drain_s:.1f} s after the load")
        report.add(f"{name}_plugin_queue_overflow", 1 if step.overflow else 0, "bool",
                   f"auditd state: max plugin queue depth {step.max_queue_depth}; "
                   f"'{'queue to plugins is full'}' messages {step.queue_full_messages}; "
                   f"kernel lost {step.kernel_lost}")
        report.add(f"{name}_plugin_cpu", 100 * step.plugin_cpu_s / max(step.seconds, 1e-9), "%",
                   "plugin CPU time / load duration")
        if step.held and step.seconds >= TARGET_LIVE_SECONDS:
            held = max(held, step.achieved_rate)
    report.add("live_max_execs_per_s_held", held, "execs/s",
               _target(held >= TARGET_LIVE_RATE,
                       f">= {TARGET_LIVE_RATE:g}/s for {TARGET_LIVE_SECONDS:g} s")
               + f"; only steps of {TARGET_LIVE_SECONDS:g} s count"
               + f"; load generator ceiling {ceiling:.0f}/s")


def collector(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    """Shards of one collector over a replay of many nodes (bench/collector.py)."""
    from .collector import collector as run_collector
    _require_pipeline()
    run_collector(args, report, workdir, _engine_rules(args))


def profiles(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    """The audit volume and CPU each audit rule profile adds (bench/profiles.py)."""
    from .profiles import run_profiles

    _require_pipeline()
    if os.geteuid() != 0:
        raise Skip("needs root (a real auditd)")
    if shutil.which("gcc") is None or shutil.which("curl") is None:
        raise Skip("gcc and curl are needed (tools/bootstrap.sh --bench installs them)")
    rules = [_corpus(args).rules_dir, Path(__file__).resolve().parent.parent / "rules"]
    try:
        runs, parts = run_profiles(workdir / "profiles", rules, report.log)
    except BaseException as exc:
        if type(exc).__name__ == "Skipped":
            raise Skip(f"auditd unavailable: {exc}") from None
        raise
    exec_run = runs[0]
    workload = "+".join(parts)
    for run in runs:
        name = f"profile_{run.name.replace('+', '_')}"
        seconds = max(run.seconds, 1e-9)
        report.add(f"{name}_records_per_s", run.records_per_s, "records/s",
                   f"workload {workload}: {run.records} records in {run.seconds:.1f} s "
                   f"({', '.join(f'{k} {v}' for k, v in run.by_part.items())})")
        report.add(f"{name}_auditd_cpu", 100 * run.auditd_cpu_s / seconds, "%",
                   "auditd CPU time / workload time")
        report.add(f"{name}_plugin_cpu", 100 * run.plugin_cpu_s / seconds, "%",
                   "plugin CPU time (workload and drain) / workload time")
        if run is not exec_run:
            added = run.records - exec_run.records
            ratio = added / exec_run.records if exec_run.records else float("nan")
            report.add(f"{name}_added_vs_exec", ratio, "x",
                       f"records added over the exec profile's ({added} vs "
                       f"{exec_run.records}); more than 2x: {'yes' if ratio > 2 else 'no'}")


def live_peers(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    """audisp-eql and laurel on one private auditd, same execs (bench/live_peers.py)."""
    from .laurel_peer import laurel_path
    from .live_peers import run_live_peers

    _require_pipeline()
    if os.geteuid() != 0:
        raise Skip("needs root (a real auditd)")
    if shutil.which("gcc") is None or laurel_path() is None:
        raise Skip("gcc and laurel are needed (tools/bootstrap.sh --bench installs them)")
    rules = [_corpus(args).rules_dir, Path(__file__).resolve().parent.parent / "rules"]
    try:
        run = run_live_peers(workdir / "live_peers", rules, args.peers_low_rate,
                             args.peers_low_seconds, args.peers_rates, args.peers_seconds,
                             args.peers_idle_seconds, report.log)
    except BaseException as exc:
        if type(exc).__name__ == "Skipped":
            raise Skip(f"auditd unavailable: {exc}") from None
        raise
    for idle in run.idle:
        ours, laurel = idle.core_pct("ours"), idle.core_pct("laurel")
        report.add("peers_idle_ours_cpu", ours, "%core",
                   f"{idle.seconds:.0f} s, no audit rule, no load")
        report.add("peers_idle_laurel_cpu", laurel, "%core", f"{run.laurel_version}")
        report.add("peers_idle_ours_minus_laurel", ours - laurel, "%core",
                   _target(ours <= laurel + TARGET_IDLE_EXTRA_PCT,
                           f"<= laurel + {TARGET_IDLE_EXTRA_PCT:g}% of a core"))
    held = 0.0
    for step in run.steps:
        name = f"peers_{step.name}"
        both = step.held("ours") and step.held("laurel")
        report.add(f"{name}_achieved_execs_per_s", step.achieved_rate, "execs/s",
                   f"{step.spawned} execs in {step.seconds:.1f} s; seen ours "
                   f"{step.seen.get('ours')}, laurel {step.seen.get('laurel')}; overflow "
                   f"{'yes' if step.overflow else 'no'}, kernel lost {step.kernel_lost}; "
                   f"drained {step.drain_s:.1f} s; held by both: {'yes' if both else 'no'}")
        ours, laurel = step.us_per_exec("ours"), step.us_per_exec("laurel")
        report.add(f"{name}_ours_us_per_exec", ours, "us",
                   f"CPU {step.cpu_s['ours']:.2f} s, {step.core_pct('ours'):.1f}% of a core")
        report.add(f"{name}_laurel_us_per_exec", laurel, "us",
                   f"CPU {step.cpu_s['laurel']:.2f} s, {step.core_pct('laurel'):.1f}% of a core")
        report.add(f"{name}_ratio_ours_to_laurel_cpu", ours / laurel if laurel else float("nan"),
                   "x", _target(ours <= laurel, "<= 1.0x (CPU per exec)"))
        if both and step.achieved_rate >= 0.9 * step.target_rate:
            held = max(held, step.achieved_rate)
    report.add("peers_max_execs_per_s_held", held, "execs/s",
               f"highest step both plugins held; load generator ceiling {run.ceiling:.0f}/s")

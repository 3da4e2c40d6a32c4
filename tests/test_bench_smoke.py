"""The benchmark harness runs on a tiny workload and prints well-formed figures.

Not a timed test: it checks that figures are produced and consistent with what was
fed in (counts, ratios computed from the printed rates), never how fast anything is.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED

# bench/ is a top-level package of the repository, not of the installed plugin.
sys.path.insert(0, str(ROOT))
from bench.report import Figure, format_table, parse_bench_lines  # noqa: E402
from bench.workloads import stream  # noqa: E402

RUN = ROOT / "bench" / "run.py"


def test_bench_line_round_trips_and_rejects_spaces_in_names() -> None:
    fig = Figure("e2e_ours_events_per_s", 51234.4, "events/s", "200000 events\tin 3.9 s")
    line = fig.bench_line()
    assert line == "BENCH name=e2e_ours_events_per_s value=51234 unit=events/s note=200000 events in 3.9 s"
    back = parse_bench_lines("noise\n" + line + "\n")["e2e_ours_events_per_s"]
    assert (back.value, back.unit, back.note) == (51234.0, "events/s", "200000 events in 3.9 s")
    with pytest.raises(ValueError):
        Figure("two words", 1.0, "x")
    table = format_table([fig, Figure("ratio", 0.5, "x")])
    assert "e2e_ours_events_per_s" in table and "0.5" in table


def test_mixed_stream_keeps_execs_a_minority_and_ids_unique(shared: Path) -> None:
    data = b"".join(stream(shared, "mixed", 300, seed=3))
    lines = data.splitlines()
    ids = [line.split(b"msg=audit(", 1)[1].split(b")", 1)[0] for line in lines]
    events = []  # consecutive runs of one id
    for ident in ids:
        if not events or events[-1] != ident:
            events.append(ident)
    assert len(events) == len(set(events)), "an event id was reused"
    execs = sum(1 for line in lines if line.startswith(b"type=EXECVE "))
    assert execs == 300
    share = execs / len(events)
    assert 0.12 < share < 0.25, share
    assert any(line.startswith(b"type=USER_") for line in lines)
    assert any(line.startswith(b"type=SOCKADDR ") for line in lines)


def test_variant_streams_drop_eoe_or_leave_events_open(shared: Path) -> None:
    no_eoe = b"".join(stream(shared, "no_eoe", 200, seed=1))
    assert b"type=EOE" not in no_eoe and no_eoe.count(b"type=EXECVE ") == 200
    orphans = b"".join(stream(shared, "orphans", 200, seed=1))
    # An orphan is a SYSCALL+EXECVE pair whose event never gets its EOE.
    assert orphans.count(b"type=EXECVE ") > orphans.count(b"type=EOE ") == 200


@pytest.mark.skipif(not (SHARED / "tools" / "gen_audit_log.py").exists(),
                    reason=f"shared data not found at {SHARED}")
def test_quick_run_prints_well_formed_figures() -> None:
    proc = subprocess.run([sys.executable, str(RUN), "--shared", str(SHARED), "--quick",
                           "--only", "e2e", "eval", "load"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "BENCH-ERROR" not in proc.stdout
    figures = parse_bench_lines(proc.stdout)
    bench_lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH ")]
    assert len(bench_lines) == len(figures), "a BENCH line did not parse"
    for name in ("e2e_ours_events_per_s", "mixed_ours_events_per_s", "eval_ours_events_per_s",
                 "eval_eql_package_events_per_s", "eval_ratio_ours_to_eql_package", "rule_load_s"):
        assert name in figures, f"{name} missing from:\n{proc.stdout}"
        assert math.isfinite(figures[name].value) and figures[name].value > 0
    # --quick feeds 2000 exec events of the shared workload: the note says how many were read.
    assert figures["e2e_ours_events_per_s"].note.startswith("2000 events")
    ratio = figures["eval_ours_events_per_s"].value / figures["eval_eql_package_events_per_s"].value
    assert figures["eval_ratio_ours_to_eql_package"].value == pytest.approx(ratio, rel=0.02)
    assert "351 corpus files" in figures["rule_load_s"].note
    if "e2e_laurel_events_per_s" in figures:
        ratio = figures["e2e_ours_events_per_s"].value / figures["e2e_laurel_events_per_s"].value
        assert figures["e2e_ratio_ours_to_laurel"].value == pytest.approx(ratio, rel=0.02)
    # The human table repeats every figure.
    table = proc.stdout.split("\n\n", 1)[-1]
    assert all(name in table for name in figures)


@pytest.mark.skipif(not (SHARED / "tools" / "gen_audit_log.py").exists(),
                    reason=f"shared data not found at {SHARED}")
def test_collector_section_prints_a_figure_per_shard_count() -> None:
    """1, 2 and 4 shard instances at once over a tiny replay: every figure is
    there, each instance's CPU is reported, and the shards' alerts added up to
    one instance's (the section fails otherwise)."""
    proc = subprocess.run([sys.executable, str(RUN), "--shared", str(SHARED),
                           "--only", "collector", "--collector-nodes", "4",
                           "--collector-events", "30"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = parse_bench_lines(proc.stdout)
    for count in (1, 2, 4):
        rate = figures[f"collector_shards{count}_events_per_s"]
        assert rate.value > 0 and rate.note.startswith("4 nodes x 30 exec events")
        cpu = figures[f"collector_shards{count}_cpu_s_per_shard"]
        assert len(cpu.note.split(": ", 1)[1].split(", ")) == count
    assert figures["collector_python_parser_events_per_s"].value > 0

"""The memory sequences and samples may hold is the user's to set
(`sequence_memory_mib` in the plugin config, `--sequence-memory` for scan and
report): past it partial matches are evicted and counted, below it none is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audisp_eql import limits
from audisp_eql.config import parse_config
from audisp_eql.detector import Detector

ROOT = Path(__file__).resolve().parent.parent


def _scan(shared: Path, log: Path, mib: int) -> tuple[dict, set[tuple[str, str, str]]]:
    """The summary's partial-match counters and the alerts (rule, event, the
    events a sequence was made of) of a scan with the corpus' rules."""
    done = subprocess.run(
        [sys.executable, "-m", "audisp_eql.cli", "scan", "--format", "json", "--summary-json",
         "--sequence-memory", str(mib), "-r", str(shared / "corpus" / "detection-rules"),
         str(log)], capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    alerts = set()
    for line in done.stdout.splitlines():
        alert = json.loads(line)
        made_of = json.dumps(alert.get("audisp_eql", {}).get("events"), sort_keys=True)
        alerts.add((alert["rule"]["id"], alert["event"]["id"], made_of))
    return summary["partial_matches"], alerts


def test_more_sequence_memory_keeps_what_less_evicts(shared: Path, tmp_path: Path) -> None:
    # The generated workload starts a corpus sequence with about one exec in
    # five and holds each for its maxspan: 1 MiB fills, 64 MiB holds them.
    log = tmp_path / "execs.log"
    subprocess.run([sys.executable, str(shared / "tools" / "gen_audit_log.py"), "--events",
                    "6000", "--seed", "3", "-o", str(log)], check=True, timeout=120)
    small_state, small_alerts = _scan(shared, log, 1)
    large_state, large_alerts = _scan(shared, log, 64)
    assert small_state["evicted_partial_matches"] > 0
    assert small_state["pending_bytes"] <= 1 << 20
    # (the few evictions left at 64 MiB are another bound's: entries per rule,
    # limits.MAX_PENDING_PER_RULE)
    assert large_state["evicted_partial_matches"] * 100 < small_state["evicted_partial_matches"]
    assert large_state["pending_bytes"] > limits.MAX_PENDING_BYTES   # past the default
    # Evicting only loses matches: every alert of the small budget is found
    # with the large one, which finds sequences the small one lost.
    assert small_alerts < large_alerts
    lost = {a for a in large_alerts - small_alerts if a[2] != "null"}
    assert lost, "the alerts only the large budget finds are sequence alerts"


def test_the_plugin_config_sets_the_engines_budget() -> None:
    rules = ROOT / "rules"
    default = Detector(parse_config(f'[rules]\npaths = ["{rules}"]\n'))
    assert default.engine.budget.byte_limit == limits.MAX_PENDING_BYTES
    assert parse_config("").sequence_memory_mib << 20 == limits.MAX_PENDING_BYTES
    raised = Detector(parse_config(f'[plugin]\nsequence_memory_mib = 64\n'
                                   f'[rules]\npaths = ["{rules}"]\n'))
    assert raised.engine.budget.byte_limit == 64 << 20


def test_scan_refuses_a_memory_out_of_range(tmp_path: Path) -> None:
    for bad in ("0", "5000", "1.5", "x"):
        done = subprocess.run([sys.executable, "-m", "audisp_eql.cli", "scan",
                               "--sequence-memory", bad, "-r", str(ROOT / "rules"), "/dev/null"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "--sequence-memory" in done.stderr


def test_check_config_says_the_sequence_memory(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir(mode=0o700)
    config = conf / "audisp-eql.toml"
    config.write_text(f'[plugin]\nsequence_memory_mib = 16\n[rules]\npaths = ["{ROOT / "rules"}"]\n'
                      '[output.syslog]\nenabled = false\n')
    done = subprocess.run([sys.executable, "-m", "audisp_eql.cli", "plugin", "--check-config",
                           str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "sequence memory 16 MiB" in done.stdout

"""`scan --jobs N` answers exactly as `--jobs 1`: alerts (JSON and text), the
summary on stderr, the exit status, rule error and exception counts, on
every shared log, a rotated set built from them, a generated workload and
the corpus' sequence streams, with the corpus rules (sequences included)
and rules/ loaded.

Batches are cut tiny ($AUDISP_EQL_JOBS_BATCH) so that parents and their
children, and the steps of sequences, land in different workers' batches;
the tests check that this happened (events were rebuilt by the merging
process) and that without the merging process's check the answer differs
(the test can fail)."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

from audisp_eql import jobs as jobs_module
from audisp_eql.cli import build_parser
from audisp_eql.jobs import parallel
from audisp_eql.scan import run_scan
from conftest import CORPUS, LOGS, ROOT, SHARED

RULES = ["--rules", str(CORPUS), "--rules", str(ROOT / "rules")]
# event.created is the wall clock when the alert was made: the only field that may differ.
_CREATED = re.compile(r'"created":"[^"]*"')


class Terminalless(io.StringIO):
    def isatty(self) -> bool:
        return False


def scan(args: list[str], jobs: int, batch: int = 3) -> tuple[str, str, int]:
    """stdout (event.created blanked), stderr, exit status of one in-process scan."""
    parsed = build_parser().parse_args(["scan", "--jobs", str(jobs), *args])
    out, err = Terminalless(), Terminalless()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(parallel.BATCH_ENV, str(batch))
        status = run_scan(parsed, out=out, err=err, stdin=None)
    return _CREATED.sub('"created":"-"', out.getvalue()), err.getvalue(), status


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    from test_corpus_sequences_audit import CASES
    base = tmp_path_factory.mktemp("jobs")
    every = sorted(str(p) for p in LOGS.rglob("*") if p.is_file())
    rotated = base / "rotated"
    rotated.mkdir()
    logs = [p for p in sorted(LOGS.rglob("*")) if p.is_file() and p.suffix in (".log", ".txt")]
    for number, path in enumerate(logs):
        name = "audit.log" if number == 0 else f"audit.log.{number}"
        if number % 3 == 2:
            with gzip.open(rotated / f"{name}.gz", "wb") as f:
                f.write(path.read_bytes())
        else:
            shutil.copyfile(path, rotated / name)
    generated = base / "generated.log"
    with open(generated, "wb") as f:
        subprocess.run([sys.executable, str(SHARED / "tools" / "gen_audit_log.py"),
                        "--events", "3000", "--seed", "7"], stdout=f, check=True)
    sequences = []
    for name, (_path, build, _misses) in sorted(CASES.items()):
        stream, _expected = build(None)
        log = base / f"sequence-{name}.log"
        log.write_bytes(stream.data)
        sequences.append(str(log))
    return {"every shared file": every, "rotated set": [str(rotated)],
            "generated workload": [str(generated)], "sequence streams": sequences}


@pytest.mark.parametrize("name", ["every shared file", "rotated set", "generated workload",
                                  "sequence streams"])
def test_jobs_give_the_single_process_answer(inputs: dict[str, list[str]], name: str) -> None:
    args = [*RULES, "--format", "json", "--hostname", "jobs-test", *inputs[name]]
    reference = scan(args, 1)
    assert reference[0], "the reference scan found nothing: the comparison would prove little"
    for jobs in (2, 3):
        assert scan(args, jobs) == reference, f"--jobs {jobs} differs on the {name}"
    if name == "sequence streams":
        # the stateful matchers ran in the merging process and matched there
        assert '"ancestors"' in reference[0]


def test_text_alerts_and_summary_json(inputs: dict[str, list[str]]) -> None:
    args = [*RULES, "--format", "text", "--hostname", "jobs-test", *inputs["generated workload"]]
    assert scan(args, 2, batch=7) == scan(args, 1)
    args = [*RULES, "--summary-json", "--hostname", "jobs-test", *inputs["sequence streams"]]
    assert scan(args, 3, batch=1) == scan(args, 1)


def _parallel_run(files: list[str], batch: int) -> tuple[list[str], Any]:
    """Alerts (as JSON text) and the job counters of an in-process parallel pipeline."""
    import json
    from audisp_eql.check import load_checked
    from audisp_eql.pipeline import PipelineOptions
    ruleset, exceptions = load_checked([str(CORPUS), str(ROOT / "rules")], [])
    rules = [r for r in ruleset.rules if r.compiled is not None]
    found: list[str] = []

    def keep(alert: dict[str, Any]) -> None:
        alert = dict(alert, event=dict(alert["event"], created="-"))
        found.append(json.dumps(alert, sort_keys=True))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(parallel.BATCH_ENV, str(batch))
        pipeline = jobs_module.build_parallel(
            PipelineOptions(rules=rules, exceptions=exceptions, hostname="jobs-test"), 2,
            on_alert=keep)
        try:
            pipeline.read_files(files, lambda name, error: None)
            pipeline.flush()
        finally:
            pipeline.close()
    return found, pipeline.stats


def test_boundaries_were_crossed_and_the_check_matters(inputs: dict[str, list[str]]) -> None:
    files = inputs["generated workload"]
    reference, stats = _parallel_run(files, batch=5)
    assert stats.batches >= 3000 // 5 and stats.local_batches == 0
    # children whose parent exec'd in a batch another worker had: the merging
    # process saw the worker's lookup differ and built them again
    assert stats.rebuilt > 0
    single = scan([*RULES, "--format", "json", "--hostname", "jobs-test", *files], 1)[0]
    assert len(reference) == single.count("\n")
    # Trust every worker's documents instead: parents from other batches are
    # missing from alerts, so the answer differs (what the equality tests catch).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parallel, "verify", lambda table, bound, ops: True)
        trusting, _stats = _parallel_run(files, batch=5)
    assert trusting != reference


def test_ecs_input_and_one_job_take_the_single_process_path() -> None:
    parsed = build_parser().parse_args(["scan", "--jobs", "4", "--input", "ecs", *RULES, "x"])
    from audisp_eql.scan import worker_processes
    assert worker_processes(parsed) == 0
    parsed = build_parser().parse_args(["scan", "--jobs", "1", *RULES, "x"])
    assert worker_processes(parsed) == 0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["scan", "--jobs", "0", *RULES, "x"])


def test_workers_are_gone_after_a_scan(inputs: dict[str, list[str]]) -> None:
    before = {p.pid for p in __import__("multiprocessing").active_children()}
    scan([*RULES, "--format", "json", *inputs["sequence streams"]], 3)
    after = {p.pid for p in __import__("multiprocessing").active_children()}
    assert after <= before

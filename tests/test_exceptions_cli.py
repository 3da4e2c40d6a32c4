"""Exceptions from the command line: `check` shows which attach to which rule
and warns on those that can never match; `scan` leaves out what they cover
and counts it per exception; disabled_rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, SEED, SHARED

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")
DATA = ROOT / "tests" / "data" / "rules"
SEED_ID = "41284ba3-ed1a-4598-bfba-a97f75d9aba2"
HIT = DATA / "seed_unix_socket.hit.log"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TOOL, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


def exception(name: str, rule: str, *entries: str, extra: str = "") -> str:
    scope = "all_rules = true" if rule == "*" else f'rule_ids = ["{rule}"]'
    return (f'[[exception]]\nname = "{name}"\n{scope}\n{extra}entries = [\n'
            + "".join(f"  {{ {e} }},\n" for e in entries) + "]\n\n")


def test_scan_leaves_out_what_an_exception_covers_and_counts_it(tmp_path: Path, shared) -> None:
    path = write(tmp_path / "local.toml", exception(
        "socat to docker is the deploy job", SEED_ID,
        'field = "process.name", operator = "is", value = "socat"'))
    before = run("scan", "--format", "json", "-r", str(SEED), str(HIT))
    after = run("scan", "--format", "json", "--summary-json", "-r", str(SEED),
                "--exceptions", str(path), str(HIT))
    names = [json.loads(a)["process"]["name"] for a in before.stdout.splitlines()]
    assert sorted(names) == ["nc", "socat"] and before.returncode == 1
    assert [json.loads(a)["process"]["name"] for a in after.stdout.splitlines()] == ["nc"]
    assert after.returncode == 1
    summary = json.loads(after.stderr.splitlines()[-1])
    assert summary["alerts"] == 1 and summary["suppressed_by_exceptions"] == 1
    assert summary["exceptions"] == [{"name": "socat to docker is the deploy job",
                                      "where": f"{path}:1", "key": "local.toml:1",
                                      "suppressed": 1}]
    # Everything covered: the scan ran and found nothing to report.
    both = write(tmp_path / "both.toml", exception(
        "both", SEED_ID, 'field = "process.name", operator = "is one of", '
                         'value = ["nc", "socat"]'))
    text = run("scan", "-r", str(SEED), "--exceptions", str(both), str(HIT))
    assert (text.stdout, text.returncode) == ("", 0)
    assert "suppressed by exceptions: 2" in text.stderr
    assert f"2  both ({both}:1)" in text.stderr


def test_a_known_good_process_silenced_in_a_generated_log(tmp_path: Path, shared) -> None:
    """The first finding of the issue, at a tenth of its size: a generated log
    scanned with Elastic's rules alerts on netcat thousands of times; one
    exception (nc started by python3) takes exactly those alerts out, counts
    them, and leaves every other rule's alerts as they were."""
    log = tmp_path / "gen.log"
    subprocess.run([sys.executable, str(SHARED / "tools" / "gen_audit_log.py"), "--events",
                    "20000", "--seed", "1", "-o", str(log)], check=True, timeout=300)
    before = run("scan", "--format", "json", "-r", str(CORPUS), str(log))
    alerts = [json.loads(line) for line in before.stdout.splitlines()]
    netcat = [a for a in alerts if a["process"]["executable"] == "/usr/bin/nc"
              and a["process"].get("parent", {}).get("name") == "python3"]
    assert before.returncode == 1 and len(netcat) > 50
    rule_ids = {a["rule"]["uuid"] for a in netcat}
    path = write(tmp_path / "known-good.toml", "".join(exception(
        "nc from python3", rule_id, 'field = "process.executable", operator = "is", '
                                    'value = "/usr/bin/nc"',
        'field = "process.parent.name", operator = "is", value = "python3"')
        for rule_id in sorted(rule_ids)))
    after = run("scan", "--format", "json", "--summary-json", "-r", str(CORPUS),
                "--exceptions", str(path), str(log))
    kept = [json.loads(line) for line in after.stdout.splitlines()]
    summary = json.loads(after.stderr.splitlines()[-1])
    assert len(kept) == len(alerts) - len(netcat)
    assert summary["suppressed_by_exceptions"] == len(netcat)
    assert sum(e["suppressed"] for e in summary["exceptions"]) == len(netcat)
    key = lambda a: (a["rule"]["uuid"], a["event"]["id"])   # noqa: E731
    assert sorted(map(key, kept)) == sorted(map(key, [a for a in alerts if a not in netcat]))


def test_disabled_rules_are_not_run_and_check_says_where(tmp_path: Path, shared) -> None:
    path = write(tmp_path / "off.toml", f'disabled_rules = ["{SEED_ID}"]\n')
    result = run("scan", "--format", "json", "-r", str(SEED), "-r", str(ROOT / "rules"),
                 "--exceptions", str(path), str(HIT))
    fired = {json.loads(line)["rule"]["uuid"] for line in result.stdout.splitlines()}
    assert fired and SEED_ID not in fired   # our own netcat rule still runs
    check = run("check", "-r", str(SEED), "--exceptions", str(path))
    assert check.stdout.splitlines()[0].startswith("disabled")
    assert f"disabled by {path}:1" in check.stdout and check.returncode == 0


def test_check_shows_exceptions_per_rule_and_warns_on_those_that_can_never_match(
        tmp_path: Path, shared) -> None:
    path = write(tmp_path / "e.toml",
                 exception("fine", SEED_ID, 'field = "process.name", operator = "is", '
                                            'value = "socat"')
                 + exception("unknown field", SEED_ID, 'field = "process.code_signature.trusted", '
                                                       'operator = "is", value = "true"')
                 + exception("wrong action", SEED_ID, 'field = "event.action", operator = "is", '
                                                      'value = "executed"')
                 + exception("contradiction", SEED_ID,
                             'field = "user.name", operator = "is", value = "root"',
                             'field = "user.name", operator = "is not one of", '
                             'value = ["root", "admin"]')
                 + exception("everything", SEED_ID, 'field = "event.action", operator = "is", '
                                                    'value = "exec"')
                 + exception("windows", SEED_ID, 'field = "process.name", operator = "exists"',
                             extra='os_types = ["windows"]\n')
                 + exception("expired", SEED_ID, 'field = "process.name", operator = "exists"',
                             extra="expires = 2020-01-01\n")
                 + exception("nobody's", "no-such-rule", 'field = "process.name", operator = '
                                                          '"exists"'))
    result = run("check", "-r", str(SEED), "--exceptions", str(path))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok ") and SEED_ID in lines[0]
    under = [line.strip() for line in lines[1:8]]
    p = str(path)
    at = [f"{p}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
          if line == "[[exception]]"]
    assert under == [
        f'exception "fine" ({at[0]})',
        f'exception "unknown field" ({at[1]}): can never match: process.code_signature.trusted is '
        "\"true\" never holds: audisp-eql's process documents never have "
        "process.code_signature.trusted (only documents read with --input ecs can)",
        f'exception "wrong action" ({at[2]}): can never match: event.action is "executed" never '
        "holds: audisp-eql's process documents have event.action \"exec\"",
        f'exception "contradiction" ({at[3]}): can never match: user.name is "root" and '
        'user.name is not one of ["root", "admin"] contradict each other',
        f'exception "everything" ({at[4]}): matches every alert of this rule: event.action is '
        '"exec" hold on every document',
        f'exception "windows" ({at[5]}): can never match: os_types ["windows"]: audisp-eql\'s '
        "documents are linux",
        f'exception "expired" ({at[6]}): expired on 2020-01-01 00:00 UTC: not applied']
    assert f'warning      exception "nobody\'s" ({at[7]}) names rule_id no-such-rule, which no ' \
           "loaded rule has" in lines
    assert "; 8 exceptions from 1 file(s) (1 expired, 6 with notes), 0 errors, 1 warnings; " \
        "regular expressions: " in lines[-1]
    assert result.returncode == 1   # findings, not errors
    as_json = [json.loads(line) for line in run("check", "--format", "json", "-r", str(SEED),
                                                "--exceptions", str(path)).stdout.splitlines()]
    assert [e["name"] for e in as_json[0]["exceptions"]][:2] == ["fine", "unknown field"]
    assert as_json[0]["exceptions"][0]["notes"] == []
    assert as_json[-1] == {"status": "warning", "kind": "exceptions", "reason":
                           f'exception "nobody\'s" ({at[7]}) names rule_id no-such-rule, '
                           "which no loaded rule has"}


def test_check_exit_status_for_exceptions(tmp_path: Path, shared) -> None:
    good = write(tmp_path / "good.toml", exception(
        "fine", SEED_ID, 'field = "process.name", operator = "is", value = "socat"'))
    assert run("check", "-r", str(SEED), "--exceptions", str(good)).returncode == 0
    bad = write(tmp_path / "bad.toml", exception("bad", SEED_ID, 'field = "x", operator = "?"'))
    result = run("check", "-r", str(SEED), "--exceptions", str(bad))
    assert result.returncode == 2
    assert f"invalid      exceptions: {bad}:1: exception \"bad\": entry 1: operator" \
        in result.stdout
    scan = run("scan", "-r", str(SEED), "--exceptions", str(bad), str(HIT))
    assert scan.returncode == 2 and f"exception not loaded: {bad}:1:" in scan.stderr
    assert len(scan.stdout.splitlines()) == 2   # the alerts are still printed


@pytest.mark.parametrize("operator, value, count", [
    ("is", '"nc"', 1), ("is not", '"nc"', 1), ("is one of", '["nc", "socat"]', 2),
    ("matches", '"so*"', 1), ("does not match", '"so*"', 1), ("exists", None, 2),
    ("does not exist", None, 0),
])
def test_scan_counts_per_operator(tmp_path: Path, operator: str, value: str | None,
                                  count: int, shared) -> None:
    body = f'field = "process.name", operator = "{operator}"' + (f", value = {value}" if value
                                                                 else "")
    path = write(tmp_path / "e.toml", exception("x", "*", body))
    result = run("scan", "--summary-json", "-q", "-r", str(SEED), "--exceptions", str(path),
                 str(HIT))
    lines = result.stdout.splitlines()
    assert len(lines) == 2 - count
    assert result.returncode == (1 if count < 2 else 0)


def test_counting_is_per_exception_in_load_order(tmp_path: Path, shared) -> None:
    path = write(tmp_path / "e.toml",
                 exception("to all", "*", 'field = "process.name", operator = "exists"')
                 + exception("to the rule", SEED_ID, 'field = "process.name", operator = "is", '
                                                     'value = "nc"'))
    result = run("scan", "--summary-json", "-r", str(SEED), "--exceptions", str(path), str(HIT))
    counts = Counter({e["name"]: e["suppressed"]
                      for e in json.loads(result.stderr.splitlines()[-1])["exceptions"]})
    assert counts == {"to the rule": 1, "to all": 1}   # the rule's own first, then all rules'

"""`audisp-eql check`: one status per rule, JSON form, exit status."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import CORPUS, ROOT, SEED

TOOL = str(ROOT / ".venv" / "bin" / "audisp-eql")


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TOOL, "check", *args], capture_output=True, text=True)


def test_corpus_json_reports_all_351_rules_none_invalid(shared):
    result = check("--format", "json", "--rules", str(CORPUS))
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == 351
    assert all(set(r) == {"path", "rule_id", "name", "status", "reason", "exceptions"}
               for r in reports)
    statuses = {r["status"] for r in reports}
    assert statuses <= {"ok", "unsupported", "cannot_fire"}
    # Rules that cannot run or never fire are findings (1), not errors (2).
    assert result.returncode == 1, result.stderr
    assert len({r["rule_id"] for r in reports}) == 351


def test_text_lists_each_rule_and_a_summary(shared):
    result = check("--rules", str(SEED), "-r", str(ROOT / "rules"))
    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert any(line.startswith("ok") and "Unix Socket Connection" in line for line in lines)
    # Every rule of ours can fire on the documents we build (file, driver, ... included).
    total = len(lines) - 1
    assert all(line.startswith("ok ") for line in lines[:-1]), \
        [line for line in lines[:-1] if not line.startswith("ok ")]
    assert lines[-1].startswith(f"{total} rules: {total} ok, 0 unsupported, 0 invalid, "
                                "0 cannot_fire; regular expressions: ")


def test_rules_takes_one_path_each_time(shared):
    """Nothing after --rules is swallowed: a second path needs its own --rules."""
    result = check("--rules", str(SEED), str(ROOT / "rules"))
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr
    both = check("--rules", str(SEED), "--rules", str(ROOT / "rules"))
    assert both.returncode == 0
    assert len(both.stdout.splitlines()) == 1 + 1 + len(list((ROOT / "rules").glob("*.toml")))


def test_invalid_rule_gives_file_line_col_and_exit_2(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[rule]\nname = \"bad\"\nrule_id = \"b\"\ntype = \"eql\"\nlanguage = \"eql\"\n"
                   "query = '''\nprocess where\n  process.name = \"x\"\n'''\n")
    result = check("--rules", str(tmp_path))
    assert result.returncode == 2
    line = result.stdout.splitlines()[0]
    assert line.startswith("invalid") and f"{bad}:8:" in line


def test_hostile_rule_names_are_escaped(tmp_path: Path):
    rule = tmp_path / "r.toml"
    rule.write_text('[rule]\nname = "evil\\u001b[2J\\nname"\nrule_id = "r"\ntype = "eql"\n'
                    'language = "eql"\nquery = \'process where process.name == "x"\'\n')
    result = check("--rules", str(rule))
    assert "\x1b" not in result.stdout
    assert "evil\\x1b[2J\\nname" in result.stdout

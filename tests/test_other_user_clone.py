"""REGRESSION GUARD (issue 18): the tests that run something as another user
must pass from a checkout below a directory only root can traverse (a clone in
/root, or in a 0700 `mktemp -d`), where nobody cannot reach the checkout's
.venv or plugin/.

The checkout (as it is now, untracked and edited files included; not .venv,
.git or caches) is copied into a fresh 0700 temporary directory and given a
venv of its own the cheap, offline way: the system python3 with
--system-site-packages plus a .pth file naming the copy's plugin/ and this
session's site-packages (pytest, google-re2). pytest then runs there on every
test marked `other_user` (conftest.py marks each test using the `other_user`
fixture), and each must pass, not skip.
"""

from __future__ import annotations

import os
import shutil
import site
import stat
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict

import pytest

from conftest import ROOT, SHARED
from harness.other_user import system_python

# The test that failed in issue 18; it must be among those run.
ISSUE_TEST = "test_running_user_may_own_files"


def _copy_checkout(dest: Path) -> None:
    shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "build"))


def _make_venv(checkout: Path) -> Path:
    venv = checkout / ".venv"
    subprocess.run([system_python(), "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    # The copy's package first, so it is what runs; then what this session imports from.
    lines = [str(checkout / "plugin"), *site.getsitepackages()]
    Path(purelib, "audisp_eql_test.pth").write_text("".join(f"{line}\n" for line in lines))
    return python


def _outcomes(report: Path) -> Dict[str, str]:
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return outcomes


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege-dropping tests need root")
def test_privilege_dropping_tests_pass_from_a_clone_under_a_0700_directory() -> None:
    outer = Path(tempfile.mkdtemp(prefix="audisp-eql-0700-"))
    try:
        assert stat.S_IMODE(outer.stat().st_mode) == 0o700   # the situation of issue 18
        checkout = outer / "audisp-eql"
        _copy_checkout(checkout)
        python = _make_venv(checkout)
        report = outer / "report.xml"
        env = dict(os.environ, AUDISP_EQL_SHARED=str(SHARED))
        result = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "other_user",
             f"--basetemp={outer / 'basetemp'}", f"--junitxml={report}", "tests"],
            cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
        output = result.stdout[-6000:] + result.stderr[-2000:]
        assert result.returncode == 0, output
        outcomes = _outcomes(report)
        assert any(name.endswith(ISSUE_TEST) for name in outcomes), output
        assert all(outcome == "passed" for outcome in outcomes.values()), outcomes
    finally:
        shutil.rmtree(outer)

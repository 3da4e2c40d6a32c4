"""The audit rule profiles of conf/profiles/: the committed files profile is
what tools/derive_file_watches.py derives from the rules, the mapping from
patterns to watches, and every profile loading into the real kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audisp_eql import watches
from audisp_eql.eql import parse_query
from conftest import ROOT
from harness.auditd import auditctl, running_auditd, unavailable_reason
from harness.profiles import PROFILE_NAMES, PROFILES, profile_rules

TOOL = ROOT / "tools" / "derive_file_watches.py"


def test_exec_profile_is_the_default_rule_file() -> None:
    assert (PROFILES / "exec.rules").read_text() == (ROOT / "conf" / "audisp-eql.rules").read_text()


def test_profiles_set_no_global_options() -> None:
    """-D would wipe the other profiles, -e 2 lock the kernel, -b/-f are the admin's."""
    for name in PROFILE_NAMES:
        for line in profile_rules([name]):
            assert line.split()[0] in ("-a", "-w"), (name, line)
            assert "-k " in line, (name, line)


def test_committed_files_profile_is_what_the_tool_derives(shared: Path) -> None:
    result = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True,
                            check=True, env={**os.environ, "AUDISP_EQL_SHARED": str(shared)})
    assert result.stdout == (PROFILES / "files.rules").read_text(), \
        "conf/profiles/files.rules is stale: run `make profiles`"


def test_tool_reports_a_missing_rule_path(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(TOOL), "--rules", str(tmp_path / "none")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no such rule path" in result.stderr


def _derive(*queries: str, host: bool = False) -> watches.Derivation:
    return watches.derive([(f"r{i}", parse_query(q)) for i, q in enumerate(queries)], host=host)


def test_pattern_to_watch_mapping() -> None:
    result = _derive(
        'file where file.path : ("/etc/cron.d/*", "/etc/crontab", "C:\\\\Windows\\\\*", ".load")',
        'file where file.path like "/etc/cron.d/sub/*"',                # under a watched tree
        'file where file.path in ("/etc/NetworkManager/dispatcher.d/x")',  # parent not everywhere
        'file where file.path like ("/tmp/*", "/home/*/.ssh/*")',       # too broad
        'file where not file.path : "/etc/shadow"',                    # negative: not watched
        'process where file.path == "/etc/hosts"',                     # not a file query
        'file where file.name == "authorized_keys"',                   # no path at all
        'file where file.path : ("/usr/lib/x86_64-linux-gnu/security/*")',
    )
    assert sorted(result.watches) == ["/etc/NetworkManager", "/etc/cron.d", "/etc/crontab"]
    assert result.watches["/etc/cron.d"] == {"r0", "r1"}
    assert set(result.too_broad) == {"/tmp/*", "/home/*/.ssh/*"}
    assert "/usr/lib/x86_64-linux-gnu/security" in result.host_specific
    assert {"r3", "r4", "r5", "r6"} <= result.not_coverable


def test_host_mode_expands_wildcards_on_this_host(tmp_path: Path) -> None:
    result = _derive('file where file.path : "/etc/sudoers*"', host=True)
    assert "/etc/sudoers" in result.watches or not Path("/etc/sudoers").exists()
    result = _derive('file where file.path : "/usr/lib/python3*/site-packages/*.pth"', host=True)
    assert all(p.startswith("/usr/lib/python3") for p in result.watches)


@pytest.mark.skipif(unavailable_reason(False) is not None, reason=str(unavailable_reason(False)))
def test_every_profile_loads_into_the_kernel(tmp_path: Path, shared: Path) -> None:
    host = tmp_path / "files-host.rules"
    subprocess.run([sys.executable, str(TOOL), "--host", "-o", str(host)], check=True,
                   env={**os.environ, "AUDISP_EQL_SHARED": str(shared)})
    files = [PROFILES / f"{name}.rules" for name in PROFILE_NAMES] + [host]
    with running_auditd(tmp_path) as daemon:
        for path in files:
            copy = tmp_path / path.name        # auditctl -R wants a root-only file
            copy.write_bytes(path.read_bytes())
            os.chmod(copy, 0o600)
            auditctl("-D")
            auditctl("-R", str(copy))
            loaded = [line for line in auditctl("-l").splitlines() if line.startswith(("-a", "-w"))]
            expected = sum(1 for line in copy.read_text().splitlines()
                           if line.startswith(("-a", "-w")))
            assert len(loaded) == expected, path.name
        # All of them at once, as augenrules loads rules.d.
        auditctl("-D")
        combined = tmp_path / "all.rules"
        combined.write_text("".join((PROFILES / f"{n}.rules").read_text() for n in PROFILE_NAMES))
        os.chmod(combined, 0o600)
        auditctl("-R", str(combined))
        daemon.stop()

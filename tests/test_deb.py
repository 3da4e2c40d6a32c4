"""The Debian package, for real: `make deb` builds it with Debian's tools into a
temporary directory, lintian has nothing to say, apt installs it, the installed
files, user, permissions, program, rotation and man pages are checked in place,
then apt purges it and nothing of it is left: files, user, group, statoverrides,
and any package the install pulled in as a dependency (only those: other
developers' runs may install and remove things on the same machine meanwhile).

A machine where audisp-eql is already installed (a developer's own) is skipped,
never replaced; test runs of several checkouts take turns through a lock."""

from __future__ import annotations

import fcntl
import grp
import gzip
import os
import pwd
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from audisp_eql import __version__
from conftest import ROOT
from harness.auditd import EXEC_RULES, running_auditd
from harness.procs import stop_process, wait_for

PACKAGE = "audisp-eql"
USER = "_audisp-eql"
DEB = f"{PACKAGE}_{__version__}_all.deb"
LOCK_PATH = Path("/run/lock/audisp-eql-test-deb.lock")
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"]
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"   # util-linux

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="installing a package needs root"),
    pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("apt-get") is None,
                       reason="not a Debian system (no dpkg/apt-get)"),
]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("timeout", 600)
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def status(package: str) -> str:
    """dpkg's status abbreviation ("ii", "rc", ...) or "" when dpkg does not know it."""
    result = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package])
    return result.stdout.strip() if result.returncode == 0 else ""


def installed_packages() -> set[str]:
    out = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package}\n"], check=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.startswith("ii")}


def statoverrides() -> set[str]:
    return set(run(["dpkg-statoverride", "--list"], check=True).stdout.splitlines())


def machine_state() -> dict:
    return {"packages": installed_packages(), "statoverrides": statoverrides()}


def apt_would(action: list[str]) -> set[str]:
    """Packages `apt-get -s ACTION` would install or remove (a simulation)."""
    out = run(APT + ["-s", *action], env=APT_ENV, check=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.startswith(("Inst ", "Remv "))}


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def owner(path: str | Path) -> tuple[str, str]:
    st = os.stat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name


# -- building --------------------------------------------------------------------

@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    result = run(["make", "-s", "-C", str(ROOT), "deb", f"DEB_BUILD_DIR={out}"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    path = out / DEB
    assert path.is_file(), sorted(p.name for p in out.iterdir())
    return path


def test_lintian_has_nothing_to_say(deb: Path, tmp_path: Path) -> None:
    # Every tag, down to pedantic and experimental ones, and overridden ones shown.
    # (TMPDIR: lintian leaves mldbm-elf-* files there; the test's own directory.)
    result = run(["lintian", "--info", "--display-experimental", "--pedantic",
                  "--show-overrides", str(deb)], env={**os.environ, "TMPDIR": str(tmp_path)})
    tags = [line for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and line != "running with root privileges is not recommended!"]
    assert result.returncode == 0 and tags == [], "\n".join(tags)


def test_package_metadata(deb: Path) -> None:
    fields = {name: run(["dpkg-deb", "-f", str(deb), name], check=True).stdout.strip()
              for name in ("Package", "Version", "Architecture", "Depends")}
    assert fields["Package"] == PACKAGE and fields["Version"] == __version__
    assert fields["Architecture"] == "all"
    depends = {d.split()[0] for d in fields["Depends"].replace("|", ",").split(",")}
    assert {"python3", "python3-audit", "python3-pyparsing", "auditd", "adduser"} <= depends
    # Pure Python: no compiled object in an `all` package (google-re2 is not bundled).
    names = [line.split()[-1] for line in
             run(["dpkg-deb", "-c", str(deb)], check=True).stdout.splitlines()]
    assert not [n for n in names if ".so" in n or "/re2/" in n or "google_re2" in n]


# -- installing ------------------------------------------------------------------

@dataclass
class Install:
    before: dict
    pulled_in: set[str] = field(default_factory=set)
    purged: bool = False


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Install]:
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_PATH, "a+b") as lock:
        if not wait_for(lambda: _try_lock(lock), 1800, 0.5):
            pytest.fail(f"another test run held {LOCK_PATH} for 30 minutes")
        try:
            if status(PACKAGE):
                pytest.skip(f"{PACKAGE} is already known to dpkg here ({status(PACKAGE)}): "
                            "a developer's own install is not replaced by a test")
            if any(p.pw_name == USER for p in pwd.getpwall()):
                pytest.skip(f"a user {USER} exists without the package: not touching it")
            before = machine_state()
            # What apt installs for us: the package and the dependencies missing here.
            pulled_in = apt_would(["install", str(deb)]) - {PACKAGE}
            result = run(APT + ["install", str(deb)], env=APT_ENV)
            state = Install(before, pulled_in & installed_packages())
            try:
                assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
                assert status(PACKAGE) == "ii"
                yield state
            finally:
                if not state.purged:   # a failure before test_purge_leaves_nothing
                    _purge(state)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _try_lock(lock) -> bool:  # type: ignore[no-untyped-def]
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _purge(state: Install) -> list[subprocess.CompletedProcess]:
    """apt purge the package, then what its install pulled in and nothing needs now
    (never all of `autoremove`: other packages may be waiting for their owner)."""
    state.purged = True
    results = [run(APT + ["purge", PACKAGE], env=APT_ENV)]
    ours = sorted(state.pulled_in & apt_would(["autoremove"]))
    if ours:
        results.append(run(APT + ["purge", *ours], env=APT_ENV))
    return results


def source_modules() -> list[str]:
    """The package's files: modules and the report's templates."""
    package = ROOT / "plugin"
    return sorted(str(p.relative_to(package)) for p in (package / "audisp_eql").rglob("*")
                  if p.suffix in (".py", ".j2"))


def expected_files() -> set[str]:
    profiles = [p.name for p in [*(ROOT / "conf").glob("*.rules"),
                                 *(ROOT / "conf" / "profiles").glob("*.rules")]
                if p.name != "audisp-eql.rules"]
    return {
        "/usr/bin/audisp-eql",
        *(f"/usr/lib/audisp-eql/{m}" for m in source_modules()),
        "/etc/audisp-eql/audisp-eql.toml",
        *(f"/etc/audisp-eql/rules.d/{p.name}" for p in (ROOT / "rules").glob("*.toml")),
        *(f"/etc/audisp-eql/controls.d/{p.name}" for p in (ROOT / "controls").glob("*.toml")),
        "/etc/audit/plugins.d/audisp-eql.conf",
        "/etc/audit/rules.d/audisp-eql.rules",
        *(f"/usr/share/audisp-eql/profiles/{name}" for name in profiles),
        "/etc/logrotate.d/audisp-eql",
        "/usr/share/man/man5/audisp-eql.toml.5.gz",
        "/usr/share/man/man5/audisp-eql-exceptions.5.gz",
        "/usr/share/man/man7/audisp-eql-eql.7.gz",
        "/usr/share/man/man8/audisp-eql.8.gz",
        "/usr/share/doc/audisp-eql/copyright",
        "/usr/share/doc/audisp-eql/changelog.gz",
        "/usr/share/doc/audisp-eql/README.Debian",
        "/usr/share/doc/audisp-eql/README.md.gz",
        "/usr/share/python3/runtime.d/audisp-eql.rtupdate",
    }


def test_dpkg_lists_exactly_the_expected_files(installed: Install) -> None:
    listed = run(["dpkg", "-L", PACKAGE], check=True).stdout.split()
    files = {p for p in listed if not os.path.isdir(p)}
    assert files == expected_files()
    directories = {p for p in listed if os.path.isdir(p)}
    assert {"/etc/audisp-eql/exceptions.d", "/var/log/audisp-eql",
            "/usr/lib/audisp-eql/audisp_eql/eql", "/usr/lib/audisp-eql/audisp_eql/outputs"} \
        <= directories
    conffiles = {line.split()[0] for line in run(
        ["dpkg-query", "-W", "-f=${Conffiles}\n", PACKAGE], check=True).stdout.splitlines()
        if line.strip()}
    assert conffiles == {f for f in expected_files() if f.startswith("/etc/")}


def test_the_system_user(installed: Install) -> None:
    entry = pwd.getpwnam(USER)
    assert entry.pw_uid < 1000 and entry.pw_uid != 0       # a system user
    assert entry.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin")
    assert entry.pw_dir == "/nonexistent" and not os.path.exists(entry.pw_dir)
    assert grp.getgrgid(entry.pw_gid).gr_name == USER


def test_files_modes_and_owners(installed: Install) -> None:
    launcher = Path("/usr/bin/audisp-eql")
    assert owner(launcher) == ("root", "root") and mode(launcher) == 0o755
    assert launcher.read_text().startswith("#!/usr/bin/python3 -I\n")
    # The whole package tree, byte-compiled by py3compile at install.
    for module in source_modules():
        installed_module = Path("/usr/lib/audisp-eql") / module
        assert installed_module.read_bytes() == (ROOT / "plugin" / module).read_bytes(), module
    assert list(Path("/usr/lib/audisp-eql/audisp_eql/eql/__pycache__").glob("linregex.*.pyc"))
    # Configuration and rules: the plugin's user may read them (group), others not.
    assert owner("/etc/audisp-eql") == ("root", USER) and mode("/etc/audisp-eql") == 0o750
    config = Path("/etc/audisp-eql/audisp-eql.toml")
    assert owner(config) == ("root", "root") and not mode(config) & 0o022
    assert f'\nuser = "{USER}"\n' in config.read_text()
    for rule in (ROOT / "rules").glob("*.toml"):
        assert (Path("/etc/audisp-eql/rules.d") / rule.name).read_bytes() == rule.read_bytes()
    assert list(Path("/etc/audisp-eql/exceptions.d").iterdir()) == []
    # Alerts: written by the plugin's user, readable by adm (as system logs), not others.
    assert owner("/var/log/audisp-eql") == (USER, "adm")
    assert mode("/var/log/audisp-eql") == 0o2750
    # auditd's side: the drop-in (active, as laurel ships its own) and the audit rules.
    dropin = Path("/etc/audit/plugins.d/audisp-eql.conf").read_text()
    for line in ("active = yes", "path = /usr/bin/audisp-eql",
                 "args = plugin /etc/audisp-eql/audisp-eql.toml", "format = string"):
        assert f"\n{line}\n" in dropin, line
    for path in ("/etc/audit/plugins.d/audisp-eql.conf", "/etc/audit/rules.d/audisp-eql.rules"):
        assert owner(path)[0] == "root" and not mode(path) & 0o022
    assert Path("/etc/audit/rules.d/audisp-eql.rules").read_bytes() == \
        (ROOT / "conf/audisp-eql.rules").read_bytes()
    copyright_text = Path("/usr/share/doc/audisp-eql/copyright").read_text()
    assert copyright_text.startswith(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    assert "\nLicense: Apache-2.0\n" in copyright_text


def test_installed_man_pages_name_the_installed_paths(installed: Install) -> None:
    page = gzip.decompress(Path("/usr/share/man/man8/audisp-eql.8.gz").read_bytes()).decode()
    assert "path = /usr/bin/audisp-eql" in page and "/etc/audisp-eql/audisp-eql.toml" in page
    for name in ("man5/audisp-eql.toml.5.gz", "man5/audisp-eql-exceptions.5.gz",
                 "man7/audisp-eql-eql.7.gz", "man8/audisp-eql.8.gz"):
        text = gzip.decompress((Path("/usr/share/man") / name).read_bytes()).decode()
        assert "/usr/local" not in text, name
    rendered = run(["man", "-P", "cat", "8", "audisp-eql"], env=dict(os.environ, MANWIDTH="80"))
    assert rendered.returncode == 0 and "/usr/bin/audisp-eql" in rendered.stdout


def test_installed_program_version_and_check(installed: Install) -> None:
    version = run(["/usr/bin/audisp-eql", "--version"], env={})
    assert version.returncode == 0 and version.stdout.strip() == f"audisp-eql {__version__}"
    # Debian's python3 has no re2 unless someone pip-installed it system-wide.
    re2_there = run(["/usr/bin/python3", "-I", "-c", "import re2"]).returncode == 0
    engine = "RE2 (google-re2)" if re2_there else "built-in linear-time automaton"
    rules = len(list((ROOT / "rules").glob("*.toml")))
    for user in ("root", USER):
        check = run([RUNUSER, "-u", user, "--", "/usr/bin/audisp-eql", "check",
                     "--rules", "/etc/audisp-eql/rules.d"], env={})
        assert check.returncode == 0, (user, check.stdout[-2000:], check.stderr[-2000:])
        assert check.stdout.splitlines()[-1].startswith(
            f"{rules} rules: {rules} ok, 0 unsupported, 0 invalid, 0 cannot_fire; "
            f"regular expressions: {engine}"), check.stdout[-500:]
    # Any other user is kept out of the rules (and exceptions, when they come).
    other = run([RUNUSER, "-u", "nobody", "--", "/usr/bin/audisp-eql", "check",
                 "--rules", "/etc/audisp-eql/rules.d"], env={})
    assert other.returncode != 0 and "Permission denied" in other.stderr


def test_installed_program_finds_what_the_development_tree_finds(installed: Install) -> None:
    """The installed rule pack (with its regex rules, on the built-in automaton
    here) gives the alerts the development tree (RE2) gives on the demo log."""
    def alerts(program: str) -> list[tuple[str, str]]:
        result = run([program, "scan", "--format", "json", "--rules", "/etc/audisp-eql/rules.d",
                      str(ROOT / "examples/intrusion.log")], env={})
        assert result.returncode == 1, result.stderr[-2000:]   # 1: alerts
        import json
        return sorted((a["rule"]["name"], a["event"]["id"])
                      for a in map(json.loads, result.stdout.splitlines()))
    found = alerts("/usr/bin/audisp-eql")
    assert len(found) >= 10 and found == alerts(str(ROOT / ".venv/bin/audisp-eql"))


def test_shipped_config_runs_the_plugin_as_its_user(installed: Install) -> None:
    with open(ROOT / "examples/intrusion.log", "rb") as records:
        result = run(["/usr/bin/audisp-eql", "plugin", "/etc/audisp-eql/audisp-eql.toml"],
                     stdin=records, env={}, timeout=120)
    entry = pwd.getpwnam(USER)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"running as uid {entry.pw_uid} gid {entry.pw_gid}" in result.stderr
    rules = len(list((ROOT / "rules").glob("*.toml")))
    assert f"started: {rules} rules loaded from /etc/audisp-eql/rules.d" in result.stderr
    assert "end of input;" in result.stderr and " alerts=0 " not in result.stderr


def test_logrotate_rotates_and_signals_only_the_plugin(installed: Install,
                                                       tmp_path: Path) -> None:
    """Under a real auditd, the plugin (as its user) writes the JSON file; the
    package's logrotate file moves it away and sends USR2; the plugin creates the
    file again at once (without a signal it would wait for the next alert). An
    `audisp-eql scan` run by someone else is not signalled (USR2 would end it)."""
    alerts = Path("/var/log/audisp-eql/alerts.json")
    config = tmp_path / "plugin.toml"
    config.write_text(f'[plugin]\nuser = "{USER}"\nstatus_interval = 0\n'
                      '[output.syslog]\nenabled = false\n'
                      f'[output.file]\nenabled = true\npath = "{alerts}"\n')
    os.chmod(tmp_path, 0o755)
    dropin = "".join(f"args = plugin {config}\n" if line.startswith("args") else line
                     for line in Path("/etc/audit/plugins.d/audisp-eql.conf")
                     .read_text().splitlines(keepends=True) if not line.startswith("#"))
    bystander = subprocess.Popen(["/usr/bin/audisp-eql", "scan", "--rules",
                                  "/etc/audisp-eql/rules.d", "-"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with running_auditd(tmp_path, plugins={"audisp-eql": dropin}) as ad:
            def plugin_dropped() -> bool:
                for pid in ad.children():
                    try:
                        status_text = Path(f"/proc/{pid}/status").read_text()
                    except OSError:
                        continue
                    uid_line = next(l for l in status_text.splitlines() if l.startswith("Uid:"))
                    if int(uid_line.split()[1]) == pwd.getpwnam(USER).pw_uid:
                        return True
                return False
            assert wait_for(plugin_dropped, 30), ad.stderr_text()
            assert alerts.exists()                      # opened at start, as root
            # A program run from /tmp: the pack's world-writable-directory rule fires.
            ad.add_rules(EXEC_RULES)
            program = tmp_path / "deb-test-true"
            shutil.copy("/bin/true", program)
            subprocess.run([str(program)], check=True)
            assert wait_for(lambda: program.name in alerts.read_text(), 20), ad.stderr_text()

            assert bystander.poll() is None    # reading its stdin, named audisp-eql too
            result = run(["logrotate", "-f", "-s", str(tmp_path / "logrotate.state"),
                          "/etc/logrotate.d/audisp-eql"])
            assert result.returncode == 0, result.stderr
            assert program.name in Path(f"{alerts}.1").read_text()
            assert wait_for(alerts.exists, 10), "the plugin did not reopen its file (no USR2?)"
            assert owner(alerts) == (USER, "adm") and mode(alerts) == 0o640
            subprocess.run([str(program), "again"], check=True)
            assert wait_for(lambda: "again" in alerts.read_text(), 20)
            assert bystander.poll() is None, "logrotate's signal hit an audisp-eql scan"
            time.sleep(0.5)
            assert bystander.poll() is None
    finally:
        bystander.stdin.close()            # type: ignore[union-attr]
        stop_process(bystander)
        for path in alerts.parent.glob("alerts.json*"):
            path.unlink()


def test_purge_leaves_nothing(installed: Install) -> None:
    results = _purge(installed)
    for result in results:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert status(PACKAGE) == ""                  # not even "rc": config purged too
    for path in ["/etc/audisp-eql", "/var/log/audisp-eql", "/usr/lib/audisp-eql",
                 "/usr/share/audisp-eql", "/usr/share/doc/audisp-eql", *expected_files()]:
        assert not os.path.lexists(path), path
    assert USER not in {p.pw_name for p in pwd.getpwall()}
    assert USER not in {g.gr_name for g in grp.getgrall()}
    after = machine_state()
    # Our dependencies are gone again; nothing that was installed before is
    # (auditd and python3-audit above all); the statoverrides are as they were.
    assert not installed.pulled_in & after["packages"]
    assert installed.before["packages"] - after["packages"] == set()
    assert after["statoverrides"] == installed.before["statoverrides"]

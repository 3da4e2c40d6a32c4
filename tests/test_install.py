"""`make install` / `make uninstall` into temporary trees; `pip wheel`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

INSTALLED = [
    "usr/local/bin/audisp-eql",
    "usr/local/lib/audisp-eql/audisp_eql/cli.py",
    "usr/local/lib/audisp-eql/audisp_eql/outputs/syslog.py",
    "etc/audisp-eql/audisp-eql.toml",
    "etc/audit/plugins.d/audisp-eql.conf",
    "etc/audit/rules.d/audisp-eql.rules",
    "etc/audisp-eql/rules.d/execution_unix_socket_client.toml",
    "etc/audisp-eql/rules.d/credential_access_failed_login.toml",
    "etc/audisp-eql/controls.d/pci-dss-4.0.toml",
    "etc/audisp-eql/controls.d/evidence.toml",
    "usr/local/share/audisp-eql/profiles/compliance.rules",
    "usr/local/lib/audisp-eql/audisp_eql/report/templates/report.html.j2",
    "usr/local/share/man/man5/audisp-eql.toml.5",
    "usr/local/share/man/man5/audisp-eql-exceptions.5",
    "usr/local/share/man/man7/audisp-eql-eql.7",
    "usr/local/share/man/man8/audisp-eql.8",
    "usr/local/share/audisp-eql/profiles/files.rules",
    "usr/local/share/audisp-eql/profiles/network.rules",
]


def make(*args: str) -> None:
    subprocess.run(["make", "-s", "-C", str(ROOT), *args], check=True, capture_output=True,
                   timeout=120)


def test_destdir_install_and_uninstall(tmp_path: Path) -> None:
    make("install", f"DESTDIR={tmp_path}")
    for path in INSTALLED:
        assert (tmp_path / path).is_file(), path
    dropin = (tmp_path / "etc/audit/plugins.d/audisp-eql.conf").read_text()
    assert "\npath = /usr/local/bin/audisp-eql\n" in dropin
    assert "\nargs = plugin /etc/audisp-eql/audisp-eql.toml\n" in dropin
    # auditd 3.0 passes at most two words of args.
    args_line = next(l for l in dropin.splitlines() if l.startswith("args"))
    assert len(args_line.split("=", 1)[1].split()) <= 2
    assert os.stat(tmp_path / "usr/local/bin/audisp-eql").st_mode & 0o111
    # The alert file's directory exists, closed to other users.
    assert (os.stat(tmp_path / "var/log/audisp-eql").st_mode & 0o777) == 0o750
    # An administrator's config survives reinstall and uninstall.
    config = tmp_path / "etc/audisp-eql/audisp-eql.toml"
    config.write_text("# mine\n")
    make("install", f"DESTDIR={tmp_path}")
    assert config.read_text() == "# mine\n"
    make("uninstall", f"DESTDIR={tmp_path}")
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["etc/audisp-eql/audisp-eql.toml"]


def test_installed_program_runs_with_an_empty_environment(tmp_path: Path) -> None:
    # PREFIX (not DESTDIR) so the launcher's library path is real.
    make("install", f"PREFIX={tmp_path}/usr", f"SYSCONFDIR={tmp_path}/etc",
         f"LOCALSTATEDIR={tmp_path}/var")
    program = tmp_path / "usr/bin/audisp-eql"
    result = subprocess.run([str(program), "--version"], env={}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("audisp-eql ")
    dropin = (tmp_path / "etc/audit/plugins.d/audisp-eql.conf").read_text()
    assert f"path = {program}\n" in dropin
    assert f"args = plugin {tmp_path}/etc/audisp-eql/audisp-eql.toml\n" in dropin


def test_installed_program_scans_with_regex_rules(tmp_path: Path) -> None:
    """The installed tree is complete: rules with Lucene regexes need google-re2 beside it."""
    make("install", f"PREFIX={tmp_path}/usr", f"SYSCONFDIR={tmp_path}/etc",
         f"LOCALSTATEDIR={tmp_path}/var")
    rule = tmp_path / "regex_rule.toml"
    rule.write_text(
        '[metadata]\nmaturity = "production"\n'
        '[rule]\nrule_id = "0b0c61d5-5f7e-4d0e-9a57-3f1e2f6d8a11"\nname = "Regex probe"\n'
        'description = "d"\ntype = "eql"\nlanguage = "eql"\nseverity = "low"\nrisk_score = 21\n'
        "query = '''process where process.name regex~ \"AUDITCTL|insmod\"'''\n")
    program = tmp_path / "usr/bin/audisp-eql"
    result = subprocess.run(
        [str(program), "scan", "--format", "json", "--rules", str(rule),
         str(ROOT / "examples/intrusion.log")],
        env={}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr   # alerts
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {a["rule"]["name"] for a in alerts} == {"Regex probe"}
    # regex~ folds case: "AUDITCTL" matches auditctl; insmod matches as written.
    assert {a["process"]["name"] for a in alerts} == {"auditctl", "insmod"}


def test_package_options_profiles_and_installed_paths(tmp_path: Path) -> None:
    """What debian/rules asks of `make install`: /usr paths in the man pages, no
    google-re2 beside the package, the plugin user in a new config; and every
    audit rule profile besides the default one under share/audisp-eql/profiles."""
    extra = tmp_path / "src" / "extra-profile.rules"
    extra.parent.mkdir()
    extra.write_text("-w /etc/shadow -p wa -k shadow\n")
    root = tmp_path / "root"
    options = [f"DESTDIR={root}", "PREFIX=/usr", "BUNDLE_RE2=no", "PLUGIN_USER=_someone",
               f"RULE_PROFILES=conf/audisp-eql.rules {extra}"]
    make("install", *options)
    profiles = root / "usr/share/audisp-eql/profiles"
    assert sorted(p.name for p in profiles.iterdir()) == ["extra-profile.rules"]
    assert (profiles / "extra-profile.rules").read_text() == extra.read_text()
    assert (root / "etc/audit/rules.d/audisp-eql.rules").read_bytes() == \
        (ROOT / "conf/audisp-eql.rules").read_bytes()
    config = (root / "etc/audisp-eql/audisp-eql.toml").read_text()
    from audisp_eql.config import parse_config
    assert parse_config(config).user == "_someone"
    assert parse_config((ROOT / "conf/audisp-eql.toml").read_text()).user == ""
    # The whole package tree (subpackages too) and nothing else: no google-re2.
    lib = root / "usr/lib/audisp-eql"
    assert [p.name for p in lib.iterdir()] == ["audisp_eql"]
    source = ROOT / "plugin/audisp_eql"
    assert sorted(str(p.relative_to(lib / "audisp_eql")) for p in lib.rglob("*.py")) == \
        sorted(str(p.relative_to(source)) for p in source.rglob("*.py"))
    assert (root / "etc/audisp-eql/exceptions.d").is_dir()
    page = (root / "usr/share/man/man8/audisp-eql.8").read_text()
    assert "\npath = /usr/bin/audisp-eql\n" in page and "/usr/share/audisp-eql/profiles/" in page
    for name in ("man5/audisp-eql.toml.5", "man5/audisp-eql-exceptions.5",
                 "man7/audisp-eql-eql.7", "man8/audisp-eql.8"):
        assert "/usr/local" not in (root / "usr/share/man" / name).read_text(), name
    make("uninstall", *options)
    assert not (root / "usr/share/audisp-eql").exists()
    assert not (root / "usr/lib/audisp-eql").exists()


def test_pip_wheel_holds_the_whole_package(tmp_path: Path) -> None:
    """For people who only want the command line: `pip wheel` still builds, and
    the wheel holds every module of the package, subpackages included."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "__pycache__", "*.egg-info", ".pytest_cache",
        ".hypothesis", "debian"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(tmp_path / "wheels"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    from audisp_eql import __version__
    wheels = list((tmp_path / "wheels").glob(f"audisp_eql-{__version__}-*.whl"))
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    package = ROOT / "plugin"
    modules = {str(p.relative_to(package)) for p in (package / "audisp_eql").rglob("*.py")}
    assert len(modules) > 40 and modules <= names
    assert any(n.startswith("audisp_eql/eql/") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_program_writes_a_compliance_report(tmp_path: Path) -> None:
    """Templates, rules and mappings are installed; Jinja2 and matplotlib come from
    Debian's python3 packages, found by the system python3 the launcher runs."""
    make("install", f"PREFIX={tmp_path}/usr", f"SYSCONFDIR={tmp_path}/etc",
         f"LOCALSTATEDIR={tmp_path}/var")
    out = tmp_path / "report.html"
    result = subprocess.run(
        [str(tmp_path / "usr/bin/audisp-eql"), "report", "--format", "html", "-q", "-o", str(out),
         "--rules", str(tmp_path / "etc/audisp-eql/rules.d"),
         "--controls", str(tmp_path / "etc/audisp-eql/controls.d"),
         str(ROOT / "examples/intrusion.log")],
        env={"MPLCONFIGDIR": str(tmp_path / "mpl")}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "10.2.1.6" in page and "<svg" in page

"""The manual pages: lint-clean, and in step with the code they describe."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

MAN = ROOT / "man"
PAGES = sorted(MAN.glob("*.[0-9]"))

needs_mandoc = pytest.mark.skipif(shutil.which("mandoc") is None,
                                  reason="mandoc is not installed (tools/bootstrap.sh installs it)")


def test_the_pages_exist() -> None:
    assert [p.name for p in PAGES] == ["audisp-eql-eql.7", "audisp-eql-exceptions.5",
                                       "audisp-eql.8", "audisp-eql.toml.5"]


@needs_mandoc
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_mandoc_lint_finds_nothing(page: Path) -> None:
    result = subprocess.run(["mandoc", "-Tlint", str(page)], capture_output=True, text=True)
    # Two style messages are about this machine, not the page: whether the
    # cross-referenced pages (ours, auditd's) are installed and indexed yet.
    findings = [line for line in (result.stdout + result.stderr).splitlines()
                if line and "mandoc.db" not in line and "referenced manual not found" not in line]
    assert findings == []


@needs_mandoc
def test_pages_render() -> None:
    for page in PAGES:
        text = subprocess.run(["mandoc", "-Tutf8", "-Ios=Linux", str(page)], capture_output=True,
                              text=True, check=True).stdout
        text = re.sub(".\b", "", text)  # drop the bold/underline overstrikes
        assert "SEE ALSO" in text and "NAME" in text


def test_config_page_documents_every_config_key() -> None:
    shipped = (ROOT / "conf" / "audisp-eql.toml").read_text()
    keys = set(re.findall(r"(?m)^#([a-z_]+) = ", shipped))
    tables = set(re.findall(r"(?m)^#?(\[\[?[a-z.]+\]\]?)$", shipped))
    page = (MAN / "audisp-eql.toml.5").read_text()
    documented = set(re.findall(r"(?m)^\.It Cm ([a-z_]+)", page))
    assert len(keys) >= 20
    assert keys - documented == set()
    for table in tables:
        assert f".Ss {table}\\&" in page, table


def test_eql_page_lists_every_produced_field_and_function() -> None:
    from audisp_eql.ecs import catalog
    from audisp_eql.eql import functions
    page = (MAN / "audisp-eql-eql.7").read_text()
    listed_fields = set(re.findall(r"(?m)^\.It Li (\S+)$", page))
    assert set(catalog().fields()) == listed_fields
    listed_functions = set(re.findall(r"(?m)^\.It Fn (\S+)$", page))
    assert {f.name for f in functions.FUNCTIONS.values()} == listed_functions


def test_plugin_page_shows_the_shipped_dropin_and_rules() -> None:
    page = (MAN / "audisp-eql.8").read_text()
    for conf in ("audisp-eql.conf", "audisp-eql.rules"):
        for line in (ROOT / "conf" / conf).read_text().splitlines():
            if line and not line.startswith("#"):
                assert line in page, line


def _rendered(page: Path) -> str:
    # Wide enough that no line is wrapped (a wrap could split a hyphenated word).
    text = subprocess.run(["mandoc", "-Tutf8", "-Ios=Linux", "-Owidth=900", str(page)],
                          capture_output=True, text=True, check=True).stdout
    return " ".join(re.sub(".\b", "", text).split())   # overstrikes and line breaks gone


def test_command_page_is_generated_from_the_argument_parsers() -> None:
    """man/audisp-eql.8 is what tools/manpage.py makes of the parsers now
    (`make man` after changing an option)."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "manpage.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_mandoc
def test_every_option_of_every_command_is_in_the_page_with_its_help() -> None:
    """Read back from the rendered page, independently of the generator: each
    command, each option spelling and its help text, and each exit status."""
    import argparse

    from audisp_eql.cli import build_parser
    from audisp_eql.exitstatus import TABLE

    page = _rendered(MAN / "audisp-eql.8")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(TABLE) == {"events", "check", "scan", "report", "plugin"}
    for name, parser in sub.choices.items():
        assert f"audisp-eql {name}" in page
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert flag in page, (name, flag)
            words = " ".join(formatter._expand_help(action).split())
            assert words[1:] in page, (name, action.dest, words)
        section = page[page.index("EXIT STATUS"):]
        section = section[section.index(name):]
        for code, text in TABLE[name]:
            assert f"{code} {text[0].upper()}{text[1:]}" in section, (name, code)


def test_the_installed_paths_are_the_only_paths_named() -> None:
    """The page names /etc, /usr/local and /var/log paths only, which
    `make install` rewrites to the installed ones."""
    page = (MAN / "audisp-eql.8").read_text()
    for path in re.findall(r"(?<![\w.])/(?:[a-z]+)/[\w./-]*", page):
        assert path.startswith(("/etc/", "/usr/local/", "/var/log/", "/proc", "/dev/")), path

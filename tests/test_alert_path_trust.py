"""Issue 17, item 11: the alert file's path is trust-checked like the config
and rule files (trust.py), and opened relative to a directory reached by
descriptor without following links.

O_NOFOLLOW guarded the last component only: in a directory others can write
without the sticky bit, a user could swap alerts.json for a FIFO (the plugin
hung) or the directory for a symlink (root appended where the user chose).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from audisp_eql.outputs.jsonfile import JsonFileOutput

NOBODY = pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A trusted directory (root's, 0755) under a trusted tree."""
    os.chmod(tmp_path, 0o755)
    return tmp_path


def refused(path: Path, words: str) -> None:
    with pytest.raises(PermissionError) as info:
        JsonFileOutput(str(path))
    assert "refusing to write" in str(info.value) and words in str(info.value), str(info.value)


def refused_uncreated(path: Path, words: str) -> None:
    refused(path, words)
    assert not os.path.lexists(path)


def test_alert_file_in_a_trusted_directory_opens(base: Path) -> None:
    out = JsonFileOutput(str(base / "alerts.json"))
    out.emit({"rule": {"name": "r"}})
    out.close()
    assert (base / "alerts.json").read_text().count("\n") == 1


def test_directory_others_may_write_without_sticky_bit_is_refused(base: Path) -> None:
    shared = base / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    refused_uncreated(shared / "alerts.json", "world-writable without the sticky bit")


def test_group_writable_grandparent_is_refused(base: Path) -> None:
    (base / "a" / "b").mkdir(parents=True)
    os.chmod(base / "a", 0o775)
    refused_uncreated(base / "a" / "b" / "alerts.json", "group-writable without the sticky bit")


def test_directory_owned_by_another_user_is_refused(base: Path) -> None:
    theirs = base / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, -1)
    refused_uncreated(theirs / "alerts.json", f"owned by uid {NOBODY}")


def test_link_to_a_directory_others_may_write_is_refused(base: Path) -> None:
    evil = base / "evil"
    evil.mkdir()
    os.chmod(evil, 0o777)
    (base / "logdir").symlink_to(evil)
    refused_uncreated(base / "logdir" / "alerts.json", "world-writable")


def test_link_between_trusted_directories_is_followed(base: Path) -> None:
    (base / "real").mkdir()
    (base / "logdir").symlink_to(base / "real")
    out = JsonFileOutput(str(base / "logdir" / "alerts.json"))
    out.close()
    assert (base / "real" / "alerts.json").exists()


def test_directory_swapped_for_a_link_after_resolution_is_refused(base: Path, monkeypatch) -> None:
    """The race: the path resolved, then a directory on it replaced by a link
    (here: resolution is made to miss the link that is already there)."""
    (base / "real").mkdir()
    (base / "swapped").symlink_to(base / "real")
    real_realpath = os.path.realpath
    monkeypatch.setattr(os.path, "realpath",
                        lambda p: str(p) if "swapped" in str(p) else real_realpath(p))
    refused_uncreated(base / "swapped" / "alerts.json", "changed into a link")


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_entry_planted_by_another_user_in_a_sticky_directory_is_refused(base: Path,
                                                                        kind: str) -> None:
    """A sticky world-writable directory (as /tmp) is trusted, but not what
    others put in it; a FIFO is refused before it is opened (no hang)."""
    sticky = base / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    planted = sticky / "alerts.json"
    if kind == "file":
        planted.write_text("")
    else:
        os.mkfifo(planted)
    os.chown(planted, NOBODY, -1)
    code = ("from audisp_eql.outputs.jsonfile import JsonFileOutput\n"
            f"try:\n    JsonFileOutput({str(planted)!r})\nexcept PermissionError as e:\n"
            "    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=30)
    assert f"owned by uid {NOBODY}" in result.stdout, result.stdout + result.stderr


def test_existing_alert_file_others_may_write_is_refused(base: Path) -> None:
    path = base / "alerts.json"
    path.write_text("")
    os.chmod(path, 0o666)
    refused(path, "writable by others (mode 0666)")


def test_plugin_refuses_to_start_with_an_untrusted_alert_directory(base: Path) -> None:
    from harness.plugin_config import plugin_argv, write_plugin_config
    from conftest import SEED

    shared = base / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    config = write_plugin_config(base, [SEED], shared / "alerts.json", config_mode=0o644)
    result = subprocess.run(plugin_argv(config), stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2     # exitstatus.ERROR: cannot start
    assert "cannot start" in result.stderr and "world-writable without the sticky bit" \
        in result.stderr, result.stderr


def test_log_directory_of_the_user_dropped_to_is_trusted_for_that_user_only(base: Path) -> None:
    """The package's /var/log/audisp-eql belongs to the user the plugin drops
    to (2750): trusted when that uid is named (configured_outputs passes
    `[plugin] user`), another user's directory still refused."""
    logdir = base / "log"
    logdir.mkdir()
    os.chmod(logdir, 0o2750)
    os.chown(logdir, NOBODY, 0)
    refused_uncreated(logdir / "alerts.json", f"owned by uid {NOBODY}")
    out = JsonFileOutput(str(logdir / "alerts.json"), owners=(NOBODY,))
    out.emit({"rule": {"name": "r"}})
    out.close()
    assert (logdir / "alerts.json").read_text().count("\n") == 1


def test_configured_file_output_trusts_the_user_dropped_to(base: Path) -> None:
    from audisp_eql.config import parse_config
    from audisp_eql.configured_outputs import build_outputs

    logdir = base / "log"
    logdir.mkdir()
    os.chmod(logdir, 0o2750)
    os.chown(logdir, NOBODY, 0)
    cfg = parse_config('[plugin]\nuser = "nobody"\n[output.syslog]\nenabled = false\n'
                       f'[output.file]\nenabled = true\npath = "{logdir}/alerts.json"\n')
    outputs = build_outputs(cfg)
    assert [o.name for o in outputs] == ["file"]
    for output in outputs:
        output.close()

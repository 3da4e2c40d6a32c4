"""trust.py: config and rule files writable by others are refused, with the reason."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from audisp_eql.trust import UntrustedPathError, check_trusted, check_trusted_tree
from harness.other_user import OtherUser

NOBODY = 65534
OTHER_UID = 4242  # no such user needed: ownership by a bare uid is what matters


def _file(directory: Path, name: str = "rule.toml", mode: int = 0o644) -> Path:
    path = directory / name
    path.write_text("[rule]\n")
    path.chmod(mode)
    return path


@pytest.fixture()
def safe_dir(tmp_path: Path) -> Path:
    """A root-owned 0755 directory under the (0700, root-owned) pytest tmp dir."""
    directory = tmp_path / "etc"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    return directory


def test_owner_only_file_is_trusted(safe_dir: Path) -> None:
    for mode in (0o600, 0o640, 0o644, 0o400):
        path = _file(safe_dir, f"m{mode:o}.toml", mode)
        check_trusted(path)  # must not raise


def test_trusted_directory(safe_dir: Path) -> None:
    check_trusted(safe_dir)


@pytest.mark.parametrize("mode,word", [(0o666, "world-writable"), (0o646, "world-writable"),
                                       (0o664, "group-writable"), (0o620, "group-writable")])
def test_writable_by_others_file_refused(safe_dir: Path, mode: int, word: str) -> None:
    path = _file(safe_dir, mode=mode)
    with pytest.raises(UntrustedPathError) as err:
        check_trusted(path)
    assert err.value.path == path
    assert word in err.value.reason
    assert f"{mode:04o}" in err.value.reason
    assert str(path) in str(err.value)


def test_world_writable_rule_directory_refused(safe_dir: Path) -> None:
    safe_dir.chmod(0o777)
    with pytest.raises(UntrustedPathError, match="world-writable"):
        check_trusted(safe_dir)


def test_file_in_world_writable_parent_refused(safe_dir: Path) -> None:
    path = _file(safe_dir)
    safe_dir.chmod(0o777)
    with pytest.raises(UntrustedPathError) as err:
        check_trusted(path)
    assert f"parent directory {safe_dir}" in err.value.reason
    assert "without the sticky bit" in err.value.reason


def test_file_in_group_writable_grandparent_refused(safe_dir: Path) -> None:
    sub = safe_dir / "rules.d"
    sub.mkdir(mode=0o755)
    path = _file(sub)
    safe_dir.chmod(0o775)
    with pytest.raises(UntrustedPathError, match="group-writable without the sticky bit"):
        check_trusted(path)


def test_sticky_world_writable_parent_is_accepted(safe_dir: Path) -> None:
    # Like /tmp: others may create files there but cannot replace ours.
    path = _file(safe_dir)
    safe_dir.chmod(0o1777)
    check_trusted(path)


def test_file_owned_by_other_user_refused(safe_dir: Path) -> None:
    path = _file(safe_dir)
    os.chown(path, OTHER_UID, -1)
    with pytest.raises(UntrustedPathError, match=f"owned by uid {OTHER_UID}"):
        check_trusted(path)


def test_parent_owned_by_other_user_refused(safe_dir: Path) -> None:
    path = _file(safe_dir)
    os.chown(safe_dir, OTHER_UID, -1)
    with pytest.raises(UntrustedPathError, match=f"parent directory {safe_dir} is owned by uid"):
        check_trusted(path)


def test_group_owned_by_other_group_but_not_writable_is_fine(safe_dir: Path) -> None:
    path = _file(safe_dir, mode=0o640)
    os.chown(path, -1, NOBODY)
    check_trusted(path)


def test_symlink_into_unsafe_directory_refused(safe_dir: Path, tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    target = _file(unsafe)
    unsafe.chmod(0o777)
    link = safe_dir / "link.toml"
    link.symlink_to(target)
    with pytest.raises(UntrustedPathError, match="parent directory .*unsafe"):
        check_trusted(link)


def test_symlink_in_unsafe_directory_refused(safe_dir: Path, tmp_path: Path) -> None:
    target = _file(safe_dir)
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    (unsafe / "link.toml").symlink_to(target)
    unsafe.chmod(0o777)
    with pytest.raises(UntrustedPathError, match="parent directory .*unsafe"):
        check_trusted(unsafe / "link.toml")


def test_fifo_refused(safe_dir: Path) -> None:
    # Reading a FIFO would block the loader forever.
    fifo = safe_dir / "rules.toml"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(UntrustedPathError, match="not a regular file or directory"):
        check_trusted(fifo)


def test_missing_path_raises_file_not_found(safe_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_trusted(safe_dir / "absent.toml")


def test_tree_checks_every_rule_file(safe_dir: Path) -> None:
    sub = safe_dir / "linux"
    sub.mkdir(mode=0o755)
    good = [_file(safe_dir, "a.toml"), _file(sub, "b.toml")]
    _file(safe_dir, "notes.txt", 0o666)  # not a rule file: not loaded, not checked
    assert check_trusted_tree([safe_dir]) == sorted(good)
    bad = _file(sub, "c.toml", 0o666)
    with pytest.raises(UntrustedPathError) as err:
        check_trusted_tree([safe_dir])
    assert err.value.path == bad


def test_tree_refuses_writable_subdirectory(safe_dir: Path) -> None:
    sub = safe_dir / "linux"
    sub.mkdir()
    _file(sub, "b.toml")
    sub.chmod(0o777)
    with pytest.raises(UntrustedPathError, match="parent directory .*linux"):
        check_trusted_tree([safe_dir])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a check as another user")
def test_running_user_may_own_files(other_user: OtherUser) -> None:
    """Run the check in a real process with euid nobody: its own files are fine, root's too,
    a third user's are not."""
    home = other_user.workdir("nobody")
    os.chown(home, other_user.uid, other_user.gid)
    own = _file(home, "own.toml")
    os.chown(own, other_user.uid, other_user.gid)
    roots = _file(home, "root.toml")
    third = _file(home, "third.toml")
    os.chown(third, OTHER_UID, -1)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from audisp_eql.trust import check_trusted, UntrustedPathError\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        check_trusted(Path(p)); print('ok')\n"
        "    except UntrustedPathError as e:\n"
        "        print('refused', e.reason)\n")
    out = subprocess.run(other_user.python_command(script, str(own), str(roots), str(third)),
                         **other_user.run_as(), capture_output=True, text=True, check=True,
                         cwd="/")
    lines = out.stdout.splitlines()
    assert lines[0] == "ok"
    assert lines[1] == "ok"
    assert lines[2].startswith(f"refused owned by uid {OTHER_UID}")
    assert f"running user (uid {other_user.uid})" in lines[2]


def test_rule_loader_refuses_untrusted_rule_files(safe_dir: Path) -> None:
    from audisp_eql.rules import INVALID, load_rules
    from fuzz.catchall import write_catchall
    rule = write_catchall(safe_dir)
    assert len(load_rules([safe_dir]).rules) == 1
    rule.chmod(0o646)
    ruleset = load_rules([safe_dir])
    assert ruleset.rules == []
    [report] = ruleset.reports
    assert report.status == INVALID
    assert str(rule) in report.reason and "refusing to load: world-writable" in report.reason


def test_config_loader_refuses_untrusted_config(safe_dir: Path) -> None:
    from audisp_eql.config import ConfigError, load_config
    config = safe_dir / "audisp-eql.toml"
    config.write_text("[plugin]\n")
    config.chmod(0o600)
    load_config(config)
    safe_dir.chmod(0o777)
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert str(config) in str(err.value) and "world-writable without the sticky bit" in str(err.value)


# -- the running plugin: privileges, output modes, no code from rule text ------
def _plugin_env(tmp_path: Path) -> tuple[Path, Path]:
    from fuzz.catchall import write_catchall
    tmp_path.chmod(0o755)   # the dropped user must reach its rule directory
    rules = tmp_path / "rules"
    rules.mkdir(mode=0o755)
    write_catchall(rules)
    return rules, tmp_path / "alerts.json"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_after_privilege_drop_root_only_config_cannot_be_reread(other_user: OtherUser) -> None:
    import signal

    from harness.procs import stop_process, wait_for
    from test_faults import RunningPlugin, alert_args, plugin_config
    # Reachable by nobody: the refusal must come from the config's mode, not the path.
    workdir = other_user.workdir("plugin")
    rules, alerts = _plugin_env(workdir)
    config = plugin_config(workdir, rules, None, alerts, extra="")
    config.write_text(config.read_text().replace(
        "[plugin]\n", f"[plugin]\nuser = \"{other_user.name}\"\n"))
    config.chmod(0o600)   # root-only, as it should be
    plugin = RunningPlugin(workdir, config, program=other_user.program)
    try:
        plugin.wait_stderr(f"running as uid {other_user.uid}")
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_stderr("reload failed, keeping the old configuration")
        assert "Permission denied" in plugin.stderr()
        plugin.send_execs(1, "after-reload")
        assert wait_for(lambda: len(alert_args(alerts)) == 1, 15.0), plugin.stderr()
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


@pytest.mark.parametrize("configured,expected", [(None, 0o640), ("0600", 0o600)])
def test_alert_file_created_with_restrictive_mode_whatever_the_umask(
        tmp_path: Path, configured: str | None, expected: int) -> None:
    from harness.procs import stop_process
    from test_faults import RunningPlugin, plugin_config
    rules, alerts = _plugin_env(tmp_path)
    config = plugin_config(tmp_path, rules, None, alerts)
    text = config.read_text()
    text = text.replace('mode = "0600"\n', "" if configured is None else f'mode = "{configured}"\n')
    config.write_text(text)
    old_umask = os.umask(0)   # inherited by the plugin: the mode must not depend on it
    try:
        plugin = RunningPlugin(tmp_path, config)
    finally:
        os.umask(old_umask)
    try:
        plugin.wait_stderr("started")
        assert stat_mode(alerts) == expected
        assert plugin.close() == 0
    finally:
        stop_process(plugin.proc)


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_alert_file_symlink_is_not_followed(tmp_path: Path) -> None:
    """A symlink planted at the alert path must not make the root plugin append
    to its target (e.g. /etc/passwd)."""
    from harness.procs import stop_process
    from test_faults import RunningPlugin, plugin_config
    rules, alerts = _plugin_env(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("root:x:0:0::/root:/bin/sh\n")
    alerts.symlink_to(victim)
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules, None, alerts))
    try:
        if plugin.proc.wait(30) == 0:
            pytest.fail("plugin started with a symlinked alert file")
        assert str(alerts) in plugin.stderr()
    finally:
        stop_process(plugin.proc)
    assert victim.read_text() == "root:x:0:0::/root:/bin/sh\n"


def test_no_eval_or_exec_in_the_package() -> None:
    """One check among others: no call to the eval/exec/compile builtins anywhere."""
    import ast

    import audisp_eql
    package = Path(audisp_eql.__file__).parent
    found = []
    for source in sorted(package.rglob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("eval", "exec", "compile", "__import__")):
                found.append(f"{source.name}:{node.lineno}: {node.func.id}()")
    assert found == []


def test_rule_text_is_never_executed(tmp_path: Path) -> None:
    """Python in a rule's query, name or description stays text: the rules are
    refused or loaded as data, and the marker file is never created."""
    from audisp_eql.rules import load_rules
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    queries = [f"process where {payload}",
               f'process where process.name == "x" and {payload}',
               f"process where process.name : \"{{{payload}}}\"",
               f'process where process.name regex "(?{{{payload}}})"']
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(mode=0o755)
    for i, query in enumerate(queries):
        (rules_dir / f"r{i}.toml").write_text(
            f'[metadata]\nmaturity = "production"\n[rule]\nrule_id = "evil-{i}"\n'
            f'name = "{{0.__class__}} %s {payload}"\ndescription = "{payload}"\n'
            f'type = "eql"\nlanguage = "eql"\nquery = """\n{query}\n"""\n')
    ruleset = load_rules([rules_dir])
    assert len(ruleset.reports) == len(queries)
    for rule in ruleset.rules:
        rule.compiled.predicate({"process": {"name": payload, "args": [payload]}})
    assert not marker.exists()


def test_hostile_regex_in_a_rule_is_bounded() -> None:
    """A rule asking RE2 for an enormous automaton gets a compile error, not the memory."""
    from audisp_eql.eql import EqlError, compile_query, parse_query
    with pytest.raises(EqlError):
        compile_query(parse_query('process where process.name regex "((a{100}){100}){100}"'))

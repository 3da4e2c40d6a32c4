"""Exceptions in the plugin (run as auditd runs it): suppressed alerts counted
in the status line, SIGHUP reloading them (keeping the old set on error),
and `plugin --check-config`, which loads everything and changes nothing."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from conftest import ROOT, SEED
from harness.plugin_config import write_exceptions, write_plugin_config
from harness.procs import stop_process, wait_for
from test_daemon import MATCHES, NEAR_MISSES, Plugin, events

PROGRAM = ROOT / ".venv" / "bin" / "audisp-eql"
SEED_ID = "41284ba3-ed1a-4598-bfba-a97f75d9aba2"

SOCAT = f'''[[exception]]
name = "socat to docker"
rule_ids = ["{SEED_ID}"]
entries = [{{ field = "process.name", operator = "is", value = "socat" }}]
'''
APP_SOCK = f'''[[exception]]
name = "app socket"
rule_ids = ["{SEED_ID}"]
entries = [{{ field = "process.args", operator = "is", value = "/run/app.sock" }}]
'''


def config_with(tmp_path: Path, exceptions: Path, **more) -> Path:
    return write_plugin_config(tmp_path, [SEED], tmp_path / "alerts.json",
                               syslog_socket=tmp_path / "log.sock", config_mode=0o644,
                               exceptions=[exceptions], **more)


def test_plugin_suppresses_counts_and_reloads_exceptions(tmp_path: Path) -> None:
    directory = tmp_path / "exceptions.d"
    directory.mkdir()
    local = write_exceptions(directory / "local.toml", SOCAT)
    plugin = Plugin(tmp_path, config_with(tmp_path, directory))
    try:
        started = plugin.wait_log("started:")
        assert "1 rules loaded, 1 exceptions (0 expired, not applied), 0 rules disabled" in started
        plugin.send(events(NEAR_MISSES + MATCHES, 100))   # nc, socat, nc: socat excepted
        assert wait_for(lambda: len(plugin.alerts()) == 2, 15.0)   # the last nc: socat done
        plugin.proc.send_signal(signal.SIGUSR1)
        status = plugin.wait_log("excepted=1")
        assert "alerts=2" in status and "by_exception=local.toml:1:1" in status
        assert [a["process"]["name"] for a in plugin.alerts()] == ["nc.openbsd"] * 2

        # A broken file on SIGHUP: the old exceptions stay, and still work.
        write_exceptions(directory / "broken.toml", '[[exception]]\nname = "x"\n')
        plugin.proc.send_signal(signal.SIGHUP)
        failed = plugin.wait_log("reload failed, keeping the old rules and exceptions")
        assert f"{directory / 'broken.toml'}:1: exception \"x\": say which rules" in failed
        plugin.send(events(MATCHES[1:2], 200))            # socat: still excepted

        # Fixed, and a second exception added: both apply, the count goes on.
        (directory / "broken.toml").unlink()
        write_exceptions(local, SOCAT + "\n" + APP_SOCK)
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_log("2 exceptions (0 expired")
        plugin.send(events(MATCHES, 300))                 # nc app.sock and socat excepted
        assert plugin.close() == 0
        end = plugin.wait_log("end of input")
        assert "alerts=3" in end and "excepted=4" in end
        assert "by_exception=local.toml:1:3,local.toml:6:1" in end
        assert [a["process"]["name"] for a in plugin.alerts()] == ["nc.openbsd"] * 3
    finally:
        stop_process(plugin.proc)
        plugin.syslog.close()


def test_plugin_starts_without_a_bad_exception_file_and_says_why(tmp_path: Path) -> None:
    """At start, alerting matters more than a broken exception: it runs, and logs."""
    directory = tmp_path / "exceptions.d"
    directory.mkdir()
    write_exceptions(directory / "ok.toml", SOCAT)
    bad = write_exceptions(directory / "world.toml", APP_SOCK, mode=0o666)
    plugin = Plugin(tmp_path, config_with(tmp_path, directory))
    try:
        message = plugin.wait_log("exception not loaded")
        assert f"{bad}: refusing to load: world-writable" in message
        plugin.send(events(MATCHES[:2], 100))
        assert plugin.close() == 0
        assert [a["process"]["name"] for a in plugin.alerts()] == ["nc.openbsd"]
    finally:
        stop_process(plugin.proc)
        plugin.syslog.close()


def check_config(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROGRAM), "plugin", "--check-config", str(config)], env={},
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def test_check_config_says_what_would_run_and_opens_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "exceptions.d"
    directory.mkdir()
    write_exceptions(directory / "local.toml", f'disabled_rules = ["other"]\n\n{SOCAT}')
    config = config_with(tmp_path, directory,
                         extra='[[output.remote]]\nhost = "192.0.2.10"\nprotocol = "tcp"\n')
    result = check_config(config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"configuration {config}: read" in out
    assert "rules: 1 to run from" in out and "(1 ok)" in out
    assert "exceptions: 1 applied, 0 expired, from 1 file(s)" in out
    assert "1 rules disabled" in out
    assert f"  file {tmp_path / 'alerts.json'} mode 0640" in out
    assert "  remote tcp://192.0.2.10:514" in out
    assert f"  syslog {tmp_path / 'log.sock'}" in out
    assert out.splitlines()[-1] == "0 errors, 1 warnings"
    assert "log.sock does not exist now" in result.stderr   # nothing listens there: a warning
    # Nothing was opened or created.
    assert not (tmp_path / "alerts.json").exists()
    assert not (tmp_path / "log.sock").exists()


def test_check_config_errors_name_file_and_line_and_exit_2(tmp_path: Path) -> None:
    directory = tmp_path / "exceptions.d"
    directory.mkdir()
    bad = write_exceptions(directory / "bad.toml", SOCAT + '\n[[exception]]\nname = "y"\n')
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.toml").write_text('[rule]\nname = "b"\nrule_id = "b"\ntype = "eql"\n'
                                       "query = 'process where ('\n")
    config = write_plugin_config(tmp_path, [SEED, rules], tmp_path / "no-such-dir" / "a.json",
                                 config_mode=0o644, exceptions=[directory])
    result = check_config(config)
    assert result.returncode == 2
    err = result.stderr
    assert f"error: rule not loaded: {rules / 'broken.toml'}:5:" in err
    assert f'error: exception not loaded: {bad}:6: exception "y": say which rules' in err
    assert f"output.file.path: directory {tmp_path / 'no-such-dir'} does not exist" in err
    assert result.stdout.splitlines()[-1].startswith("3 errors")
    # A configuration error stops there, with its line.
    config.write_text(config.read_text() + '[output.stdout]\nformat = "yaml"\n')
    result = check_config(config)
    line = config.read_text().splitlines().index('format = "yaml"') + 1
    assert result.returncode == 2
    assert f"{config}:{line}: output.stdout.format" in result.stderr


def test_check_config_on_an_unknown_user_and_a_missing_explicit_exception_path(
        tmp_path: Path) -> None:
    config = write_plugin_config(tmp_path, [SEED], tmp_path / "alerts.json",
                                 config_mode=0o644, exceptions=[tmp_path / "gone.d"],
                                 plugin_extra='user = "no-such-user-x"')
    result = check_config(config)
    assert result.returncode == 2
    assert "plugin.user: no such user: 'no-such-user-x'" in result.stderr
    assert f"exception not loaded: {tmp_path / 'gone.d'}: no such file or directory" \
        in result.stderr

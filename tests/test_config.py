"""The plugin config: defaults, the shipped file, and errors that name file and line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from audisp_eql.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "conf" / "audisp-eql.toml"


def test_shipped_config_is_all_defaults() -> None:
    assert parse_config(SHIPPED.read_text()) == parse_config("")


def test_shipped_config_uncommented_is_valid() -> None:
    # Every commented example in the shipped file must be a valid setting.
    text = re.sub(r"(?m)^#(?=[a-z_]+ = |\[\[)", "", SHIPPED.read_text())
    cfg = parse_config(text)
    assert cfg.remotes[0].host == "192.0.2.10"
    assert cfg.file.mode == 0o640


def test_values_are_read() -> None:
    cfg = parse_config("""
[plugin]
event_action = "exec"
parent_from_proc = false
user = "nobody"
status_interval = 0
[rules]
paths = ["/a", "/b"]
[ratelimit]
burst = 3
interval = 1.5
[output.syslog]
socket = "/run/x.sock"
facility = "local3"
format = "cee"
[output.file]
enabled = true
path = "/var/log/a.json"
mode = "0600"
[[output.remote]]
host = "127.0.0.1"
protocol = "tcp"
port = 6514
[[output.remote]]
host = "::1"
""")
    assert cfg.event_action == "exec" and not cfg.parent_from_proc and cfg.user == "nobody"
    assert cfg.rule_paths == ["/a", "/b"]
    assert (cfg.burst, cfg.burst_interval) == (3, 1.5)
    assert (cfg.syslog.socket, cfg.syslog.facility, cfg.syslog.format) == ("/run/x.sock", "local3", "cee")
    assert cfg.file.enabled and cfg.file.mode == 0o600
    assert [(r.host, r.protocol, r.port) for r in cfg.remotes] == [
        ("127.0.0.1", "tcp", 6514), ("::1", "udp", 514)]


@pytest.mark.parametrize("text, line, words", [
    ("[plugin]\nevent_action = 'exec'\nbogus = 1\n", 3, "plugin.bogus: unknown key"),
    ("\n\n[output.syslog]\n\nfacility = \"nope\"\n", 5, "'nope' is not one of"),
    ("[ratelimit]\nburst = \"ten\"\n", 2, "expected an integer, got a string"),
    ("[ratelimit]\nburst = -1\n", 2, "must be a finite number from 0 to 1000000"),
    ("[output.file]\nenabled = 1\n", 2, "expected true or false"),
    ("[output.file]\nmode = \"0999\"\n", 2, "octal mode"),
    ("[output.file]\npath = \"relative.json\"\n", 2, "absolute path"),
    ("[[output.remote]]\nhost = \"a\"\n[[output.remote]]\nhost = \"b\"\nport = 0\n", 5,
     "output.remote.port"),
    ("[[output.remote]]\nport = 514\n", 1, "host is required"),
    ("[rules]\npaths = [\"/a\", 3]\n", 2, "list of non-empty strings"),
    ("[unknown]\nx = 1\n", 1, "unknown: unknown key"),
    ("[plugin\n", 1, "TOML syntax"),
    ("[plugin]\nuser = \"a\"\nuser = \"b\"\n", 3, "TOML syntax"),
    ("[output]\nsyslog = 3\n", 2, "expected a table"),
    # Dotted keys and inline tables point at their own line too.
    ("\n\noutput.syslog.bogus = 1\n", 3, "output.syslog.bogus: unknown key"),
    ("[output]\nfile.enabled = true\nsyslog.bogus = 1\n", 3, "output.syslog.bogus: unknown key"),
    ("[output]\n\nsyslog = { enabled = true, bad = 1 }\n", 3, "output.syslog.bad: unknown key"),
    # inf would mean: never age events, never end a rate-limit window, never report.
    ("[plugin]\nevent_timeout = inf\n", 2, "finite"),
    ("[plugin]\nstatus_interval = inf\n", 2, "finite"),
    ("[ratelimit]\ninterval = inf\n", 2, "finite"),
    # Issue 17 item 8: every value by type and range (a TypeError or an
    # OverflowError at start or on SIGHUP killed the plugin).
    ("[output]\nremote = [1]\n", 2, "expected [[output.remote]] tables, got an integer"),
    ("[output]\nremote = [[1]]\n", 2, "expected [[output.remote]] tables, got a list"),
    ("[plugin]\nevent_timeout = 1e10\n", 2, "event_timeout: must be a finite number from 1 to 86400"),
    ("[plugin]\nevent_timeout = 0.5\n", 2, "from 1 to"),
    ("[plugin]\nqueue_size = 100000000000000000000\n", 2, "from 1 to 1000000"),
    ("[ratelimit]\ninterval = 1e300\n", 2, "from 0.001 to 86400"),
    ("[[output.remote]]\nhost = \"h\"\nport = 99999999999999999999\n", 3, "port number"),
    # An alert file others may write lets them forge or erase alerts.
    ("[output.file]\nmode = \"0666\"\n", 2, "writable"),
    ("[output.file]\nmode = \"0620\"\n", 2, "writable"),
])
def test_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/etc/x.toml")
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"/etc/x.toml:{line}: ")


def test_load_config_reads_file_and_reports_missing(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("[plugin]\nuser = \"nobody\"\n")
    os.chmod(path, 0o644)
    assert load_config(path).user == "nobody"
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "missing.toml")


def test_load_config_refuses_writable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("")
    os.chmod(path, 0o666)
    with pytest.raises(ConfigError, match="world-writable"):
        load_config(path)


def test_load_config_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_bytes(b"[plugin]\nuser = \"\xff\"\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path)

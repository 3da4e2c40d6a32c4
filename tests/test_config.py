"""The plugin config: defaults, the shipped file, and errors that name file and line."""

from __future__ import annotations

import os
import re
import subprocess
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
    ("[plugin]\nsequence_memory_mib = 0\n", 2, "sequence_memory_mib: must be"),
    ("[plugin]\n\nsequence_memory_mib = 5000\n", 3, "from 1 to 4096"),
    ("[plugin]\nsequence_memory_mib = 2.5\n", 2, "sequence_memory_mib"),
    ("[ratelimit]\ninterval = 1e300\n", 2, "from 0.001 to 86400"),
    ("[[output.remote]]\nhost = \"h\"\nport = 99999999999999999999\n", 3, "port number"),
    # ... main's keys too: strings and lists of every table within bounds.
    ("[plugin]\nuser = \"ro\\u0000ot\"\n", 2, "plugin.user: a string holding a NUL"),
    ("[output.file]\npath = \"/" + "a" * 5000 + "\"\n", 2, "longer than 4096 characters"),
    ("[exceptions]\npaths = [" + "\"/x\"," * 1025 + "]\n", 2, "more than 1024 items"),
    ("[plugin]\nenv_vars = [\"A\\u0000\"]\n", 2, "NUL"),
    ("[plugin]\nshard = \"1/2" + " " * 5000 + "\"\n", 2, "longer than 4096"),
    ("[[output.remote]]\nhost = \"h\\u0000\"\n", 2, "output.remote.host: a string holding a NUL"),
    ("[[output.remote]]\nhost = \"h\"\nprotocol = \"tls\"\nserver_name = \"" + "a" * 300
     + "\"\n", 4, "host name or IP address"),
    ("[plugin]\nstatus_interval = 1e10\n", 2, "status_interval: must be a finite number from 0 to 86400"),
    # An alert file others may write lets them forge or erase alerts.
    ("[output.file]\nmode = \"0666\"\n", 2, "writable"),
    ("[output.file]\nmode = \"0620\"\n", 2, "writable"),
    # TLS: the keys belong to protocol "tls"; a client certificate needs its key.
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"tcp\"\nca_file = \"/ca.pem\"\n", 4,
     'output.remote.ca_file: applies to protocol = "tls" only, not "tcp"'),
    ("[[output.remote]]\nhost = \"a\"\nserver_name = \"a\"\n", 3,
     'output.remote.server_name: applies to protocol = "tls" only, not "udp"'),
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"tls\"\n\ncert_file = \"/c.pem\"\n", 5,
     "output.remote.cert_file: needs key_file too"),
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"tls\"\nkey_file = \"/c.key\"\n", 4,
     "output.remote.key_file: needs cert_file too"),
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"tls\"\nca_file = \"ca.pem\"\n", 4,
     "output.remote.ca_file: must be an absolute file path"),
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"tls\"\nserver_name = \"a b\"\n", 4,
     "output.remote.server_name: must be a host name or IP address"),
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"tls\"\nserver_name = \"%s.org\"\n" % ("x" * 64),
     4, "output.remote.server_name: must be a host name or IP address"),
    ("[[output.remote]]\nhost = \"a\"\nprotocol = \"ssl\"\n", 3,
     "'ssl' is not one of udp, tcp, tls"),
])
def test_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/etc/x.toml")
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"/etc/x.toml:{line}: ")


def test_tls_remote_is_read_with_its_default_port() -> None:
    cfg = parse_config("""
[[output.remote]]
host = "siem.example.org"
protocol = "tls"
ca_file = "/etc/audisp-eql/tls/ca.pem"
cert_file = "/etc/audisp-eql/tls/client.pem"
key_file = "/etc/audisp-eql/tls/client.key"
server_name = "collector.example.org"
[[output.remote]]
host = "192.0.2.7"
protocol = "tls"
""")
    first, second = cfg.remotes
    assert (first.port, second.port) == (6514, 6514)   # RFC 5425's port
    tls = first.tls()
    assert tls is not None and (tls.ca_file, tls.cert_file, tls.key_file, tls.server_name) == (
        "/etc/audisp-eql/tls/ca.pem", "/etc/audisp-eql/tls/client.pem",
        "/etc/audisp-eql/tls/client.key", "collector.example.org")
    assert second.tls() is not None and second.tls().ca_file == ""   # the system trust store
    assert parse_config("[[output.remote]]\nhost = \"a\"\n").remotes[0].tls() is None


def _tls_files(tmp_path: Path) -> dict[str, Path]:
    """A CA, and a client certificate and key it signed (openssl, as the tests' PKI)."""
    from harness.certs import make_ca
    ca = make_ca(tmp_path / "pki", "config CA")
    client = ca.issue("client", dns=["client.test"], client=True)
    return {"ca": ca.cert, "cert": client.cert, "key": client.key, "ca_key": ca.key}


def _tls_config(tmp_path: Path, files: dict[str, Path], user: str = "") -> Path:
    path = tmp_path / "tls.toml"
    path.write_text(f"""[plugin]
user = "{user}"
[[output.remote]]
host = "127.0.0.1"
protocol = "tls"
ca_file = "{files['ca']}"
cert_file = "{files['cert']}"
key_file = "{files['key']}"
""")
    os.chmod(path, 0o644)
    return path


def test_load_config_checks_and_loads_the_tls_files(tmp_path: Path) -> None:
    files = _tls_files(tmp_path)
    config = _tls_config(tmp_path, files)
    assert load_config(config).remotes[0].key_file == str(files["key"])

    def refused(line: int, words: str) -> None:
        with pytest.raises(ConfigError) as info:
            load_config(config)
        assert str(info.value).startswith(f"{config}:{line}: "), str(info.value)
        assert words in str(info.value), str(info.value)

    os.chmod(files["key"], 0o640)
    refused(8, f"output.remote.key_file: {files['key']}: refusing to load: a private key "
               "readable by group 0 (mode 0640); it must be readable by its owner only")
    os.chmod(files["key"], 0o604)
    refused(8, "a private key readable by others (mode 0604)")
    os.chmod(files["key"], 0o600)
    os.chmod(files["ca"], 0o666)
    refused(6, f"output.remote.ca_file: {files['ca']}: refusing to load: world-writable")
    os.chmod(files["ca"], 0o644)
    files["ca"].rename(tmp_path / "moved.pem")
    refused(6, f"output.remote.ca_file: {files['ca']}: No such file or directory")
    files["ca"].write_text("not a certificate\n")
    refused(6, f"output.remote.ca_file: {files['ca']}: no PEM certificate in it")
    (tmp_path / "moved.pem").rename(files["ca"])
    # The CA's key is not the key of the client certificate.
    config.write_text(config.read_text().replace(str(files["key"]), str(files["ca_key"])))
    refused(8, f"output.remote.key_file: {files['ca_key']}: not the private key of the "
               f"certificate in {files['cert']}")
    config.write_text(config.read_text().replace(str(files["ca_key"]), str(files["key"])))
    # A key that needs a passphrase: refused, never a prompt on stdin.
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(files["key"]), "-aes256", "-passout",
                    "pass:secret", "-out", str(encrypted)], check=True, capture_output=True)
    os.chmod(encrypted, 0o600)
    encrypted.replace(files["key"])
    refused(8, "the private key is encrypted")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing file owners needs root")
def test_tls_key_owner_is_root_the_running_user_or_the_user_dropped_to(tmp_path: Path) -> None:
    files = _tls_files(tmp_path)
    os.chown(files["key"], 65534, 65534)          # nobody's
    with pytest.raises(ConfigError, match="owned by uid 65534, not root or the running user"):
        load_config(_tls_config(tmp_path, files))
    assert load_config(_tls_config(tmp_path, files, user="nobody")).user == "nobody"
    os.chown(files["key"], 12345, 12345)          # someone else's
    with pytest.raises(ConfigError, match=r"owned by uid 12345, .*, or uid 65534"):
        load_config(_tls_config(tmp_path, files, user="nobody"))


def test_reload_does_not_read_tls_files_already_loaded(tmp_path: Path) -> None:
    """After a privilege drop a root-only key cannot be read again; the running
    output holds it, so a reload with the same TLS settings does not ask."""
    files = _tls_files(tmp_path)
    config = _tls_config(tmp_path, files)
    loaded = load_config(config)
    files["key"].unlink()
    with pytest.raises(ConfigError, match="No such file"):
        load_config(config)
    assert load_config(config, tls_loaded={loaded.remotes[0].tls()}) == loaded


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

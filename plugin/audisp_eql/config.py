"""The plugin's TOML configuration: schema, defaults, and errors with file:line
(the reading and checking of values is config_reader.py's).

Every value is checked by type and range before use (limits.py holds the
ranges): whatever a config file holds gives a Config or a ConfigError, never
another exception, so a bad reload keeps the running configuration.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Dict, List, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib

from . import limits
from .actions import DEFAULT_ACTIONS, Action, action_problem, action_setting
from .config_reader import (ConfigError, KeyLines, TableReader, absolute, absolute_file, between,
                            kind_name, mode, one_of, port, server_name)
from .outputs.format import FORMATS
from .outputs.remote import DEFAULT_PORTS, PROTOCOLS
from .outputs.syslog import FACILITIES
from .outputs.tls import TlsSettings, TlsSetupError, make_context
from .source.shard import Shard, shard_problem
from .trust import UntrustedPathError, check_private, check_trusted

DEFAULT_PATH = "/etc/audisp-eql/audisp-eql.toml"
DEFAULT_EXCEPTIONS = "/etc/audisp-eql/exceptions.d"


@dataclass
class SyslogConfig:
    enabled: bool = True
    socket: str = "/dev/log"
    facility: str = "authpriv"
    format: str = "text"
    tag: str = "audisp-eql"


TLS_KEYS = ("ca_file", "cert_file", "key_file", "server_name")


@dataclass
class RemoteConfig:
    host: str = ""
    port: int = 514
    protocol: str = "udp"
    facility: str = "authpriv"
    format: str = "json"
    ca_file: str = ""        # protocol "tls" only, like the three below
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    # Where each key was set, for errors found after parsing (the TLS files);
    # not part of the value, so moving a line does not rebuild the output on reload.
    lines: Dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def tls(self) -> Optional[TlsSettings]:
        if self.protocol != "tls":
            return None
        return TlsSettings(self.ca_file, self.cert_file, self.key_file, self.server_name)


@dataclass
class FileConfig:
    enabled: bool = False
    path: str = "/var/log/audisp-eql/alerts.json"
    mode: int = 0o640


@dataclass
class StdoutConfig:
    enabled: bool = False
    format: str = "json"


@dataclass
class Config:
    path: str = DEFAULT_PATH
    rule_paths: List[str] = field(default_factory=lambda: ["/etc/audisp-eql/rules.d"])
    exception_paths: List[str] = field(default_factory=lambda: [DEFAULT_EXCEPTIONS])
    event_action: Action = DEFAULT_ACTIONS   # actions.py
    parent_from_proc: bool = True
    env_vars: List[str] = field(default_factory=list)
    env_vars_from_rules: bool = True
    already_running: bool = True
    user: str = ""
    status_interval: float = 300.0
    event_timeout: float = 2.0
    parser: str = "auto"
    shard: Shard = field(default_factory=Shard)   # the nodes this instance evaluates
    log_facility: str = "daemon"
    burst: int = 10
    burst_interval: float = 60.0
    queue_size: int = 1000
    # MiB of documents sequences and samples may hold (limits.MAX_PENDING_BYTES)
    sequence_memory_mib: int = limits.MAX_PENDING_BYTES >> 20
    syslog: SyslogConfig = field(default_factory=SyslogConfig)
    remotes: List[RemoteConfig] = field(default_factory=list)
    file: FileConfig = field(default_factory=FileConfig)
    stdout: StdoutConfig = field(default_factory=StdoutConfig)


def parse_config(text: str, path: str = "<config>") -> Config:
    """Parse and validate `text` (no file is read); raise ConfigError."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(path, int(m.group(1)) if m else 0, f"TOML syntax: {exc}") from None
    lines = KeyLines(text)
    cfg = Config(path=path)
    top = TableReader(path, lines, "", 0, doc)

    plugin = TableReader(path, lines, "plugin", 0, top.sub("plugin"))
    cfg.event_action = action_setting(plugin.get("event_action", object, cfg.event_action,
                                                 action_problem))
    cfg.parent_from_proc = plugin.get("parent_from_proc", bool, cfg.parent_from_proc)
    cfg.env_vars = plugin.get_list("env_vars", cfg.env_vars)
    bad = [n for n in cfg.env_vars if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\*?", n)]
    if bad:
        raise plugin.error("env_vars", f"{bad[0]!r} is not a variable name (NAME, or NAME* "
                                       f"for a prefix)")
    cfg.env_vars_from_rules = plugin.get("env_vars_from_rules", bool, cfg.env_vars_from_rules)
    cfg.already_running = plugin.get("already_running", bool, cfg.already_running)
    cfg.user = plugin.get("user", str, cfg.user)
    cfg.status_interval = plugin.get("status_interval", float, cfg.status_interval,
                                     between(0, "MAX_CONFIG_SECONDS"))
    # auparse counts the timeout in whole seconds: at least one.
    cfg.event_timeout = plugin.get("event_timeout", float, cfg.event_timeout,
                                   between(1, "MAX_CONFIG_SECONDS"))
    cfg.parser = plugin.get("parser", str, cfg.parser, one_of(("auto", "auparse", "python")))
    cfg.shard = Shard.parse(plugin.get("shard", str, str(cfg.shard), shard_problem))
    cfg.log_facility = plugin.get("log_facility", str, cfg.log_facility, one_of(FACILITIES))
    cfg.queue_size = plugin.get("queue_size", int, cfg.queue_size, between(1, "MAX_CONFIG_COUNT"))
    cfg.sequence_memory_mib = plugin.get("sequence_memory_mib", int, cfg.sequence_memory_mib,
                                         between(1, "MAX_CONFIG_SEQUENCE_MIB"))
    plugin.finish()

    rules = TableReader(path, lines, "rules", 0, top.sub("rules"))
    cfg.rule_paths = rules.get_list("paths", cfg.rule_paths)
    rules.finish()

    exceptions = TableReader(path, lines, "exceptions", 0, top.sub("exceptions"))
    cfg.exception_paths = exceptions.get_list("paths", cfg.exception_paths)
    exceptions.finish()

    limit = TableReader(path, lines, "ratelimit", 0, top.sub("ratelimit"))
    cfg.burst = limit.get("burst", int, cfg.burst, between(0, "MAX_CONFIG_COUNT"))
    cfg.burst_interval = limit.get("interval", float, cfg.burst_interval,
                                   between(0.001, "MAX_CONFIG_SECONDS"))
    limit.finish()

    outputs = TableReader(path, lines, "output", 0, top.sub("output"))
    sys_ = TableReader(path, lines, "output.syslog", 0, outputs.sub("syslog"))
    cfg.syslog = SyslogConfig(
        enabled=sys_.get("enabled", bool, True),
        socket=sys_.get("socket", str, "/dev/log", absolute),
        facility=sys_.get("facility", str, "authpriv", one_of(FACILITIES)),
        format=sys_.get("format", str, "text", one_of(FORMATS)),
        tag=sys_.get("tag", str, "audisp-eql",
                     lambda v: None if re.fullmatch(r"[!-~]{1,32}", v) and ":" not in v
                     and "[" not in v else "must be 1-32 printable characters, no ':' or '['"))
    sys_.finish()

    fil = TableReader(path, lines, "output.file", 0, outputs.sub("file"))
    cfg.file = FileConfig(
        enabled=fil.get("enabled", bool, False),
        path=fil.get("path", str, FileConfig.path, absolute),
        mode=int(fil.get("mode", str, "0640", mode), 8))
    fil.finish()

    out = TableReader(path, lines, "output.stdout", 0, outputs.sub("stdout"))
    cfg.stdout = StdoutConfig(enabled=out.get("enabled", bool, False),
                              format=out.get("format", str, "json", one_of(FORMATS)))
    out.finish()

    outputs.used.add("remote")
    remotes = outputs.data.get("remote", [])
    if not isinstance(remotes, list):
        raise outputs.error("remote", "expected [[output.remote]] tables")
    for i, table in enumerate(remotes):
        if not isinstance(table, dict):
            raise outputs.error("remote", f"expected [[output.remote]] tables, got "
                                          f"{kind_name(type(table))}")
        rem = TableReader(path, lines, "output.remote", i, table)
        host = rem.get("host", str, "", lambda v: None if v else "must not be empty")
        if not host:
            raise rem.error("", "host is required")
        protocol = rem.get("protocol", str, "udp", one_of(PROTOCOLS))
        tls = {key: rem.get(key, str, "", server_name if key == "server_name"
                            else absolute_file) for key in TLS_KEYS}
        for key in TLS_KEYS:
            if tls[key] and protocol != "tls":
                raise rem.error(key, f'applies to protocol = "tls" only, not "{protocol}"')
        if bool(tls["cert_file"]) != bool(tls["key_file"]):
            missing = "key_file" if tls["cert_file"] else "cert_file"
            raise rem.error("cert_file" if tls["cert_file"] else "key_file",
                            f"needs {missing} too (the client certificate and its private key "
                            "go together)")
        cfg.remotes.append(RemoteConfig(
            host=host,
            port=rem.get("port", int, DEFAULT_PORTS[protocol], port),
            protocol=protocol,
            facility=rem.get("facility", str, "authpriv", one_of(FACILITIES)),
            format=rem.get("format", str, "json", one_of(FORMATS)),
            lines={key: lines.find("output.remote", i, key) for key in TLS_KEYS},
            **tls))
        rem.finish()
    outputs.finish()
    top.finish()
    return cfg


def missing_ok(cfg: Config) -> tuple[str, ...]:
    """Exception paths that may be absent: the default directory (an older
    installation has none); a path the administrator wrote must be there."""
    return (DEFAULT_EXCEPTIONS,) if cfg.exception_paths == [DEFAULT_EXCEPTIONS] else ()


def drop_uid(user: str) -> Optional[int]:
    """The uid `[plugin] user` names, if it exists (drop_privileges reports it if not)."""
    import pwd
    try:
        return (pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)).pw_uid
    except (KeyError, ValueError):
        return None


def check_tls_files(cfg: Config, loaded: Collection[TlsSettings] = ()) -> None:
    """The TLS files of every remote: trusted like the config (not writable by
    others), the private key readable by its owner alone, owned by root, the
    running user or the user the plugin drops to; and loadable. Raise ConfigError.

    Settings in `loaded` are skipped: on reload, the running outputs hold those
    files in memory already (after a privilege drop they may be out of reach)."""
    uid = drop_uid(cfg.user) if cfg.user else None
    owners = () if uid is None else (uid,)
    for remote in cfg.remotes:
        settings = remote.tls()
        if settings is None or settings in loaded:
            continue
        for key in ("ca_file", "cert_file", "key_file"):
            name = getattr(remote, key)
            if not name:
                continue
            try:
                if key == "key_file":
                    check_private(Path(name), owners)
                else:
                    check_trusted(Path(name), owners)
            except UntrustedPathError as exc:
                raise ConfigError(cfg.path, remote.lines.get(key, 0),
                                  f"output.remote.{key}: {exc}") from None
            except OSError as exc:
                raise ConfigError(cfg.path, remote.lines.get(key, 0),
                                  f"output.remote.{key}: {name}: {exc.strerror or exc}") from None
        try:
            make_context(settings)
        except TlsSetupError as exc:
            raise ConfigError(cfg.path, remote.lines.get(exc.key, 0),
                              f"output.remote.{exc.key}: {exc.path}: {exc.reason}") from None


def load_config(path: str | Path, tls_loaded: Collection[TlsSettings] = ()) -> Config:
    """Read, trust-check and validate the config file and the TLS files it
    names (but those of `tls_loaded`, see check_tls_files); raise ConfigError."""
    name = str(path)
    try:
        check_trusted(Path(name))
        with open(name, "rb") as f:
            data = f.read(limits.MAX_CONFIG_BYTES + 1)
        if len(data) > limits.MAX_CONFIG_BYTES:
            raise ConfigError(name, 0, f"larger than {limits.MAX_CONFIG_BYTES} bytes "
                                       "(limits.MAX_CONFIG_BYTES)")
        text = data.decode("utf-8")
    except UntrustedPathError as exc:
        raise ConfigError(name, 0, exc.reason) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(name, 0, f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ConfigError(name, 0, exc.strerror or str(exc)) from None
    try:
        cfg = parse_config(text, name)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a gap in the checks is still a config error
        raise ConfigError(name, 0, f"cannot read the configuration: {type(exc).__name__}: "
                                   f"{exc}") from None
    check_tls_files(cfg, tls_loaded)
    return cfg

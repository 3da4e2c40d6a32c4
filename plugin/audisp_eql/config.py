"""The plugin's TOML configuration: schema, defaults, and errors with file:line.

tomllib reports syntax errors with a line but not where a bad *value* is, so
`_KeyLines` indexes the text itself: for every `[table]` / `[[array]]` and
`key =` it remembers the line, and schema errors point there.
"""

from __future__ import annotations

import ipaddress
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib

from .actions import DEFAULT_ACTIONS, Action, action_problem, action_setting
from .outputs.format import FORMATS
from .outputs.remote import DEFAULT_PORTS, PROTOCOLS
from .outputs.syslog import FACILITIES
from .outputs.tls import TlsSettings, TlsSetupError, make_context
from .source.shard import Shard, shard_problem
from .trust import UntrustedPathError, check_private, check_trusted

DEFAULT_PATH = "/etc/audisp-eql/audisp-eql.toml"
DEFAULT_EXCEPTIONS = "/etc/audisp-eql/exceptions.d"


class ConfigError(Exception):
    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


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
    user: str = ""
    status_interval: float = 300.0
    event_timeout: float = 2.0
    parser: str = "auto"
    shard: Shard = field(default_factory=Shard)   # the nodes this instance evaluates
    log_facility: str = "daemon"
    burst: int = 10
    burst_interval: float = 60.0
    queue_size: int = 1000
    syslog: SyslogConfig = field(default_factory=SyslogConfig)
    remotes: List[RemoteConfig] = field(default_factory=list)
    file: FileConfig = field(default_factory=FileConfig)
    stdout: StdoutConfig = field(default_factory=StdoutConfig)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")


class _KeyLines:
    """Line numbers of tables and keys, as (table, index, key) -> line."""

    def __init__(self, text: str) -> None:
        self.lines: Dict[Tuple[str, int, str], int] = {}
        table, index = "", 0
        counts: Dict[str, int] = {}
        in_multiline: Optional[str] = None
        for number, line in enumerate(text.splitlines(), 1):
            if in_multiline:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = _HEADER.match(line)
            if header:
                table = header.group(2).replace(" ", "")
                index = counts.get(table, 0)
                counts[table] = index + 1 if header.group(1) == "[[" else 1
                self.lines.setdefault((table, index, ""), number)
                continue
            key = _KEY.match(line)
            if key:
                name = key.group(1).replace('"', "").replace("'", "").replace(" ", "")
                self.lines.setdefault((table, index, name), number)
                for quote in ('"""', "'''"):
                    if line.count(quote) % 2 == 1:
                        in_multiline = quote

    def find(self, table: str, index: int, key: str = "") -> int:
        subtable = f"{table}.{key}" if table else key
        return (self.lines.get((table, index, key)) or self.lines.get((subtable, 0, ""))
                or self.lines.get((table, index, "")) or self._dotted(subtable) or 0)

    def _dotted(self, name: str) -> int:
        """Where a dotted key (`syslog.bogus = 1` under `[output]`) or the inline
        table holding it (`syslog = { bogus = 1 }`) set `name`."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):       # the most specific key first
            for cut in range(end - 1, -1, -1):     # under the nearest table first
                line = self.lines.get((".".join(parts[:cut]), 0, ".".join(parts[cut:end])))
                if line:
                    return line
        return 0


class _Reader:
    """Reads one table of the parsed document, checking types and unknown keys."""

    def __init__(self, path: str, lines: _KeyLines, table: str, index: int,
                 data: Mapping[str, Any]) -> None:
        self.path, self.lines, self.table, self.index = path, lines, table, index
        self.data = data
        self.used: set[str] = set()

    def error(self, key: str, message: str) -> ConfigError:
        name = f"{self.table}.{key}" if self.table and key else (key or self.table)
        return ConfigError(self.path, self.lines.find(self.table, self.index, key),
                           f"{name}: {message}")

    def get(self, key: str, kind: type, default: Any,
            check: Callable[[Any], Optional[str]] | None = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        kinds: Tuple[type, ...] = (int, float) if kind is float else (kind,)
        if not isinstance(value, kinds) or (kind is not bool and isinstance(value, bool)):
            raise self.error(key, f"expected {_kind_name(kind)}, got {_kind_name(type(value))}")
        if check is not None:
            problem = check(value)
            if problem:
                raise self.error(key, problem)
        return float(value) if kind is float else value

    def get_list(self, key: str, default: List[str]) -> List[str]:
        value = self.get(key, list, default)
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "expected a list of non-empty strings")
        return list(value)

    def sub(self, key: str) -> Mapping[str, Any]:
        self.used.add(key)
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        return value

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                raise self.error(key, "unknown key")


def _kind_name(kind: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(kind, kind.__name__)


def _one_of(choices: Any) -> Callable[[Any], Optional[str]]:
    return lambda v: None if v in choices else f"{v!r} is not one of {', '.join(choices)}"


def _positive(v: Any) -> Optional[str]:
    if not math.isfinite(v):
        return "must be a finite number"
    return None if v > 0 else "must be greater than 0"


def _not_negative(v: Any) -> Optional[str]:
    if not math.isfinite(v):
        return "must be a finite number"
    return None if v >= 0 else "must not be negative"


def _absolute(v: Any) -> Optional[str]:
    return None if v.startswith("/") else "must be an absolute path"


def _absolute_file(v: Any) -> Optional[str]:
    return None if v.startswith("/") and not v.endswith("/") else "must be an absolute file path"


def _server_name(v: Any) -> Optional[str]:
    # A DNS name or an IP address, as the collector's certificate must carry it.
    try:
        ipaddress.ip_address(v)
        return None
    except ValueError:
        pass
    if re.fullmatch(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?", v) and \
            all(0 < len(label) < 64 for label in v.rstrip(".").split(".")):
        return None
    return ("must be a host name or IP address (a name: letters, digits, '-' and '.', "
            "1 to 63 between dots)")


def _port(v: Any) -> Optional[str]:
    return None if 0 < v < 65536 else "must be a port number from 1 to 65535"


def _mode(v: Any) -> Optional[str]:
    if not re.fullmatch(r"0?[0-7]{3}", v):
        return "must be an octal mode such as \"0640\""
    # Whoever may write the alert file may forge or erase alerts.
    return "must not be writable by group or others" if int(v, 8) & 0o022 else None


def parse_config(text: str, path: str = "<config>") -> Config:
    """Parse and validate `text` (no file is read); raise ConfigError."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(path, int(m.group(1)) if m else 0, f"TOML syntax: {exc}") from None
    lines = _KeyLines(text)
    cfg = Config(path=path)
    top = _Reader(path, lines, "", 0, doc)

    plugin = _Reader(path, lines, "plugin", 0, top.sub("plugin"))
    cfg.event_action = action_setting(plugin.get("event_action", object, cfg.event_action,
                                                 action_problem))
    cfg.parent_from_proc = plugin.get("parent_from_proc", bool, cfg.parent_from_proc)
    cfg.user = plugin.get("user", str, cfg.user)
    cfg.status_interval = plugin.get("status_interval", float, cfg.status_interval, _not_negative)
    cfg.event_timeout = plugin.get("event_timeout", float, cfg.event_timeout, _positive)
    cfg.parser = plugin.get("parser", str, cfg.parser, _one_of(("auto", "auparse", "python")))
    cfg.shard = Shard.parse(plugin.get("shard", str, str(cfg.shard), shard_problem))
    cfg.log_facility = plugin.get("log_facility", str, cfg.log_facility, _one_of(FACILITIES))
    cfg.queue_size = plugin.get("queue_size", int, cfg.queue_size, _positive)
    plugin.finish()

    rules = _Reader(path, lines, "rules", 0, top.sub("rules"))
    cfg.rule_paths = rules.get_list("paths", cfg.rule_paths)
    rules.finish()

    exceptions = _Reader(path, lines, "exceptions", 0, top.sub("exceptions"))
    cfg.exception_paths = exceptions.get_list("paths", cfg.exception_paths)
    exceptions.finish()

    limit = _Reader(path, lines, "ratelimit", 0, top.sub("ratelimit"))
    cfg.burst = limit.get("burst", int, cfg.burst, _not_negative)
    cfg.burst_interval = limit.get("interval", float, cfg.burst_interval, _positive)
    limit.finish()

    outputs = _Reader(path, lines, "output", 0, top.sub("output"))
    sys_ = _Reader(path, lines, "output.syslog", 0, outputs.sub("syslog"))
    cfg.syslog = SyslogConfig(
        enabled=sys_.get("enabled", bool, True),
        socket=sys_.get("socket", str, "/dev/log", _absolute),
        facility=sys_.get("facility", str, "authpriv", _one_of(FACILITIES)),
        format=sys_.get("format", str, "text", _one_of(FORMATS)),
        tag=sys_.get("tag", str, "audisp-eql",
                     lambda v: None if re.fullmatch(r"[!-~]{1,32}", v) and ":" not in v
                     and "[" not in v else "must be 1-32 printable characters, no ':' or '['"))
    sys_.finish()

    fil = _Reader(path, lines, "output.file", 0, outputs.sub("file"))
    cfg.file = FileConfig(
        enabled=fil.get("enabled", bool, False),
        path=fil.get("path", str, FileConfig.path, _absolute),
        mode=int(fil.get("mode", str, "0640", _mode), 8))
    fil.finish()

    out = _Reader(path, lines, "output.stdout", 0, outputs.sub("stdout"))
    cfg.stdout = StdoutConfig(enabled=out.get("enabled", bool, False),
                              format=out.get("format", str, "json", _one_of(FORMATS)))
    out.finish()

    outputs.used.add("remote")
    remotes = outputs.data.get("remote", [])
    if not isinstance(remotes, list):
        raise outputs.error("remote", "expected [[output.remote]] tables")
    for i, table in enumerate(remotes):
        rem = _Reader(path, lines, "output.remote", i, table)
        host = rem.get("host", str, "", lambda v: None if v else "must not be empty")
        if not host:
            raise rem.error("", "host is required")
        protocol = rem.get("protocol", str, "udp", _one_of(PROTOCOLS))
        tls = {key: rem.get(key, str, "", _server_name if key == "server_name"
                            else _absolute_file) for key in TLS_KEYS}
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
            port=rem.get("port", int, DEFAULT_PORTS[protocol], _port),
            protocol=protocol,
            facility=rem.get("facility", str, "authpriv", _one_of(FACILITIES)),
            format=rem.get("format", str, "json", _one_of(FORMATS)),
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


def _drop_uid(user: str) -> Optional[int]:
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
    uid = _drop_uid(cfg.user) if cfg.user else None
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
        text = Path(name).read_bytes().decode("utf-8")
    except UntrustedPathError as exc:
        raise ConfigError(name, 0, exc.reason) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(name, 0, f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ConfigError(name, 0, exc.strerror or str(exc)) from None
    cfg = parse_config(text, name)
    check_tls_files(cfg, tls_loaded)
    return cfg

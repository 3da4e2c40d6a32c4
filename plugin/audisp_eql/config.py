"""The plugin's TOML configuration: schema, defaults, and errors with file:line.

tomllib reports syntax errors with a line but not where a bad *value* is, so
`_KeyLines` indexes the text itself: for every `[table]` / `[[array]]` and
`key =` it remembers the line, and schema errors point there.

Every value is checked by type and range before use (limits.py holds the
ranges): whatever a config file holds gives a Config or a ConfigError, never
another exception, so a bad reload keeps the running configuration.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib

from . import limits
from .outputs.format import FORMATS
from .outputs.syslog import FACILITIES
from .trust import UntrustedPathError, check_trusted

DEFAULT_PATH = "/etc/audisp-eql/audisp-eql.toml"
# Values Elastic's Linux rules accept for a process start (see the seed rule).
ACTIONS = ("exec", "exec_event", "executed", "process_started")


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


@dataclass
class RemoteConfig:
    host: str = ""
    port: int = 514
    protocol: str = "udp"
    facility: str = "authpriv"
    format: str = "json"


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
    event_action: str = "exec"
    parent_from_proc: bool = True
    user: str = ""
    status_interval: float = 300.0
    event_timeout: float = 2.0
    parser: str = "auto"
    log_facility: str = "daemon"
    burst: int = 10
    burst_interval: float = 60.0
    queue_size: int = 1000
    syslog: SyslogConfig = field(default_factory=SyslogConfig)
    remotes: List[RemoteConfig] = field(default_factory=list)
    file: FileConfig = field(default_factory=FileConfig)
    stdout: StdoutConfig = field(default_factory=StdoutConfig)


# The name starts and ends on a non-space, so the spaces around it have one
# owner (a lazy name that could end in spaces was quadratic on them).
_HEADER = re.compile(r"^[ \t]*(\[\[?)[ \t]*([^\]\s](?:[^\]]*[^\]\s])?)[ \t]*\]\]?[ \t]*(#.*)?$")
# Words of a (dotted, quoted) key separated by single runs of spaces: a lazy
# group that could also eat the spaces was quadratic on a line of spaces.
_KEY = re.compile(r"^[ \t]*([A-Za-z0-9_\-\.\"']+(?:[ \t]+[A-Za-z0-9_\-\.\"']+)*)[ \t]*=")


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


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def _between(low: float, high_name: str) -> Callable[[Any], Optional[str]]:
    """From `low` to the limit named `high_name` (read when checked)."""
    def check(v: Any) -> Optional[str]:
        high = getattr(limits, high_name)
        if not math.isfinite(v) or not low <= v <= high:
            return f"must be a finite number from {_number(low)} to {_number(high)}"
        return None
    return check


def _absolute(v: Any) -> Optional[str]:
    return None if v.startswith("/") else "must be an absolute path"


def _port(v: Any) -> Optional[str]:
    return None if 0 < v < 65536 else "must be a port number from 1 to 65535"


def _mode(v: Any) -> Optional[str]:
    if not re.fullmatch(r"0?[0-7]{3}", v):
        return "must be an octal mode such as \"0640\""
    # Whoever may write the alert file may forge or erase alerts.
    return "must not be writable by group or others" if int(v, 8) & 0o022 else None


def parse_config(text: str, path: str = "<config>") -> Config:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(path, int(m.group(1)) if m else 0, f"TOML syntax: {exc}") from None
    lines = _KeyLines(text)
    cfg = Config(path=path)
    top = _Reader(path, lines, "", 0, doc)

    plugin = _Reader(path, lines, "plugin", 0, top.sub("plugin"))
    cfg.event_action = plugin.get("event_action", str, cfg.event_action, _one_of(ACTIONS))
    cfg.parent_from_proc = plugin.get("parent_from_proc", bool, cfg.parent_from_proc)
    cfg.user = plugin.get("user", str, cfg.user)
    cfg.status_interval = plugin.get("status_interval", float, cfg.status_interval,
                                     _between(0, "MAX_CONFIG_SECONDS"))
    # auparse counts the timeout in whole seconds: at least one.
    cfg.event_timeout = plugin.get("event_timeout", float, cfg.event_timeout,
                                   _between(1, "MAX_CONFIG_SECONDS"))
    cfg.parser = plugin.get("parser", str, cfg.parser, _one_of(("auto", "auparse", "python")))
    cfg.log_facility = plugin.get("log_facility", str, cfg.log_facility, _one_of(FACILITIES))
    cfg.queue_size = plugin.get("queue_size", int, cfg.queue_size, _between(1, "MAX_CONFIG_COUNT"))
    plugin.finish()

    rules = _Reader(path, lines, "rules", 0, top.sub("rules"))
    cfg.rule_paths = rules.get_list("paths", cfg.rule_paths)
    rules.finish()

    limit = _Reader(path, lines, "ratelimit", 0, top.sub("ratelimit"))
    cfg.burst = limit.get("burst", int, cfg.burst, _between(0, "MAX_CONFIG_COUNT"))
    cfg.burst_interval = limit.get("interval", float, cfg.burst_interval,
                                   _between(0.001, "MAX_CONFIG_SECONDS"))
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
        if not isinstance(table, dict):
            raise outputs.error("remote", f"expected [[output.remote]] tables, got "
                                          f"{_kind_name(type(table))}")
        rem = _Reader(path, lines, "output.remote", i, table)
        host = rem.get("host", str, "", lambda v: None if v else "must not be empty")
        if not host:
            raise rem.error("", "host is required")
        cfg.remotes.append(RemoteConfig(
            host=host,
            port=rem.get("port", int, 514, _port),
            protocol=rem.get("protocol", str, "udp", _one_of(("udp", "tcp"))),
            facility=rem.get("facility", str, "authpriv", _one_of(FACILITIES)),
            format=rem.get("format", str, "json", _one_of(FORMATS))))
        rem.finish()
    outputs.finish()
    top.finish()
    return cfg


def load_config(path: str | Path) -> Config:
    """Read, trust-check and validate the config file; raise ConfigError."""
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
        return parse_config(text, name)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a gap in the checks is still a config error
        raise ConfigError(name, 0, f"cannot read the configuration: {type(exc).__name__}: "
                                   f"{exc}") from None

"""Reading the plugin's TOML configuration with file:line errors.

tomllib reports syntax errors with a line but not where a bad *value* is, so
`KeyLines` indexes the text itself: for every `[table]` / `[[array]]` and
`key =` it remembers the line, and schema errors point there. `TableReader`
reads one table by type, with the checks below, and refuses unknown keys.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import limits


class ConfigError(Exception):
    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


# The name starts and ends on a non-space, so the spaces around it have one
# owner (a lazy name that could end in spaces was quadratic on them).
_HEADER = re.compile(r"^[ \t]*(\[\[?)[ \t]*([^\]\s](?:[^\]]*[^\]\s])?)[ \t]*\]\]?[ \t]*(#.*)?$")
# Words of a (dotted, quoted) key separated by single runs of spaces: a lazy
# group that could also eat the spaces was quadratic on a line of spaces.
_KEY = re.compile(r"^[ \t]*([A-Za-z0-9_\-\.\"']+(?:[ \t]+[A-Za-z0-9_\-\.\"']+)*)[ \t]*=")


class KeyLines:
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


class TableReader:
    """Reads one table of the parsed document, checking types and unknown keys."""

    def __init__(self, path: str, lines: KeyLines, table: str, index: int,
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
            raise self.error(key, f"expected {kind_name(kind)}, got {kind_name(type(value))}")
        problem = _size_problem(value)
        if problem:
            raise self.error(key, problem)
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


def _size_problem(value: Any) -> Optional[str]:
    """Every string and list of the file within bounds, whatever its key: a
    path, name or host reaches the OS (where a NUL raises ValueError)."""
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) > limits.MAX_CONFIG_LIST_ITEMS:
        return f"more than {limits.MAX_CONFIG_LIST_ITEMS} items (limits.MAX_CONFIG_LIST_ITEMS)"
    for item in values:
        if isinstance(item, str):
            if len(item) > limits.MAX_CONFIG_STRING_CHARS:
                return (f"a string longer than {limits.MAX_CONFIG_STRING_CHARS} characters "
                        "(limits.MAX_CONFIG_STRING_CHARS)")
            if "\0" in item:
                return "a string holding a NUL character"
    return None


def kind_name(kind: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(kind, kind.__name__)


def one_of(choices: Any) -> Callable[[Any], Optional[str]]:
    return lambda v: None if v in choices else f"{v!r} is not one of {', '.join(choices)}"


def positive(v: Any) -> Optional[str]:
    if not math.isfinite(v):
        return "must be a finite number"
    return None if v > 0 else "must be greater than 0"


def not_negative(v: Any) -> Optional[str]:
    if not math.isfinite(v):
        return "must be a finite number"
    return None if v >= 0 else "must not be negative"


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def between(low: float, high_name: str) -> Callable[[Any], Optional[str]]:
    """From `low` to the limit named `high_name` (read when checked)."""
    def check(v: Any) -> Optional[str]:
        high = getattr(limits, high_name)
        if not math.isfinite(v) or not low <= v <= high:
            return f"must be a finite number from {_number(low)} to {_number(high)}"
        return None
    return check


def absolute(v: Any) -> Optional[str]:
    return None if v.startswith("/") else "must be an absolute path"


def absolute_file(v: Any) -> Optional[str]:
    return None if v.startswith("/") and not v.endswith("/") else "must be an absolute file path"


def server_name(v: Any) -> Optional[str]:
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


def port(v: Any) -> Optional[str]:
    return None if 0 < v < 65536 else "must be a port number from 1 to 65535"


def mode(v: Any) -> Optional[str]:
    if not re.fullmatch(r"0?[0-7]{3}", v):
        return "must be an octal mode such as \"0640\""
    # Whoever may write the alert file may forge or erase alerts.
    return "must not be writable by group or others" if int(v, 8) & 0o022 else None

"""Rule files on disk: found under the given paths, trust-checked, read as
UTF-8 TOML within a size bound. Every entry that is not loaded says why:
a FIFO, a dangling or looping symlink, a file too large, bytes that are not
UTF-8, an empty file (a copy caught half-written by a reload) are errors
with the file's name, never a rule that silently vanishes.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

from . import limits
from .trust import UntrustedPathError, check_trusted


class RuleFileError(Exception):
    """A rule file that cannot be read as a rule; `line` is 1-based or None."""

    def __init__(self, message: str, line: Optional[int] = None) -> None:
        super().__init__(message)
        self.line = line


def iter_rule_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool, Optional[str]]]:
    """Every `*.toml` entry under `paths` (files as given, directories
    recursively without following links to directories, sorted), each with
    whether it was found by searching and, for an entry that cannot be a
    rule file (FIFO, dangling or looping link, unreadable directory), why.
    A directory without any gives (directory, False, None)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(_walk(path), key=lambda item: str(item[0]))
            if not found:
                yield path, False, None
            yield from ((p, True, problem) for p, problem in found)
        else:
            yield path, False, None


def _walk(top: Path) -> Iterator[tuple[Path, Optional[str]]]:
    problems: list[tuple[Path, Optional[str]]] = []

    def unreadable(err: OSError) -> None:
        problems.append((Path(err.filename or top), f"cannot read directory: {err.strerror}"))

    for directory, dirnames, filenames in os.walk(top, onerror=unreadable):
        for name in sorted(dirnames + filenames):
            if not name.endswith(".toml"):
                continue
            path = Path(directory) / name
            problem = _entry_problem(path)
            if problem != "":
                yield path, problem
    yield from problems


def _entry_problem(path: Path) -> Optional[str]:
    """None for a (link to a) regular file, "" for a real directory (walked),
    else why the entry is not a rule file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "dangling symbolic link" if path.is_symlink() else "vanished while listed"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot read: {err.strerror}"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "symbolic link to a directory (not followed)" if path.is_symlink() else ""
    kind = ("FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode)
            else "device")
    return f"not a regular file ({kind})"


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """Trust-check, read (at most limits.MAX_RULE_FILE_BYTES) and parse one file."""
    limit = limits.MAX_RULE_FILE_BYTES
    try:
        check_trusted(path)   # as auditd does: a rule others can change is not loaded
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except UntrustedPathError as err:
        raise RuleFileError(f"refusing to load: {err.reason}") from None
    except OSError as err:
        raise RuleFileError(f"cannot read: {err.strerror or err}") from None
    if len(data) > limit:
        raise RuleFileError(f"larger than {limit} bytes (limits.MAX_RULE_FILE_BYTES)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RuleFileError(f"not UTF-8 text (byte 0x{data[err.start]:02x})",
                            data.count(b"\n", 0, err.start) + 1) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _TOML_POSITION.search(str(err))
        line = int(found.group(1)) if found else None
        message = _TOML_POSITION.sub("", str(err)).strip()
        raise RuleFileError(f"TOML syntax error: {message}", line) from None
    if not doc:
        # Empty, or comments only: a rule file being written (cp) when a reload
        # came is an error that keeps the old rules, not a rule dropped.
        raise RuleFileError("empty rule file (no [rule] table)")
    return text, doc

"""Refuse configuration and rule files that someone other than their owner can change.

The plugin runs as root under auditd; a rule or config file that another user
can write (or replace, through a writable parent directory) would let that user
blind the detector or feed it arbitrary rules. auditd refuses its own files on
the same grounds. `check_trusted` applies the rule to a file or directory and
every directory above it, on the path as given and on the path symlinks lead to.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator


class UntrustedPathError(Exception):
    """`path` must not be loaded; `reason` says why, in words an operator can act on."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: refusing to load: {reason}")
        self.path = path
        self.reason = reason


def _trusted_owners(extra: Iterable[int] = ()) -> frozenset[int]:
    return frozenset({0, os.geteuid(), *extra})


def _owner_problem(st: os.stat_result, extra: Iterable[int] = ()) -> str | None:
    extra = tuple(extra)
    if st.st_uid not in _trusted_owners(extra):
        also = "".join(f", or uid {uid}" for uid in extra if uid not in (0, os.geteuid()))
        return (f"owned by uid {st.st_uid}, not root or the running user "
                f"(uid {os.geteuid()}){also}")
    return None


def _check_target(path: Path, extra_owners: Iterable[int] = ()) -> None:
    """The file or directory itself: a regular file or directory, writable by its owner only."""
    st = os.stat(path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise UntrustedPathError(path, "not a regular file or directory")
    problem = _owner_problem(st, extra_owners)
    if problem:
        raise UntrustedPathError(path, problem)
    if st.st_mode & stat.S_IWOTH:
        raise UntrustedPathError(path, f"world-writable (mode {stat.S_IMODE(st.st_mode):04o})")
    if st.st_mode & stat.S_IWGRP:
        raise UntrustedPathError(
            path, f"group-writable (mode {stat.S_IMODE(st.st_mode):04o}, gid {st.st_gid})")


def _check_parent(path: Path, directory: Path, extra_owners: Iterable[int] = ()) -> None:
    """A directory above `path`: whoever may rename entries in it may replace `path`."""
    st = os.stat(directory)
    problem = _owner_problem(st, extra_owners)
    if problem:
        raise UntrustedPathError(path, f"parent directory {directory} is {problem}")
    # The sticky bit (as on /tmp) stops others from renaming or removing entries they do not own.
    if st.st_mode & (stat.S_IWOTH | stat.S_IWGRP) and not st.st_mode & stat.S_ISVTX:
        who = "world" if st.st_mode & stat.S_IWOTH else "group"
        raise UntrustedPathError(
            path, f"parent directory {directory} is {who}-writable without the sticky bit "
                  f"(mode {stat.S_IMODE(st.st_mode):04o})")


def _parents(path: Path) -> Iterator[Path]:
    yield from path.parents


def check_trusted(path: Path, extra_owners: Iterable[int] = ()) -> None:
    """Raise `UntrustedPathError` unless `path` and the directories above it are trustworthy.

    Trustworthy: owned by root or the running user (or a uid of `extra_owners`:
    the user the plugin drops to, for its TLS files); the target not group- or
    world-writable; no parent directory group- or world-writable unless sticky.
    Both the path as written and its symlink-resolved form are checked, so a
    symlink in a safe place cannot point into an unsafe one and vice versa.
    A missing path raises `FileNotFoundError` as `os.stat` does.
    """
    given = Path(os.path.abspath(path))
    resolved = Path(os.path.realpath(given))
    _check_target(resolved, extra_owners)
    for directory in _parents(resolved):
        _check_parent(given, directory, extra_owners)
    if given != resolved:
        # The link itself lives in the directories of the written path; a writable
        # one there lets others re-point the link.
        for directory in _parents(given):
            _check_parent(given, directory, extra_owners)


def check_private(path: Path, extra_owners: Iterable[int] = ()) -> None:
    """A private key: trusted as `check_trusted` says, a regular file, and
    readable by its owner alone (root, the running user or `extra_owners`)."""
    check_trusted(path, extra_owners)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedPathError(Path(path), "not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        who = "others" if mode & stat.S_IROTH else f"group {st.st_gid}"
        raise UntrustedPathError(Path(path), f"a private key readable by {who} (mode {mode:04o}); "
                                 "it must be readable by its owner only (chmod 600)")


def check_trusted_tree(paths: Iterable[Path], suffix: str = ".toml") -> list[Path]:
    """Check each path and, for directories, every `suffix` file below them; return the files.

    For loaders of rule directories: the directory check covers who can add
    files, the per-file check covers who can change them.
    """
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        check_trusted(path)
        if path.is_dir():
            for file in sorted(path.rglob(f"*{suffix}")):
                check_trusted(file)
                files.append(file)
        else:
            files.append(path)
    return files

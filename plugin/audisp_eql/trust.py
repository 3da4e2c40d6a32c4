"""Refuse configuration and rule files that someone other than their owner can change.

The plugin runs as root under auditd; a rule or config file that another user
can write (or replace, through a writable parent directory) would let that user
blind the detector or feed it arbitrary rules. auditd refuses its own files on
the same grounds. `check_trusted` applies the rule to a file or directory and
every directory above it, on the path as given and on the path symlinks lead to.

The alert file is written, not read, by root: the same rules apply, and
`open_trusted` opens it relative to its directory, reached from / one
component at a time without following links and checked on the descriptor
itself, so a directory swapped for a link (or a FIFO planted in place of the
file) between the check and the open is refused, not followed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional


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
    _check_directory_status(path, directory, os.stat(directory), extra_owners)


def _check_directory_status(path: Path, directory: Path, st: os.stat_result,
                            extra_owners: Iterable[int] = ()) -> None:
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


_DIRECTORY_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_trusted(path: str, flags: int, mode: int = 0o600,
                 not_regular: Optional[Callable[[int], OSError]] = None,
                 extra_owners: Iterable[int] = ()) -> int:
    """`os.open(path, flags | O_NOFOLLOW, mode)` under the rules of this module:
    every directory from / down to the file's (by descriptor, no link followed
    on the way: links in the path as written are resolved first, their own
    directories checked) trusted; the file, if there, a regular file of root
    or the running user (or a uid of `extra_owners`: the user the plugin drops
    to, who owns its log directory), a regular one that others cannot write.
    PermissionError
    (an OSError, as any other failure to open) when it is refused.

    With `not_regular`, an entry of root or the running user that is not a
    regular file (a FIFO, a device, a link, a directory) is refused with the
    error it makes of the entry's st_mode, before the open and after it."""
    absolute = Path(os.path.abspath(path))
    owners = tuple(extra_owners)
    try:
        resolved = Path(os.path.realpath(absolute.parent))
        if resolved != absolute.parent:
            for directory in absolute.parents:   # where the links are
                _check_parent(absolute, directory, owners)
        dir_fd = _open_directory_chain(absolute, resolved, owners)
        try:
            _check_existing_file(absolute, dir_fd, not_regular, owners)
            fd = os.open(absolute.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        try:
            _check_file_status(absolute, os.fstat(fd), not_regular, owners)
        except BaseException:
            os.close(fd)
            raise
    except UntrustedPathError as err:
        raise PermissionError(errno.EACCES, f"refusing to write: {err.reason}",
                              str(absolute)) from None
    return fd


def _open_directory_chain(path: Path, directory: Path, owners: Iterable[int]) -> int:
    """An O_PATH descriptor of `directory`, each component opened relative to
    the one before without following links, each checked on its descriptor."""
    fd = os.open("/", _DIRECTORY_FLAGS)
    try:
        current = Path("/")
        _check_directory_status(path, current, os.fstat(fd), owners)
        for part in directory.parts[1:]:
            try:
                child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UntrustedPathError(path, f"{current / part} changed into a link or "
                                                   "file while being opened") from None
                raise
            os.close(fd)
            fd = child
            current = current / part
            _check_directory_status(path, current, os.fstat(fd), owners)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_existing_file(path: Path, dir_fd: int,
                         not_regular: Optional[Callable[[int], OSError]],
                         owners: Iterable[int]) -> None:
    try:
        st = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    _check_file_status(path, st, not_regular, owners)


def _check_file_status(path: Path, st: os.stat_result,
                       not_regular: Optional[Callable[[int], OSError]],
                       owners: Iterable[int] = ()) -> None:
    """Someone else's entry (a file, or a FIFO planted in a sticky directory)
    is refused before it is opened; a regular file others may write, too (they
    could forge or erase alerts). Without `not_regular`, devices such as
    /dev/null keep their modes."""
    problem = _owner_problem(st, owners)
    if problem:
        raise UntrustedPathError(path, problem)
    if not_regular is not None and not stat.S_ISREG(st.st_mode):
        raise not_regular(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        raise UntrustedPathError(path, "a symbolic link")
    if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_IWOTH | stat.S_IWGRP):
        raise UntrustedPathError(
            path, f"writable by others (mode {stat.S_IMODE(st.st_mode):04o})")

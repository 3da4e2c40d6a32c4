"""ECS alerts as JSON lines in a file, reopened when logrotate moves it away.

Only a regular file is written to. The path is opened relative to its
directory, reached from / by descriptor with every directory trust-checked
(trust.open_trusted), with O_NOFOLLOW (a symlink planted there must not make
root append elsewhere) and O_NONBLOCK (a FIFO swapped in after the check must
not hang the plugin in open(): with no reader it fails at once, with one it
opens and is then refused like any other non-file). Another user's entry is
refused before it is opened.
"""

from __future__ import annotations

import errno
import os
import stat
import syslog
import time
from typing import Any, List, Mapping, Tuple

from .. import limits
from ..trust import open_trusted
from .base import Output
from .format import format_alert

# How often (at most) to stat the path to notice a rotation.
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"))


class NotRegularFileError(OSError):
    """The alert path is not a regular file; alerts are never written to it."""

    def __str__(self) -> str:
        return str(self.strerror)   # names the path and what is there


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


class JsonFileOutput(Output):
    name = "file"

    def __init__(self, path: str, mode: int = 0o640, fmt: str = "json",
                 owners: Tuple[int, ...] = ()) -> None:
        """`owners`: uids trusted besides root and the running user to own the
        directories and the file (the user the plugin drops to)."""
        super().__init__()
        self.path = path
        self.owners = owners
        self.mode = mode
        self.fmt = fmt
        self.fd: int | None = None
        self.inode: tuple[int, int] | None = None
        self.checked_at = 0.0
        self.reported = ""   # the reopen error last written to the log
        self.notices: List[Tuple[int, str]] = []
        self._open()  # fail at start-up, where the error is seen, not at the first alert

    def describe(self) -> str:
        return f"file {self.path}"

    def _open(self) -> None:
        """Open the path for appending; raise OSError, NotRegularFileError (see the module doc).

        Opened relative to its directory, reached and checked by descriptor
        (trust.open_trusted): no link planted at the path or on the way to it
        makes root append elsewhere, no one else's directory or file is used."""
        try:
            fd = open_trusted(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                              | os.O_NOFOLLOW | os.O_NONBLOCK, self.mode, self._refused,
                              self.owners)
        except OSError as exc:
            # ENXIO: a FIFO with no reader put there after the check. Say what is there.
            if exc.errno in (errno.ENXIO, errno.ELOOP, errno.EISDIR, errno.EOPNOTSUPP):
                try:
                    mode = os.lstat(self.path).st_mode
                except OSError:
                    raise exc from None
                if not stat.S_ISREG(mode):
                    raise self._refused(mode) from None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise self._refused(st.st_mode)
        self.fd, self.inode = fd, (st.st_dev, st.st_ino)
        self.checked_at = time.monotonic()

    def _refused(self, mode: int) -> NotRegularFileError:
        return NotRegularFileError(errno.EINVAL, f"{self.path}: {_kind(mode)}, not a regular "
                                   "file; alerts are written to regular files only")

    def _rotated(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < limits.ROTATION_CHECK_SECONDS:
            return False
        self.checked_at = now
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            # E.g. EACCES after a privilege drop: the path cannot be checked,
            # but the open descriptor still writes; keep it.
            return False
        return (st.st_dev, st.st_ino) != self.inode

    def emit(self, alert: Mapping[str, Any]) -> None:
        line = (format_alert(alert, self.fmt) + "\n").encode("utf-8", "backslashreplace")
        if self.fd is None or self._rotated():
            self.reopen()   # on failure the descriptor we have (if any) keeps the alerts
        if self.fd is None:
            self.stats.dropped += 1   # reopen() counted and described the error
            return
        try:
            # One write of the whole line with O_APPEND: no torn lines.
            written = os.write(self.fd, line)
            if written != len(line):
                # Disk full mid-line: take the fragment back, or the next line
                # would be glued to it and neither would parse.
                os.ftruncate(self.fd, os.lseek(self.fd, 0, os.SEEK_END) - written)
                raise OSError(f"short write ({written} of {len(line)} bytes)")
            self.stats.sent += 1
        except OSError as exc:
            self.stats.dropped += 1
            self.stats.errors += 1
            self.last_error = _error_text(self.path, exc)

    def reopen_or_raise(self) -> None:
        # The new file first: if it cannot be opened (EACCES after a privilege
        # drop), the descriptor we have still writes, so keep it.
        old = self.fd
        self._open()
        if old is not None:
            os.close(old)

    def reopen(self) -> None:
        """Reopen (rotation, SIGHUP, SIGUSR2); on failure count it, say it once,
        and keep writing to the descriptor we have."""
        try:
            self.reopen_or_raise()
        except OSError as exc:
            self.stats.errors += 1
            self.last_error = _error_text(self.path, exc)
            if self.last_error != self.reported:
                self.reported = self.last_error
                still = ("; still writing to the file opened before" if self.fd is not None
                         else "; alerts are dropped until it can be opened")
                self.notices.append((syslog.LOG_ERR, "cannot reopen the alert file: "
                                     f"{self.last_error}{still}"))
        else:
            self.reported = ""

    def take_notices(self) -> List[Tuple[int, str]]:
        notices, self.notices = self.notices, []
        return notices

    def _close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self) -> None:
        self._close_fd()


def _error_text(path: str, exc: OSError) -> str:
    if isinstance(exc, NotRegularFileError):
        return str(exc)
    return f"{path}: {exc.strerror or exc}"

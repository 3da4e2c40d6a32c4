"""ECS alerts as JSON lines in a file, reopened when logrotate moves it away."""

from __future__ import annotations

import os
import time
from typing import Any, Mapping

from ..trust import open_trusted
from .base import Output
from .format import format_alert

# How often (at most) to stat the path to notice a rotation.
ROTATION_CHECK_SECONDS = 1.0


class JsonFileOutput(Output):
    name = "file"

    def __init__(self, path: str, mode: int = 0o640, fmt: str = "json") -> None:
        super().__init__()
        self.path = path
        self.mode = mode
        self.fmt = fmt
        self.fd: int | None = None
        self.inode: tuple[int, int] | None = None
        self.checked_at = 0.0
        self._open()  # fail at start-up, where the error is seen, not at the first alert

    def describe(self) -> str:
        return f"file {self.path}"

    def _open(self) -> None:
        # Opened relative to its directory, reached and checked by descriptor
        # (trust.open_trusted): no link planted at the path or on the way to
        # it makes root append elsewhere, no one else's directory or file.
        fd = open_trusted(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                          | os.O_NOFOLLOW, self.mode)
        st = os.fstat(fd)
        self.fd, self.inode = fd, (st.st_dev, st.st_ino)
        self.checked_at = time.monotonic()

    def _rotated(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < ROTATION_CHECK_SECONDS:
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
        try:
            if self.fd is None or self._rotated():
                self.reopen_or_raise()
            assert self.fd is not None
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
            self.last_error = f"{self.path}: {exc}"

    def reopen_or_raise(self) -> None:
        # The new file first: if it cannot be opened (EACCES after a privilege
        # drop), the descriptor we have still writes, so keep it.
        old = self.fd
        self._open()
        if old is not None:
            os.close(old)

    def reopen(self) -> None:
        try:
            self.reopen_or_raise()
        except OSError as exc:
            self.stats.errors += 1
            self.last_error = f"{self.path}: {exc}"

    def _close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self) -> None:
        self._close_fd()

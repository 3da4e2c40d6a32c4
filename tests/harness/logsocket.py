"""A unix datagram socket standing in for /dev/log: the plugin's own log
lines (start-up, status, errors) as a test reads them."""

from __future__ import annotations

import socket
from pathlib import Path


class DatagramLog:
    """Bound at `path`; `text()` is every message received so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.setblocking(False)
        self._messages: list[str] = []

    def text(self) -> str:
        while True:
            try:
                self._messages.append(self._socket.recv(65536).decode(errors="replace"))
            except BlockingIOError:
                return "\n".join(self._messages)

    def close(self) -> None:
        self._socket.close()

"""The local syslog sink (/dev/log) and the message formats of syslog.

The local sink does not block the plugin's input loop: the socket is a
non-blocking unix datagram socket, what cannot be sent now waits in a bounded
queue that `flush` retries, and what overflows the queue is counted as dropped.
Remote collectors (UDP, TCP, TLS) are in `remote.py`, sent by a thread of their own.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections import deque
from typing import Any, Deque, Mapping

from .. import limits
from .base import Output
from .format import alert_priority, format_alert_within

FACILITIES: Mapping[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
    "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{i}": 16 + i for i in range(8)},
}
# Alert text per syslog message: limits.MAX_SYSLOG_MESSAGE bytes, so that with the
# header it fits one UDP datagram and a /dev/log datagram, and bounds the queue's
# memory (an argv can be 2 MB).
APP_NAME = "audisp-eql"
# Errors after which the socket is no good and a fresh one is needed.
_RECONNECT_ERRNOS = {errno.ECONNREFUSED, errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET,
                     errno.ENOENT, errno.EBADF, errno.EDESTADDRREQ, errno.ENOTSOCK,
                     errno.EPROTOTYPE}
_RETRY_LATER_ERRNOS = {errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.EINTR}


def local_message(pri: int, tag: str, text: str, now: float | None = None) -> bytes:
    """What glibc's syslog(3) writes to /dev/log: `<PRI>Mmm dd hh:mm:ss tag[pid]: text`."""
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(now))
    return f"<{pri}>{stamp} {tag}[{os.getpid()}]: {text}".encode("utf-8", "backslashreplace")


def rfc5424_message(pri: int, text: str, hostname: str, now: float | None = None,
                    msgid: str = "alert") -> bytes:
    """`<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG` with an RFC 3339 UTC time."""
    when = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1e6):06d}Z"
    header = f"<{pri}>1 {stamp} {hostname or '-'} {APP_NAME} {os.getpid()} {msgid} -"
    return f"{header} {text}".encode("utf-8", "backslashreplace")


class _QueuedOutput(Output):
    """Bounded FIFO of encoded messages in front of a non-blocking sender."""

    def __init__(self, queue_size: int) -> None:
        super().__init__()
        self.queue: Deque[bytes] = deque()
        self.queue_size = max(1, queue_size or limits.ALERT_QUEUE)
        self.retry_at = 0.0
        self.backoff = 0.0
        self.sock: socket.socket | None = None

    def _enqueue(self, message: bytes) -> None:
        if len(self.queue) >= self.queue_size:
            # Keep the newest: the oldest is the most likely already stale.
            self.queue.popleft()
            self.stats.dropped += 1
        self.queue.append(message)
        self.flush()

    def pending(self) -> int:
        return len(self.queue)

    def _failed(self, exc: OSError) -> None:
        self.stats.errors += 1
        self.last_error = f"{self.describe()}: {exc.strerror or exc}"
        self.backoff = min(30.0, self.backoff * 2 if self.backoff else 0.5)
        self.retry_at = time.monotonic() + self.backoff

    def _succeeded(self) -> None:
        self.backoff = 0.0
        self.retry_at = 0.0

    def close(self) -> None:
        # A bounded last effort: never hang an exiting plugin on a dead peer.
        deadline = time.monotonic() + 2.0
        while self.queue and time.monotonic() < deadline:
            self.retry_at = 0.0
            before = len(self.queue)
            self.flush()
            if len(self.queue) == before:
                if self.sock is None:
                    break  # no socket could be opened: waiting cannot help
                time.sleep(0.05)
        self.stats.dropped += len(self.queue)
        self.queue.clear()
        self._disconnect()

    def reopen(self) -> None:
        """Drop the connection and try again now (SIGUSR2, SIGHUP)."""
        self._disconnect()
        self.retry_at = 0.0
        self.flush()

    def _disconnect(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class LocalSyslogOutput(_QueuedOutput):
    """Datagrams to the local syslog socket, priority from the rule severity."""

    name = "syslog"

    def __init__(self, socket_path: str = "/dev/log", facility: str = "authpriv",
                 fmt: str = "text", tag: str = APP_NAME,
                 queue_size: int = 0) -> None:
        super().__init__(queue_size)
        self.socket_path = socket_path
        self.facility = FACILITIES[facility]
        self.fmt = fmt
        self.tag = tag
        self.sock: socket.socket | None = None
        try:
            # Connect now: after a privilege drop the socket may be out of reach.
            self.sock = self._connect()
        except OSError:
            pass  # the syslog daemon may start later; flush() retries

    def describe(self) -> str:
        return f"syslog {self.socket_path}"

    def emit(self, alert: Mapping[str, Any]) -> None:
        pri = self.facility * 8 + alert_priority(alert)
        self._enqueue(local_message(pri, self.tag,
                                    format_alert_within(alert, self.fmt, limits.MAX_SYSLOG_MESSAGE)))

    def log(self, priority: int, text: str, facility: str = "daemon") -> None:
        """The plugin's own diagnostics, through the same socket and queue."""
        self._enqueue(local_message(FACILITIES[facility] * 8 + priority, self.tag, text))

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        return sock

    def flush(self) -> None:
        if not self.queue or time.monotonic() < self.retry_at:
            return
        while self.queue:
            try:
                if self.sock is None:
                    self.sock = self._connect()
                self.sock.send(self.queue[0])
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    self.queue.popleft()  # never deliverable; do not wedge the queue
                    self.stats.dropped += 1
                    continue
                if exc.errno not in _RETRY_LATER_ERRNOS:
                    self._disconnect()
                self._failed(exc)
                return
            self.queue.popleft()
            self.stats.sent += 1
            self._succeeded()

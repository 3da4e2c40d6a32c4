"""Remote syslog: RFC 5424 messages to a collector over UDP, TCP (RFC 6587
octet counting) or TLS (RFC 5425: the same framing inside TLS 1.2+).

Each remote output has a sender thread of its own. The plugin loop only formats
an alert and appends it to a bounded queue (`emit`): name resolution, connect,
the TLS handshake and sends may each block for long (a resolver that never
answers, a blackholed address, a collector that stops reading), and none of
that may stall the reading of stdin. The sender takes messages in order,
reconnects with a growing back-off, and puts back at the head of the queue what
it could not send; what overflows the queue is dropped (the oldest first) and
counted. `close` gives the sender a bounded time to deliver what is queued and
counts the rest as dropped.
"""

from __future__ import annotations

import errno
import select
import signal
import socket
import sys
import syslog
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Mapping, Optional, Tuple

from .base import Output
from .format import alert_priority, format_alert_within
from .. import limits
from .syslog import FACILITIES, rfc5424_message
from .tls import TlsSettings, describe_error, make_context

if TYPE_CHECKING:
    import ssl

PROTOCOLS = ("udp", "tcp", "tls")
DEFAULT_PORTS: Mapping[str, int] = {"udp": 514, "tcp": 514, "tls": 6514}
# Bounds of the sender thread: limits.REMOTE_* (the plugin loop waits on none of them
# but REMOTE_CLOSE_SECONDS).
NOTICES_KEPT = 20           # log messages held for the plugin loop to write
# Signals go to the plugin loop's thread, whose select() they must interrupt.
_LOOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
                 signal.SIGCHLD, signal.SIGPIPE}


class RemoteSyslogOutput(Output):
    """RFC 5424 to a collector, sent by a thread of its own (see the module doc)."""

    name = "remote"

    def __init__(self, host: str, port: int, protocol: str = "udp",
                 facility: str = "authpriv", fmt: str = "text",
                 queue_size: int = 0,
                 hostname: Callable[[], str] = socket.gethostname,
                 tls: Optional[TlsSettings] = None,
                 context: Optional[ssl.SSLContext] = None) -> None:
        super().__init__()
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        if tls is not None and protocol != "tls":
            raise ValueError(f"TLS settings given for protocol {protocol!r}")
        self.host, self.port, self.protocol = host, port, protocol
        self.facility = FACILITIES[facility]
        self.fmt = fmt
        self.hostname = hostname() or "-"
        self.tls = (tls or TlsSettings()) if protocol == "tls" else None
        self.server_name = (self.tls.server_name or host) if self.tls else ""
        # Loaded now (or by the caller, earlier), while the plugin may still be
        # root: every reconnect, also after a privilege drop, reuses the
        # certificates and key held here.
        self.context: Optional[ssl.SSLContext] = None
        if self.tls:
            self.context = context or make_context(self.tls)
        self.queue_size = max(1, queue_size or limits.ALERT_QUEUE)
        self.queue: Deque[bytes] = deque()
        self.inflight: Optional[bytes] = None   # taken by the sender, not yet sent
        self.retry_at = 0.0
        self.backoff = 0.0
        self.failures = 0          # attempts failed since the last delivery
        self.sock: Any = None      # the sender thread's alone
        self._cond = threading.Condition()
        self._reconnect = False
        self._closing = False
        self._close_deadline = 0.0
        self._give_up = False
        self._closed = False
        self._reported = ""        # the error last written to the log
        self._notices: Deque[Tuple[int, str]] = deque(maxlen=NOTICES_KEPT)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"audisp-eql {self.describe()}")
        self._thread.start()

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.protocol}://{host}:{self.port}"
        if self.tls and self.server_name != self.host:
            text += f" (server name {self.server_name})"
        return text

    # -- the plugin loop's side: never blocks --------------------------------
    def emit(self, alert: Mapping[str, Any]) -> None:
        pri = self.facility * 8 + alert_priority(alert)
        msg = rfc5424_message(pri, format_alert_within(alert, self.fmt, limits.MAX_SYSLOG_MESSAGE),
                              self.hostname)
        frame = msg if self.protocol == "udp" else b"%d %s" % (len(msg), msg)
        with self._cond:
            if self._closed:
                self.stats.dropped += 1
                return
            self.queue.append(frame)
            self._trim()
            self._cond.notify()

    def flush(self) -> None:
        """Wake the sender (it retries on its own once the back-off allows)."""
        with self._cond:
            self._cond.notify()

    def reopen(self) -> None:
        """Drop the connection and connect again now (SIGUSR2, SIGHUP)."""
        with self._cond:
            self._reconnect = True
            self.retry_at = 0.0
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self.queue) + (self.inflight is not None)

    def take_notices(self) -> List[Tuple[int, str]]:
        with self._cond:
            notices = list(self._notices)
            self._notices.clear()
        return notices

    def start_close(self) -> None:
        with self._cond:
            if not self._closing:
                self._closing = True
                self._close_deadline = time.monotonic() + limits.REMOTE_CLOSE_SECONDS
                self._cond.notify()

    def closing_done(self) -> bool:
        return not self._thread.is_alive() or time.monotonic() >= self._close_deadline

    def close(self) -> None:
        """Deliver what is queued within limits.REMOTE_CLOSE_SECONDS; count the rest as dropped."""
        self.start_close()
        self._thread.join(max(0.0, self._close_deadline - time.monotonic()))
        with self._cond:
            if self._closed:
                return
            # What the sender still holds counts as lost even if a send under
            # way completes later: an over-count, never a silent loss.
            lost = len(self.queue) + (self.inflight is not None)
            self.stats.dropped += lost
            self.queue.clear()
            self.inflight = None
            self._closed = True
            if lost and not self.last_error:
                self.last_error = f"{self.describe()}: not delivered within {limits.REMOTE_CLOSE_SECONDS:g} s"
            self._cond.notify()

    def _trim(self) -> None:
        """Hold to the bound, the message the sender holds included (caller holds
        the lock): keep the newest, the oldest is the most likely already stale."""
        while self.queue and len(self.queue) + (self.inflight is not None) > self.queue_size:
            self.queue.popleft()
            self.stats.dropped += 1

    # -- the sender thread ---------------------------------------------------
    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _LOOP_SIGNALS)
        try:
            while True:
                data = self._next()
                if data is None:
                    return
                self._deliver(data)
        finally:
            self._disconnect()

    def _next(self) -> Optional[bytes]:
        """The next message once the back-off allows; None when closing is done."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._reconnect:
                    self._reconnect = False
                    self._disconnect()
                now = time.monotonic()
                if self._closing:
                    # No back-off now; one failed connect ends it (waiting cannot help).
                    if not self.queue or self._give_up or now >= self._close_deadline:
                        return None
                    break
                if self.queue and now >= self.retry_at:
                    break
                self._cond.wait(self.retry_at - now if self.queue else None)
            self.inflight = self.queue.popleft()
            return self.inflight

    def _deliver(self, data: bytes) -> None:
        phase = "send"
        try:
            if self.sock is None:
                phase = "connect"
                self._connect()
                phase = "send"
            elif self.protocol != "udp" and self._peer_closed(self.sock):
                # Sending now would "succeed" into a dead connection and be lost.
                raise ConnectionResetError(errno.ECONNRESET, "the collector closed the connection")
            self.sock.sendall(data)
        except Exception as exc:  # noqa: BLE001 - whatever fails, the sender must live on
            # OSError (ssl.SSLError, timeouts, socket.gaierror) is the rule; a
            # ValueError (a server name IDNA cannot encode) must not end the thread.
            connected = self.sock is not None
            self._disconnect()
            with self._cond:
                if self._closed:
                    return
                self.inflight = None
                if getattr(exc, "errno", None) == errno.EMSGSIZE and connected:
                    self.stats.dropped += 1   # never deliverable; do not wedge the queue
                    return
                self.queue.appendleft(data)
                self._trim()
                self._failed(exc, phase)
            return
        with self._cond:
            if self._closed:
                return
            self.inflight = None
            self.stats.sent += 1
            if self.failures:
                self._notices.append((syslog.LOG_INFO, f"{self.describe()}: delivering again "
                                      f"after {self.failures} failed attempt(s)"))
            self.failures = 0
            self.backoff = self.retry_at = 0.0
            self._reported = ""

    def _failed(self, exc: Exception, phase: str) -> None:
        """Count, remember and (once per distinct error) report; caller holds the lock."""
        self.stats.errors += 1
        self.failures += 1
        if self._closing and phase == "connect":
            self._give_up = True
        self.last_error = f"{self.describe()}: {phase}: {describe_error(exc)}"
        if self.last_error != self._reported:
            self._reported = self.last_error
            self._notices.append((syslog.LOG_WARNING, f"{self.last_error}; alerts wait in the "
                                  f"queue ({len(self.queue)} now, at most {self.queue_size})"))
        self.backoff = min(limits.REMOTE_BACKOFF_MAX,
                           self.backoff * 2 if self.backoff else limits.REMOTE_BACKOFF_FIRST)
        self.retry_at = time.monotonic() + self.backoff

    def _connect(self) -> None:
        kind = socket.SOCK_DGRAM if self.protocol == "udp" else socket.SOCK_STREAM
        # May block for as long as the resolver takes: this thread only.
        addresses = socket.getaddrinfo(self.host, self.port, 0, kind)
        error: Optional[Exception] = None
        for family, kind, proto, _, addr in addresses:
            sock: Any = socket.socket(family, kind, proto)
            try:
                sock.settimeout(limits.REMOTE_CONNECT_SECONDS)
                sock.connect(addr)
                if self.context is not None:
                    sock = self.context.wrap_socket(sock, server_hostname=self.server_name)
                    self._await_verdict(sock)
                sock.settimeout(limits.REMOTE_SEND_SECONDS)
            except Exception as exc:  # noqa: BLE001 - the next address, then _deliver's handler
                sock.close()
                error = exc
                continue
            self.sock = sock
            return
        raise error or OSError(errno.EADDRNOTAVAIL, f"no address for {self.host}")

    def _await_verdict(self, sock: ssl.SSLSocket) -> None:
        """Did the collector refuse us right after the handshake? (TLS 1.3; see
        limits.TLS_VERDICT_SECONDS.) Raise if it did."""
        if sock.version() != "TLSv1.3":
            return   # in TLS 1.2 a refusal ends the handshake itself
        deadline = time.monotonic() + limits.TLS_VERDICT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                return
            if self._peer_closed(sock):
                raise ConnectionResetError(
                    errno.ECONNRESET, "the collector closed the connection right after the "
                    "TLS handshake (does it require a client certificate, or refuse ours?)")

    def _peer_closed(self, sock: Any) -> bool:
        """A syslog collector never sends: readable means EOF, a reset, a TLS
        alert (raised) or TLS housekeeping (session tickets, read and ignored)."""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        ssl = sys.modules.get("ssl")     # not imported: no TLS socket (tls.py)
        if ssl is None or not isinstance(sock, ssl.SSLSocket):
            try:
                return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                return False
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            while sock.recv(4096):
                pass   # data from a collector means nothing to us
            return True
        except ssl.SSLWantReadError:
            return False
        finally:
            sock.settimeout(timeout)

    def _disconnect(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        ssl = sys.modules.get("ssl")
        if ssl is not None and isinstance(sock, ssl.SSLSocket):
            try:
                sock.setblocking(False)
                sock.unwrap()   # close_notify, without waiting for the collector's
            except (OSError, ValueError):
                pass
        sock.close()

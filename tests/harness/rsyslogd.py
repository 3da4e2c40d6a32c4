"""A private rsyslogd for tests: its own config, unix socket, loopback UDP and
TCP ports and output files, started in the foreground and stopped by PID.

    with running_rsyslogd(tmp_path) as rs:
        send to rs.socket_path / ("127.0.0.1", rs.udp_port) / rs.tcp_port
        rs.wait_for_lines("local", lambda lines: ...)

Each input writes its own file (local.log, udp.log, tcp.log), one line per
message: `PRI|APP-NAME|PROCID|MSGID|MSG`. Control characters are NOT escaped
by rsyslog here, so a newline smuggled into a message shows up as a broken line.

With `tls=TlsServer(...)` it also listens for RFC 5425 syslog over TLS on
`rs.tls_port` (imtcp with the GnuTLS stream driver, rsyslog-gnutls), into
tls.log: server certificate only, or, with `permitted_peers`, mutual TLS that
requires a client certificate from the CA carrying one of those names.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import pytest

from .procs import stop_process, tail, wait_for

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

_CONF = """\
global(workDirectory="{work}" parser.escapeControlCharactersOnReceive="off")
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="string"
         string="%pri%|%app-name%|%procid%|%msgid%|%msg%\\n")
ruleset(name="local") {{ action(type="omfile" file="{work}/local.log" template="fields") }}
ruleset(name="udp") {{ action(type="omfile" file="{work}/udp.log" template="fields") }}
ruleset(name="tcp") {{ action(type="omfile" file="{work}/tcp.log" template="fields") }}
input(type="imuxsock" Socket="{socket}" ruleset="local" CreatePath="on")
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
"""

_TLS_CONF = """\
ruleset(name="tls") {{ action(type="omfile" file="{work}/tls.log" template="fields") }}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" {auth}
      streamDriver.CAFile="{ca}" streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")
"""


def gtls_installed() -> bool:
    """rsyslog's GnuTLS stream driver (Debian: rsyslog-gnutls), under any multiarch dir."""
    return any(Path("/usr/lib").glob("*/rsyslog/lmnsd_gtls.so")) or \
        Path("/usr/lib/rsyslog/lmnsd_gtls.so").exists()


@dataclass
class TlsServer:
    """The TLS input: its CA (for client certificates), certificate and key."""
    ca_file: Path
    cert_file: Path
    key_file: Path
    # Mutual TLS: the client certificate must carry one of these names.
    permitted_peers: Optional[Sequence[str]] = None
    # The readiness probe's own client certificate and key, for mutual TLS.
    probe_cert: Optional[Path] = None
    probe_key: Optional[Path] = None

    def conf(self, work: Path, port: int) -> str:
        if self.permitted_peers:
            peers = ", ".join(f'"{p}"' for p in self.permitted_peers)
            auth = f'streamDriver.authMode="x509/name" permittedPeer=[{peers}]'
        else:
            auth = 'streamDriver.authMode="anon"'
        return _TLS_CONF.format(work=work, port=port, auth=auth, ca=self.ca_file,
                                cert=self.cert_file, key=self.key_file)


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Rsyslogd:
    work: Path
    socket_path: Path
    udp_port: int
    tcp_port: int
    proc: subprocess.Popen
    tls: Optional[TlsServer] = None
    tls_port: int = 0

    def log_path(self, which: str) -> Path:
        return self.work / f"{which}.log"

    def lines(self, which: str) -> List[str]:
        try:
            return self.log_path(which).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_for_lines(self, which: str, condition: Callable[[List[str]], bool],
                       timeout: float = 10.0) -> List[str]:
        """The lines of `which` once `condition` holds; fail with what arrived."""
        if not wait_for(lambda: condition(self.lines(which)), timeout):
            pytest.fail(f"rsyslogd {which}.log never met the condition; it holds:\n"
                        + "\n".join(self.lines(which)[-20:])
                        + f"\nrsyslogd stderr:\n{tail(self.work / 'stderr')}")
        return self.lines(which)


def _probe(rs: Rsyslogd) -> bool:
    """rsyslogd is up when one probe message per input has reached its file."""
    probes = {"local": False, "udp": False, "tcp": False}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"<14>harness: probe", str(rs.socket_path))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"<14>1 - - harness - probe - probe", ("127.0.0.1", rs.udp_port))
        with socket.create_connection(("127.0.0.1", rs.tcp_port), timeout=1) as s:
            s.sendall(b"<14>1 - - harness - probe - probe\n")
        if rs.tls is not None:
            probes["tls"] = False
            _probe_tls(rs.tls, rs.tls_port)
    except OSError:
        return False
    for which in probes:
        probes[which] = any("probe" in line for line in rs.lines(which))
    return all(probes.values())


def _probe_tls(tls: TlsServer, port: int) -> None:
    """One message over TLS. The server is not verified (some tests give it a
    certificate meant to be refused): the probe only asks whether the input is up."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if tls.probe_cert and tls.probe_key:
        context.load_cert_chain(str(tls.probe_cert), str(tls.probe_key))
    message = b"<14>1 - - harness - probe - probe"
    with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
        with context.wrap_socket(raw) as s:
            s.sendall(b"%d %s" % (len(message), message))


@contextlib.contextmanager
def running_rsyslogd(directory: Path, timeout: float = 15.0, udp_port: int = 0,
                     tcp_port: int = 0, tls: Optional[TlsServer] = None,
                     tls_port: int = 0) -> Iterator[Rsyslogd]:
    """rsyslogd on `udp_port`/`tcp_port` (and `tls_port` with `tls`; 0: a free
    one), up and probed."""
    if not Path(RSYSLOGD).exists():
        pytest.skip("rsyslogd is not installed (tools/bootstrap.sh installs it)")
    if tls is not None and not gtls_installed():
        pytest.skip("rsyslog-gnutls is not installed (tools/bootstrap.sh installs it)")
    work = directory / "rsyslog"
    work.mkdir(parents=True, exist_ok=True)
    sock = work / "log.sock"
    udp = udp_port or free_port(socket.SOCK_DGRAM)
    tcp = tcp_port or free_port(socket.SOCK_STREAM)
    conf = work / "rsyslog.conf"
    text = _CONF.format(work=work, socket=sock, udp=udp, tcp=tcp)
    tls_at = 0
    if tls is not None:
        tls_at = tls_port or free_port(socket.SOCK_STREAM)
        text += tls.conf(work, tls_at)
    conf.write_text(text)
    stderr = open(work / "stderr", "wb")
    proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
                            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    rs = Rsyslogd(work, sock, udp, tcp, proc, tls, tls_at)
    try:
        deadline = time.monotonic() + timeout
        while not _probe(rs):
            if proc.poll() is not None:
                pytest.fail(f"rsyslogd exited with {proc.returncode}:\n{tail(work / 'stderr')}")
            if time.monotonic() > deadline:
                pytest.fail(f"rsyslogd did not come up:\n{tail(work / 'stderr')}")
            time.sleep(0.2)
        yield rs
    finally:
        stop_process(proc)
        stderr.close()

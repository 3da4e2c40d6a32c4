"""No blocking call on the path that reads stdin (issue 17, items 2 and 3).

Each case makes the call hang for real and checks that the plugin keeps
reading its input and writing the alert file, answers signals, and exits
within a bound, saying what it could not deliver:

- name resolution: the plugin runs in a private mount namespace whose
  /etc/resolv.conf names a local UDP socket that swallows every query;
- TCP connect (and so the TLS handshake after it): the plugin runs in a private
  network namespace where the collector's address leads into a veth pair
  that never answers (SYNs vanish; the connect stays in SYN-SENT);
- a TLS handshake to a collector that accepts and never speaks, and sends
  to one that stops reading: the remote output itself;
- a FIFO at the alert file's path, at start-up and after rotation.

The namespaces are the plugin process's own (unshare execs it, same PID): they
and their devices go away when it exits. Nothing on the machine is changed.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from harness.plugin_config import write_plugin_config

from audisp_eql.outputs import RemoteSyslogOutput, TlsSettings
from audisp_eql.limits import REMOTE_CLOSE_SECONDS as CLOSE_SECONDS
from harness.certs import make_ca
from harness.procs import stop_process, wait_for
from test_faults import RunningPlugin, alert_args, rules_dir  # noqa: F401 - a fixture
from test_outputs import alert

UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
MOUNT = shutil.which("mount") or "/usr/bin/mount"
IP = shutil.which("ip") or "/usr/sbin/ip"
SH = "/bin/sh"
# Bounds of these tests. Each hang below lasts far longer (a resolver timeout
# of 30 s per try, a connect of 10 s, a FIFO open for ever), so meeting them
# means the hang was not on the loop.
FLOW_SECONDS = 5.0      # alerts for the input just sent are in the file (a hang is 10 s or more)
EXIT_SECONDS = CLOSE_SECONDS + 6.0   # end of input to exit: the close bound and start-up slack
EMIT_SECONDS = 1.0      # many emits in a row, all of them

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="private mount and network namespaces need root")


def plugin_config(workdir: Path, rules: Path, alerts: Path, remotes: str) -> Path:
    return write_plugin_config(workdir, [rules], alerts, burst=0, parent_from_proc=False,
                               file_mode="0600", extra=remotes)


def assert_keeps_reading(plugin: RunningPlugin, alerts: Path, batches: int = 3) -> None:
    """Batches of input, each in the alert file within FLOW_SECONDS, and a status
    request answered as quickly."""
    already = len(alert_args(alerts))
    for batch in range(batches):
        sent_at = time.monotonic()
        plugin.send_execs(5, f"batch{batch}")
        assert wait_for(lambda: len(alert_args(alerts)) == already + 5 * (batch + 1),
                        FLOW_SECONDS), (
            f"batch {batch}: {len(alert_args(alerts))} alerts after "
            f"{time.monotonic() - sent_at:.1f} s\n{plugin.stderr()}")
    before = plugin.stderr().count("status:")
    plugin.proc.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: plugin.stderr().count("status:") > before, FLOW_SECONDS), \
        plugin.stderr()


def close_within_bound(plugin: RunningPlugin) -> str:
    """End of input: the plugin exits 0 within EXIT_SECONDS; its last words."""
    started = time.monotonic()
    plugin.stdin.close()
    try:
        assert plugin.proc.wait(EXIT_SECONDS + 30) == 0, plugin.stderr()
    finally:
        stop_process(plugin.proc)
    took = time.monotonic() - started
    assert took < EXIT_SECONDS, f"exit took {took:.1f} s\n{plugin.stderr()}"
    return plugin.stderr().rsplit("end of input", 1)[1]


# -- name resolution ---------------------------------------------------------

@pytest.fixture
def silent_resolver(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    """A UDP socket on port 53 of a loopback address of its own that reads
    nothing and answers nothing, and a resolv.conf naming only it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(20):
        address = f"127.{random.randrange(1, 255)}.{random.randrange(0, 256)}.53"
        try:
            sock.bind((address, 53))
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    else:
        pytest.fail("no free loopback address for the silent resolver")
    sock.setblocking(False)
    resolv = tmp_path / "resolv.conf"
    # glibc's longest wait: 30 s per try, 5 tries, per query.
    resolv.write_text(f"nameserver {address}\noptions timeout:30 attempts:5\n")
    resolv.chmod(0o644)
    try:
        yield sock, resolv
    finally:
        sock.close()


def queries(sock: socket.socket) -> List[bytes]:
    got = []
    while True:
        try:
            got.append(sock.recv(4096))
        except BlockingIOError:
            return got


def test_dns_that_never_answers_does_not_stall_input(
        tmp_path: Path, rules_dir: Path, silent_resolver: tuple) -> None:  # noqa: F811
    resolver, resolv = silent_resolver
    host_resolv = Path("/etc/resolv.conf").read_bytes()
    alerts = tmp_path / "alerts.json"
    name = "siem.audisp-eql-test.example"
    config = plugin_config(tmp_path, rules_dir, alerts, f"""
[[output.remote]]
host = "{name}"
protocol = "tcp"
port = 6514
""")
    wrapper = [UNSHARE, "--mount", "--propagation", "private", "--", SH, "-c",
               f'{MOUNT} --bind "$0" /etc/resolv.conf && exec "$@"', str(resolv)]
    plugin = RunningPlugin(tmp_path, config, wrapper=wrapper)
    try:
        plugin.wait_stderr("started")
        assert_keeps_reading(plugin, alerts)
        # The resolver was asked, and has said nothing: resolution is still hanging.
        asked = queries(resolver)
        assert any(b"\x04siem\x0faudisp-eql-test\x07example" in q for q in asked), asked
        plugin.proc.send_signal(signal.SIGUSR1)
        plugin.wait_stderr("queued: remote=15")
        # A reload that replaces the remote: the old one gets its bounded time to
        # deliver beside the loop, not in it.
        config.write_text(config.read_text().replace("port = 6514", "port = 6515"))
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_stderr("reloaded", FLOW_SECONDS)
        assert_keeps_reading(plugin, alerts, batches=1)
        plugin.wait_stderr(f"15 alert(s) to outputs replaced by the reload could not be "
                           f"delivered: tcp://{name}:6514: not delivered within "
                           f"{CLOSE_SECONDS:g} s", CLOSE_SECONDS + FLOW_SECONDS)
        tail = close_within_bound(plugin)
    finally:
        stop_process(plugin.proc)
    assert f"5 alert(s) could not be delivered before exit: tcp://{name}:6515: " \
           f"not delivered within {CLOSE_SECONDS:g} s" in tail, tail
    assert Path("/etc/resolv.conf").read_bytes() == host_resolv   # the bind mount was private


# -- TCP connect -------------------------------------------------------------

BLACKHOLE = "10.255.0.2"
_BLACKHOLE_NET = (
    f"{IP} link set lo up && {IP} link add v0 type veth peer name v1 && "
    f"{IP} addr add 10.255.0.1/24 dev v0 && {IP} link set v0 up && {IP} link set v1 up && "
    # A fixed neighbour: no ARP failure ends the wait; frames go out and nothing answers.
    f"{IP} neigh add {BLACKHOLE} lladdr 02:00:00:00:00:02 dev v0 nud permanent && "
    'exec "$@"')


@pytest.fixture
def blackhole_wrapper() -> List[str]:
    wrapper = [UNSHARE, "--net", "--", SH, "-c", _BLACKHOLE_NET, "blackhole"]
    result = subprocess.run([*wrapper, "/bin/true"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot make a private network namespace with a veth pair: {result.stderr}")
    return wrapper


def syn_sent(pid: int, address: str) -> int:
    """Connections of `pid`'s network namespace still in SYN-SENT to `address`."""
    a, b, c, d = (int(x) for x in address.split("."))
    remote = f"{d:02X}{c:02X}{b:02X}{a:02X}:"
    lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines
               if line.split()[2].startswith(remote) and line.split()[3] == "02")


def test_tcp_connect_that_hangs_does_not_stall_input(
        tmp_path: Path, rules_dir: Path, blackhole_wrapper: List[str]) -> None:  # noqa: F811
    ca = make_ca(tmp_path / "pki", "test CA")
    alerts = tmp_path / "alerts.json"
    config = plugin_config(tmp_path, rules_dir, alerts, f"""
[[output.remote]]
host = "{BLACKHOLE}"
protocol = "tcp"
[[output.remote]]
host = "{BLACKHOLE}"
protocol = "tls"
ca_file = "{ca.cert}"
""")
    plugin = RunningPlugin(tmp_path, config, wrapper=blackhole_wrapper)
    try:
        plugin.wait_stderr("started")
        assert_keeps_reading(plugin, alerts)
        # Both connects are under way and unanswered (CONNECT_SECONDS is 10 s).
        assert syn_sent(plugin.proc.pid, BLACKHOLE) == 2, Path(
            f"/proc/{plugin.proc.pid}/net/tcp").read_text()
        tail = close_within_bound(plugin)
    finally:
        stop_process(plugin.proc)
    for url in (f"tcp://{BLACKHOLE}:514", f"tls://{BLACKHOLE}:6514"):
        assert f"{url}: not delivered within {CLOSE_SECONDS:g} s" in tail, tail
    assert "30 alert(s) could not be delivered" in tail, tail


# -- TLS handshake and sends, on the output itself ----------------------------

def emit_many(out: RemoteSyslogOutput, count: int, **kwargs: object) -> float:
    started = time.monotonic()
    for i in range(count):
        out.emit(alert(rule_id=f"r{i}", **kwargs))   # type: ignore[arg-type]
        out.flush()
    return time.monotonic() - started


def test_tls_handshake_that_never_ends_does_not_block_emit(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "pki", "test CA")
    silent = socket.create_server(("127.0.0.1", 0))   # accepts, never speaks TLS
    out = RemoteSyslogOutput("127.0.0.1", silent.getsockname()[1], "tls", queue_size=50,
                             tls=TlsSettings(ca_file=str(ca.cert)))
    try:
        out.emit(alert(rule_id="first"))   # the sender connects when there is something to send
        silent.settimeout(10)
        conn, _ = silent.accept()    # the sender is in its handshake now
        took = emit_many(out, 199)
        assert took < EMIT_SECONDS, f"199 emits took {took:.2f} s"
        assert out.pending() == 50 and out.stats.dropped == 150 and out.stats.sent == 0
        started = time.monotonic()
        out.close()
        assert time.monotonic() - started < CLOSE_SECONDS + 1.0
        assert out.stats.dropped == 200
        conn.close()
    finally:
        out.close()
        silent.close()


def test_collector_that_stops_reading_does_not_block_emit() -> None:
    """TCP: the collector accepts and never reads; once the socket buffers are
    full the sender waits in send(), the plugin loop does not."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # a small window
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    out = RemoteSyslogOutput("127.0.0.1", server.getsockname()[1], "tcp", queue_size=1000)
    try:
        big = ["nc", "-U", "x" * 50000]
        out.emit(alert(args=big))   # the sender connects when there is something to send
        server.settimeout(10)
        conn, _ = server.accept()
        took = emit_many(out, 299, args=big)   # 15 MB: more than the kernel will buffer
        assert took < EMIT_SECONDS * 5, f"300 emits took {took:.2f} s"   # formatting 15 MB
        assert out.pending() > 0
        started = time.monotonic()
        out.close()
        assert time.monotonic() - started < CLOSE_SECONDS + 1.0
        # The socket buffers hold a few MB at most (the collector's window is
        # 4 kB): the sender was stuck in send(), and what it held is counted lost.
        assert out.stats.sent < 300 and out.stats.dropped > 0
        assert out.stats.sent + out.stats.dropped == 300
        conn.close()
    finally:
        out.close()
        server.close()


# -- a FIFO at the alert file's path -------------------------------------------

def test_fifo_at_the_alert_path_refused_at_start_up(tmp_path: Path,
                                                    rules_dir: Path) -> None:  # noqa: F811
    alerts = tmp_path / "alerts.json"
    os.mkfifo(alerts, 0o600)
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, alerts, ""))
    try:
        assert plugin.proc.wait(EXIT_SECONDS) == 2, plugin.stderr()   # cannot start
    finally:
        stop_process(plugin.proc)
    assert (f"cannot start: {alerts}: a FIFO, not a regular file; alerts are written to "
            "regular files only") in plugin.stderr()


@pytest.mark.parametrize("how", ["SIGUSR2", "SIGHUP", "rotation check"])
def test_fifo_at_the_alert_path_after_rotation(tmp_path: Path, rules_dir: Path,  # noqa: F811
                                               how: str) -> None:
    """logrotate moved the file away and a FIFO took its place: the reopen is
    refused at once (counted, logged), alerts go on into the file opened before,
    input is still read and SIGTERM still ends the plugin."""
    alerts = tmp_path / "alerts.json"
    rotated = tmp_path / "alerts.json.1"
    plugin = RunningPlugin(tmp_path, plugin_config(tmp_path, rules_dir, alerts, ""))
    reader = None
    try:
        plugin.wait_stderr("started")
        plugin.send_execs(2, "before")
        assert wait_for(lambda: len(alert_args(alerts)) == 2, FLOW_SECONDS), plugin.stderr()
        alerts.rename(rotated)
        os.mkfifo(alerts, 0o600)
        refusal = (f"cannot reopen the alert file: {alerts}: a FIFO, not a regular file; "
                   "alerts are written to regular files only; still writing to the file "
                   "opened before")
        if how == "rotation check":
            # Alerts make the output check its path (at most once a second).
            assert wait_for(lambda: (plugin.send_execs(1, "poke"), refusal in plugin.stderr())[1],
                            FLOW_SECONDS + 2, interval=0.3), plugin.stderr()
        else:
            plugin.proc.send_signal(getattr(signal, how))
            plugin.wait_stderr(refusal, FLOW_SECONDS)
        # A reader on the FIFO makes open() succeed: still refused, by what fstat says.
        reader = os.open(alerts, os.O_RDONLY | os.O_NONBLOCK)
        plugin.proc.send_signal(signal.SIGUSR2)
        plugin.send_execs(3, "after")
        assert wait_for(lambda: sum(a.startswith("after") for a in alert_args(rotated)) == 3,
                        FLOW_SECONDS), plugin.stderr()
        assert os.read(reader, 4096) == b""   # nothing was ever written into the FIFO
        plugin.proc.send_signal(signal.SIGUSR1)
        plugin.wait_stderr(f"output error: {alerts}: a FIFO, not a regular file")
        plugin.proc.send_signal(signal.SIGTERM)
        assert plugin.proc.wait(EXIT_SECONDS) == 0, plugin.stderr()
    finally:
        stop_process(plugin.proc)
        if reader is not None:
            os.close(reader)
    final = plugin.stderr().rsplit("stopping;", 1)[1]
    match = re.search(r"file=(\d+)/(\d+)", final)
    assert match and int(match.group(1)) >= 5 and match.group(2) == "0", final   # none lost

"""Remote syslog over TLS (RFC 5425) to a real rsyslogd (imtcp with the GnuTLS
stream driver), with a CA and certificates the test makes with openssl(1).

The output is used directly here; tests/test_plugin_tls.py runs the plugin."""

from __future__ import annotations

import json
import syslog
from pathlib import Path

import pytest

from audisp_eql.outputs import RemoteSyslogOutput, TlsSettings
from harness.certs import Ca, make_ca
from harness.procs import wait_for
from harness.rsyslogd import TlsServer, running_rsyslogd
from test_outputs import HOSTILE_ARG, alert
from test_syslog_rsyslogd import ours


@pytest.fixture
def ca(tmp_path: Path) -> Ca:
    return make_ca(tmp_path / "pki", "test CA")


def server_tls(ca: Ca, dns: tuple = ("syslog.test",), ips: tuple = ("127.0.0.1",),
               signer: Ca | None = None, mutual: bool = False) -> TlsServer:
    """rsyslogd's side: a certificate from `signer` (default the test CA)
    naming `dns`/`ips`; with `mutual`, clients need a certificate naming client.test."""
    server = (signer or ca).issue("server", dns=dns, ips=ips)
    probe = ca.issue("probe", dns=["client.test"], client=True) if mutual else None
    return TlsServer(ca.cert, server.cert, server.key,
                     permitted_peers=["client.test"] if mutual else None,
                     probe_cert=probe.cert if probe else None,
                     probe_key=probe.key if probe else None)


def wait_error(out: RemoteSyslogOutput, text: str) -> str:
    if not wait_for(lambda: text in out.last_error, 15.0):
        pytest.fail(f"no error with {text!r}; last error {out.last_error!r}")
    return out.last_error


def test_alerts_arrive_over_tls_escaped(tmp_path: Path, ca: Ca) -> None:
    with running_rsyslogd(tmp_path, tls=server_tls(ca)) as rs:
        # The name checked is the host (an IP address here, in the certificate's
        # subjectAltName), or server_name when the host is not what the certificate names.
        by_ip = RemoteSyslogOutput("127.0.0.1", rs.tls_port, "tls", facility="local2",
                                   fmt="json", tls=TlsSettings(ca_file=str(ca.cert)))
        by_name = RemoteSyslogOutput("127.0.0.1", rs.tls_port, "tls", facility="local3",
                                     fmt="text", tls=TlsSettings(ca_file=str(ca.cert),
                                                                 server_name="syslog.test"))
        assert by_name.describe() == f"tls://127.0.0.1:{rs.tls_port} (server name syslog.test)"
        for out in (by_ip, by_name):
            out.emit(alert("low", rule_id="seed"))
            out.emit(alert("critical", rule_id="crit", args=["socat", "-", HOSTILE_ARG]))
            out.close()
            assert (out.stats.sent, out.stats.dropped) == (2, 0), out.last_error
        lines = rs.wait_for_lines("tls", lambda ls: len(ours(ls)) >= 4)
    mine = ours(lines)
    assert len(mine) == 4, mine   # nothing split a message, nothing forged one
    assert not any("forged" in line and "|audisp-eql|" not in line for line in lines)
    for line in mine:
        assert all(c.isprintable() for c in line), repr(line)
    json_lines = [x for x in mine if x.startswith(f"{18 * 8 + 2}|")]   # local2.crit
    [crit] = json_lines
    assert json.loads(crit.split("|", 4)[4])["process"]["args"][2] == HOSTILE_ARG
    text_lines = [x for x in mine if x.split("|")[0] in (str(19 * 8 + 5), str(19 * 8 + 2))]
    assert len(text_lines) == 2 and "\\n<13>Jan" in text_lines[1]


@pytest.mark.parametrize("case, reason", [
    ("other CA", "certificate verify failed: unable to get local issuer certificate"),
    ("wrong name", "certificate verify failed: Hostname mismatch, certificate is not valid "
                   "for 'syslog.test'"),
])
def test_untrusted_server_certificate_is_refused_and_alerts_queue(
        tmp_path: Path, ca: Ca, case: str, reason: str) -> None:
    if case == "other CA":
        other = make_ca(tmp_path / "other-pki", "other CA")
        tls = server_tls(ca, signer=other)
    else:
        tls = server_tls(ca, dns=("wrong.test",), ips=())
    with running_rsyslogd(tmp_path, tls=tls) as rs:
        out = RemoteSyslogOutput("127.0.0.1", rs.tls_port, "tls", queue_size=3,
                                 tls=TlsSettings(ca_file=str(ca.cert), server_name="syslog.test"))
        for i in range(5):
            out.emit(alert(rule_id=f"r{i}"))
        error = wait_error(out, "certificate verify failed")
        assert error == (f"tls://127.0.0.1:{rs.tls_port} (server name syslog.test): connect: "
                         f"TLS handshake failed: {reason}")
        # Queued, bounded: the two oldest made room, counted.
        assert wait_for(lambda: out.pending() == 3, 5.0)
        assert (out.stats.sent, out.stats.dropped) == (0, 2)
        [(priority, notice)] = out.take_notices()   # said once, not at every retry
        assert priority == syslog.LOG_WARNING
        assert notice.startswith(error) and "queue (3 now, at most 3)" in notice
        out.close()
        assert (out.stats.sent, out.stats.dropped) == (0, 5)
        assert ours(rs.lines("tls")) == []


def test_mutual_tls_needs_a_client_certificate_the_collector_permits(
        tmp_path: Path, ca: Ca) -> None:
    client = ca.issue("client", dns=["client.test"], client=True)
    stranger = ca.issue("stranger", dns=["stranger.test"], client=True)
    with running_rsyslogd(tmp_path, tls=server_tls(ca, mutual=True)) as rs:
        def output(cert: Path | None, key: Path | None) -> RemoteSyslogOutput:
            return RemoteSyslogOutput(
                "127.0.0.1", rs.tls_port, "tls", fmt="text",
                tls=TlsSettings(ca_file=str(ca.cert), cert_file=str(cert or ""),
                                key_file=str(key or ""), server_name="syslog.test"))

        # No client certificate, or one naming someone else: rsyslogd ends the
        # connection right after the handshake; nothing is sent into it.
        for cert, key in ((None, None), (stranger.cert, stranger.key)):
            refused = output(cert, key)
            refused.emit(alert(rule_id="refused"))
            wait_error(refused, "closed the connection right after the TLS handshake")
            assert refused.stats.sent == 0 and refused.pending() == 1
            refused.close()
        good = output(client.cert, client.key)
        good.emit(alert(rule_id="mutual"))
        lines = rs.wait_for_lines("tls", lambda ls: any("rule_id=mutual" in x for x in ls))
        good.close()
    assert good.stats.sent == 1 and good.stats.dropped == 0
    assert not any("rule_id=refused" in x for x in lines)


def test_queued_alerts_survive_a_tls_collector_restart(tmp_path: Path, ca: Ca) -> None:
    tls = server_tls(ca)
    with running_rsyslogd(tmp_path / "one", tls=tls) as rs:
        port = rs.tls_port
        out = RemoteSyslogOutput("127.0.0.1", port, "tls", fmt="text",
                                 tls=TlsSettings(ca_file=str(ca.cert)))
        out.emit(alert(rule_id="before"))
        rs.wait_for_lines("tls", lambda ls: any("rule_id=before" in x for x in ls))
    # The collector is gone: alerts wait in the queue; emit returns at once.
    for i in range(5):
        out.emit(alert(rule_id=f"during-{i}"))
    assert wait_for(lambda: out.stats.errors > 0, 15.0)
    assert out.pending() == 5 and out.stats.dropped == 0 and out.stats.sent == 1
    with running_rsyslogd(tmp_path / "two", tls=tls, tls_port=port) as rs:
        out.reopen()   # as SIGUSR2 would: retry now, not when the back-off ends
        lines = rs.wait_for_lines(
            "tls", lambda ls: sum("rule_id=during-" in x for x in ls) == 5, timeout=40.0)
        out.close()
    assert (out.stats.sent, out.stats.dropped) == (6, 0)
    assert [sum(f"rule_id=during-{i} " in x for x in lines) for i in range(5)] == [1] * 5
    notices = [text for _, text in out.take_notices()]
    assert any("delivering again after" in text for text in notices), notices

"""Alerts reach a real rsyslogd (private config, socket and loopback ports)
locally, over UDP and over TCP, with priorities from severity and every
attacker-controlled byte escaped: rsyslog is told NOT to escape control
characters, so a newline that got through would show as a broken line."""

from __future__ import annotations

import json
from pathlib import Path

from audisp_eql.outputs import LocalSyslogOutput, RemoteSyslogOutput
from harness.rsyslogd import running_rsyslogd
from test_outputs import HOSTILE_ARG, alert


def ours(lines: list[str]) -> list[str]:
    return [line for line in lines if "|audisp-eql|" in line]


def test_local_and_remote_alerts_arrive_escaped(tmp_path: Path) -> None:
    with running_rsyslogd(tmp_path) as rs:
        outputs = {
            "local": LocalSyslogOutput(str(rs.socket_path), facility="authpriv", fmt="text"),
            "udp": RemoteSyslogOutput("127.0.0.1", rs.udp_port, "udp", facility="local0",
                                      fmt="json"),
            "tcp": RemoteSyslogOutput("127.0.0.1", rs.tcp_port, "tcp", facility="local1",
                                      fmt="cee"),
        }
        for out in outputs.values():
            out.emit(alert("low", rule_id="seed"))
            out.emit(alert("critical", rule_id="crit", args=["socat", "-", HOSTILE_ARG]))
            out.close()  # delivers what the non-blocking connect still held
        got = {which: rs.wait_for_lines(which, lambda ls: len(ours(ls)) >= 2) for which in outputs}

    for which, lines in got.items():
        mine = ours(lines)
        # Two alerts, two lines: nothing split them, nothing forged a third.
        assert len(mine) == 2, (which, mine)
        assert not any("forged" in line and "|audisp-eql|" not in line for line in lines)
        for line in mine:
            assert all(c.isprintable() for c in line), (which, repr(line))
            assert "\\n<13>Jan" in line, (which, line)

    local = ours(got["local"])
    assert local[0].startswith(f"{10 * 8 + 5}|")       # authpriv.notice for "low"
    assert local[1].startswith(f"{10 * 8 + 2}|")       # authpriv.crit for "critical"
    assert "rule_id=seed" in local[0] and "severity=low" in local[0]

    udp = ours(got["udp"])
    assert udp[0].split("|")[0] == str(16 * 8 + 5)
    pri, app, procid, msgid, msg = udp[1].split("|", 4)
    assert (pri, app, msgid) == (str(16 * 8 + 2), "audisp-eql", "alert")
    assert json.loads(msg)["process"]["args"][2] == HOSTILE_ARG  # lossless through JSON

    tcp = ours(got["tcp"])
    assert tcp[1].split("|")[0] == str(17 * 8 + 2)
    cee = tcp[1].split("|", 4)[4]
    assert cee.startswith("@cee: ") and json.loads(cee[6:])["rule"]["uuid"] == "crit"


def test_tcp_output_survives_a_collector_restart(tmp_path: Path) -> None:
    with running_rsyslogd(tmp_path / "one") as rs:
        port = rs.tcp_port
        out = RemoteSyslogOutput("127.0.0.1", port, "tcp", fmt="text")
        out.emit(alert(rule_id="before"))
        rs.wait_for_lines("tcp", lambda ls: any("rule_id=before" in x for x in ls))
    # The collector is gone: the alert waits in the bounded queue; emit returns at once.
    out.emit(alert(rule_id="during"))
    out.flush()
    assert out.pending() == 1 and out.stats.dropped == 0
    with running_rsyslogd(tmp_path / "two", tcp_port=port) as rs:
        for _ in range(200):  # the back-off is skipped: this is not a timing test
            out.retry_at = 0.0
            out.flush()
            if not out.pending():
                break
            rs.proc.poll()
        lines = rs.wait_for_lines("tcp", lambda ls: any("rule_id=during" in x for x in ls))
        out.close()
    assert out.stats.sent == 2 and out.stats.dropped == 0
    assert sum("rule_id=during" in x for x in lines) == 1

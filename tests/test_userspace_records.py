"""Userspace and audit-trail records -> documents: the layouts real programs
write (the Debian capture, our capture, RHEL 7's old formats), and what an
attacker can put in them (user names, op text, cut records, huge values)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from audisp_eql.ecs.userspace import UserRecord, outcome_of, user_record
from audisp_eql.escape import safe_json
from conftest import LOGS, ROOT
from harness.pipelines import documents_of

CAPTURE = ROOT / "tests" / "data" / "records" / "compliance-capture.log"


def _docs(text: str) -> list[dict]:
    return [d for d in documents_of(text.encode()) if d["event"]["action"] != "exec"]


def _by_action(docs: list[dict], action: str) -> list[dict]:
    return [d for d in docs if action in (d["event"]["action"]
                                          if isinstance(d["event"]["action"], list)
                                          else [d["event"]["action"]])]


def test_op_is_free_text_up_to_the_next_known_field() -> None:
    record = UserRecord("USER_ACCT", "pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=user bob "
                        "added by root to group staff acct=\"staff\" exe=\"/usr/bin/gpasswd\" "
                        "hostname=? addr=? terminal=? res=success'")
    assert record.op == "user bob added by root to group staff"
    assert record.text_of("acct") == "staff" and record.text_of("hostname") is None
    # Words of op never become fields, even when they look like one.
    forged = UserRecord("USER_ACCT", "pid=1 uid=0 msg='op=x acct=evil exe=\"/bin/y\" "
                        "acct=\"real\" res=success'")
    assert forged.op == "x" and forged.text_of("acct") == "evil"
    empty = UserRecord("ADD_GROUP", "pid=1 uid=0 msg='op= id=1003 exe=\"/usr/sbin/groupadd\" res=success'")
    assert empty.op == "" and empty.number("id") == "1003"


def test_old_libaudit_parenthesised_tail_and_cut_records() -> None:
    old = UserRecord("USER_START", "user pid=374 uid=0 auid=500 msg='PAM: session open "
                     "acct=\"root\" : exe=\"/bin/su\" (hostname=?, addr=?, terminal=pts/0 res=success)'")
    assert old.text_of("terminal") == "pts/0" and old.get("res") == "success"
    assert old.text_of("acct") == "root"
    cut = UserRecord("USER_LOGIN", "pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=login "
                     "acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=? addr=10.0.0.1 terminal=ssh")
    assert cut.text_of("addr") == "10.0.0.1" and cut.get("res") is None
    assert outcome_of(cut.get("res")) is None


def test_hex_account_names_are_decoded_and_stay_escaped_in_json() -> None:
    # "(invalid user)" as sshd sends it (go-libaudit ubuntu-16.10), then a name
    # with a newline and an escape sequence.
    docs = _docs(
        "type=USER_LOGIN msg=audit(1492896301.818:19955): pid=12635 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=login acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" "
        "hostname=? addr=179.38.151.221 terminal=sshd res=failed'\n"
        "type=USER_LOGIN msg=audit(1492896302.818:19956): pid=12635 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=login acct=626F620A1B5B33316D exe=\"/usr/sbin/sshd\" "
        "hostname=? addr=179.38.151.221 terminal=sshd res=failed'\n")
    assert [d["user"]["name"] for d in docs] == ["(invalid user)", "bob\n\x1b[31m"]
    for doc in docs:
        assert doc["event"]["action"] == ["logged-in", "user_login", "ssh_login"]
        assert doc["event"]["outcome"] == "failure" and doc["source"]["ip"] == "179.38.151.221"
        line = safe_json(json.dumps(doc, ensure_ascii=False))
        assert "\n" not in line and "\x1b" not in line


def test_records_of_the_debian_capture(shared) -> None:
    text = (LOGS / "debian12-auditd" / "accounts-logins-files-network.log").read_text()
    docs = _docs(text)
    created = _by_action(docs, "added-user-account")
    assert [d["user"]["target"]["id"] for d in created] == ["1001", "1001", "1002", "1002"]
    assert [d["user"]["target"].get("name") for d in created] == [None, "dbadmin", None, "dbadmin2"]
    assert {d["process"]["name"] for d in created} == {"useradd"}
    (sudo_ok, sudo_refused) = _by_action(docs, "ran-command")
    assert sudo_ok["auditd"]["data"]["cmd"] == "/usr/bin/id" and sudo_ok["user"]["name"] == "dbadmin"
    assert sudo_refused["event"]["outcome"] == "failure"
    (login,) = _by_action(docs, "changed-login-id-to")
    assert login["user"] == {"id": "1001", "name": "dbadmin",
                             "effective": {"id": "1001", "name": "dbadmin"},
                             "audit": {"id": "1001", "name": "dbadmin"}}
    assert login["auditd"]["session"] == "2"
    (stop,) = _by_action(docs, "shutdown-audit")
    assert stop["process"]["pid"] == 27888 and stop["user"]["audit"]["name"] == "root"
    removed = [d for d in _by_action(docs, "changed-audit-configuration")
               if d["auditd"]["data"]["op"] == "remove_rule"]
    assert len(removed) == 16 and removed[0]["process"]["name"] == "auditctl"
    gpasswd = [d for d in _by_action(docs, "modified-group-account")]
    assert [d["group"]["name"] for d in gpasswd] == ["dbadmingrp", "dbadmingrp"]
    assert "removed by root from group" in gpasswd[1]["auditd"]["data"]["op"]


def test_records_of_our_capture() -> None:
    docs = _docs(CAPTURE.read_text())
    (clock,) = _by_action(docs, "changed-system-time")
    assert clock["auditd"]["data"]["syscall"] == "settimeofday" and clock["tags"] == ["time-change"]
    assert clock["user"]["audit"]["name"] == "aeqladm"
    # clock_adjtime read the clock and clock_settime was refused: no document.
    promiscuous = _by_action(docs, "changed-promiscuous-mode-on-device")
    assert [d["auditd"]["data"]["prom"] for d in promiscuous] == ["256", "0"]
    (crash,) = _by_action(docs, "crashed-program")
    assert crash["process"]["name"] == "dash" and crash["auditd"]["data"]["sig"] == "11"
    logins = _by_action(docs, "logged-in")
    assert [(d["user"]["name"], d["event"]["outcome"]) for d in logins] == \
        [("aeqlusr", "failure"), ("aeqlusr", "success")]
    assert all(d["event"]["action"] == ["logged-in", "user_login"] for d in logins)  # login(1)
    backlog = [d for d in _by_action(docs, "changed-audit-configuration")
               if d["auditd"]["data"].get("audit_backlog_limit")]
    assert [(d["auditd"]["data"]["audit_backlog_limit"], d["auditd"]["data"]["old"])
            for d in backlog] == [("8192", "64"), ("64", "8192")]
    assert backlog[0]["user"]["audit"]["name"] == "aeqladm"


def test_old_auditd_daemon_records(shared) -> None:
    docs = _docs((LOGS / "go-libaudit" / "auparse_testdata_audit-rhel7.log").read_text())
    (start,) = _by_action(docs, "started-audit")
    assert start["auditd"]["data"] == {"op": "start", "ver": "2.4.1", "format": "raw",
                                       "kernel": "3.10.0-327.36.3.el7.x86_64"}
    (halt,) = _by_action(docs, "shutdown-audit")
    assert halt["auditd"]["data"]["op"] == "terminate" and "user" not in halt   # auid=? pid=?
    (hwclock,) = _by_action(docs, "changed-configuration")
    assert hwclock["message"] == "changing system time"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["USER_LOGIN", "USER_AUTH", "ADD_USER", "USER_ACCT", "USER_CMD",
                        "CONFIG_CHANGE", "DAEMON_END", "LOGIN", "SERVICE_STOP", "ANOM_ABEND",
                        "USYS_CONFIG", "ACCT_LOCK", "SYSTEM_BOOT"]),
       st.text(alphabet=st.sampled_from(list("op=acct'\"( ),?x1\x1d =-res=failedsuccess0")),
               max_size=200))
def test_any_body_gives_a_document_or_none_never_an_exception(rtype: str, body: str) -> None:
    user_record(rtype, body)
    line = f"type={rtype} msg=audit(1700000000.000:1): {body}".replace("\n", " ")
    for doc in documents_of(line.encode() + b"\n"):
        json.dumps(doc)


def test_a_megabyte_of_op_text_is_read_in_linear_time() -> None:
    import time
    body = "pid=1 uid=0 msg='op=" + "a " * 500_000 + "acct=\"x\" res=success'"
    started = time.monotonic()
    record = UserRecord("USER_ACCT", body)
    assert record.text_of("acct") == "x" and len(record.op) == 999_999
    assert time.monotonic() - started < 30     # a deadline: quadratic would take hours

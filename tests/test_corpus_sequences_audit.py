"""The corpus' process-only sequences that auditd data can fire, from audit
records through the whole pipeline (records -> documents with entity ids ->
engine -> alerts): for each, a stream where it fires (the alert names the
events it should, in order) and near misses (wrong order, span too long,
keys that differ, a condition one event misses). Those joining execs with
process ends, uid changes or what the plugin reads from /proc are in
test_corpus_sequences_audit_more.py; test_corpus_sequences_ecs.py runs the
rest (and those) on ECS input."""

from __future__ import annotations

from typing import Callable, Optional

import pytest

from audisp_eql.rules import load_rules
from conftest import CORPUS
from harness.pipelines import run
from harness.records import exec_event

BASE_MS = 1_700_000_000_000
NAMES = {0: "root", 1000: "alice"}


class Stream:
    """Exec events written as auditd would, serials in order."""

    def __init__(self) -> None:
        self.data = b""
        self.serial = 100

    def exec(self, ms: int, pid: int, ppid: int, argv: list[str], exe: Optional[str] = None,
             uid: int = 1000, euid: Optional[int] = None, cwd: str = "/home/alice") -> str:
        sec, msec = divmod(BASE_MS + ms, 1000)
        self.serial += 1
        exe = exe or f"/usr/bin/{argv[0].rsplit('/', 1)[-1]}"
        self.data += b"".join(exec_event(self.serial, argv, exe, pid=pid, ppid=ppid, sec=sec,
                                         msec=msec, uid=uid, euid=euid, cwd=cwd, names=NAMES))
        return f"{sec}.{msec:03d}:{self.serial}"


def rule_named(path: str):  # type: ignore[no-untyped-def]
    [rule] = load_rules([CORPUS / path]).rules
    return rule


def alerts(path: str, stream: Stream) -> list[dict]:
    _docs, found, _pipeline = run(stream.data, rules=[rule_named(path)], hostname="testhost")
    return found


def ancestors(alert: dict) -> list[str]:
    return [a["id"] for a in alert["kibana"]["alert"]["ancestors"]]


# Each case: (stream, the event ids of each expected alert). The builders
# take `miss`, a name of the near miss to build instead (None: the hit).
Case = Callable[[Optional[str]], tuple[Stream, list[list[str]]]]
CASES: dict[str, tuple[str, Case, tuple[str, ...]]] = {}


def case(path: str, *misses: str) -> Callable[[Case], Case]:
    def register(build: Case) -> Case:
        CASES[build.__name__] = (path, build, misses)
        return build
    return register


@case("rules/cross-platform/execution_git_exploit_cve_2025_48384.toml", "helper", "late")
def git_clone_recursive(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 100, 1, ["bash"])
    git = s.exec(10, 101, 100, ["git", "clone", "--recursive", "https://example.org/r.git"])
    parent = 101
    if miss == "helper":   # the shell is a child of git's helper, not of git
        s.exec(20, 102, 101, ["git-submodule", "update"], exe="/usr/lib/git-core/git-submodule")
        parent = 102
    shell = s.exec(61_011 if miss == "late" else 500, 103, parent, ["sh", "-c", "hook"])
    return s, [[git, shell]]


@case("rules/cross-platform/execution_nodejs_pre_or_post_install_script_execution.toml", "late")
def node_install_script(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    node = s.exec(0, 200, 1, ["node", "/usr/bin/npm", "install"])
    child = s.exec(10_001 if miss == "late" else 3000, 201, 200, ["sh", "-c", "node-gyp rebuild"])
    return s, [[node, child]]


@case("rules/linux/credential_access_proc_credential_dumping.toml", "other_parent_name")
def proc_credential_dumping(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 300, 1, ["bash"])
    s.exec(1, 301, 1, ["sh"] if miss else ["bash"], exe="/usr/bin/sh" if miss else None)
    ps = s.exec(100, 302, 300, ["ps", "-eo", "pid", "command"])
    strings = s.exec(30_000, 303, 301, ["strings", "/tmp/dump"])   # another parent, same name
    return s, [[ps, strings]]


@case("rules/linux/defense_evasion_interpreter_launched_from_decoded_payload.toml",
      "other_parent", "reversed")
def base64_piped_to_shell(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 400, 1, ["bash"])
    s.exec(1, 410, 1, ["bash"])
    first, second = (["sh"], ["base64", "-d"]) if miss == "reversed" else (["base64", "-d"], ["sh"])
    decode = s.exec(100, 401, 400, first)
    shell = s.exec(120, 402, 410 if miss == "other_parent" else 400, second)
    return s, [[decode, shell]]


@case("rules/linux/defense_evasion_multi_base64_decoding_attempt.toml", "first_in_opt", "late")
def multi_base64(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 500, 1, ["bash"])
    first = s.exec(100, 501, 500, ["base64", "-d", "a.b64"],
                   cwd="/opt/app" if miss == "first_in_opt" else "/tmp/x")
    second = s.exec(3101 if miss == "late" else 1100, 502, 500, ["base64", "--decode", "b.b64"],
                    cwd="/tmp/x")
    return s, [[first, second]]


@case("rules/linux/discovery_unusual_user_enumeration_via_id.toml", "nineteen", "too_slow")
def id_enumeration(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 600, 1, ["bash"])
    count = 19 if miss == "nineteen" else 21
    step = 60 if miss == "too_slow" else 40       # 20 runs in 1140 ms vs 760 ms
    ids = [s.exec(10 + step * i, 601 + i, 600, ["id", f"user{i}"]) for i in range(count)]
    return s, [ids[0:20], ids[1:21]]               # runs slide: 21 execs, 2 matches


@case("rules/linux/impact_data_encrypted_via_openssl.toml", "nine", "base64_option")
def openssl_encryption(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 700, 1, ["bash"])
    count = 9 if miss == "nine" else 10
    extra = ["-a"] if miss == "base64_option" else []
    runs = [s.exec(100 + 300 * i, 701 + i, 700, ["openssl", "enc", "-aes-256-cbc", *extra, "-in",
                                                 f"f{i}", "-out", f"f{i}.enc", "-k", "pw"])
            for i in range(count)]
    return s, [runs]


@case("rules/linux/initial_access_telnet_auth_bypass_envar_auditd.toml", "no_f_option")
def telnet_auth_bypass(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    telnetd = s.exec(0, 800, 1, ["in.telnetd"], exe="/usr/sbin/telnetd", uid=0)
    args = ["login", "-p", "-h", "10.0.0.9"] + ([] if miss else ["-f", "root"])
    login = s.exec(200, 801, 800, args, exe="/usr/bin/login", uid=0)
    return s, [[telnetd, login]]


@case("rules/linux/persistence_apt_package_manager_execution.toml", "needrestart")
def apt_hook_shell(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 900, 1, ["apt", "install", "x"], uid=0)
    hook = s.exec(100, 901, 900, ["sh", "-c", "python3 /tmp/p.py"], uid=0)
    argv = ["/usr/bin/perl", "/usr/sbin/needrestart"] if miss else ["python3", "/tmp/p.py"]
    child = s.exec(300, 902, 901, argv, uid=0)
    return s, [[hook, child]]


@case("rules/linux/persistence_git_hook_execution.toml", "child_of_another_shell")
def git_hook(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 999, 1, ["bash"])
    s.exec(10, 1000, 999, ["git", "checkout", "main"])
    hook = s.exec(100, 1001, 1000, ["sh", ".git/hooks/post-checkout"])
    child = s.exec(300, 1002, 999 if miss else 1001, ["curl", "http://x/y"])
    return s, [[hook, child]]


@case("rules/linux/privilege_escalation_docker_mount_chroot_container_escape.toml",
      "other_shell", "reversed")
def mount_then_chroot(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.exec(0, 1100, 1, ["bash"], uid=0)
    s.exec(1, 1110, 1, ["bash"], uid=0)
    mount = ["mount", "/dev/sda1", "/mnt"]
    chroot = ["chroot", "/mnt", "sh"]
    first, second = (chroot, mount) if miss == "reversed" else (mount, chroot)
    a = s.exec(100, 1101, 1100, first, uid=0)
    b = s.exec(60_000, 1102, 1110 if miss == "other_shell" else 1100, second, uid=0)
    return s, [[a, b]]


@case("rules/linux/privilege_escalation_potential_wildcard_shell_spawn.toml", "late")
def tar_checkpoint_shell(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    tar = s.exec(0, 1201, 1, ["tar", "cf", "a.tar", "--checkpoint=1",
                               "--checkpoint-action=exec=sh x.sh", "*"])
    shell = s.exec(1001 if miss else 400, 1202, 1201, ["sh", "-c", "sh x.sh"])
    return s, [[tar, shell]]


@case("rules/linux/privilege_escalation_suspicious_suid_binary_execution_auditd_sequence.toml",
      "excluded_args", "root_parent")
def suid_after_interpreter(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    python = s.exec(0, 1301, 1, ["python3", "-c", "import pty"],
                    uid=0 if miss == "root_parent" else 1000)
    argv = ["su", "-c", "id", "root"] if miss == "excluded_args" else ["su", "root"]
    su = s.exec(2000, 1302, 1301, argv, uid=1000, euid=0)
    return s, [[python, su]]


@case("rules/linux/privilege_escalation_unshare_to_root_process_auditd_sequence.toml",
      "not_root", "other_parent")
def unshare_then_root(miss: Optional[str]) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    unshare = s.exec(0, 1401, 1400, ["unshare", "--user", "--map-root-user", "sh"])
    shell = s.exec(500, 1402, 1500 if miss == "other_parent" else 1400, ["sh"],
                   uid=1000 if miss == "not_root" else 0)
    return s, [[unshare, shell]]


def test_fourteen_rules_fire_from_audit_records() -> None:
    assert len(CASES) == 14


@pytest.mark.parametrize("name", sorted(CASES))
def test_fires_and_names_its_events(name: str) -> None:
    path, build, _misses = CASES[name]
    stream, expected = build(None)
    found = alerts(path, stream)
    assert [ancestors(a) for a in found] == expected
    rule = rule_named(path)
    for alert in found:
        assert alert["rule"]["uuid"] == rule.rule_id
        assert alert["event"]["id"] == ancestors(alert)[-1]     # the last event's fields
        assert len({a["kibana"]["alert"]["group"]["id"] for a in found}) == len(found)


@pytest.mark.parametrize("name,miss", [(n, m) for n in sorted(CASES) for m in CASES[n][2]])
def test_near_miss_does_not_fire(name: str, miss: str) -> None:
    path, build, _misses = CASES[name]
    stream, _expected = build(miss)
    assert alerts(path, stream) == []

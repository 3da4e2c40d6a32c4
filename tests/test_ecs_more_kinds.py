"""Driver, process-change and AppArmor documents, process.env_vars read from
/proc, and the environment variable names derived from the rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from audisp_eql import limits
from audisp_eql.ecs.driver import taint_flags
from audisp_eql.ecs.environ import EnvironReader
from audisp_eql.eql import parse_query
from audisp_eql.pipeline import PipelineOptions, environ_reader
from audisp_eql.rule_values import env_var_names
from audisp_eql.rules import load_rules
from conftest import CORPUS
from harness.pipelines import documents_of
from harness.procs import wait_for
from harness.records import syscall_event

FINIT_MODULE, DELETE_MODULE, KILL, SETRESUID, SETSID, EXIT_GROUP = 313, 176, 62, 117, 112, 231


def _docs(*events: list[bytes], **options) -> list[dict]:
    return documents_of(b"".join(line for event in events for line in event), **options)


def test_module_load_unload_and_failures() -> None:
    loaded = syscall_event(1, FINIT_MODULE, 'KERN_MODULE name="nf_tables"', comm="modprobe",
                           exe="/usr/bin/kmod", uid=1000)
    failed = syscall_event(2, FINIT_MODULE, success=False, exit=-8, comm="insmod",
                           exe="/usr/bin/kmod")
    unloaded = syscall_event(3, DELETE_MODULE, 'KERN_MODULE name=6E665F7461626C6573')
    unload_failed = syscall_event(4, DELETE_MODULE, success=False, exit=-2)
    docs = _docs(loaded, failed, unloaded, unload_failed)
    assert [(d["event"]["category"], d["event"]["action"], d["event"]["outcome"]) for d in docs] \
        == [(["driver", "process"], ["load_module", "loaded-kernel-module"], "success"),
            (["driver"], ["loaded-kernel-module"], "failure"),
            (["driver"], ["unloaded-kernel-module"], "success")]
    assert docs[0]["auditd"]["data"]["name"] == "nf_tables" == docs[2]["auditd"]["data"]["name"]
    assert "Ext" not in docs[0]["process"]       # taint flags are read live only
    rules = {r.name: r for r in load_rules([CORPUS]).rules}
    from harness.pipelines import alerts_of
    alerts = alerts_of(b"".join(loaded), [rules["Kernel Driver Load by non-root User"]])
    assert len(alerts) == 1


def test_taint_flags_read_from_sysfs(tmp_path: Path) -> None:
    (tmp_path / "vbox").mkdir()
    (tmp_path / "vbox" / "taint").write_text("OE\n")
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "taint").write_text("\n")
    assert taint_flags("vbox", str(tmp_path)) == "OE"
    assert taint_flags("clean", str(tmp_path)) is None
    assert taint_flags("gone", str(tmp_path)) is None
    assert taint_flags("../vbox", str(tmp_path)) is None and taint_flags("..", str(tmp_path)) is None


def test_process_changes() -> None:
    kill = syscall_event(1, KILL, 'OBJ_PID opid=812 oauid=-1 ouid=0 oses=-1 obj=unconfined '
                         'ocomm="vmware-vmx"', args=("32c", "23", "0", "0"), comm="kill")
    ids = syscall_event(2, SETRESUID, args=("0", "0", "0", "0"), comm="sudo")
    session = syscall_event(3, SETSID, comm="kworker/0:1", exit=77)
    refused = syscall_event(4, SETRESUID, success=False, exit=-1)
    end = syscall_event(5, EXIT_GROUP, exit=0, comm="true")
    docs = _docs(kill, ids, session, refused, end)
    assert [d["event"]["action"] for d in docs] == [
        ["killed-pid"], ["uid_change", "changed-identity-of"], ["session_id_change"], ["end"]]
    data = docs[0]["auditd"]["data"]
    assert (data["opid"], data["ocomm"], data["a1"]) == ("812", "vmware-vmx", "23")
    assert docs[0]["event"]["type"] == ["end"] and docs[1]["event"]["type"] == ["change"]


def test_apparmor_violations() -> None:
    lines = [
        b'type=AVC msg=audit(1.000:1): apparmor="DENIED" operation="open" class="file" '
        b'profile="/usr/sbin/cupsd" name="/etc/shadow" pid=7 comm="cupsd" requested_mask="w" '
        b'denied_mask="w" fsuid=0 ouid=0\n',
        b'type=AVC msg=audit(1.000:2): apparmor="STATUS" operation="profile_load" '
        b'profile="unconfined" name="x" pid=8 comm="apparmor_parser"\n',
        b'type=AVC msg=audit(1.000:3): avc:  denied  { read } for  pid=9 comm="cat" '
        b'name="shadow" scontext=u:r:x tcontext=u:o:y tclass=file permissive=0\n',
    ]
    (doc,) = documents_of(b"".join(lines))
    assert doc["event"]["type"] == ["change", "denied"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["file"]["path"] == "/etc/shadow" and doc["process"] == {"pid": 7, "name": "cupsd"}
    assert doc["auditd"]["data"]["profile"] == "/usr/sbin/cupsd"


def _image(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def test_environment_of_a_running_process() -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HISTSIZE": "0",
           "RUNNER_TRACKING_ID": "github_1", "http_proxy": "http://p:3128", "OTHER": "x"}
    exe = os.path.realpath(shutil.which("sleep") or "/bin/sleep")
    child = subprocess.Popen([exe, "30"], env=env)
    try:
        # The exe link changes early in execve, the new environment is set up later:
        # wait for both (the plugin reads after the SYSCALL record, i.e. after the call).
        assert wait_for(lambda: _image(child.pid) == exe and b"OTHER" in _environ(child.pid), 10)
        reader = EnvironReader(["histsize", "RUNNER_*", "HTTP_PROXY"])
        found = reader.read(child.pid, exe, time.time())
        assert sorted(found) == ["HISTSIZE=0", "RUNNER_TRACKING_ID=github_1",
                                 "http_proxy=http://p:3128"]
        # Another image than the event's, or a process started after it: nothing.
        assert reader.read(child.pid, "/usr/bin/other", time.time()) is None
        assert reader.read(child.pid, exe, time.time() - 3600) is None
        assert reader.read(child.pid, exe, time.time() - 2) is None    # started after it
        with limits.lowered(MAX_ENV_VARS=1):
            assert len(reader.read(child.pid, exe, time.time())) == 1
    finally:
        child.kill()
        child.wait()
    assert EnvironReader(["HISTSIZE"]).read(child.pid, exe, time.time()) is None   # gone


def test_env_var_names_from_the_rules() -> None:
    queries = [r.compiled.query for r in load_rules([CORPUS]).rules]
    names = set(env_var_names(queries))
    assert {"HISTSIZE", "HISTFILESIZE", "HISTCONTROL", "HISTFILE", "RUNNER_TRACKING_ID*",
            "*GLIBC_TUNABLES"} <= names
    reader = EnvironReader(["*GLIBC_TUNABLES"])
    assert reader.wanted(b"GLIBC_TUNABLES") and reader.wanted(b"X_GLIBC_TUNABLES")
    assert not reader.wanted(b"GLIBC_TUNABLES_X") and not reader.wanted(b"TUNABLES")
    only_negated = parse_query('process where not process.env_vars : "LD_LIBRARY_PATH=*"')
    assert env_var_names([only_negated]) == ()


def test_environment_is_read_in_the_plugin_only() -> None:
    rules = load_rules([CORPUS]).rules
    assert environ_reader(PipelineOptions(), rules) is None
    assert environ_reader(PipelineOptions(live=True, env_vars_from_rules=False), rules) is None
    reader = environ_reader(PipelineOptions(live=True, env_vars=("LD_PRELOAD",)), rules)
    assert reader is not None and reader.wanted(b"LD_PRELOAD") and reader.wanted(b"HISTSIZE")
    assert not reader.wanted(b"PATH")


def test_exec_document_carries_env_vars_in_live_mode() -> None:
    exe = os.path.realpath(sys.executable)
    child = subprocess.Popen([exe, "-c", "import time; time.sleep(30)"],
                             env={"HISTFILE": "/dev/null"})
    try:
        assert wait_for(lambda: _environ(child.pid) == b"HISTFILE=/dev/null\0", 10)
        now = time.time()
        from harness.records import exec_event
        record = b"".join(exec_event(1, ["python3", "-c", "..."], exe, pid=child.pid,
                                     sec=int(now) + 1))
        (doc,) = documents_of(record, live=True, env_vars=("HISTFILE",))
        assert doc["process"]["env_vars"] == ["HISTFILE=/dev/null"]
        (offline,) = documents_of(record, env_vars=("HISTFILE",))
        assert "env_vars" not in offline["process"]
    finally:
        child.kill()
        child.wait()

"""A private auditd for tests and benchmarks: foreground, no fork, its own
config directory (auditd.conf, plugins.d, log file), stopped by PID.

    with running_auditd(tmp_path, plugins={"audisp-eql": DROPIN_TEXT}) as ad:
        ad.add_rules(["-a always,exit -F arch=b64 -S execve -k exec"])
        ... run commands; read ad.log_path ...

The kernel has one audit daemon at a time: test runs on one machine (several
checkouts, a benchmark) take turns through a lock file; if an audit daemon
that is not ours is registered (`auditctl -s` pid != 0) this skips rather
than take it over. On the way out, always: `auditctl -D`, `auditctl -e 0`,
auditd stopped by PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping

import pytest

from .procs import stop_process, tail, wait_for

# One private auditd on this machine at a time, whichever checkout runs it.
LOCK_PATH = Path("/run/lock/audisp-eql-test-auditd.lock")
LOCK_WAIT_SECONDS = 1800.0

AUDITD = shutil.which("auditd") or "/usr/sbin/auditd"
AUDITCTL = shutil.which("auditctl") or "/usr/sbin/auditctl"

EXEC_RULES = (
    "-a always,exit -F arch=b64 -S execve,execveat -k exec",
    "-a always,exit -F arch=b32 -S execve,execveat -k exec",
)

_AUDITD_CONF = """\
local_events = yes
write_logs = yes
log_file = {log}
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 64
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
verify_email = no
action_mail_acct = root
tcp_listen_queue = 5
tcp_max_per_addr = 1
tcp_client_max_idle = 0
distribute_network = no
q_depth = {q_depth}
overflow_action = SYSLOG
max_restarts = 3
plugin_dir = {plugins}
end_of_event_timeout = 2
"""


def auditctl(*args: str, check: bool = True) -> str:
    result = subprocess.run([AUDITCTL, *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"auditctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def audit_status() -> Dict[str, str]:
    """`auditctl -s` as a dict (enabled, pid, lost, backlog, ...)."""
    status: Dict[str, str] = {}
    for line in auditctl("-s").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            status[parts[0]] = parts[1]
    return status


def unavailable_reason(registered_check: bool = True) -> str | None:
    """Why a test auditd cannot run here, or None. Without `registered_check`
    (at collection time) a daemon registered now is not a reason: it may be
    another test run's, which the lock waits for."""
    if os.geteuid() != 0:
        return "auditd tests need root"
    if not (Path(AUDITD).exists() and Path(AUDITCTL).exists()):
        return "auditd/auditctl are not installed (tools/bootstrap.sh installs them)"
    try:
        status = audit_status()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"the kernel audit interface is not usable here: {exc}"
    if registered_check and status.get("pid", "0") != "0":
        return f"another audit daemon (pid {status['pid']}) is registered; not taking it over"
    if status.get("enabled") == "2":
        return "kernel audit configuration is locked (enabled 2)"
    return None


def restore_kernel_audit() -> None:
    """Leave the kernel as the tests found it on this machine: no rules, disabled."""
    auditctl("-D", check=False)
    auditctl("-e", "0", check=False)


@dataclass
class Auditd:
    directory: Path
    log_path: Path
    proc: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.proc.pid

    def add_rules(self, rules: Iterable[str] = EXEC_RULES) -> None:
        for rule in rules:
            auditctl(*rule.split())

    def stop(self) -> int | None:
        """Stop auditd now (it stops its plugins); safe to call again."""
        restore_kernel_audit()
        code = stop_process(self.proc, timeout=15)
        restore_kernel_audit()
        return code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_text(self) -> str:
        return tail(self.directory / "auditd.stderr", 8000)

    def children(self) -> List[int]:
        """PIDs of auditd's child processes (its plugins)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except (OSError, ValueError):
            return []


def private_dir(directory: Path) -> None:
    # auditd refuses config files others can write; so does the plugin.
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o750)


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Wait for other test runs' auditd to finish (bounded), then hold the lock."""
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_PATH, "a+b") as lock:
        if not wait_for(lambda: _try_lock(lock), LOCK_WAIT_SECONDS, 0.2):
            pytest.fail(f"another test run held {LOCK_PATH} for {LOCK_WAIT_SECONDS:.0f} s")
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _try_lock(lock) -> bool:  # type: ignore[no-untyped-def]
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def running_auditd(directory: Path, plugins: Mapping[str, str] | None = None,
                   q_depth: int = 2000, timeout: float = 20.0,
                   extra_conf: str = "") -> Iterator[Auditd]:
    """auditd in the foreground with a private config dir holding `plugins`
    ({name: plugins.d drop-in text}); `extra_conf`: more auditd.conf lines
    (e.g. name_format); skips where auditd cannot run."""
    if os.geteuid() == 0:
        with _machine_lock():
            with _running_auditd(directory, plugins, q_depth, timeout, extra_conf) as handle:
                yield handle
        return
    with _running_auditd(directory, plugins, q_depth, timeout, extra_conf) as handle:
        yield handle


def write_plugins(plugin_dir: Path, plugins: Mapping[str, str] | None) -> None:
    """plugins.d drop-ins, {name: text}, as auditd wants them (private modes)."""
    for name, text in (plugins or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(f"plugin drop-in name {name!r}: auditd allows one '.' (.conf)")
        dropin = plugin_dir / f"{name}.conf"
        dropin.write_text(text)
        os.chmod(dropin, 0o640)


@contextlib.contextmanager
def _running_auditd(directory: Path, plugins: Mapping[str, str] | None,
                    q_depth: int, timeout: float, extra_conf: str) -> Iterator[Auditd]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    directory = directory / "auditd"
    plugin_dir = directory / "plugins.d"
    private_dir(directory)
    private_dir(plugin_dir)
    log_path = directory / "audit.log"
    conf = directory / "auditd.conf"
    conf.write_text(_AUDITD_CONF.format(log=log_path, plugins=plugin_dir, q_depth=q_depth)
                    + extra_conf)
    os.chmod(conf, 0o640)
    write_plugins(plugin_dir, plugins)
    stderr = open(directory / "auditd.stderr", "wb")
    proc = None
    try:
        # -f: foreground (own messages to stderr), -n: no fork, -c: config dir.
        proc = subprocess.Popen([AUDITD, "-f", "-n", "-c", str(directory)],
                                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                start_new_session=True)
        handle = Auditd(directory, log_path, proc)

        def registered() -> bool:
            if proc.poll() is not None:
                return True
            return audit_status().get("pid") == str(proc.pid)

        if not wait_for(registered, timeout, 0.1) or proc.poll() is not None:
            pytest.fail(f"auditd did not start (exit {proc.poll()}):\n{handle.stderr_text()}")
        yield handle
    finally:
        restore_kernel_audit()
        if proc is not None:
            stop_process(proc, timeout=15)
        restore_kernel_audit()
        stderr.close()

#!/usr/bin/env python3
"""Record real compliance-relevant audit records on this machine, once, as test data:

    .venv/bin/python tests/data/records/capture_compliance.py   # root; writes compliance-capture.log

A private auditd (tests/harness/auditd.py: foreground, own config, stopped by
PID, kernel audit restored with `auditctl -D; auditctl -e 0`) runs with
conf/profiles/compliance.rules loaded while this script, from a child whose
login uid it sets (as pam_loginuid does at a login), plays an administrator:
creates an account and a group, sets a password, changes membership and
ageing, locks the account, `su`s to it, fails and then succeeds a console
login through login(1) in a pseudo-terminal, sets the kernel's timezone to
the value it already has (settimeofday with a null time: the clock is not
touched), reads the clock with adjtimex (glibc: clock_adjtime), is refused
clock_settime as the
new user, reads /etc/shadow as that user (EACCES), changes a file's mode,
turns loopback's promiscuous mode on and off, crashes a shell (SIGSEGV, no
core file), adds and removes an audit watch, changes the backlog limit and
restores it, locks and removes the account and the group, sends auditd
SIGHUP (reconfigure), removes the administrator account and stops auditd.
Every change is undone before it returns. auditd in the foreground writes
its records to stderr: they are kept as written, in order. Exec auditing is
limited to logged-in users (this session), so other jobs on the machine stay
out; the watches of the profile see anyone.
"""

from __future__ import annotations

import ctypes
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.auditd import auditctl, running_auditd  # noqa: E402

ADMIN, USER, GROUP = "aeqladm", "aeqlusr", "aeqlgrp"
OUTPUT = HERE / "compliance-capture.log"


def run(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=60,
                          **kw)


def in_pty(argv: list[str], script: list[tuple[str, str]], timeout: float = 20.0) -> str:
    """Run `argv` on a new pseudo-terminal; for each (prompt, answer), wait for the
    prompt and type the answer. Returns what the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: __import__("fcntl").ioctl(0, __import__("termios").TIOCSCTTY, 0))
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        for prompt, answer in script:
            while prompt.encode() not in seen:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{argv}: no {prompt!r} in {seen[-300:]!r}")
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        seen += os.read(master, 4096)
                    except OSError:
                        break
            seen = seen.split(prompt.encode(), 1)[1] if prompt.encode() in seen else seen
            os.write(master, answer.encode() + b"\n")
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass     # e.g. login(1) prompting again after a failure: hang up
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return seen.decode(errors="replace")


def as_login(uid: int) -> None:
    """What pam_loginuid does: set this process's login uid (a LOGIN record)."""
    with open("/proc/self/loginuid", "w") as f:
        f.write(str(uid))


def settimeofday_timezone_only() -> None:
    """settimeofday(NULL, tz) with the kernel's current timezone: no clock change."""
    class TimeZone(ctypes.Structure):
        _fields_ = [("minuteswest", ctypes.c_int), ("dsttime", ctypes.c_int)]

    class TimeVal(ctypes.Structure):
        _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long)]

    libc = ctypes.CDLL(None, use_errno=True)
    now, zone = TimeVal(), TimeZone()
    libc.gettimeofday(ctypes.byref(now), ctypes.byref(zone))
    if libc.settimeofday(None, ctypes.byref(zone)) != 0:
        raise OSError(ctypes.get_errno(), "settimeofday")


def read_clock_with_adjtimex() -> None:
    buf = ctypes.create_string_buffer(256)   # struct timex, modes = 0: read only
    libc = ctypes.CDLL(None, use_errno=True)
    libc.adjtimex(buf)


def administrator(admin_uid: int, work: Path, auditd_pid: int) -> None:
    as_login(admin_uid)
    run("useradd", "-m", "-s", "/bin/sh", USER)
    run("chpasswd", input=f"{USER}:Corr3ct-Horse\n")
    run("groupadd", GROUP)
    run("gpasswd", "-a", USER, GROUP)
    run("usermod", "-aG", GROUP, ADMIN)
    run("chage", "-M", "90", USER)
    run("su", USER, "-c", "id")
    in_pty(["login", USER], [("Password: ", "wrong-password"), ("login: ", "")], timeout=30)
    in_pty(["login", "-f", USER], [("$ ", "exit")], timeout=20)
    settimeofday_timezone_only()
    read_clock_with_adjtimex()
    clock = ("import ctypes,sys;b=(ctypes.c_long*2)(0,0);"
             "sys.exit(ctypes.CDLL(None).clock_settime(0,b))")
    run("setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", sys.executable, "-c",
        clock, check=False)
    run("setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "cat", "/etc/shadow",
        check=False)
    target = work / "report.txt"
    target.write_text("x\n")
    os.chmod(target, 0o600)
    run("ip", "link", "set", "lo", "promisc", "on")
    run("ip", "link", "set", "lo", "promisc", "off")
    run("sh", "-c", "ulimit -c 0; kill -SEGV $$", check=False)
    auditctl("-w", "/etc/hosts", "-p", "wa", "-k", "hosts")
    auditctl("-W", "/etc/hosts", "-p", "wa", "-k", "hosts")
    backlog = [line.split()[1] for line in auditctl("-s").splitlines()
               if line.startswith("backlog_limit")][0]
    auditctl("-b", "8192")
    auditctl("-b", backlog)
    run("usermod", "-L", USER)
    run("userdel", "-r", USER)
    run("groupdel", GROUP)
    os.kill(auditd_pid, signal.SIGHUP)
    time.sleep(1.5)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("capture_compliance.py: run as root")
    for name in (USER, ADMIN):
        if run("id", name, check=False).returncode == 0:
            sys.exit(f"capture_compliance.py: account {name} exists; remove it first")
    rules = [line for line in (ROOT / "conf" / "profiles" / "compliance.rules").read_text()
             .splitlines() if line.startswith(("-a", "-w"))]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        try:
            with running_auditd(work) as daemon:
                daemon_dir = daemon.log_path.parent
                auditctl("-e", "1")
                # Execs of logged-in users only: this script's session, not the
                # other jobs on the machine (their login uid is unset).
                auditctl("-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat",
                         "-F", "auid>=1000", "-F", "auid!=unset", "-k", "exec")
                for rule in rules:
                    auditctl(*rule.split())
                run("useradd", "-m", "-s", "/bin/sh", ADMIN)
                admin_uid = int(run("id", "-u", ADMIN).stdout)
                child = os.fork()
                if child == 0:
                    try:
                        administrator(admin_uid, work, daemon.proc.pid)
                        os._exit(0)
                    except BaseException as exc:   # noqa: BLE001 - report, exit non-zero
                        print(f"capture: {exc!r}", file=sys.stderr)
                        os._exit(1)
                _, status = os.waitpid(child, 0)
                run("userdel", "-r", ADMIN)
                time.sleep(1.0)
        finally:
            for name in (USER, ADMIN):
                run("userdel", "-r", name, check=False)
            run("groupdel", GROUP, check=False)
            run("ip", "link", "set", "lo", "promisc", "off", check=False)
        # auditd has stopped (DAEMON_END written). In the foreground it writes the
        # records to stderr (with its own messages, which are not records).
        text = (daemon_dir / "auditd.stderr").read_bytes()
        records = [line for line in text.splitlines(keepends=True)
                   if line.startswith((b"type=", b"node="))]
        OUTPUT.write_bytes(b"".join(records))
        if os.WEXITSTATUS(status) != 0:
            sys.exit("capture_compliance.py: the administrator's steps failed (see above)")
    print(f"wrote {OUTPUT} ({len(records)} records)")


if __name__ == "__main__":
    main()

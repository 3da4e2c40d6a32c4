"""Audit records in auditd's string format for a program start, as the
dispatcher hands them to a plugin: SYSCALL, EXECVE, CWD, PATH, PROCTITLE, EOE."""

from __future__ import annotations

from typing import List, Sequence


def encode_value(data: bytes) -> str:
    """auditd's rule: quoted when plain printable, else uppercase hex."""
    if not data or any(b <= 0x20 or b >= 0x7f or b == 0x22 for b in data):
        return data.hex().upper()
    return '"' + data.decode() + '"'


def exec_event(serial: int, argv: Sequence[bytes | str], exe: str, pid: int = 4000,
               ppid: int = 3999, sec: int = 1700000000, msec: int = 0, uid: int = 0,
               cwd: str = "/root", eoe: bool = True, euid: int | None = None,
               gid: int = 0, names: dict[int, str] | None = None) -> List[bytes]:
    """`names`: uid/gid -> name, written as auditd's ENRICHED format does."""
    args = [a.encode() if isinstance(a, str) else a for a in argv]
    head = f"msg=audit({sec}.{msec:03d}:{serial}):"
    comm = exe.rsplit("/", 1)[-1][:15]
    title = b"\0".join(args).hex().upper()
    euid = uid if euid is None else euid
    enriched = ""
    if names is not None:
        enriched = (f"\x1dARCH=x86_64 SYSCALL=execve AUID=\"{names[uid]}\" UID=\"{names[uid]}\" "
                    f"GID=\"{names[gid]}\" EUID=\"{names[euid]}\" SUID=\"{names[euid]}\" "
                    f"FSUID=\"{names[euid]}\" EGID=\"{names[gid]}\" SGID=\"{names[gid]}\" "
                    f"FSGID=\"{names[gid]}\"")
    lines = [
        f"type=SYSCALL {head} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 "
        f"a3=4 items=2 ppid={ppid} pid={pid} auid={uid} uid={uid} gid={gid} euid={euid} "
        f"suid={euid} fsuid={euid} egid={gid} sgid={gid} fsgid={gid} tty=pts0 ses=1 "
        f"comm=\"{comm}\" exe=\"{exe}\" key=\"exec\"{enriched}",
        f"type=EXECVE {head} argc={len(args)} "
        + " ".join(f"a{i}={encode_value(a)}" for i, a in enumerate(args)),
        f"type=CWD {head} cwd={encode_value(cwd.encode())}",
        f"type=PATH {head} item=0 name={encode_value(exe.encode())} inode=1 dev=fe:00 "
        f"mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
        f"cap_fver=0 cap_frootid=0",
        f"type=PROCTITLE {head} proctitle={title}",
    ]
    if eoe:
        lines.append(f"type=EOE {head} ")
    return [line.encode() + b"\n" for line in lines]


# The kernel writes at most this much argument text per EXECVE record, and
# cuts a longer argument into aN[i] pieces after an aN_len (kernel/auditsc.c,
# audit_log_execve_info: MAX_EXECVE_AUDIT_LEN).
EXECVE_RECORD_TEXT = 7500


def chunked_execve_bodies(argv: Sequence[bytes]) -> List[str]:
    """EXECVE record bodies of `argv` as the kernel splits a long one: short
    arguments whole, long ones as aN_len=L aN[0]=... aN[1]=... (hex when they
    hold bytes that need it), spread over records of at most about 7500
    characters."""
    bodies: List[str] = []
    current = f"argc={len(argv)}"
    for i, arg in enumerate(argv):
        if len(arg) * 2 + 16 <= EXECVE_RECORD_TEXT:
            items = [f" a{i}={encode_value(arg)}"]
        else:
            step = EXECVE_RECORD_TEXT // 2 - 32
            items = [(f" a{i}_len={len(arg)}" if j == 0 else "")
                     + f" a{i}[{j // step}]={encode_value(arg[j:j + step])}"
                     for j in range(0, len(arg), step)]
        for item in items:
            if len(current) + len(item) > EXECVE_RECORD_TEXT:
                bodies.append(current.lstrip())
                current = ""
            current += item
    bodies.append(current.lstrip())
    return bodies


def chunked_exec_event(serial: int, argv: Sequence[bytes | str], exe: str, pid: int,
                       ppid: int, sec: int = 1700000000) -> bytes:
    """A program start with a long argv, EXECVE records as the kernel writes them."""
    args = [a.encode() if isinstance(a, str) else a for a in argv]
    lines = exec_event(serial, args[:1], exe, pid=pid, ppid=ppid, sec=sec)
    head = f"type=EXECVE msg=audit({sec}.000:{serial}): "
    execve = [(head + body + "\n").encode() for body in chunked_execve_bodies(args)]
    # SYSCALL, the EXECVE records, CWD, PATH, a short PROCTITLE (the kernel
    # keeps 128 bytes of it), EOE.
    title = b"\0".join(args)[:128].hex().upper()
    proctitle = f"type=PROCTITLE msg=audit({sec}.000:{serial}): proctitle={title}\n".encode()
    return b"".join([lines[0], *execve, lines[2], lines[3], proctitle, lines[5]])
def syscall_event(serial: int, syscall: int, *aux: str, success: bool = True, exit: int = 0,
                  args: Sequence[str] = ("3", "0", "0", "0"), pid: int = 4000, ppid: int = 3999,
                  uid: int = 0, comm: str = "x", exe: str = "/usr/bin/x", key: str = "t",
                  arch: str = "c000003e", sec: int = 1700000000, msec: int = 0) -> List[bytes]:
    """A SYSCALL record (x86_64 numbers unless `arch` says otherwise) with the
    auxiliary record bodies `aux` ("CWD cwd=\\"/\\"", "PATH item=0 ...", ...) and EOE."""
    head = f"msg=audit({sec}.{msec:03d}:{serial}):"
    a0, a1, a2, a3 = args
    lines = [
        f"type=SYSCALL {head} arch={arch} syscall={syscall} "
        f"success={'yes' if success else 'no'} exit={exit} a0={a0} a1={a1} a2={a2} a3={a3} "
        f"items={sum(1 for a in aux if a.startswith('PATH'))} ppid={ppid} pid={pid} auid=1000 "
        f"uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} "
        f"fsgid={uid} tty=(none) ses=3 comm=\"{comm}\" exe=\"{exe}\" key=\"{key}\""]
    for record in aux:
        rtype, _sep, body = record.partition(" ")
        lines.append(f"type={rtype} {head} {body}")
    lines.append(f"type=EOE {head} ")
    return [line.encode() + b"\n" for line in lines]


def fork_event(serial: int, parent: int, child: int, ppid: int = 1, sec: int = 1700000000,
               msec: int = 0, uid: int = 0, exe: str = "/usr/bin/bash") -> List[bytes]:
    """A clone() by `parent` that returned `child` (x86_64 syscall 56)."""
    head = f"msg=audit({sec}.{msec:03d}:{serial}):"
    comm = exe.rsplit("/", 1)[-1][:15]
    lines = [
        f"type=SYSCALL {head} arch=c000003e syscall=56 success=yes exit={child} a0=1200011 "
        f"a1=0 a2=0 a3=7f00 items=0 ppid={ppid} pid={parent} auid={uid} uid={uid} gid=0 "
        f"euid={uid} suid={uid} fsuid={uid} egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 "
        f"comm=\"{comm}\" exe=\"{exe}\" key=\"fork\"",
        f"type=EOE {head} ",
    ]
    return [line.encode() + b"\n" for line in lines]


def call_event(serial: int, syscall: int, argv: Sequence[str], exe: str, pid: int, ppid: int,
               uid: int, euid: int | None = None, gid: int = 0, egid: int | None = None,
               args: Sequence[str] = ("0", "0", "0", "0"), returned: bool = True,
               exit: int = 0, sec: int = 1700000000, msec: int = 0, key: str = "process",
               tty: str = "pts0", auid: int | None = None) -> List[bytes]:
    """A call that touches no path, as auditd writes it: SYSCALL (ids as they
    are after the call) and PROCTITLE, no CWD. `returned` False: exit_group,
    which never returns, so its record has no success= and exit= (as in
    tests/data/records/profiles-capture.log)."""
    head = f"msg=audit({sec}.{msec:03d}:{serial}):"
    comm = exe.rsplit("/", 1)[-1][:15]
    euid = uid if euid is None else euid
    egid = gid if egid is None else egid
    result = f"success=yes exit={exit} " if returned else ""
    auid = uid if auid is None else auid
    a0, a1, a2, a3 = args
    title = "\0".join(argv).encode().hex().upper()
    lines = [
        f"type=SYSCALL {head} arch=c000003e syscall={syscall} {result}a0={a0} a1={a1} a2={a2} "
        f"a3={a3} items=0 ppid={ppid} pid={pid} auid={auid} uid={uid} gid={gid} euid={euid} "
        f"suid={euid} fsuid={euid} egid={egid} sgid={egid} fsgid={egid} tty={tty} ses=1 "
        f"comm=\"{comm}\" exe=\"{exe}\" key=\"{key}\"",
        f"type=PROCTITLE {head} proctitle={title}",
        f"type=EOE {head} ",
    ]
    return [line.encode() + b"\n" for line in lines]

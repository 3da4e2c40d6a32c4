#!/usr/bin/env python3
"""Write the audit logs that the rule-pack tests read, one pair per rule in rules/:

    <rule file stem>.hit.log    events the rule must alert on (and set-up events it must not)
    <rule file stem>.miss.log   near misses: similar events the rule must stay silent on

Rules over file or driver documents (written before audisp-eql built them) get
ECS documents shaped as Auditbeat writes them instead, `<stem>.hit.ndjson` /
`<stem>.miss.ndjson`, read with `scan --input ecs` semantics.

    python3 tests/data/rules/make_logs.py     # rewrites them, and examples/intrusion.log

The records are what auditd writes to its log for a successful execve on x86_64:
SYSCALL, EXECVE, CWD, PATH (the program, then the ELF interpreter), PROCTITLE
(no EOE: auditd only dispatches that one to plugins). Strings are encoded as
the kernel does (audit_log_untrustedstring): hex, upper case, without quotes
when a byte is '"', below 0x21 or above 0x7e; otherwise in double quotes.
PROCTITLE is argv joined by NUL, cut at 128 bytes.

`Records` events are written record by record as given (userspace messages,
CONFIG_CHANGE, DAEMON_*...): compliance_events.py builds them in the layouts
real programs write (each template names the real record it follows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

HERE = Path(__file__).resolve().parent
PROCTITLE_MAX = 128
START = 1717400000  # 2024-06-03T07:33:20Z


@dataclass
class Exec:
    argv: list[Union[str, bytes]]
    exe: Optional[str] = None  # the binary the kernel ran; default /usr/bin/<argv0>
    cwd: str = "/root"
    uid: int = 0
    auid: int = 1000
    pid: Optional[int] = None
    ppid: int = 1999  # the admin's login shell, started before the log begins
    comm: Optional[str] = None  # default: basename of the path passed to execve
    path: Optional[str] = None  # the path passed to execve; default exe
    alert: bool = True  # in a .hit.log: must this event alert? (False: set-up event)


@dataclass
class Records:
    """One event as (record type, body) pairs, bodies exactly as written after
    `msg=audit(...): ` (the header is added when rendered)."""
    records: list[tuple[str, str]]
    alert: bool = True


@dataclass
class Doc:
    """One ECS document (Auditbeat's shape), for rules over documents audisp-eql
    does not build from records yet."""
    doc: dict[str, Any] = field(default_factory=dict)
    alert: bool = True


Event = Union[Exec, Records]


def sh(command: str, **kw) -> Exec:
    """`sh -c COMMAND`: Debian's sh is dash."""
    kw.setdefault("exe", "/usr/bin/dash")
    kw.setdefault("path", "/bin/sh")
    return Exec(["sh", "-c", command], **kw)


def bash(command: str, **kw) -> Exec:
    kw.setdefault("exe", "/usr/bin/bash")
    return Exec(["bash", "-c", command], **kw)


def script(shebang: str, path: str, args: list[str], exe: str, **kw) -> Exec:
    """A #! script: argv becomes the #! interpreter + the script path; comm is the script's name."""
    kw.setdefault("comm", path.rsplit("/", 1)[-1])
    return Exec([shebang, path] + args, exe=exe, path=path, **kw)


def _enc(value: Union[str, bytes]) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if any(b == 0x22 or b < 0x21 or b > 0x7E for b in raw):
        return raw.hex().upper()
    return '"' + raw.decode("ascii") + '"'


def render(events: list[Event], start: int) -> bytes:
    out: list[str] = []
    next_pid = 4000
    for i, ev in enumerate(events):
        if isinstance(ev, Records):
            ms = start * 1000 + i * 137
            hdr = "msg=audit(%d.%03d:%d):" % (ms // 1000, ms % 1000, 7100 + i * 9)
            out.extend(f"type={rtype} {hdr} {body}" for rtype, body in ev.records)
            continue
        argv0 = ev.argv[0] if isinstance(ev.argv[0], str) else ev.argv[0].decode()
        exe = ev.exe or (argv0 if argv0.startswith("/") else "/usr/bin/" + argv0)
        path = ev.path or exe
        comm = (ev.comm or path.rsplit("/", 1)[-1])[:15]
        pid = ev.pid if ev.pid is not None else next_pid
        next_pid = max(next_pid, pid) + 3
        ms = start * 1000 + i * 137
        hdr = "msg=audit(%d.%03d:%d):" % (ms // 1000, ms % 1000, 7100 + i * 9)
        ses = 4294967295 if ev.auid == 4294967295 else 3
        tty = "(none)" if ev.auid == 4294967295 else "pts0"
        out.append(
            f"type=SYSCALL {hdr} arch=c000003e syscall=59 success=yes exit=0 a0=55d1c3a0e2f0 "
            f"a1=55d1c3a0e350 a2=55d1c3a0e3a8 a3=8 items=2 ppid={ev.ppid} pid={pid} auid={ev.auid} "
            f"uid={ev.uid} gid={ev.uid} euid={ev.uid} suid={ev.uid} fsuid={ev.uid} egid={ev.uid} "
            f"sgid={ev.uid} fsgid={ev.uid} tty={tty} ses={ses} comm={_enc(comm)} exe={_enc(exe)} "
            f'subj=unconfined key="exec"')
        out.append(f"type=EXECVE {hdr} argc={len(ev.argv)} "
                   + " ".join(f"a{n}={_enc(a)}" for n, a in enumerate(ev.argv)))
        out.append(f"type=CWD {hdr} cwd={_enc(ev.cwd)}")
        for item, name, inode in ((0, path, 1310000 + i), (1, "/lib64/ld-linux-x86-64.so.2", 1049230)):
            out.append(f"type=PATH {hdr} item={item} name={_enc(name)} inode={inode} dev=fe:01 "
                       "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 "
                       "cap_fe=0 cap_fver=0 cap_frootid=0")
        argv_bytes = [a.encode() if isinstance(a, str) else a for a in ev.argv]
        title = b"\0".join(argv_bytes)[:PROCTITLE_MAX]
        out.append(f"type=PROCTITLE {hdr} proctitle={_enc(title)}")
    return ("\n".join(out) + "\n").encode()


def render_documents(stem: str, docs: list[Doc], start: int) -> bytes:
    """One JSON document per line; event.id and @timestamp numbered like records."""
    lines = []
    for i, item in enumerate(docs):
        doc = json.loads(json.dumps(item.doc))
        ms = start * 1000 + i * 137
        doc.setdefault("event", {})["id"] = "%d.%03d:%d" % (ms // 1000, ms % 1000, 7100 + i * 9)
        doc["@timestamp"] = _iso(ms)
        lines.append(json.dumps(doc, sort_keys=True))
    return ("\n".join(lines) + "\n").encode()


def _iso(ms: int) -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def all_events() -> dict[str, tuple[list, list]]:
    """Every rule's events, in the order their logs are numbered (the exec rules'
    first, as they always were, so that their logs do not change)."""
    from compliance_events import DOCUMENTS, RECORDS
    from rule_events import EVENTS
    out: dict[str, tuple[list, list]] = {}
    for group in (EVENTS, RECORDS, DOCUMENTS):
        out.update(sorted(group.items()))
    return out


def expected_alerts(stem: str) -> list[int]:
    """Indexes of the events of <stem>.hit.* that must alert."""
    return [i for i, ev in enumerate(all_events()[stem][0]) if ev.alert]


def suffix(stem: str) -> str:
    """"log" for audit records, "ndjson" for ECS documents."""
    hits = all_events()[stem][0]
    return "ndjson" if hits and isinstance(hits[0], Doc) else "log"


def logs() -> dict[str, bytes]:
    """File name -> content, for every log this script writes."""
    files: dict[str, bytes] = {}
    for n, (stem, (hits, misses)) in enumerate(all_events().items()):
        if suffix(stem) == "ndjson":
            files[f"{stem}.hit.ndjson"] = render_documents(stem, hits, START + n * 1000)
            files[f"{stem}.miss.ndjson"] = render_documents(stem, misses, START + n * 1000 + 500)
            continue
        files[f"{stem}.hit.log"] = render(hits, START + n * 1000)
        files[f"{stem}.miss.log"] = render(misses, START + n * 1000 + 500)
    return files


def intrusion_log() -> bytes:
    """examples/intrusion.log, the log `make demo` scans."""
    from intrusion import INTRUSION
    return render(INTRUSION, START + 86400)


def main() -> None:
    for name, content in logs().items():
        (HERE / name).write_bytes(content)
    (HERE.parent.parent.parent / "examples" / "intrusion.log").write_bytes(intrusion_log())


if __name__ == "__main__":
    # The event modules import this file as `make_logs`: use that module's
    # classes (not __main__'s), or isinstance() would not recognise them.
    import make_logs
    make_logs.main()

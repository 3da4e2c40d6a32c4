"""The audit rule profiles of conf/profiles/ for tests, and a login uid that
tells this session's events from the rest of the machine's.

A child started with `preexec_fn=keep_login_uid` gets LOGIN_UID as its audit
login uid (as pam_loginuid sets one at a login); every process it starts
inherits it, so `events_of_login_uid` keeps exactly the events of what the
test ran, whatever else the machine does meanwhile.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PROFILES = ROOT / "conf" / "profiles"
PROFILE_NAMES = ("exec", "files", "network", "modules", "process")
LOGIN_UID = 3141592          # no real user has it; below 4294967295 (unset)

_ID = re.compile(r"msg=audit\(([0-9.]+:[0-9]+)\)")
# The login uid of a SYSCALL record (the kernel's layout: `... pid=N auid=N uid=N ...`).
_AUID = re.compile(r" pid=[0-9]+ auid=([0-9]+) ")


def profile_rules(names: list[str] | tuple[str, ...] = PROFILE_NAMES) -> list[str]:
    """The rule lines (comments and blank lines left out) of the named profiles."""
    lines: list[str] = []
    for name in names:
        for line in (PROFILES / f"{name}.rules").read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def keep_login_uid() -> None:
    """preexec_fn: this child and its descendants carry LOGIN_UID as auid."""
    with open("/proc/self/loginuid", "w") as f:
        f.write(str(LOGIN_UID))


def records_written(directory: Path) -> str:
    """The audit records a foreground test auditd wrote (to its stderr: `auditd -f`
    writes events there instead of its log file), its own messages left out."""
    try:
        text = (directory / "auditd.stderr").read_text(errors="replace")
    except OSError:
        return ""
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.startswith(("type=", "node=")))


def events_of_login_uid(text: str, login_uid: int = LOGIN_UID) -> str:
    """The records (whole events, in log order) of the syscall events of
    processes whose login uid is `login_uid`."""
    ours: set[str] = set()
    for line in text.splitlines():
        if not line.startswith(("type=SYSCALL ", "node=")) or "type=SYSCALL " not in line:
            continue
        found = _AUID.search(line.split("\x1d", 1)[0])
        if found and found.group(1) == str(login_uid):
            event = _ID.search(line)
            if event:
                ours.add(event.group(1))
    kept = [line for line in text.splitlines()
            if (m := _ID.search(line)) is not None and m.group(1) in ours]
    return "\n".join(kept) + ("\n" if kept else "")

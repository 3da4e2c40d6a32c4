"""Drop root after the outputs are open.

auditd starts plugins as root. Once the alert file and sockets are open the
plugin needs no privilege to read stdin (an inherited descriptor) or to write
to what it opened, so it can become an ordinary user. What this costs, and the
manual page says: a SIGHUP reload then cannot reopen a root-only alert file or
rules readable by root alone, and `/proc/PID/exe` of other users' processes
(parent enrichment) is no longer readable; `cmdline` and `status` still are.
"""

from __future__ import annotations

import grp
import os
import pwd


class PrivilegeError(Exception):
    pass


def drop_privileges(user: str) -> tuple[int, int]:
    """Become `user` (name or numeric uid) with its primary group and no
    supplementary groups; return (uid, gid). Raise PrivilegeError if that
    fails or if root could be regained."""
    try:
        entry = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
    except KeyError:
        raise PrivilegeError(f"no such user: {user!r}") from None
    uid, gid = entry.pw_uid, entry.pw_gid
    if os.geteuid() != 0:
        if os.geteuid() == uid:
            return uid, gid
        raise PrivilegeError(f"cannot switch to {user!r}: not running as root")
    try:
        # Order matters: groups first, uid last (after setuid we could not change them).
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise PrivilegeError(f"cannot switch to {user!r}: {exc.strerror}") from None
    if uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise PrivilegeError("root privileges could be regained after dropping them")
    return uid, gid


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)

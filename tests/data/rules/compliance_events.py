"""The events of the compliance rules' test logs: (must alert, near misses), by rule stem.

`RECORDS`: userspace and audit-trail records in the layouts real programs
write; each helper names the real record it follows (deb = the Debian 12
capture in ../shared/logs/debian12-auditd/, cap = tests/data/records/
compliance-capture.log, rhel7 / u1610 = go-libaudit's test logs in
../shared/logs/go-libaudit/). Values (names, pids, addresses) vary.

`DOCUMENTS`: ECS documents as Auditbeat writes them for file and driver
events, for the rules over those categories (audisp-eql builds no file or
driver documents yet; they run on `scan --input ecs` input today).
"""

from __future__ import annotations

from typing import Optional

from make_logs import Doc, Exec, Records

ENR = "\x1d"
UNSET = 4294967295


def _names(uid: int, auid: int) -> str:
    def name(n: int) -> str:
        return {0: "root", 1000: "alice", 1001: "bob", UNSET: "unset"}.get(n, f"unknown({n})")
    return f'{ENR}UID="{name(uid)}" AUID="{name(auid)}"'


def user(rtype: str, msg: str, pid: int = 4321, uid: int = 0, auid: int = 1000, ses: int = 3,
         enriched: bool = True) -> Records:
    """A userspace record: `pid= uid= auid= ses= msg='...'` (deb:530, rhel7:34)."""
    ses_value = UNSET if auid == UNSET else ses
    body = f"pid={pid} uid={uid} auid={auid} ses={ses_value} msg='{msg}'"
    return Records([(rtype, body + (_names(uid, auid) if enriched else ""))])


def pam(rtype: str, op: str, acct: str, exe: str, res: str = "success", grantors: str = "pam_unix",
        host: Optional[str] = None, terminal: str = "?", **kw) -> Records:
    """PAM's record (deb:530, deb:744): op=PAM:... grantors= acct= exe= hostname= addr= terminal= res=."""
    addr = host or "?"
    if res == "failed":
        grantors = "?"
    return user(rtype, f'op={op} grantors={grantors} acct="{acct}" exe="{exe}" hostname={addr} '
                       f'addr={addr} terminal={terminal} res={res}', **kw)


def login(acct: str, exe: str, res: str, addr: str = "?", terminal: str = "sshd",
          ident: Optional[int] = None, **kw) -> Records:
    """USER_LOGIN: failure with acct= (deb:745, hex for an unknown user: u1610), success
    with id= from sshd (u1610) or acct= from login(1) (cap)."""
    who = f"id={ident}" if ident is not None else f"acct={acct}"
    return user("USER_LOGIN", f'op=login {who} exe="{exe}" hostname=? addr={addr} '
                              f'terminal={terminal} res={res}', **kw)


def shadow(rtype: str, op: str, who: str, exe: str, res: str = "success", **kw) -> Records:
    """shadow-utils (deb:111-1521, cap): op=... id=N|acct="name" exe= hostname=? addr=? terminal=?"""
    return user(rtype, f'op={op} {who} exe="{exe}" hostname=? addr=? terminal=? res={res}', **kw)


def sudo_cmd(cmd: str, res: str, uid: int = 1000, cwd: str = "/home/alice",
             terminal: str = "pts/0") -> Records:
    """sudo's USER_CMD (deb:588, deb:635; hex cmd: rhel7:34)."""
    encoded = f'"{cmd}"' if " " not in cmd else cmd.encode().hex().upper()
    return user("USER_CMD", f'cwd="{cwd}" cmd={encoded} exe="/usr/bin/sudo" terminal={terminal} '
                            f'res={res}', uid=uid, auid=uid)


def _syscall(number: int, comm: str, exe: str, success: str = "yes", exit_code: int = 0,
             a0: str = "3", auid: int = 1000, uid: int = 0, key: str = "(null)") -> tuple[str, str]:
    """A SYSCALL record in the kernel's layout (deb:5)."""
    ses = UNSET if auid == UNSET else 3
    return ("SYSCALL",
            f"arch=c000003e syscall={number} success={success} exit={exit_code} a0={a0} "
            f"a1=7ffd3a1c2b40 a2=0 a3=0 items=0 ppid=4100 pid=4242 auid={auid} uid={uid} gid=0 "
            f"euid={uid} suid={uid} fsuid={uid} egid=0 sgid=0 fsgid=0 tty=pts0 ses={ses} "
            f'comm="{comm}" exe="{exe}" key={key}')


def _proctitle(argv: str) -> tuple[str, str]:
    return ("PROCTITLE", "proctitle=" + argv.replace(" ", "\0").encode().hex().upper())


def config_change(body: str, with_syscall: bool = True) -> Records:
    """CONFIG_CHANGE, with the auditctl SYSCALL (sendto) and PROCTITLE (deb:4-6), or alone
    (rhel7:4, u1610)."""
    records = [("CONFIG_CHANGE", body)]
    if with_syscall:
        records += [_syscall(44, "auditctl", "/usr/sbin/auditctl", exit_code=1060),
                    _proctitle("auditctl -D")]
    return Records(records)


def daemon(rtype: str, body: str) -> Records:
    """auditd's own records (deb:1, deb:1364, deb:1668; 2.x: rhel7:12-14)."""
    return Records([(rtype, body)])


def systemd(rtype: str, msg: str) -> Records:
    """systemd's records (rhel7:20, 21, 29, 30)."""
    return user(rtype, msg, pid=1, uid=0, auid=UNSET, enriched=False)


def time_call(number: int, comm: str, exe: str, extra: Optional[list] = None,
              success: str = "yes", a0: str = "0") -> Records:
    """A time syscall with key time-change (cap: settimeofday, clock_adjtime,
    clock_settime EPERM); TIME_INJOFFSET / TIME_ADJNTPVAL come first (kernel layout)."""
    records = list(extra or [])
    records += [_syscall(number, comm, exe, success=success, exit_code=0 if success == "yes" else -1,
                         a0=a0, key='"time-change"'), _proctitle(comm)]
    return Records(records)


SSHD, LOGIN, SU, SUDO = "/usr/sbin/sshd", "/usr/bin/login", "/usr/bin/su", "/usr/bin/sudo"

RECORDS: dict[str, tuple[list, list]] = {
    "initial_access_successful_login": (
        [login("", SSHD, "success", addr="198.51.100.20", terminal="/dev/pts/1", ident=1000,
               auid=1000),
         login('"alice"', LOGIN, "success", terminal="/dev/tty1")],
        [login('"alice"', SSHD, "failed", addr="198.51.100.20"),
         pam("USER_START", "PAM:session_open", "alice", SSHD, host="198.51.100.20", terminal="ssh"),
         user("USER_LOGOUT", 'op=login id=1000 exe="/usr/sbin/sshd" hostname=? addr=? '
                             'terminal=/dev/pts/1 res=success')],
    ),
    "initial_access_login_session_opened": (
        [pam("USER_START", "PAM:session_open", "alice", SSHD, host="198.51.100.20", terminal="ssh"),
         pam("USER_START", "PAM:session_open", "bob", LOGIN, terminal="/dev/tty2")],
        [pam("USER_START", "PAM:session_open", "root", SU),
         pam("USER_START", "PAM:session_open", "alice", SSHD, res="failed", host="198.51.100.20",
             terminal="ssh"),
         pam("USER_END", "PAM:session_close", "alice", SSHD, host="198.51.100.20", terminal="ssh")],
    ),
    "credential_access_failed_login": (
        [login("28696E76616C6964207573657229", SSHD, "failed", addr="203.0.113.9", auid=UNSET),
         login('"alice"', LOGIN, "failed", terminal="/dev/pts/0")],
        [login('"alice"', LOGIN, "success", terminal="/dev/pts/0"),
         pam("USER_AUTH", "PAM:authentication", "alice", SSHD, res="failed", host="203.0.113.9",
             terminal="ssh", auid=UNSET)],
    ),
    "credential_access_failed_authentication": (
        [pam("USER_AUTH", "PAM:authentication", "root", SSHD, res="failed", host="203.0.113.9",
             terminal="ssh", auid=UNSET),
         pam("USER_AUTH", "PAM:authentication", "root", SU, res="failed", uid=1000,
             terminal="pts/0")],
        [pam("USER_AUTH", "PAM:authentication", "alice", SSHD, host="198.51.100.20",
             terminal="ssh", auid=UNSET),
         login('"root"', SSHD, "failed", addr="203.0.113.9", auid=UNSET)],
    ),
    "credential_access_account_access_refused": (
        [pam("USER_ACCT", "PAM:accounting", "carol", SSHD, res="failed", host="203.0.113.9",
             terminal="ssh", auid=UNSET),
         user("USER_ERR", 'op=PAM:bad_ident grantors=? acct="?" exe="/usr/bin/sudo" hostname=? '
                          'addr=? terminal=? res=failed', uid=1001, auid=1001)],
        [pam("USER_ACCT", "PAM:accounting", "alice", SSHD, grantors="pam_permit",
             host="198.51.100.20", terminal="ssh", auid=UNSET),
         shadow("USER_ACCT", "user bob added by root to group staff", 'acct="staff"',
                "/usr/bin/gpasswd")],
    ),
    "credential_access_login_failure_limit": (
        [user("ANOM_LOGIN_FAILURES", 'op=pam_faillock suid=1001 exe="/usr/sbin/sshd" '
                                     'hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success',
              auid=UNSET),
         shadow("ACCT_LOCK", "locking-account", "id=1001", "/usr/sbin/usermod")],
        [login('"bob"', SSHD, "failed", addr="203.0.113.9", auid=UNSET),
         shadow("ACCT_UNLOCK", "unlocking-account", "id=1001", "/usr/sbin/usermod")],
    ),
    "privilege_escalation_sudo_command": (
        [sudo_cmd("/usr/bin/id", "success"),
         sudo_cmd("systemctl restart nginx", "success", uid=1001, cwd="/home/bob")],
        [sudo_cmd("/usr/bin/id", "failed", uid=1001, cwd="/home/bob"),
         pam("USER_START", "PAM:session_open", "root", SUDO, uid=1000)],
    ),
    "privilege_escalation_sudo_command_refused": (
        [sudo_cmd("/usr/bin/cat /etc/shadow", "failed", uid=1001, cwd="/home/bob")],
        [sudo_cmd("/usr/bin/id", "success"),
         user("USER_ERR", 'op=PAM:bad_ident grantors=? acct="?" exe="/usr/bin/sudo" hostname=? '
                          'addr=? terminal=? res=failed', uid=1001, auid=1001)],
    ),
    "privilege_escalation_user_switch_session": (
        [pam("USER_START", "PAM:session_open", "root", SU, uid=1000, terminal="pts/0"),
         pam("USER_START", "PAM:session_open", "root", SUDO, uid=1000, grantors="pam_limits")],
        [pam("USER_START", "PAM:session_open", "alice", SSHD, host="198.51.100.20", terminal="ssh"),
         pam("USER_END", "PAM:session_close", "root", SU, uid=1000),
         pam("USER_START", "PAM:session_open", "root", SU, res="failed", uid=1000)],
    ),
    "persistence_user_account_created": (
        [shadow("ADD_USER", "adding user", "id=1002", "/usr/sbin/useradd"),
         shadow("ADD_USER", "adding home directory", "id=1002", "/usr/sbin/useradd"),
         shadow("ADD_USER", "add-user", "id=1003", "/usr/sbin/useradd")],
        [shadow("ADD_USER", "adding user", "id=1002", "/usr/sbin/useradd", res="failed"),
         shadow("ADD_GROUP", "adding group", 'acct="svc"', "/usr/sbin/useradd")],
    ),
    "impact_user_account_deleted": (
        [shadow("DEL_USER", "deleting user entries", "id=1002", "/usr/sbin/userdel"),
         shadow("DEL_USER", "deleting home directory", "id=1002", "/usr/sbin/userdel")],
        [shadow("DEL_GROUP", "deleting group", 'acct="svc"', "/usr/sbin/userdel"),
         shadow("ADD_USER", "adding user", "id=1002", "/usr/sbin/useradd")],
    ),
    "persistence_group_created_or_deleted": (
        [shadow("ADD_GROUP", "adding group to /etc/group", "id=1003", "/usr/sbin/groupadd"),
         shadow("DEL_GROUP", "removing group from /etc/group", "id=1003", "/usr/sbin/groupdel"),
         shadow("DEL_GROUP", "deleting shadow group", 'acct="svc"', "/usr/sbin/userdel")],
        [shadow("ADD_GROUP", "adding group to /etc/group", "id=1003", "/usr/sbin/groupadd",
                res="failed"),
         shadow("GRP_MGMT", "add-shadow-group", "id=1003", "/usr/sbin/groupadd"),
         shadow("ADD_USER", "adding user", "id=1002", "/usr/sbin/useradd")],
    ),
    "persistence_password_or_credentials_changed": (
        [pam("USER_CHAUTHTOK", "PAM:chauthtok", "bob", "/usr/sbin/chpasswd", grantors="pam_permit"),
         pam("USER_CHAUTHTOK", "PAM:chauthtok", "bob", "/usr/bin/passwd", res="failed",
             terminal="pts/0", uid=1001, auid=1001),
         shadow("USER_CHAUTHTOK", "change max age", "id=1001", "/usr/bin/chage")],
        [shadow("USER_MGMT", "add-home-dir", "id=1001", "/usr/sbin/useradd"),
         pam("USER_AUTH", "PAM:authentication", "bob", "/usr/bin/passwd", uid=1001, auid=1001)],
    ),
    "persistence_account_or_group_modified": (
        [shadow("USER_MGMT", "add-home-dir", "id=1001", "/usr/sbin/useradd"),
         shadow("GRP_MGMT", "add-shadow-group", "id=1003", "/usr/sbin/groupadd"),
         shadow("USER_ACCT", "user bob added by root to group staff", 'acct="staff"',
                "/usr/bin/gpasswd")],
        [pam("USER_ACCT", "PAM:accounting", "bob", SU),
         pam("USER_CHAUTHTOK", "PAM:chauthtok", "bob", "/usr/sbin/chpasswd", grantors="pam_permit")],
    ),
    "defense_evasion_audit_rule_added": (
        [config_change('auid=1000 ses=3 op=add_rule key="identity" list=4 res=1'),
         config_change('auid=1000 ses=3 op="updated_rules" path="/etc/gshadow" key="auth" list=4 '
                       'res=1', with_syscall=False)],
        [config_change('auid=1000 ses=3 op=remove_rule key="identity" list=4 res=1'),
         config_change('op=set audit_backlog_limit=8192 old=64 auid=1000 ses=3 res=1')],
    ),
    "defense_evasion_audit_rule_removed": (
        [config_change('auid=1000 ses=3 op=remove_rule key="exec" list=4 res=1'),
         config_change('auid=1000 ses=3 op="remove_rule" key="key=container-create" list=4 res=1',
                       with_syscall=False)],
        [config_change('auid=1000 ses=3 op=add_rule key="exec" list=4 res=1')],
    ),
    "defense_evasion_audit_settings_changed": (
        [config_change('op=set audit_backlog_limit=8192 old=64 auid=1000 ses=3 res=1'),
         config_change('op=set audit_failure=0 old=1 auid=1000 ses=3 res=1'),
         config_change('op=set audit_enabled=2 old=1 auid=1000 ses=3 res=1')],
        [config_change('op=set audit_pid=2561 old=0 auid=4294967295 ses=4294967295 res=1'),
         config_change('op=set audit_enabled=0 old=1 auid=1000 ses=3 res=1'),
         config_change('auid=1000 ses=3 op=add_rule key="exec" list=4 res=1')],
    ),
    "defense_evasion_auditing_disabled": (
        [config_change('op=set audit_enabled=0 old=1 auid=1000 ses=3 res=1')],
        [config_change('op=set audit_enabled=1 old=0 auid=1000 ses=3 res=1'),
         config_change('op=set audit_enabled=2 old=1 auid=1000 ses=3 res=1')],
    ),
    "defense_evasion_audit_daemon_reconfigured": (
        [daemon("DAEMON_CONFIG", "op=reconfigure state=changed auid=1000 pid=2561 subj=? "
                                 "res=success"),
         daemon("DAEMON_CONFIG", "config changed, auid=0 pid=1512 subj=system_u:system_r:"
                                 "unconfined_service_t:s0 res=success")],
        [daemon("DAEMON_START", "op=start ver=3.0.9 format=enriched kernel=6.1.0-28-amd64 "
                                "auid=4294967295 pid=2561 uid=0 ses=4294967295 res=success")],
    ),
    "defense_evasion_audit_daemon_stopped": (
        [daemon("DAEMON_END", "op=terminate auid=1000 uid=0 ses=3 pid=4242 res=success"),
         daemon("DAEMON_ABORT", "op=error-halt auid=4294967295 pid=2561 res=failed")],
        [daemon("DAEMON_START", "op=start ver=3.0.9 format=enriched kernel=6.1.0-28-amd64 "
                                "auid=4294967295 pid=2561 uid=0 ses=4294967295 res=success"),
         systemd("SERVICE_STOP", 'unit=auditd comm="systemd" exe="/usr/lib/systemd/systemd" '
                                 'hostname=? addr=? terminal=? res=success')],
    ),
    "defense_evasion_audit_daemon_started": (
        [daemon("DAEMON_START", "op=start ver=3.0.9 format=enriched kernel=6.1.0-28-amd64 "
                                "auid=4294967295 pid=2561 uid=0 ses=4294967295 res=success"),
         daemon("DAEMON_START", "auditd start, ver=2.4.1 format=raw kernel=3.10.0-327.el7.x86_64 "
                                "auid=4294967295 pid=251 subj=system_u:system_r:auditd_t:s0 "
                                "res=success"),
         daemon("DAEMON_RESUME", "op=resume-logging auid=0 pid=4242 res=success"),
         daemon("DAEMON_ROTATE", "op=rotate-logs auid=1000 uid=0 ses=3 pid=4242 res=success")],
        [daemon("DAEMON_END", "op=terminate auid=0 uid=0 ses=4294967295 pid=4242 res=success")],
    ),
    "defense_evasion_security_service_stopped": (
        [systemd("SERVICE_STOP", 'unit=auditd comm="systemd" exe="/usr/lib/systemd/systemd" '
                                 'hostname=? addr=? terminal=? res=success'),
         systemd("SERVICE_STOP", 'unit=chrony comm="systemd" exe="/usr/lib/systemd/systemd" '
                                 'hostname=? addr=? terminal=? res=success')],
        [systemd("SERVICE_STOP", 'unit=irqbalance comm="systemd" exe="/usr/lib/systemd/systemd" '
                                 'hostname=? addr=? terminal=? res=success'),
         systemd("SERVICE_START", 'unit=auditd comm="systemd" exe="/usr/lib/systemd/systemd" '
                                  'hostname=? addr=? terminal=? res=success')],
    ),
    "impact_system_boot_or_shutdown": (
        [systemd("SYSTEM_BOOT", ' comm="systemd-update-utmp" exe="/usr/lib/systemd/'
                                'systemd-update-utmp" hostname=? addr=? terminal=? res=success'),
         systemd("SYSTEM_RUNLEVEL", 'old-level=N new-level=3 comm="systemd-update-utmp" '
                                    'exe="/usr/lib/systemd/systemd-update-utmp" hostname=? addr=? '
                                    'terminal=? res=success'),
         systemd("SYSTEM_SHUTDOWN", ' comm="systemd-update-utmp" exe="/usr/lib/systemd/'
                                    'systemd-update-utmp" hostname=? addr=? terminal=? res=success')],
        [systemd("SERVICE_START", 'unit=systemd-update-utmp comm="systemd" '
                                  'exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? '
                                  'res=success')],
    ),
    "defense_evasion_system_time_changed": (
        [time_call(164, "date", "/usr/bin/date", a0="7ffe5e0c6a10"),
         time_call(227, "python3", "/usr/bin/python3.11"),
         time_call(159, "ntpdate", "/usr/sbin/ntpdate", a0="7ffc1b2a0f70",
                   extra=[("TIME_INJOFFSET", "sec=-3 nsec=120000000")]),
         user("USYS_CONFIG", 'changing system time exe="/usr/sbin/hwclock" hostname=? addr=? '
                             'terminal=? res=success', auid=UNSET)],
        [time_call(305, "python3", "/usr/bin/python3.11"),
         time_call(227, "python3", "/usr/bin/python3.11", success="no"),
         time_call(159, "chronyd", "/usr/sbin/chronyd", a0="7ffc1b2a0f70",
                   extra=[("TIME_ADJNTPVAL", "op=freq old=-1269780 new=-1269350")])],
    ),
    "impact_program_crashed": (
        [Records([("ANOM_ABEND", 'auid=1000 uid=0 gid=0 ses=3 pid=4511 comm="sh" '
                                 'exe="/usr/bin/dash" sig=11 res=1' + _names(0, 1000))])],
        [Records([("ANOM_PROMISCUOUS", "dev=eth0 prom=256 old_prom=0 auid=1000 uid=0 gid=0 ses=3"),
                  _syscall(46, "ip", "/usr/sbin/ip", exit_code=32)])],
    ),
    "credential_access_promiscuous_mode": (
        [Records([("ANOM_PROMISCUOUS", "dev=eth0 prom=256 old_prom=0 auid=1000 uid=0 gid=0 ses=3"),
                  _syscall(46, "ip", "/usr/sbin/ip", exit_code=32), _proctitle("ip link set eth0 promisc on")]),
         Records([("ANOM_PROMISCUOUS", "dev=ens4 prom=256 old_prom=0 auid=1001 uid=0 gid=0 ses=1")])],
        [Records([("ANOM_PROMISCUOUS", "dev=eth0 prom=0 old_prom=256 auid=1000 uid=0 gid=0 ses=3"),
                  _syscall(46, "ip", "/usr/sbin/ip", exit_code=32)])],
    ),
    "privilege_escalation_protected_link_blocked": (
        [Records([("ANOM_LINK", "op=follow_link ppid=4100 pid=4242 auid=1001 uid=1001 gid=1001 "
                                "euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 "
                                'tty=pts1 ses=4 comm="cat" exe="/usr/bin/cat" res=0'),
                  _syscall(257, "cat", "/usr/bin/cat", success="no", exit_code=-13, auid=1001,
                           uid=1001)]),
         Records([("ANOM_CREAT", "op=create ppid=4100 pid=4243 auid=1001 uid=1001 gid=1001 "
                                 "euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 "
                                 'tty=pts1 ses=4 comm="sh" exe="/usr/bin/dash" res=0'),
                  _syscall(257, "sh", "/usr/bin/dash", success="no", exit_code=-13, auid=1001,
                           uid=1001)])],
        [Records([("ANOM_ABEND", 'auid=1000 uid=0 gid=0 ses=3 pid=4511 comm="sh" '
                                 'exe="/usr/bin/dash" sig=11 res=1')])],
    ),
    "discovery_audit_log_tool_run": (
        [Exec(["ausearch", "-m", "USER_LOGIN", "-i"], exe="/usr/sbin/ausearch"),
         Exec(["aureport", "--login", "--summary"], exe="/usr/sbin/aureport")],
        [Exec(["auditctl", "-l"], exe="/usr/sbin/auditctl"),
         Exec(["less", "/var/log/syslog"])],
    ),
}


def _file(action: str, path: str, types: list, syscall: str, outcome: str = "success",
          exit_code: Optional[str] = None, process: str = "chmod", tags: Optional[list] = None,
          uid: str = "1000") -> Doc:
    """A file event as Auditbeat's auditd module writes it (go-libaudit normalizations)."""
    data = {"syscall": syscall}
    if exit_code is not None:
        data["exit"] = exit_code
    doc = {"event": {"kind": "event", "category": ["file"], "type": types, "action": action,
                     "outcome": outcome, "module": "auditd"},
           "host": {"os": {"type": "linux"}, "name": "web1"},
           "file": {"path": path},
           "process": {"pid": 4242, "name": process, "executable": f"/usr/bin/{process}"},
           "user": {"id": uid, "audit": {"id": "1000"}},
           "auditd": {"data": data, "result": "success" if outcome == "success" else "fail"}}
    if tags:
        doc["tags"] = tags
    return Doc(doc)


def _driver(action: str, syscall: str, name: str) -> Doc:
    return Doc({"event": {"kind": "event", "category": ["driver"], "type": ["start"],
                          "action": action, "outcome": "success", "module": "auditd"},
                "host": {"os": {"type": "linux"}, "name": "web1"},
                "process": {"pid": 4242, "name": "modprobe", "executable": "/usr/bin/kmod"},
                "user": {"id": "0", "audit": {"id": "1000"}},
                "auditd": {"data": {"syscall": syscall, "name": name}}})


DOCUMENTS: dict[str, tuple[list, list]] = {
    "persistence_kernel_module_loaded_syscall": (
        [_driver("loaded-kernel-module", "finit_module", "nf_tables"),
         _driver("unloaded-kernel-module", "delete_module", "nf_tables")],
        [_file("opened-file", "/lib/modules/6.1.0/kernel/net/nf_tables.ko", ["info"], "openat",
               process="modprobe")],
    ),
    "defense_evasion_critical_file_permissions_changed": (
        [_file("changed-file-permissions-of", "/etc/shadow", ["change"], "fchmodat"),
         _file("changed-file-ownership-of", "/etc/sudoers.d/90-ops", ["change"], "fchownat",
               process="chown")],
        [_file("changed-file-permissions-of", "/home/alice/notes.txt", ["change"], "fchmodat"),
         _file("opened-file", "/etc/shadow", ["info"], "openat", process="cat")],
    ),
    "discovery_file_access_denied": (
        [_file("opened-file", "/etc/shadow", ["info"], "openat", outcome="failure",
               exit_code="EACCES", process="cat"),
         _file("opened-file", "/root/.ssh/id_ed25519", ["info"], "openat", outcome="failure",
               exit_code="-13", process="cat")],
        [_file("opened-file", "/tmp/missing", ["info"], "openat", outcome="failure",
               exit_code="ENOENT", process="cat"),
         _file("opened-file", "/etc/passwd", ["info"], "openat", process="cat")],
    ),
    "persistence_critical_file_modified": (
        [_file("opened-file", "/etc/passwd", ["change"], "openat", process="vipw"),
         _file("renamed", "/etc/sudoers.d/90-ops", ["change"], "rename", process="visudo"),
         _file("deleted", "/etc/cron.d/backup", ["deletion"], "unlinkat", process="rm")],
        [_file("opened-file", "/etc/passwd", ["info"], "openat", process="id"),
         _file("opened-file", "/home/alice/.bashrc", ["change"], "openat", process="vim"),
         _file("opened-file", "/etc/shadow", ["change"], "openat", outcome="failure",
               exit_code="EACCES", process="vim")],
    ),
    "defense_evasion_audit_log_modified": (
        [_file("opened-file", "/var/log/audit/audit.log", ["change"], "openat", process="truncate"),
         _file("deleted", "/var/log/audit/audit.log.1", ["deletion"], "unlinkat", process="rm")],
        [_file("opened-file", "/var/log/audit/audit.log", ["change"], "openat", process="auditd"),
         _file("opened-file", "/var/log/audit/audit.log", ["info"], "openat", process="ausearch")],
    ),
    "discovery_audit_log_read": (
        [_file("opened-file", "/var/log/audit/audit.log", ["info"], "openat", process="less"),
         _file("opened-file", "/var/log/audit/audit.log.2", ["info"], "openat", process="ausearch")],
        [_file("opened-file", "/var/log/audit/audit.log", ["change"], "openat", process="auditd"),
         _file("opened-file", "/var/log/syslog", ["info"], "openat", process="less"),
         _file("opened-file", "/var/log/audit/audit.log", ["info"], "openat", outcome="failure",
               exit_code="EACCES", process="less")],
    ),
    "collection_cardholder_data_accessed": (
        [_file("opened-file", "/srv/pay/cards.db", ["info"], "openat", process="psql",
               tags=["cardholder-data"]),
         _file("opened-file", "/srv/pay/export.csv", ["info"], "openat", process="cp",
               tags=["10.2.1-cardholder-access"])],
        [_file("opened-file", "/srv/pay/README", ["info"], "openat", process="cat",
               tags=["identity"])],
    ),
}

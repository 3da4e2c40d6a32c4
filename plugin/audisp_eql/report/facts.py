"""What aureport reads from one event: login uid, success, executable,
terminal, host, pid, system call, keys, account, and the record types.

aureport (audit-userspace src/aureport-scan.c, src/ausearch-parse.c) parses
each record type its own way; this follows it for the fields the summaries
use, so that our counts can be checked against aureport's on the same logs:

* SYSCALL: auid, pid, exe (else comm), tty as terminal, success=yes/no,
  the system call, key(s);
* userspace records (PAM, shadow-utils, sudo, systemd...): auid, pid,
  exe, terminal, `hostname=` (or `addr=` when the host name is `?`), success
  unless `res=` starts with "failed";
* LOGIN: the new auid, res=1/0; DAEMON_*, CONFIG_CHANGE, kernel anomalies:
  auid, pid, res;
* SOCKADDR: the numeric IPv4/IPv6 address as a host.

The login uid "unset" (4294967295) is counted as aureport prints it: -1.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Optional

from ..ecs.common import audit_tags, syscall_name
from ..ecs.userspace import user_record
from ..source.event import AuditEvent
from ..source.record_bodies import syscall_values
from ..source.records import split_body, value_text

_UNKNOWN_TYPE = re.compile(r"UNKNOWN\[(\d+)\]")
# Record type numbers of the names aureport's summary tests (lib/audit-records.h).
TYPE_NUMBERS = {
    "USER_AUTH": 1100, "USER_ACCT": 1101, "USER_MGMT": 1102, "CRED_ACQ": 1103,
    "CRED_DISP": 1104, "USER_START": 1105, "USER_END": 1106, "USER_AVC": 1107,
    "USER_CHAUTHTOK": 1108, "USER_ERR": 1109, "CRED_REFR": 1110, "USYS_CONFIG": 1111,
    "USER_LOGIN": 1112, "USER_LOGOUT": 1113, "ADD_USER": 1114, "DEL_USER": 1115,
    "ADD_GROUP": 1116, "DEL_GROUP": 1117, "GRP_AUTH": 1126, "GRP_MGMT": 1132,
    "DAEMON_CONFIG": 1203, "CONFIG_CHANGE": 1305, "NETFILTER_CFG": 1325,
    "FEATURE_CHANGE": 1328, "USER_MAC_CONFIG_CHANGE": 2311, "ROLE_ASSIGN": 2300,
    "ROLE_REMOVE": 2301, "LOGIN": 1006, "USER": 1005,
}
CONFIG_TYPES = ("CONFIG_CHANGE", "DAEMON_CONFIG", "USYS_CONFIG", "NETFILTER_CFG",
                "FEATURE_CHANGE", "USER_MAC_CONFIG_CHANGE")


def type_number(rtype: str) -> Optional[int]:
    number = TYPE_NUMBERS.get(rtype)
    if number is None:
        unknown = _UNKNOWN_TYPE.fullmatch(rtype)
        if unknown:
            number = int(unknown.group(1))
    return number


def is_userspace(rtype: str) -> bool:
    """A record a program sends (aureport's parse_user ranges), by name."""
    number = type_number(rtype)
    if number is not None:
        return number == 1005 or 1100 <= number <= 1199 and number != 1107 \
            or 2100 <= number <= 2999
    return rtype.startswith(("USER_", "CRED_", "ADD_", "DEL_", "GRP_", "ACCT_", "SERVICE_",
                             "SYSTEM_", "ANOM_LOGIN", "ANOM_ROOT", "ANOM_ADD", "ANOM_DEL",
                             "ANOM_MOD", "RESP_", "ROLE_", "CRYPTO_", "VIRT_"))


def is_anomaly(rtype: str) -> bool:
    number = type_number(rtype)
    if number is not None:
        return 2100 <= number <= 2199 or 1700 <= number <= 1799
    return rtype.startswith("ANOM_")


@dataclass
class EventFacts:
    types: tuple[str, ...]
    auid: Optional[str] = None        # aureport's loginuid, as it prints it ("-1": unset)
    success: Optional[bool] = None
    exe: Optional[str] = None
    comm: Optional[str] = None
    terminal: Optional[str] = None
    hostname: Optional[str] = None
    pid: Optional[str] = None
    syscall: Optional[str] = None
    acct: Optional[str] = None
    keys: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


def _auid(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    value = value.strip('"')
    if value in ("4294967295", "-1"):
        return "-1"
    return value if value.isdigit() else None


def _sockaddr_host(raw: Optional[str]) -> Optional[str]:
    """The numeric address of an AF_INET / AF_INET6 `saddr=` (little-endian family)."""
    if not raw or len(raw) < 4:
        return None
    try:
        data = bytes.fromhex(raw)
    except ValueError:
        return None
    family = int.from_bytes(data[:2], "little")
    if family == 2 and len(data) >= 8:
        return str(ipaddress.IPv4Address(data[4:8]))
    if family == 10 and len(data) >= 24:
        return str(ipaddress.IPv6Address(data[8:24]))
    return None


def event_facts(event: AuditEvent) -> EventFacts:
    facts = EventFacts(tuple(rtype for rtype, _ in event.raw))
    for rtype, body in event.raw:
        if rtype == "SYSCALL":
            v = syscall_values(body)
            facts.auid = _auid(v.auid)
            facts.pid = v.pid
            facts.exe = value_text(v.exe)
            facts.comm = value_text(v.comm)
            facts.terminal = v.tty
            facts.success = v.success == "yes" if v.success in ("yes", "no") else facts.success
            facts.syscall = syscall_name(v.arch, v.syscall)
            facts.keys.extend(audit_tags(v.key) or ())
        elif rtype == "SOCKADDR":
            host = _sockaddr_host(split_body(body)[0].get("saddr"))
            if host is not None:
                facts.addresses.append(host)
                facts.hostname = host
        elif rtype in ("PATH", "CWD", "EXECVE", "PROCTITLE", "BPRM_FCAPS", "EOE"):
            continue
        elif is_userspace(rtype):
            record = user_record(rtype, body)
            facts.auid = _auid(record.outer.get("auid")) or facts.auid
            facts.pid = record.number("pid") or facts.pid
            exe = record.inner.get("exe")
            if exe is not None:
                facts.exe = value_text(exe)
            terminal = record.inner.get("terminal")
            if terminal is not None:
                facts.terminal = terminal
            hostname = record.inner.get("hostname")
            if hostname is not None:
                if hostname == "?" and "addr" in record.inner:
                    hostname = record.inner["addr"]
                facts.hostname = hostname
            res = record.inner.get("res", record.outer.get("res"))
            if res is not None:
                facts.success = not res.strip("'").startswith("failed")
            facts.acct = record.text_of("acct") or facts.acct
        else:
            # LOGIN, DAEMON_*, CONFIG_CHANGE, kernel anomalies: plain key=value records.
            fields = split_body(body)[0]
            auid = _auid(fields.get("auid"))
            facts.auid = auid if auid is not None else facts.auid
            facts.pid = fields.get("pid", facts.pid)
            if rtype in ("ANOM_ABEND", "ANOM_PROMISCUOUS", "ANOM_LINK", "ANOM_CREAT") \
                    and "exe" in fields:
                facts.exe = value_text(fields["exe"])
            res = fields.get("res")
            if res is not None and facts.syscall is None:
                res = res.strip('"')
                facts.success = res in ("1", "success", "yes")
            if rtype == "CONFIG_CHANGE":
                facts.keys.extend(audit_tags(fields.get("key")) or ())
    return facts

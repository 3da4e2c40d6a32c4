"""aureport's summaries, under aureport's own definitions (`aureport --summary`,
`--login`, `--auth`, `--executable`, `--user`, `--host`, `--anomaly`), from
the facts of each event (facts.py). Counts are exact; distinct values and
detail rows are bounded (limits.py) and say when they were cut.

    config_changes   events with CONFIG_CHANGE, DAEMON_CONFIG, USYS_CONFIG,
                     NETFILTER_CFG, FEATURE_CHANGE, USER_MAC_CONFIG_CHANGE (one
                     per type present) or MAC_POLICY_LOAD..MAC_UNLBL_STCDEL
    account_changes  USER_CHAUTHTOK; ADD_USER..DEL_GROUP; USER_MGMT; GRP_MGMT;
                     ROLE_ASSIGN..ROLE_REMOVE (one per kind present)
    logins           USER_LOGIN events, by res (only tty sessions: sshd writes no
                     USER_LOGIN for a login without a terminal)
    authentications  USER_AUTH events by res; else failed USER_MGMT; else GRP_AUTH
    users            distinct login uids (-1: unset)
    anomalies        events with an ANOM_* record (2100-2199, 1700-1799)
    failed_syscalls  failed events with a system call

Beyond aureport, clearly named: `sessions_opened` (USER_START by a login
service: every login, with or without a terminal).
"""

from __future__ import annotations

from typing import Any, Optional

from .bounded import CappedCounter, FirstItems
from .facts import CONFIG_TYPES, EventFacts, is_anomaly, type_number

LOGIN_SERVICES = frozenset({"sshd", "login", "gdm-session-worker", "lightdm", "sddm",
                            "xrdp-sesman", "cockpit-session"})


class Summaries:
    def __init__(self) -> None:
        self.counts = {name: 0 for name in (
            "events", "config_changes", "account_changes", "logins", "failed_logins",
            "authentications", "failed_authentications", "failed_syscalls", "anomalies",
            "sessions_opened")}
        self.users: CappedCounter[str] = CappedCounter()
        self.terminals: CappedCounter[str] = CappedCounter()
        self.hosts: CappedCounter[str] = CappedCounter()
        self.executables: CappedCounter[str] = CappedCounter()
        self.keys: CappedCounter[str] = CappedCounter()
        self.pids: CappedCounter[str] = CappedCounter()
        self.logins: FirstItems[dict[str, Any]] = FirstItems()
        self.authentications: FirstItems[dict[str, Any]] = FirstItems()
        self.anomalies: FirstItems[dict[str, Any]] = FirstItems()

    def add(self, facts: EventFacts, when: str, event_id: str) -> None:
        counts = self.counts
        counts["events"] += 1
        types = set(facts.types)
        counts["config_changes"] += sum(1 for t in CONFIG_TYPES if t in types) + (
            1 if any(1403 <= (type_number(t) or 0) <= 1417 for t in types) else 0)
        numbers = {type_number(t) for t in types}
        counts["account_changes"] += (
            ("USER_CHAUTHTOK" in types) + any(n is not None and 1114 <= n <= 1117 for n in numbers)
            + ("USER_MGMT" in types) + ("GRP_MGMT" in types)
            + any(n is not None and 2300 <= n <= 2301 for n in numbers))
        failed = facts.success is False
        if "USER_LOGIN" in types:
            counts["failed_logins" if failed else "logins"] += facts.success is not None
            self.logins.add(self._row(facts, when, event_id, user_first="auid"))
        if "USER_AUTH" in types:
            counts["failed_authentications" if failed else "authentications"] += \
                facts.success is not None
            self.authentications.add(self._row(facts, when, event_id, user_first="acct"))
        elif "USER_MGMT" in types:
            counts["failed_authentications"] += failed
        elif "GRP_AUTH" in types:
            counts["failed_authentications" if failed else "authentications"] += \
                facts.success is not None
        if "USER_START" in types and not failed and facts.exe and \
                facts.exe.rpartition("/")[2] in LOGIN_SERVICES:
            counts["sessions_opened"] += 1
        if failed and facts.syscall:
            counts["failed_syscalls"] += 1
        if any(is_anomaly(t) for t in types):
            counts["anomalies"] += 1
            row = self._row(facts, when, event_id, user_first="auid")
            row["type"] = next(t for t in facts.types if is_anomaly(t))
            self.anomalies.add(row)
        if facts.auid is not None:
            self.users.add(facts.auid)
        if facts.terminal is not None:
            self.terminals.add(facts.terminal)
        if facts.hostname is not None:
            self.hosts.add(facts.hostname)
        if facts.exe is not None:
            self.executables.add(facts.exe)
        for key in facts.keys:
            self.keys.add(key)
        if facts.pid is not None:
            self.pids.add(facts.pid)

    @staticmethod
    def _row(facts: EventFacts, when: str, event_id: str, user_first: str) -> dict[str, Any]:
        """A detail row as aureport prints it: the account, or the login uid when set
        (--login shows the auid, and the account when the auid is unset)."""
        user: Optional[str]
        if user_first == "auid":
            user = facts.auid if facts.auid not in (None, "-1") else facts.acct
        else:
            user = facts.acct or facts.auid
        return {"time": when, "user": user, "host": facts.hostname, "terminal": facts.terminal,
                "exe": facts.exe, "success": facts.success, "event_id": event_id}

    def to_json(self) -> dict[str, Any]:
        distinct = {"users": self.users, "terminals": self.terminals, "hosts": self.hosts,
                    "executables": self.executables, "keys": self.keys, "pids": self.pids}
        summary: dict[str, Any] = dict(self.counts)
        for name, counter in distinct.items():
            summary[name] = counter.distinct
        cut = sorted(name for name, counter in distinct.items() if counter.overflowed)
        return {
            "summary": summary,
            "distinct_counts_cut": cut,
            "logins": self.logins.items, "logins_more": self.logins.more,
            "authentications": self.authentications.items,
            "authentications_more": self.authentications.more,
            "anomalies": self.anomalies.items, "anomalies_more": self.anomalies.more,
            "executables": [{"exe": k, "count": n} for k, n in self.executables.top()],
            "users": [{"auid": k, "count": n} for k, n in self.users.top()],
            "hosts": [{"host": k, "count": n} for k, n in self.hosts.top()],
            "terminals": [{"terminal": k, "count": n} for k, n in self.terminals.top()],
        }

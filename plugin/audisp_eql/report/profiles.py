"""Which audit rule profiles a host ran, from the keys of its rules.

A profile shows in the log as `CONFIG_CHANGE op=add_rule key="..."` when the
rules were loaded (at boot: only in that boot's log file; after rotation
`--audit-rules FILE` declares them) and as the key of the events its rules
recorded. Known key sets:

    audisp-eql exec        exec
    audisp-eql compliance  the keys of conf/profiles/compliance.rules
    CIS benchmark          time-change, identity, system-locale, MAC-policy, logins,
                           session, perm_mod, access, privileged, mounts, delete,
                           scope, actions, modules / kernel_modules
    OSPP / STIG            user-modify, group-modify, special-config-changes, ...
    PCI DSS 3.1            10.* keys (audit-userspace's 30-pci-dss-v31.rules)
    custom                 every other key
"""

from __future__ import annotations

from typing import Any, Iterable

from .bounded import CappedCounter

COMPLIANCE_KEYS = frozenset({"time-change", "identity", "logins", "session", "scope", "perm_mod",
                             "access", "auditconfig", "audittools", "access-audit-trail"})
CIS_KEYS = frozenset({"time-change", "identity", "system-locale", "MAC-policy", "logins",
                      "session", "perm_mod", "access", "privileged", "mounts", "delete", "scope",
                      "actions", "modules", "kernel_modules", "sudo_log_file", "user_emulation"})
OSPP_KEYS = frozenset({"user-modify", "group-modify", "special-config-changes",
                       "access-audit-trail", "unsuccesful-access", "unsuccessful-access",
                       "successful-create", "successful-modification", "successful-delete",
                       "privileged-priv_change", "module-load", "module-unload"})


def audit_profiles(host: str, added: CappedCounter[str],
                   used: CappedCounter[str]) -> list[dict[str, Any]]:
    keys = set(added.counts) | set(used.counts)
    out: list[dict[str, Any]] = []

    def profile(name: str, found: Iterable[str]) -> None:
        found = sorted(found)
        if found:
            out.append({"host": host, "profile": name, "keys": found,
                        "from_rules_loaded": sorted(k for k in found if k in added.counts)})

    claimed: set[str] = set()
    for name, known in (("audisp-eql exec rules", {"exec"}),
                        ("audisp-eql compliance profile", COMPLIANCE_KEYS),
                        ("CIS benchmark", CIS_KEYS - COMPLIANCE_KEYS),
                        ("OSPP / STIG", OSPP_KEYS - COMPLIANCE_KEYS)):
        found = keys & known
        if name == "audisp-eql compliance profile" and len(found) < 3:
            found = set()     # a key or two of the same name is not the profile
        profile(name, found)
        claimed |= found
    profile("PCI DSS 3.1 (30-pci-dss-v31.rules)", {k for k in keys if k.startswith("10.")})
    claimed |= {k for k in keys if k.startswith("10.")}
    profile("custom", keys - claimed)
    return out

"""Fields no audit record can give, and why: `check` says so when a rule
cannot fire for want of one, so that a reader can tell "not built yet" from
"the kernel never reports this". Keyed by field name or prefix (ending in
a dot); the first match wins.
"""

from __future__ import annotations

from typing import Optional

PAYLOAD = "the kernel reports socket addresses, never what is sent"
WHY: tuple[tuple[str, str], ...] = (
    ("dns.", f"DNS questions are packet payload: {PAYLOAD}"),
    ("http.", f"HTTP is payload: {PAYLOAD}"),
    ("url.", f"URLs are payload: {PAYLOAD}"),
    ("tls.", f"TLS is payload: {PAYLOAD}"),
    ("network.application", "the application protocol is payload, known only to traffic analysis"),
    ("network.protocol", "the application protocol is payload, known only to traffic analysis"),
    ("process.code_signature.", "Linux executables carry no code signature the kernel checks"),
    ("file.code_signature.", "Linux executables carry no code signature the kernel checks"),
    ("file.hash.", "audit records name files, never their content"),
    ("process.hash.", "audit records name files, never their content"),
    ("file.size", "PATH records carry no file size"),
    ("process.Ext.api.", "Elastic Defend's API call tracing is not an audit record"),
    ("process.Ext.ancestry", "Elastic Defend's own process-tree analysis"),
    ("process.Ext.token.", "Windows access tokens"),
    ("process.pe.", "Windows PE metadata"),
    ("registry.", "Windows registry"),
    ("dll.", "Windows DLL loads"),
    ("winlog.", "Windows event logs"),
    ("kubernetes.", "the Kubernetes API server's audit log, not the host's"),
)


def why_not_reported(field: str) -> Optional[str]:
    """Why audit records never carry `field`, or None when they could."""
    for key, why in WHY:
        if field == key or key.endswith(".") and field.startswith(key):
            return why
    return None


def explain(fields: list[str]) -> str:
    """`a, b (why b cannot be reported)` for a cannot_fire reason."""
    parts = []
    for field in fields:
        why = why_not_reported(field)
        parts.append(f"{field} (not in audit records: {why})" if why else field)
    return ", ".join(parts)

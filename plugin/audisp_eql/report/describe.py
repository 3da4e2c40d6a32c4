"""One line of "what happened" for a finding, from its document, in words an
auditor reads: the record's own op (shadow-utils logs group and ageing
changes as password changes; the op says which), the account, the program,
where from. Values are the audited system's: renderers escape them."""

from __future__ import annotations

from typing import Any, Optional

MAX_TEXT = 300


def get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def first_action(doc: dict[str, Any]) -> Optional[str]:
    action = get(doc, "event.action")
    if isinstance(action, list):
        return str(action[0]) if action else None
    return None if action is None else str(action)


def _s(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _failed(doc: dict[str, Any]) -> str:
    return " failed" if get(doc, "event.outcome") == "failure" else ""


def _program(doc: dict[str, Any]) -> str:
    return _s(get(doc, "process.name") or get(doc, "process.executable"))


def _origin(doc: dict[str, Any]) -> str:
    source = get(doc, "source.ip") or get(doc, "source.address")
    terminal = get(doc, "auditd.data.terminal")
    parts = []
    if source:
        parts.append(f"from {source}")
    if terminal:
        parts.append(f"terminal {terminal}")
    return (" " + ", ".join(parts)) if parts else ""


def _account(doc: dict[str, Any]) -> str:
    return _s(get(doc, "user.name") or get(doc, "user.id"))


def _target(doc: dict[str, Any]) -> str:
    user = get(doc, "user.target.name") or get(doc, "user.target.id")
    group = get(doc, "group.name") or get(doc, "group.id")
    if user is not None:
        return f"account {user}"
    if group is not None:
        return f"group {group}"
    return "?"


def describe(doc: dict[str, Any]) -> str:
    action = first_action(doc) or "?"
    op = get(doc, "auditd.data.op")
    if action == "logged-in":
        text = f"login as {_account(doc)}{_failed(doc)} ({_program(doc)}{_origin(doc)})"
    elif action in ("authenticated", "was-authorized", "error", "acquired-credentials",
                    "refreshed-credentials", "disposed-credentials", "started-session",
                    "ended-session", "logged-out"):
        verb = {"authenticated": "authentication of", "was-authorized": "account check of",
                "error": "authentication error for", "started-session": "session opened for",
                "ended-session": "session closed for", "logged-out": "logout of"}.get(
                    action, "credentials of")
        account = _account(doc)
        if account == "?":
            verb = verb.rsplit(" ", 1)[0]      # "authentication error", without "for ?"
        who = f" {account}" if account != "?" else ""
        op = f": {get(doc, 'auditd.data.op')}" if get(doc, "auditd.data.op") else ""
        text = f"{verb}{who}{_failed(doc)} ({_program(doc)}{_origin(doc)}{op if not who else ''})"
    elif action == "changed-login-id-to":
        text = f"login uid set to {_account(doc)} (session {_s(get(doc, 'auditd.session'))})"
    elif action == "ran-command":
        text = (f"{_account(doc)} ran {_s(get(doc, 'auditd.data.cmd'))} with sudo"
                f"{' (refused)' if get(doc, 'event.outcome') == 'failure' else ''} in "
                f"{_s(get(doc, 'process.working_directory'))}")
    elif get(doc, "event.category") == ["iam"] or action in ("added-user-account",
                                                              "deleted-user-account"):
        text = f"{_program(doc)}: {op or action} ({_target(doc)}){_failed(doc)}"
    elif action == "changed-audit-configuration":
        setting = next((k for k in ("audit_enabled", "audit_failure", "audit_backlog_limit",
                                    "audit_rate_limit", "audit_backlog_wait_time", "audit_pid")
                        if get(doc, f"auditd.data.{k}") is not None), None)
        if setting:
            text = (f"{setting} set to {get(doc, f'auditd.data.{setting}')} "
                    f"(was {_s(get(doc, 'auditd.data.old'))})")
        else:
            text = f"{_s(op)} key {_s(get(doc, 'auditd.data.key'))}"
        text += f" by {_program(doc)}" if get(doc, "process.name") else ""
    elif action in ("shutdown-audit", "changed-auditd-configuration", "aborted-auditd-startup",
                    "rotated-audit-logs", "resumed-audit-logging", "started-audit"):
        text = f"auditd {op or action}"
        if action != "started-audit":
            text += f" (signal from pid {_s(get(doc, 'process.pid'))}, "
            text += f"auid {_s(get(doc, 'user.audit.name') or get(doc, 'user.audit.id'))})"
    elif action in ("started-service", "stopped-service"):
        text = f"service {_s(get(doc, 'service.name'))} {action.split('-')[0]}{_failed(doc)}"
    elif action == "changed-system-time":
        text = f"clock set by {_program(doc)} ({_s(get(doc, 'auditd.data.syscall'))})"
    elif action == "exec":
        text = _s(get(doc, "process.command_line") or get(doc, "process.executable"))
    elif get(doc, "file.path") is not None:
        text = f"{action} {get(doc, 'file.path')} by {_program(doc)}{_failed(doc)}"
    else:
        text = f"{action} ({_program(doc)}){_failed(doc)}"
        message = get(doc, "message")
        if message:
            text += f": {message}"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"

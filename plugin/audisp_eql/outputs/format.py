"""Turn an ECS alert into one line of text: readable `key=value`, or JSON.

Every string in an alert may come from the audited system (argv, paths,
user names), so the text form passes each value through `safe_text` and the
JSON form escapes everything outside printable ASCII: neither can ever carry
a newline or a control byte into a syslog line or a JSON-lines file.
"""

from __future__ import annotations

import json
import syslog
from typing import Any, Iterable, Mapping

from ..escape import safe_text

FORMATS = ("text", "json", "cee")

# Elastic severities -> syslog priorities. "critical" is the only one a
# person must act on now; "low" rules (like the seed) are notable, not errors.
SEVERITY_PRIORITY: Mapping[str, int] = {
    "critical": syslog.LOG_CRIT,
    "high": syslog.LOG_ERR,
    "medium": syslog.LOG_WARNING,
    "low": syslog.LOG_NOTICE,
}
DEFAULT_PRIORITY = syslog.LOG_WARNING

# Where each readable key is looked up in the alert, first hit wins. The
# alert layout belongs to alerts.py; several paths keep this tolerant of it.
_TEXT_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rule", ("rule.name",)),
    ("rule_id", ("rule.uuid", "rule.id")),
    ("severity", ("rule.severity", "event.severity_name", "kibana.alert.severity")),
    ("risk", ("event.risk_score", "rule.risk_score", "kibana.alert.risk_score")),
    ("host", ("host.name", "host.hostname")),
    ("user", ("user.name", "user.id")),
    ("pid", ("process.pid",)),
    ("ppid", ("process.parent.pid",)),
    ("exe", ("process.executable",)),
    ("args", ("process.args",)),
    ("parent", ("process.parent.executable", "process.parent.name")),
    ("cwd", ("process.working_directory",)),
    ("event_id", ("event.id",)),
    ("suppressed", ("audisp_eql.suppressed",)),
    ("truncated", ("audisp_eql.truncated",)),
)


def lookup(doc: Mapping[str, Any], dotted: str) -> Any:
    """Value at a dotted path in a nested dict (or a flat dotted key), else None."""
    if dotted in doc:
        return doc[dotted]
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def first(doc: Mapping[str, Any], paths: Iterable[str]) -> Any:
    for path in paths:
        value = lookup(doc, path)
        if value is not None:
            return value
    return None


def alert_severity(alert: Mapping[str, Any]) -> str:
    value = first(alert, ("rule.severity", "event.severity_name", "kibana.alert.severity"))
    return str(value).lower() if value is not None else ""


def alert_priority(alert: Mapping[str, Any]) -> int:
    """Syslog priority (without facility) for the alert's rule severity."""
    return SEVERITY_PRIORITY.get(alert_severity(alert), DEFAULT_PRIORITY)


def alert_rule_key(alert: Mapping[str, Any]) -> str:
    """What identifies "the same alert" for rate limiting: the rule."""
    value = first(alert, ("rule.uuid", "rule.id", "rule.name"))
    return str(value) if value is not None else ""


def _text_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        # argv as a person would type it: each element escaped on its own,
        # single-quoted when it holds a space or a quote, then the whole quoted.
        return _quote(" ".join(_shell_word(safe_text(str(v))) for v in value))
    return _quote(safe_text(str(value)))


def _shell_word(text: str) -> str:
    if text == "" or any(c in text for c in " '\""):
        return "'" + text.replace("'", "\\'") + "'"
    return text


def _quote(text: str) -> str:
    if text == "" or any(c in text for c in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def format_text(alert: Mapping[str, Any]) -> str:
    """One readable line: `rule="Unix Socket Connection" severity=low ... args="nc -U /run/x"`."""
    parts = []
    for key, paths in _TEXT_FIELDS:
        value = first(alert, paths)
        if value is None or value == []:
            continue
        parts.append(f"{key}={_text_value(value)}")
    ancestors = lookup(alert, "kibana.alert.ancestors")
    if isinstance(ancestors, list) and ancestors:
        # A sequence: every event it matched, for `ausearch --event`.
        ids = [str(a.get("id")) for a in ancestors if isinstance(a, Mapping)]
        parts.append(f"events={_quote(safe_text(' '.join(ids)))}")
    return " ".join(parts)


def format_json(alert: Mapping[str, Any]) -> str:
    # ensure_ascii: U+2028, C1 controls and bidi overrides leave as \\uXXXX.
    return json.dumps(alert, ensure_ascii=True, separators=(",", ":"), sort_keys=False,
                      default=str)


def format_alert(alert: Mapping[str, Any], fmt: str) -> str:
    if fmt == "text":
        return format_text(alert)
    if fmt == "json":
        return format_json(alert)
    if fmt == "cee":
        # rsyslog's mmjsonparse looks for this cookie in front of the JSON.
        return "@cee: " + format_json(alert)
    raise ValueError(f"unknown alert format {fmt!r} (expected one of {', '.join(FORMATS)})")


def format_alert_within(alert: Mapping[str, Any], fmt: str, limit: int) -> str:
    """`format_alert`, shortened to at most `limit` UTF-8 bytes when it is longer.

    Syslog messages are bounded (a datagram, a collector's maximum, our queue),
    and the argv is the attacker's: rather than lose the alert, long strings are
    cut (saying how much) and long lists shortened, with `audisp_eql.truncated`
    set, until it fits. The result is still valid JSON in the JSON formats."""
    line = format_alert(alert, fmt)
    if len(line) * 4 <= limit or len(line.encode("utf-8", "backslashreplace")) <= limit:
        return line
    cap = 4096
    while True:
        shrunk = _shrink(alert, cap)
        shrunk.setdefault("audisp_eql", {})["truncated"] = True
        line = format_alert(shrunk, fmt)
        if cap <= 8 or len(line.encode("utf-8", "backslashreplace")) <= limit:
            return line
        cap //= 2


def _shrink(value: Any, cap: int) -> Any:
    """A copy with strings over `cap` characters cut and lists over `cap` items cut."""
    if isinstance(value, str):
        if len(value) <= cap:
            return value
        return f"{value[:cap]}...[{len(value) - cap} more characters]"
    if isinstance(value, Mapping):
        return {key: _shrink(item, cap) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shrink(item, cap) for item in value[:cap]]
    return value

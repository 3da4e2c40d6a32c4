"""Kibana's exception exports (NDJSON), read as they are.

An export holds, one JSON object per line: exception lists (`list_id`,
`type`, `name`), their items (`item_id`, `list_id`, `type: "simple"`,
`entries`, `expire_time`, `os_types`, `comments`) and a closing summary
line (`exported_exception_list_count`, ...). A rule export (Kibana's
"Export rules" with exceptions) also holds the rules, whose
`exceptions_list` says which lists are attached to which `rule_id`: those
attachments are taken as they are. A list export alone does not say which
rules it belongs to: an `[[attach]]` table in a TOML file beside it does.

Supported entry types: match, match_any, wildcard, exists, nested (of those).
Refused, with the reason: `list` entries (they name a Kibana value list,
which is not part of the export), and lists of Elastic Defend artifacts
(trusted applications, event filters, host isolation exceptions,
blocklists), which are not detection rule exceptions. `namespace_type`
(Kibana spaces) has no meaning here and is ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from .model import Entry, ExceptionFileError, ExceptionItem
from .native import OS_TYPES
from .values import check_field, parse_expiry, scalar_text

DETECTION_LIST_TYPES = ("detection", "rule_default", "endpoint")
_DEFEND_ARTIFACTS = ("endpoint_trusted_apps", "endpoint_events",
                     "endpoint_host_isolation_exceptions", "endpoint_blocklists",
                     "endpoint_trusted_devices")
_ENTRY_TYPES = ("match", "match_any", "wildcard", "exists", "nested")


class KibanaList:
    def __init__(self, list_id: str, name: str, list_type: str, path: Path, line: int) -> None:
        self.list_id, self.name, self.type = list_id, name, list_type
        self.path, self.line = path, line

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class KibanaFile:
    def __init__(self) -> None:
        self.lists: dict[str, KibanaList] = {}
        self.items: list[ExceptionItem] = []
        # list_id -> rule_ids, from the rules of a rule export
        self.attached: dict[str, set[str]] = {}
        self.errors: list[ExceptionFileError] = []


def _entry(raw: Any, fail: Callable[[str], Exception], nested_in: str = "") -> Entry:
    if not isinstance(raw, dict):
        raise fail("an entry is not a JSON object")
    kind = raw.get("type")
    field = check_field(raw.get("field"), fail)
    if kind == "list":
        ref = raw.get("list") if isinstance(raw.get("list"), dict) else {}
        raise fail(f"{field}: entries of type list (\"is in list\", value list "
                   f"{str(ref.get('id', '?'))!r}) are not supported: Kibana value lists are "
                   "not part of the export; write the values with \"is one of\"")
    if kind not in _ENTRY_TYPES:
        raise fail(f"{field}: unknown entry type {kind!r} (supported: "
                   + ", ".join(_ENTRY_TYPES) + ")")
    if kind == "nested":
        if nested_in:
            raise fail(f"{field}: nested entry inside the nested entry {nested_in}")
        subs = raw.get("entries")
        if not isinstance(subs, list) or not subs:
            raise fail(f"{field}: nested entry without entries")
        return Entry(field, "nested", False, (), tuple(_entry(s, fail, field) for s in subs))
    operator = raw.get("operator", "included")
    if operator not in ("included", "excluded"):
        raise fail(f"{field}: operator must be included or excluded, got {operator!r}")
    negated = operator == "excluded"
    if kind == "exists":
        return Entry(field, kind, negated)
    value = raw.get("value")

    def bad(message: str) -> Exception:
        return fail(f"{field} ({kind}): {message}")

    if kind == "match_any":
        if not isinstance(value, list) or not value:
            raise bad("value must be a non-empty list")
        return Entry(field, kind, negated, tuple(scalar_text(v, bad) for v in value))
    if isinstance(value, list):
        raise bad("value must be a single string")
    return Entry(field, kind, negated, (scalar_text(value, bad),))


def _item(raw: dict[str, Any], path: Path, line: int) -> ExceptionItem:
    name = str(raw.get("name") or raw.get("item_id") or "unnamed").strip()

    def fail(message: str) -> ExceptionFileError:
        return ExceptionFileError(path, line, f'item "{name}": {message}')

    if raw.get("type", "simple") != "simple":
        raise fail(f"item type {raw.get('type')!r} is not \"simple\"")
    entries = raw.get("entries")
    if not isinstance(entries, list) or not entries:
        raise fail("no entries")
    parsed = tuple(_entry(e, fail) for e in entries)
    expires = None
    if raw.get("expire_time"):
        expires = parse_expiry(raw["expire_time"], lambda m: fail(f"expire_time: {m}"))
    os_types = raw.get("os_types") or []
    if not isinstance(os_types, list) or any(o not in OS_TYPES for o in os_types):
        raise fail("os_types must be a list of " + ", ".join(OS_TYPES))
    comments = raw.get("comments") or []
    comment = "; ".join(str(c.get("comment", "")) for c in comments
                        if isinstance(c, dict) and c.get("comment"))
    description = str(raw.get("description") or "").strip()
    return ExceptionItem(name=name, path=path, line=line, entries=parsed,
                         comment=comment or description, expires=expires,
                         os_types=tuple(os_types), item_id=str(raw.get("item_id") or ""),
                         list_id=str(raw.get("list_id") or ""))


def _kind(obj: dict[str, Any]) -> str:
    if any(k.startswith(("exported_", "missing_")) for k in obj):
        return "summary"
    if "item_id" in obj or "entries" in obj:
        return "item"
    if "rule_id" in obj:
        return "rule"
    if "list_id" in obj:
        return "list"
    return "unknown"


def load_kibana(path: Path, text: str) -> KibanaFile:
    out = KibanaFile()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            out.errors.append(ExceptionFileError(path, number, f"not JSON: {err}"))
            continue
        if not isinstance(obj, dict):
            out.errors.append(ExceptionFileError(path, number, "not a JSON object"))
            continue
        kind = _kind(obj)
        try:
            if kind == "item":
                out.items.append(_item(obj, path, number))
            elif kind == "list":
                _list(obj, path, number, out)
            elif kind == "rule":
                for ref in obj.get("exceptions_list") or []:
                    if isinstance(ref, dict) and isinstance(ref.get("list_id"), str):
                        out.attached.setdefault(ref["list_id"], set()).add(str(obj["rule_id"]))
            elif kind == "unknown":
                raise ExceptionFileError(path, number, "not an exception list, exception item, "
                                                       "rule or export summary")
        except ExceptionFileError as err:
            out.errors.append(err)
    _drop_refused(out)
    return out


def _list(obj: dict[str, Any], path: Path, number: int, out: KibanaFile) -> None:
    list_type = str(obj.get("type", "detection"))
    name = str(obj.get("name") or obj["list_id"])
    if list_type in _DEFEND_ARTIFACTS:
        out.lists[str(obj["list_id"])] = KibanaList(str(obj["list_id"]), name, list_type, path, number)
        raise ExceptionFileError(path, number, f'list "{name}" is an Elastic Defend artifact '
                                               f"({list_type}), not a rule exception list: "
                                               "not imported")
    if list_type not in DETECTION_LIST_TYPES:
        raise ExceptionFileError(path, number, f'list "{name}": unknown list type {list_type!r}')
    out.lists[str(obj["list_id"])] = KibanaList(str(obj["list_id"]), name, list_type, path, number)


def _drop_refused(out: KibanaFile) -> None:
    """Items of Defend artifact lists are not exceptions of any rule."""
    refused = {lid for lid, lst in out.lists.items() if lst.type in _DEFEND_ARTIFACTS}
    if refused:
        out.items = [item for item in out.items if item.list_id not in refused]
        for lid in refused:
            del out.lists[lid]


"""audisp-eql's own exception files (TOML), as audisp-eql-exceptions(5) describes:

    disabled_rules = ["<rule_id>", ...]        # these rules are not run at all

    [[exception]]
    name = "nightly backup archives /etc"
    rule_ids = ["<rule_id>", ...]              # or: all_rules = true
    comment = "CHG-1234"                       # optional
    expires = 2026-12-31                       # optional: not applied from then on (UTC)
    entries = [
      { field = "process.executable", operator = "is", value = "/usr/local/sbin/backup" },
      { field = "user.name", operator = "is one of", value = ["backup", "root"] },
    ]

    [[attach]]                                 # a Kibana list (NDJSON beside it) -> rules
    list_id = "linux-known-good"
    rule_ids = ["<rule_id>", ...]              # or: all_rules = true

A bad `[[exception]]` or `[[attach]]` is reported with its line and left out;
the others load.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib

from .model import OPERATORS, Entry, ExceptionFileError, ExceptionItem
from .values import check_field, parse_expiry, scalar_text

_TOP_KEYS = {"disabled_rules", "exception", "attach"}
_ITEM_KEYS = {"name", "rule_ids", "all_rules", "comment", "expires", "os_types", "entries"}
_ENTRY_KEYS = {"field", "operator", "value"}
_ATTACH_KEYS = {"list_id", "rule_ids", "all_rules"}
OS_TYPES = ("linux", "macos", "windows")


class Attachment:
    """`[[attach]]`: a Kibana exception list attached to rules."""

    def __init__(self, list_id: str, rule_ids: frozenset[str], all_rules: bool,
                 path: Path, line: Optional[int]) -> None:
        self.list_id, self.rule_ids, self.all_rules = list_id, rule_ids, all_rules
        self.path, self.line = path, line

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)


class NativeFile:
    def __init__(self) -> None:
        self.items: list[ExceptionItem] = []
        self.attachments: list[Attachment] = []
        self.disabled_rules: dict[str, str] = {}
        self.errors: list[ExceptionFileError] = []


_TOML_POSITION = re.compile(r"\s?\(at line (\d+), column \d+\)")


def _header_lines(text: str, table: str) -> list[int]:
    pattern = re.compile(rf"^[ \t]*\[\[[ \t]*{re.escape(table)}[ \t]*\]\]", re.MULTILINE)
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def _key_line(text: str, key: str) -> Optional[int]:
    m = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.MULTILINE)
    return None if m is None else text.count("\n", 0, m.start()) + 1


def _scope(path: Path, line: Optional[int], table: dict[str, Any],
           what: str) -> tuple[frozenset[str], bool]:
    rule_ids = table.get("rule_ids")
    all_rules = table.get("all_rules", False)
    if not isinstance(all_rules, bool):
        raise ExceptionFileError(path, line, f"{what}: all_rules must be true or false")
    if rule_ids is None:
        if not all_rules:
            raise ExceptionFileError(path, line, f"{what}: say which rules: rule_ids = [...] "
                                                 "or all_rules = true")
        return frozenset(), True
    if all_rules:
        raise ExceptionFileError(path, line, f"{what}: rule_ids and all_rules = true together")
    if not isinstance(rule_ids, list) or not rule_ids or \
            not all(isinstance(r, str) and r.strip() for r in rule_ids):
        raise ExceptionFileError(path, line, f"{what}: rule_ids must be a non-empty list of "
                                             "rule_id strings")
    return frozenset(r.strip() for r in rule_ids), False


def _entry(path: Path, line: Optional[int], raw: Any, number: int, what: str) -> Entry:
    where = f"{what}: entry {number}"
    if not isinstance(raw, dict):
        raise ExceptionFileError(path, line, f"{where}: expected a table "
                                             "{ field = ..., operator = ..., value = ... }")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise ExceptionFileError(path, line, f"{where}: unknown key {unknown[0]!r}")
    field = check_field(raw.get("field"), lambda m: ExceptionFileError(path, line, f"{where}: {m}"))
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise ExceptionFileError(path, line, f"{where}: operator must be one of "
                                             + ", ".join(f'"{o}"' for o in OPERATORS)
                                             + f", got {operator!r}")
    kind, negated = OPERATORS[operator]
    value = raw.get("value")

    def bad(message: str) -> ExceptionFileError:
        return ExceptionFileError(path, line, f"{where} ({field} {operator}): {message}")

    if kind == "exists":
        if value is not None:
            raise bad("takes no value")
        return Entry(field, kind, negated)
    if value is None:
        raise bad("needs a value")
    if kind == "match_any":
        if not isinstance(value, list) or not value:
            raise bad("value must be a non-empty list")
        return Entry(field, kind, negated, tuple(scalar_text(v, bad) for v in value))
    if isinstance(value, list):
        raise bad(f"value must be one value (a list needs \"{'is not one of' if negated else 'is one of'}\")")
    return Entry(field, kind, negated, (scalar_text(value, bad),))


def _item(path: Path, line: Optional[int], raw: Any) -> ExceptionItem:
    if not isinstance(raw, dict):
        raise ExceptionFileError(path, line, "[[exception]] must be a table")
    unknown = sorted(set(raw) - _ITEM_KEYS)
    if unknown:
        raise ExceptionFileError(path, line, f"[[exception]]: unknown key {unknown[0]!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ExceptionFileError(path, line, "[[exception]] needs a name")
    what = f'exception "{name.strip()}"'
    rule_ids, all_rules = _scope(path, line, raw, what)
    comment = raw.get("comment", "")
    if not isinstance(comment, str):
        raise ExceptionFileError(path, line, f"{what}: comment must be a string")
    expires = None
    if "expires" in raw:
        expires = parse_expiry(raw["expires"], lambda m: ExceptionFileError(
            path, line, f"{what}: expires: {m}"))
    os_types = raw.get("os_types", [])
    if not isinstance(os_types, list) or any(o not in OS_TYPES for o in os_types):
        raise ExceptionFileError(path, line, f"{what}: os_types must be a list of "
                                             + ", ".join(OS_TYPES))
    entries = raw.get("entries")
    if not isinstance(entries, list) or not entries:
        raise ExceptionFileError(path, line, f"{what}: needs entries = [ ... ] (at least one)")
    parsed = tuple(_entry(path, line, e, i, what) for i, e in enumerate(entries, 1))
    return ExceptionItem(name=name.strip(), path=path, line=line, entries=parsed,
                         rule_ids=rule_ids, all_rules=all_rules, comment=comment,
                         expires=expires, os_types=tuple(os_types))


def load_native(path: Path, text: str) -> NativeFile:
    out = NativeFile()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _TOML_POSITION.search(str(err))
        # Cut, then stripped: a leading `\s*` in the pattern was quadratic on spaces.
        message = _TOML_POSITION.sub("", str(err)).rstrip()
        out.errors.append(ExceptionFileError(path, int(found.group(1)) if found else None,
                                             f"TOML syntax error: {message}"))
        return out
    unknown = sorted(set(doc) - _TOP_KEYS)
    for key in unknown:
        out.errors.append(ExceptionFileError(path, _key_line(text, key) or _header_line(text, key),
                                             f"unknown key {key!r} (expected disabled_rules, "
                                             "[[exception]] or [[attach]])"))
    disabled = doc.get("disabled_rules", [])
    line = _key_line(text, "disabled_rules")
    if not isinstance(disabled, list) or not all(isinstance(r, str) and r.strip() for r in disabled):
        out.errors.append(ExceptionFileError(path, line, "disabled_rules must be a list of "
                                                         "rule_id strings"))
    else:
        for rule_id in disabled:
            out.disabled_rules.setdefault(rule_id.strip(), f"{path}:{line}")
    items = doc.get("exception", [])
    lines = _header_lines(text, "exception")
    if not isinstance(items, list):
        out.errors.append(ExceptionFileError(path, _key_line(text, "exception"),
                                             "exception must be [[exception]] tables"))
        items = []
    for i, raw in enumerate(items):
        where = lines[i] if i < len(lines) else None
        try:
            out.items.append(_item(path, where, raw))
        except ExceptionFileError as err:
            out.errors.append(err)
    attaches = doc.get("attach", [])
    lines = _header_lines(text, "attach")
    if not isinstance(attaches, list):
        attaches = []
        out.errors.append(ExceptionFileError(path, _key_line(text, "attach"),
                                             "attach must be [[attach]] tables"))
    for i, raw in enumerate(attaches):
        where = lines[i] if i < len(lines) else None
        try:
            out.attachments.append(_attachment(path, where, raw))
        except ExceptionFileError as err:
            out.errors.append(err)
    return out


def _header_line(text: str, table: str) -> Optional[int]:
    found = _header_lines(text, table)
    if found:
        return found[0]
    m = re.search(rf"^[ \t]*\[[ \t]*{re.escape(table)}[ \t]*\]", text, re.MULTILINE)
    return None if m is None else text.count("\n", 0, m.start()) + 1


def _attachment(path: Path, line: Optional[int], raw: Any) -> Attachment:
    if not isinstance(raw, dict):
        raise ExceptionFileError(path, line, "[[attach]] must be a table")
    unknown = sorted(set(raw) - _ATTACH_KEYS)
    if unknown:
        raise ExceptionFileError(path, line, f"[[attach]]: unknown key {unknown[0]!r}")
    list_id = raw.get("list_id")
    if not isinstance(list_id, str) or not list_id.strip():
        raise ExceptionFileError(path, line, "[[attach]] needs list_id (of a Kibana "
                                             "exception list in an .ndjson export)")
    rule_ids, all_rules = _scope(path, line, raw, f'attach "{list_id}"')
    return Attachment(list_id.strip(), rule_ids, all_rules, path, line)

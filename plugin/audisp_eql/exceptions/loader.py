"""Exception files and directories -> one `ExceptionSet`.

`*.toml` files are audisp-eql's own format (native.py), `*.ndjson` files
Kibana exports (kibana.py); a directory is searched for both, sorted.
Files are trust-checked as rule files are (nobody but their owner, root or
us, may change them). Errors are collected, never raised: a bad file or
item is reported and left out, the rest loads.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from .. import limits
from ..trust import UntrustedPathError, check_trusted
from .kibana import KibanaFile, KibanaList, load_kibana
from .model import ExceptionFileError, ExceptionSet
from .native import Attachment, load_native

SUFFIXES = (".toml", ".ndjson")


def _files(paths: Iterable[str | Path], missing_ok: frozenset[str],
           errors: list[ExceptionFileError]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = stat.S_ISDIR(path.stat().st_mode)
        except FileNotFoundError:
            if str(raw) not in missing_ok:
                errors.append(ExceptionFileError(path, None, "no such file or directory"))
            continue
        except OSError as err:
            errors.append(ExceptionFileError(path, None, f"cannot read: {err.strerror or err}"))
            continue
        if is_dir:
            yield from _directory(path, errors)
        elif path.suffix not in SUFFIXES:
            errors.append(ExceptionFileError(path, None, "not an exception file (*.toml: "
                                                         "audisp-eql's format, *.ndjson: a "
                                                         "Kibana export)"))
        else:
            yield path


def _directory(path: Path, errors: list[ExceptionFileError]) -> list[Path]:
    """The exception files below a directory, sorted; a directory that cannot be
    read is an error (else its exceptions would be silently missing)."""
    def unreadable(err: OSError) -> None:
        errors.append(ExceptionFileError(Path(err.filename or path), None,
                                         f"cannot read: {err.strerror or err}"))

    found = []
    for top, _dirs, names in os.walk(path, onerror=unreadable):
        found += [Path(top) / n for n in names if Path(n).suffix in SUFFIXES]
    return sorted(p for p in found if p.is_file())


def _read(path: Path) -> str:
    try:
        check_trusted(path)   # whoever may change an exception may silence alerts
        with open(path, "rb") as f:
            data = f.read(limits.MAX_EXCEPTION_FILE_BYTES + 1)
    except UntrustedPathError as err:
        raise ExceptionFileError(path, None, f"refusing to load: {err.reason}") from None
    except OSError as err:
        raise ExceptionFileError(path, None, f"cannot read: {err.strerror or err}") from None
    if len(data) > limits.MAX_EXCEPTION_FILE_BYTES:
        raise ExceptionFileError(path, None, f"larger than {limits.MAX_EXCEPTION_FILE_BYTES} "
                                             "bytes: not loaded")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ExceptionFileError(path, None, f"not UTF-8 text: {err}") from None


def load_exceptions(paths: Iterable[str | Path], *,
                    missing_ok: Iterable[str] = ()) -> ExceptionSet:
    """Every exception under `paths`; a path in `missing_ok` may be absent
    (the plugin's default directory)."""
    result = ExceptionSet()
    attachments: list[Attachment] = []
    kibana: list[KibanaFile] = []
    for path in _files(paths, frozenset(str(p) for p in missing_ok), result.errors):
        try:
            text = _read(path)
        except ExceptionFileError as err:
            result.errors.append(err)
            continue
        result.files.append(path)
        if path.suffix == ".ndjson":
            export = load_kibana(path, text)
            kibana.append(export)
            result.items.extend(export.items)
            result.errors.extend(export.errors)
            continue
        native = load_native(path, text)
        result.items.extend(native.items)
        result.errors.extend(native.errors)
        attachments.extend(native.attachments)
        for rule_id, where in native.disabled_rules.items():
            result.disabled_rules.setdefault(rule_id, where)
    _attach(result, kibana, attachments)
    if len(result.items) > limits.MAX_EXCEPTION_ITEMS:
        extra = result.items[limits.MAX_EXCEPTION_ITEMS]
        result.errors.append(ExceptionFileError(
            extra.path, extra.line, f"more than {limits.MAX_EXCEPTION_ITEMS} exceptions: "
                                    "this one and those after it are not loaded"))
        del result.items[limits.MAX_EXCEPTION_ITEMS:]
    return result


def _attach(result: ExceptionSet, kibana: list[KibanaFile], attachments: list[Attachment]) -> None:
    """Give the items of Kibana lists the rules their lists are attached to."""
    lists: dict[str, KibanaList] = {}
    scope: dict[str, set[str]] = {}
    to_all: set[str] = set()
    for loaded in kibana:
        lists.update(loaded.lists)
        for list_id, rule_ids in loaded.attached.items():
            scope.setdefault(list_id, set()).update(rule_ids)
    known = set(lists) | {item.list_id for item in result.items if item.list_id}
    for attach in attachments:
        if attach.list_id not in known:
            result.warnings.append(f"{attach.where}: [[attach]] names list_id "
                                   f"{attach.list_id!r}, which no loaded .ndjson export holds")
            continue
        if attach.all_rules:
            to_all.add(attach.list_id)
        scope.setdefault(attach.list_id, set()).update(attach.rule_ids)
    unattached: dict[str, int] = {}
    for index, item in enumerate(result.items):
        if not (item.item_id or item.list_id):
            continue   # a TOML exception names its rules itself
        rules = frozenset(scope.get(item.list_id, ()))
        everything = item.list_id in to_all
        if not rules and not everything:
            unattached[item.list_id] = unattached.get(item.list_id, 0) + 1
        result.items[index] = dataclasses.replace(item, rule_ids=rules, all_rules=everything)
    for list_id, count in unattached.items():
        found = lists.get(list_id)
        label = f'"{found.name}" ({found.where})' if found else repr(list_id)
        result.warnings.append(f"Kibana list {label} is attached to no rule: its {count} "
                               "item(s) are not applied; attach it with an [[attach]] table "
                               "(audisp-eql-exceptions(5)) or import the rule export that "
                               "references it")

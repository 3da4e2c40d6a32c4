"""Control mapping files: which rules evidence which control of a framework.

One TOML file per framework (controls/pci-dss-4.0.toml ...), and
controls/evidence.toml, which defines the evidence categories: what each
needs in the logs to be assessed (`sources`) and what to load when it is
missing. A rule evidences a category with the tag "Evidence: <category>"; a
control lists categories (`evidence`), rule_ids (`rules`) or is `computed`
from the records themselves:

    [framework]
    id = "pci-dss-4.0"          # letters, digits, . _ - ; control keys are "<id>:<control>"
    name = "PCI DSS"
    version = "4.0"

    [[control]]
    id = "10.2.1.4"
    title = "Invalid logical access attempts are logged"
    evidence = ["failed-logins", "access-denied"]
    rules = []                  # optional: rule_ids, e.g. a site rule

    [evidence.failed-logins]    # optional here: adds or replaces a category
    title = "..."
    sources = ["userspace"]     # alternatives; see evidence.toml
    missing = "what to load"

A user adds a framework by writing one more file. Errors name the file and
line; files others can write are refused (as rule files are).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..rules import Rule
from ..trust import UntrustedPathError, check_trusted

COMPUTED = ("integrity", "record-completeness")
_SOURCE = re.compile(r"(?:userspace|auditd|exec|(?:key|syscall|category):[^\s:]+)")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._()-]*")
_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
# Where a key or table is, for errors. Spaces and tabs only before it: `^\s*`
# also ran over newlines, quadratic on a file of blank lines.
_EVIDENCE_KEY = re.compile(r"^[ \t]*evidence\b", re.MULTILINE)
_FRAMEWORK_TABLE = re.compile(r"^[ \t]*\[framework\]", re.MULTILINE)
_ID_KEY = re.compile(r"^[ \t]*id[ \t]*=", re.MULTILINE)
EVIDENCE_TAG = "Evidence: "


class MappingError(ValueError):
    """A mapping file that cannot be used; the message starts with file:line."""


@dataclass(frozen=True)
class Evidence:
    name: str
    title: str
    sources: tuple[str, ...]
    missing: str = ""
    computed: Optional[str] = None
    where: str = ""


@dataclass(frozen=True)
class Control:
    framework: str
    id: str
    title: str
    evidence: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    computed: Optional[str] = None
    where: str = ""

    @property
    def key(self) -> str:
        return f"{self.framework}:{self.id}"


@dataclass
class Framework:
    id: str
    name: str
    version: str
    title: str
    reference: str
    path: Path
    controls: list[Control] = field(default_factory=list)


@dataclass
class ControlSet:
    frameworks: list[Framework] = field(default_factory=list)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def controls(self) -> list[Control]:
        return [c for fw in self.frameworks for c in fw.controls]

    def categories_of(self, rule: Rule) -> tuple[str, ...]:
        return rule_categories(rule)

    def controls_of(self, rule: Rule) -> list[Control]:
        """The controls `rule` evidences (by category or by rule_id)."""
        categories = set(rule_categories(rule))
        return [c for c in self.controls
                if categories.intersection(c.evidence) or rule.rule_id in c.rules]


def rule_categories(rule: Rule) -> tuple[str, ...]:
    return tuple(tag[len(EVIDENCE_TAG):].strip() for tag in rule.tags
                 if tag.startswith(EVIDENCE_TAG))


def _line(text: str, pattern: re.Pattern) -> Optional[int]:
    found = pattern.search(text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


def _where(path: Path, text: str, pattern: Optional[re.Pattern] = None) -> str:
    line = _line(text, pattern) if pattern else None
    return f"{path}:{line}" if line else str(path)


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingError(f"{where}: {what} must be a list of strings")
    return tuple(value)


def _text(table: dict, key: str, where: str, required: bool = True) -> str:
    value = table.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise MappingError(f"{where}: `{key}` must be a non-empty string")
    return value.strip()


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        check_trusted(path)
        text = path.read_bytes().decode("utf-8", errors="replace")
    except UntrustedPathError as err:
        raise MappingError(f"{path}: refusing to load: {err.reason}") from None
    except OSError as err:
        raise MappingError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _POSITION.search(str(err))
        where = f"{path}:{found.group(1)}" if found else str(path)
        raise MappingError(f"{where}: TOML syntax error: {_POSITION.sub('', str(err)).strip()}") \
            from None


def _evidence(path: Path, text: str, tables: Any) -> list[Evidence]:
    if not isinstance(tables, dict):
        where = _where(path, text, _EVIDENCE_KEY)
        raise MappingError(f"{where}: `evidence` must be tables")
    out = []
    for name, table in tables.items():
        where = _where(path, text, re.compile(rf"^[ \t]*\[evidence\.{re.escape(name)}\]",
                                                    re.MULTILINE))
        if not isinstance(table, dict):
            raise MappingError(f"{where}: [evidence.{name}] must be a table")
        sources = _strings(table.get("sources"), "sources", where)
        for source in sources:
            if not _SOURCE.fullmatch(source):
                raise MappingError(f"{where}: unknown source {source!r} (userspace, auditd, exec, "
                                   "key:NAME, syscall:NAME or category:NAME)")
        computed = table.get("computed")
        if computed is not None and computed not in COMPUTED:
            raise MappingError(f"{where}: computed must be one of {', '.join(COMPUTED)}")
        if not sources:
            raise MappingError(f"{where}: [evidence.{name}] needs sources")
        out.append(Evidence(name, _text(table, "title", where), sources,
                            _text(table, "missing", where, required=False), computed, where))
    return out


def _framework(path: Path, text: str, doc: dict[str, Any]) -> Framework:
    head = doc.get("framework")
    where = _where(path, text, _FRAMEWORK_TABLE)
    if not isinstance(head, dict):
        raise MappingError(f"{where}: no [framework] table")
    ident = _text(head, "id", where)
    if not _ID.fullmatch(ident) or ":" in ident:
        raise MappingError(f"{where}: framework id {ident!r}: use letters, digits, '.', '_', '-'")
    framework = Framework(ident, _text(head, "name", where), _text(head, "version", where, False),
                          _text(head, "title", where, False), _text(head, "reference", where, False),
                          path)
    entries = doc.get("control", [])
    if not isinstance(entries, list) or not entries:
        raise MappingError(f"{where}: no [[control]] entries")
    seen: set[str] = set()
    occurrences: dict[str, int] = {}
    for entry in entries:
        cid = entry.get("id") if isinstance(entry, dict) else None
        at = where
        if isinstance(cid, str):
            # The line of this entry's id (the n-th `id = "X"` for the n-th entry X).
            n = occurrences[cid] = occurrences.get(cid, 0) + 1
            lines = [text.count("\n", 0, m.start()) + 1 for m in
                     re.finditer(rf'^[ \t]*id[ \t]*=[ \t]*"{re.escape(cid)}"', text, re.MULTILINE)]
            at = f"{path}:{lines[n - 1]}" if len(lines) >= n else where
        if not isinstance(entry, dict):
            raise MappingError(f"{at}: [[control]] must be a table")
        cid = _text(entry, "id", at)
        if cid in seen:
            raise MappingError(f"{at}: control {cid} appears twice")
        seen.add(cid)
        computed = entry.get("computed")
        if computed is not None and computed not in COMPUTED:
            raise MappingError(f"{at}: computed must be one of {', '.join(COMPUTED)}")
        control = Control(ident, cid, _text(entry, "title", at),
                          _strings(entry.get("evidence"), "evidence", at),
                          _strings(entry.get("rules"), "rules", at), computed, at)
        if not (control.evidence or control.rules or control.computed):
            raise MappingError(f"{at}: control {cid} names no evidence, rules or computed check")
        framework.controls.append(control)
    return framework


def control_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.toml") if p.is_file())
            if not found:
                raise MappingError(f"{path}: no mapping files (*.toml) in this directory")
            files.extend(found)
        else:
            files.append(path)
    return files


def load_controls(paths: Iterable[Path]) -> ControlSet:
    """Every mapping file under `paths`; a file of evidence categories only
    (no [framework]) defines categories for all of them."""
    result = ControlSet()
    for path in control_files(paths):
        text, doc = _read(path)
        result.files.append(path)
        for item in _evidence(path, text, doc.get("evidence", {})):
            result.evidence[item.name] = item
        if "framework" not in doc and "control" not in doc:
            if "evidence" not in doc:
                raise MappingError(f"{path}: neither [framework] nor [evidence.*] tables")
            continue
        framework = _framework(path, text, doc)
        twin = next((f for f in result.frameworks if f.id == framework.id), None)
        if twin is not None:
            where = _where(path, text, _ID_KEY)
            raise MappingError(f"{where}: framework {framework.id} is already defined by "
                               f"{twin.path}")
        result.frameworks.append(framework)
    for control in result.controls:
        unknown = [e for e in control.evidence if e not in result.evidence]
        if unknown:
            raise MappingError(f"{control.where}: control {control.id}: unknown evidence "
                               f"categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}"
                               " (define it in evidence.toml or an [evidence.NAME] table)")
    if not result.frameworks:
        raise MappingError("no framework loaded (a mapping file has a [framework] table)")
    return result

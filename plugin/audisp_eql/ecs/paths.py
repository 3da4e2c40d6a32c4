"""PATH items of a syscall event: which item is the object, its absolute
path, and the ECS `file.*` fields.

The kernel writes one PATH record per name it looked up, with `nametype`
PARENT (the directory of a name it creates or removes), CREATE, DELETE,
NORMAL or UNKNOWN (lookup failed). The object of a call is chosen by
nametype, never by position. A name is what the program passed: relative
names are made absolute with the CWD record when the call resolved them
against the working directory (no dirfd, or dirfd AT_FDCWD); a name
relative to another directory descriptor stays without `file.path` (the
directory is in no record; guessing from CWD would name a different file),
but keeps `file.name`. Paths are normalised lexically (`.`, `..`, `//`),
never by resolving links: the document describes the name the kernel used.
"""

from __future__ import annotations

import posixpath
from typing import Any, NamedTuple, Optional

from ..source.records import ENRICHED_SEPARATOR, enriched_text, split_fields, value_text
from .common import BuildContext

AT_FDCWD = 0xFFFFFF9C   # -100 as the kernel logs it (32 bits, not sign-extended)

# S_IFMT bits of PATH mode= -> ECS file.type
_FILE_TYPES = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink", 0o020000: "char_device",
               0o060000: "block_device", 0o010000: "fifo", 0o140000: "socket"}


class PathItem(NamedTuple):
    item: int
    name: Optional[str]       # decoded, as the program passed it; None for (null)
    nametype: str
    inode: Optional[str]
    dev: Optional[str]
    mode: Optional[int]
    ouid: Optional[str]
    ogid: Optional[str]
    owner: Optional[str]      # ENRICHED OUID=
    group: Optional[str]      # ENRICHED OGID=


def _octal(value: Optional[str]) -> Optional[int]:
    if not value:
        return None
    try:
        return int(value, 8)
    except ValueError:
        return None


def parse_items(bodies: list[str]) -> list[PathItem]:
    """PATH bodies -> items, in item number order (records may come in any order)."""
    items = []
    for position, body in enumerate(bodies):
        raw, _sep, tail = body.partition(ENRICHED_SEPARATOR)
        fields = split_fields(raw)
        enriched = split_fields(tail) if tail else {}
        try:
            number = int(fields.get("item", position))
        except ValueError:
            number = position
        items.append(PathItem(
            number, value_text(fields.get("name")), fields.get("nametype", "UNKNOWN"),
            fields.get("inode"), fields.get("dev"), _octal(fields.get("mode")),
            fields.get("ouid"), fields.get("ogid"),
            enriched_text(enriched.get("OUID")), enriched_text(enriched.get("OGID"))))
    items.sort(key=lambda i: i.item)
    return items


def is_cwd_dirfd(arg: Optional[str]) -> bool:
    """True when a dirfd argument (hex, as logged) is AT_FDCWD."""
    if arg is None:
        return False
    try:
        return int(arg, 16) & 0xFFFFFFFF == AT_FDCWD
    except ValueError:
        return False


def absolute(name: Optional[str], cwd: Optional[str], relative_to_cwd: bool) -> Optional[str]:
    """The absolute, lexically normalised path of `name`; None when unknown."""
    if not name:
        return None
    if name[0] != "/":
        if not relative_to_cwd or not cwd or cwd[0] != "/":
            return None
        name = cwd + "/" + name
    path = posixpath.normpath(name)
    if path.startswith("//"):     # POSIX keeps a leading "//"; Linux has no such root
        path = "/" + path.lstrip("/")
    return path


def extension(name: str) -> Optional[str]:
    """Text after the last dot, unless the dot starts the name (`.bashrc` has none)."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return None
    return name[dot + 1:]


def file_fields(context: BuildContext, item: PathItem, path: Optional[str]) -> dict[str, Any]:
    """ECS file.* of one item: path, name, directory, extension, inode, mode,
    type, uid/gid and owner/group names (ENRICHED, else this host's user db)."""
    out: dict[str, Any] = {}
    name = item.name
    if path is not None:
        out["path"] = path
        directory, base = posixpath.split(path)
        if base:
            out["name"] = base
        out["directory"] = directory
    elif name:
        base = name.rstrip("/").rpartition("/")[2]
        if base:
            out["name"] = base
    base = out.get("name")
    if base:
        ext = extension(base)
        if ext is not None:
            out["extension"] = ext
    if item.inode is not None:
        out["inode"] = item.inode
    if item.mode is not None:
        out["mode"] = "%04o" % (item.mode & 0o7777)
        kind = _FILE_TYPES.get(item.mode & 0o170000)
        if kind is not None:
            out["type"] = kind
    if item.ouid is not None:
        out["uid"] = item.ouid
        owner = item.owner
        if owner is None and context.users is not None:
            owner = context.users.user_name(item.ouid)
        if owner is not None:
            out["owner"] = owner
    if item.ogid is not None:
        out["gid"] = item.ogid
        group = item.group
        if group is None and context.users is not None:
            group = context.users.group_name(item.ogid)
        if group is not None:
            out["group"] = group
    return out


def raw_items(items: list[PathItem]) -> list[dict[str, str]]:
    """auditd.paths: every item as logged (PARENT and DELETE items included)."""
    out = []
    for item in items:
        entry = {"item": str(item.item), "nametype": item.nametype}
        if item.name is not None:
            entry["name"] = item.name
        if item.inode is not None:
            entry["inode"] = item.inode
        if item.dev is not None:
            entry["dev"] = item.dev
        if item.mode is not None:
            entry["mode"] = "%o" % item.mode
        if item.ouid is not None:
            entry["ouid"] = item.ouid
        if item.ogid is not None:
            entry["ogid"] = item.ogid
        out.append(entry)
    return out


def first(items: list[PathItem], *nametypes: str) -> Optional[PathItem]:
    for item in items:
        if item.nametype in nametypes:
            return item
    return None


def last(items: list[PathItem], *nametypes: str) -> Optional[PathItem]:
    for item in reversed(items):
        if item.nametype in nametypes:
            return item
    return None

"""File syscalls -> ECS file documents (creation, modification, rename,
deletion, attribute changes, opens for reading).

One document per successful call, about its object (chosen by PATH
nametype, see paths.py). `event.action` is a list: Elastic Defend's term
first, then Auditbeat's (go-libaudit's normalisation), so rules written
for either match; Elasticsearch matches a list when any element does, and
no rule of Elastic's corpus negates both vocabularies at once.

| call | object | event.type | event.action |
|---|---|---|---|
| open/openat/openat2/creat that created the file (CREATE item) | CREATE | creation | creation, opened-file |
| same on an existing file, for write / truncate / append (creat always) | NORMAL | change | modification, opened-file |
| same, read only | NORMAL | access | open, opened-file |
| truncate | NORMAL | change | modification, opened-file |
| unlink, unlinkat, rmdir | DELETE | deletion | deletion, deleted |
| rename, renameat, renameat2 | CREATE (new), first DELETE (old: file.Ext.original.*) | change | rename, renamed |
| mkdir(at) | CREATE | creation | creation, created-directory |
| link(at) / symlink(at) / mknod(at) | CREATE | creation | creation, linked / symlinked / make-device |
| chmod family | NORMAL | change | modification, changed-file-permissions-of |
| chown family | NORMAL | change | modification, changed-file-ownership-of |
| setxattr / removexattr family | NORMAL | change | modification, changed-file-attributes-of |

Calls on a file descriptor only (ftruncate, fchmod, fchown, fsetxattr) name
no path and make no document. A read-only open (O_CREAT of a file that
existed included) is a document only when it carries the files profile's key
(READ_OPEN_KEYS): the profile watches writes; add `-p r` to a watch, or a
`-w PATH -p r -k files` line, to see reads of that path. Failed calls make
no file document.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from .actor import ACTOR_CONSTANTS, ACTOR_FIELDS, envelope
from .common import audit_tags
from .openflags import opens_for_write, parse_flags
from .parts import EventParts
from .paths import (PathItem, absolute, file_fields, first, is_cwd_dirfd, last, parse_items,
                    raw_items)
from .registry import Document, EventBuilder, Syscall

_FILE_FIELDS = frozenset(f"file.{name}" for name in (
    "path", "name", "directory", "extension", "inode", "mode", "type", "uid", "gid",
    "owner", "group")) | frozenset(f"file.Ext.original.{name}" for name in (
        "path", "name", "directory", "extension")) | {"auditd.paths"}

# Read-only opens are documents only under these audit rule keys: a watch of the
# files profile that also asks for reads (`-p rwa` or `-w PATH -p r -k files`).
# Any other rule that reports reads (an audit-everything `-S openat`) would
# turn every file read of the host into a document.
READ_OPEN_KEYS = frozenset({"files"})

# syscall -> (family, argument holding the dirfd of the object's name; None: the cwd)
_CALLS: dict[str, tuple[str, Optional[str]]] = {
    "open": ("open", None), "openat": ("open", "a0"), "openat2": ("open", "a0"),
    "creat": ("creat", None), "truncate": ("truncate", None), "truncate64": ("truncate", None),
    "unlink": ("delete", None), "unlinkat": ("delete", "a0"), "rmdir": ("delete", None),
    "rename": ("rename", None), "renameat": ("rename", "a2"), "renameat2": ("rename", "a2"),
    "link": ("link", None), "linkat": ("link", "a2"),
    "symlink": ("symlink", None), "symlinkat": ("symlink", "a1"),
    "mknod": ("mknod", None), "mknodat": ("mknod", "a0"),
    "mkdir": ("mkdir", None), "mkdirat": ("mkdir", "a0"),
    "chmod": ("chmod", None), "fchmodat": ("chmod", "a0"),
    "chown": ("chown", None), "lchown": ("chown", None), "chown32": ("chown", None),
    "lchown32": ("chown", None), "fchownat": ("chown", "a0"),
    "setxattr": ("xattr", None), "lsetxattr": ("xattr", None),
    "removexattr": ("xattr", None), "lremovexattr": ("xattr", None),
}

# What happened -> (event.type, event.action)
_OUTCOMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "created": (("creation",), ("creation", "opened-file")),
    "modified": (("change",), ("modification", "opened-file")),
    "opened": (("access",), ("open", "opened-file")),
    "deleted": (("deletion",), ("deletion", "deleted")),
    "renamed": (("change",), ("rename", "renamed")),
    "mkdir": (("creation",), ("creation", "created-directory")),
    "link": (("creation",), ("creation", "linked")),
    "symlink": (("creation",), ("creation", "symlinked")),
    "mknod": (("creation",), ("creation", "make-device")),
    "chmod": (("change",), ("modification", "changed-file-permissions-of")),
    "chown": (("change",), ("modification", "changed-file-ownership-of")),
    "xattr": (("change",), ("modification", "changed-file-attributes-of")),
}


class FileEventBuilder(EventBuilder):
    """File syscalls -> one file document per successful call."""

    kind = "file"
    categories = ("file",)
    fields = ACTOR_FIELDS | _FILE_FIELDS
    constants = {**ACTOR_CONSTANTS, "event.category": ["file"]}
    variants = tuple({"event.type": list(types), "event.action": list(actions)}
                     for types, actions in _OUTCOMES.values())
    syscalls = frozenset(_CALLS)

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        assert syscall is not None and syscall.name is not None
        values = syscall.values
        if values.success != "yes":
            return []
        parts = EventParts(event)
        if not parts.paths:
            return []
        items = parse_items(parts.paths)
        family, dirfd_arg = _CALLS[syscall.name]
        found = _object(family, syscall.name, values, parts, items)
        if found is None:
            return []
        outcome, item = found
        if outcome == "opened" and not READ_OPEN_KEYS.intersection(
                audit_tags(values.key) or ()):
            return []     # reads only where a files-profile watch asks for them
        relative_to_cwd = dirfd_arg is None or is_cwd_dirfd(getattr(values, dirfd_arg))
        path = absolute(item.name, parts.cwd, relative_to_cwd)
        file = file_fields(self.context, item, path)
        if not file.get("name") and path is None:
            return []      # nothing names the file (an fd-only or nameless item)
        if outcome == "renamed":
            old = first(items, "DELETE")
            if old is not None:
                old_cwd = syscall.name == "rename" or is_cwd_dirfd(values.a0)
                original = file_fields(self.context, old, absolute(old.name, parts.cwd, old_cwd))
                file["Ext"] = {"original": {k: original[k] for k in
                                            ("path", "name", "directory", "extension")
                                            if k in original}}
        types, actions = _OUTCOMES[outcome]
        doc = envelope(self.context, event, values, syscall.name, parts, True)
        doc["event"]["category"] = ["file"]
        doc["event"]["type"] = list(types)
        doc["event"]["action"] = list(actions)
        doc["file"] = file
        doc["auditd"]["paths"] = raw_items(items)
        return [doc]


def _object(family: str, name: str, values: Any, parts: EventParts,
            items: list[PathItem]) -> Optional[tuple[str, PathItem]]:
    """(what happened, the object's item), or None when the records name none."""
    if family in ("open", "creat"):
        created = last(items, "CREATE")
        if created is not None:
            return "created", created
        item = first(items, "NORMAL")
        if item is None:
            return None
        if family == "creat":
            return "modified", item
        if name == "openat2":
            fields = parts.fields("OPENAT2")
            flags = parse_flags(fields.get("oflag"), 8) if fields else None
            if flags is None:
                return "opened", item     # flags unknown (kernel < 5.16): not guessed
        else:
            flags = parse_flags(values.a1 if name == "open" else values.a2)
            if flags is None:
                return None
        return ("modified" if opens_for_write(flags, values.arch) else "opened"), item
    if family == "truncate":
        item = first(items, "NORMAL")
        return ("modified", item) if item is not None else None
    if family == "delete":
        item = first(items, "DELETE")
        return ("deleted", item) if item is not None else None
    if family == "rename":
        new = last(items, "CREATE")
        if new is None:
            # RENAME_EXCHANGE and odd filesystems: the last named non-PARENT item
            # that is not the old name.
            old = first(items, "DELETE", "NORMAL")
            for item in reversed(items):
                if item.nametype != "PARENT" and item is not old and item.name:
                    new = item
                    break
        return ("renamed", new) if new is not None else None
    if family in ("link", "symlink", "mknod", "mkdir"):
        item = last(items, "CREATE")
        return (family, item) if item is not None else None
    # chmod, chown, xattr: the object itself
    item = first(items, "NORMAL")
    return (family, item) if item is not None else None


"""Which host a record is about: `host.*` as Elastic's agents fill it.

Records without `node=` come from this machine (Debian's auditd.conf has
`name_format = NONE`, so that is the usual case): they get this machine's
hostname, `/etc/machine-id` and OS (from `/etc/os-release` and `uname`).
Records with `node=` come from another host through a collector (auditd's
`name_format = hostname | fqd | numeric | user`): the node name is their
`host.name`, and their `host.id` is derived from it (a name-based UUID,
written like a machine-id), stable wherever the name is seen; their OS is
not known beyond `host.os.type`.

A `HostIdentity` gives the `host` object of every document about that host;
the object is shared by those documents and must not be changed.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import limits
from ..digest import uuid5

# Namespace of the host ids derived from node names (a fixed, random UUID).
NODE_ID_NAMESPACE = uuid.UUID("5c1f7d3e-0b52-4c5e-9a55-2f1b8a0e6d41")
_FAMILIES = ("debian", "rhel", "fedora", "suse", "arch", "alpine")


@dataclass(frozen=True)
class HostIdentity:
    name: Optional[str]
    ident: Optional[str] = None
    os: dict[str, str] = field(default_factory=lambda: {"type": "linux"})
    architecture: Optional[str] = None
    document: dict[str, Any] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        host: dict[str, Any] = {"os": dict(self.os)}
        if self.name is not None:
            host["name"] = host["hostname"] = self.name
        if self.ident is not None:
            host["id"] = self.ident
        if self.architecture is not None:
            host["architecture"] = self.architecture
        object.__setattr__(self, "document", host)


def node_id(node: str) -> str:
    """The host.id of a remote node: stable per name, 32 hex digits."""
    return uuid5(NODE_ID_NAMESPACE, node).hex


def read_os_release(root: str = "/") -> dict[str, str]:
    """`host.os.*` from os-release (as the Beats' host metadata reads it)."""
    values: dict[str, str] = {}
    for name in ("etc/os-release", "usr/lib/os-release"):
        try:
            with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 16)
        except OSError:
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip().isidentifier():
                values[key.strip()] = value.strip().strip("\"'")
        break
    found = {"type": "linux"}
    ids = [values.get("ID", "")] + values.get("ID_LIKE", "").split()
    family = next((i for i in ids if i in _FAMILIES), values.get("ID"))
    for key, source in (("family", family), ("platform", values.get("ID")),
                        ("name", values.get("NAME")), ("version", values.get("VERSION")),
                        ("full", values.get("PRETTY_NAME")),
                        ("codename", values.get("VERSION_CODENAME"))):
        if source:
            found[key] = source
    try:
        found["kernel"] = os.uname().release
    except OSError:  # pragma: no cover - uname does not fail on Linux
        pass
    return found


def local_identity(root: str = "/", hostname: Optional[str] = None) -> HostIdentity:
    """This machine: hostname (or `hostname`), machine-id, OS and architecture."""
    ident = None
    for name in ("etc/machine-id", "var/lib/dbus/machine-id"):
        try:
            with open(os.path.join(root, name), encoding="ascii", errors="replace") as f:
                text = f.read(64).strip()
        except OSError:
            continue
        if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
            ident = text
            break
    return HostIdentity(hostname or socket.gethostname(), ident, read_os_release(root),
                        os.uname().machine)


def named_identity(name: str) -> HostIdentity:
    """A host known only by its name (a `node=`, or `--hostname` for another host's logs)."""
    return HostIdentity(name, node_id(name))


class HostDirectory:
    """The identity of each host a stream mentions, bounded (node names come
    from the input): `local` for records without `node=`."""

    def __init__(self, local: Optional[HostIdentity]) -> None:
        self.local = local
        self._nodes = limits.BoundedCache("MAX_HOST_IDENTITIES")

    def host(self, node: Optional[str]) -> Optional[HostIdentity]:
        if node is None:
            return self.local
        found = self._nodes.get(node)
        if found is None:
            found = named_identity(node)
            self._nodes.remember(node, found)
        return found

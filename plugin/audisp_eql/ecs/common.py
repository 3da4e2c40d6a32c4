"""Pieces every ECS builder uses: syscall names, timestamps, audit keys,
user names, and the builders' shared context."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Union

from .. import limits
from ..actions import DEFAULT_ACTIONS
from ..source.records import enriched_text, split_fields, value_bytes
from .environ import EnvironReader
from .host import HostDirectory
from .proctable import ProcessTable
from .users import UserDb

# Fixed fields of every document built from audit records.
EVENT_CONSTANTS: dict[str, str] = {"event.kind": "event", "host.os.type": "linux",
                                   "event.module": "auditd"}


def table_variants(kinds: Iterable[tuple[Any, Any, Any]]) -> tuple[dict[str, Any], ...]:
    """A builder's variants from its table of (event.category, event.type,
    event.action) by record type: one per row."""
    return tuple({"event.category": c, "event.type": t, "event.action": a} for c, t, a in kinds)

try:
    import audit as _audit
except ImportError:  # pragma: no cover - without the bindings no names are known
    _audit = None  # type: ignore[assignment]



@dataclass
class BuildContext:
    """What the builders of one pipeline share: settings and the process table."""
    # event.action of process starts: one value, or several (a list in documents)
    action: Union[str, tuple[str, ...]] = DEFAULT_ACTIONS
    include_failed: bool = False          # failed execs become documents too
    table: Optional[ProcessTable] = None  # processes seen, for process.parent.*
    users: Optional[UserDb] = None        # local names for ids (this host's logs only)
    malformed_values: int = 0             # numbers out of range, left out of documents
    # host.* per node; records without node= get `hosts.local` (None: no host.name/id)
    hosts: HostDirectory = field(default_factory=lambda: HostDirectory(None))
    # The records are this host's, as they happen (the plugin): /proc and /sys
    # may be read for what the records lack (module taint, environment).
    live: bool = False
    # process.env_vars of process starts, read from /proc (live only; None: not read)
    environ: Optional[EnvironReader] = None

    def host_fields(self, node: Optional[str]) -> dict[str, Any]:
        """The (shared, read-only) `host` object of a document about `node`."""
        host = self.hosts.host(node)
        return host.document if host is not None else _LINUX_ONLY


_LINUX_ONLY: dict[str, Any] = {"os": {"type": "linux"}}


# (arch, number) come from the input: only short ones are remembered.
_SYSCALL_NAMES = limits.BoundedCache("MAX_SYSCALL_NAMES", "MAX_CACHE_KEY_CHARS")


def syscall_name(arch: Optional[str], number: Optional[str]) -> Optional[str]:
    """`execve` for (c000003e, 59): by the audit bindings' tables, any architecture."""
    key = (arch, number)
    try:
        return _SYSCALL_NAMES[key]
    except KeyError:
        pass
    name: Optional[str] = None
    if _audit is not None and arch and number:
        try:
            machine = _audit.audit_elf_to_machine(int(arch, 16))
            if machine >= 0:
                name = _audit.audit_syscall_to_name(int(number), machine)
        except (ValueError, OverflowError, OSError, TypeError):
            name = None
    _SYSCALL_NAMES.remember(key, name)
    return name


# ".000Z" ... ".999Z": the millisecond tail of @timestamp without formatting.
_MSEC_SUFFIX = tuple(".%03dZ" % i for i in range(1000))
_SECONDS = limits.BoundedCache("MAX_TIMESTAMPS")


def timestamp(sec: int, msec: int) -> str:
    """`@timestamp` of an audit event time (UTC, milliseconds)."""
    prefix = _SECONDS.get(sec)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _SECONDS.remember(sec, prefix)
    if msec < 1000:
        return prefix + _MSEC_SUFFIX[msec]
    return f"{prefix}.{msec:03d}Z"


_AUDIT_KEYS = limits.BoundedCache("MAX_AUDIT_KEYS")


def audit_tags(raw: Optional[str]) -> Optional[list[str]]:
    """The audit rule key(s) of `key=` as `tags` (several keys, which the kernel
    joins with 0x01, are split); None for key=(null) or none."""
    if raw is None or raw == "(null)":
        return None
    # A host has a few audit rule keys: decode each once (bounded, keys are input).
    keys = _AUDIT_KEYS.get(raw)
    if keys is None:
        data = value_bytes(raw)
        keys = tuple(k.decode("utf-8", "backslashreplace")
                     for k in data.split(b"\x01") if k) if data else ()
        if len(raw) <= limits.MAX_AUDIT_KEY_LENGTH:      # memory bounded whatever the input
            _AUDIT_KEYS.remember(raw, keys)
    return list(keys) if keys else None   # each document owns its list


def process_name(comm: Optional[str], exe: Optional[str]) -> Optional[str]:
    """process.name: comm, except that the kernel cuts comm at 15 bytes; then
    the executable's basename when it starts with comm."""
    if comm is not None and exe:
        if len(comm) == 15:
            base = exe.rpartition("/")[2]
            if base.startswith(comm):
                return base
        elif not comm.isascii() or "\\" in comm:
            # The cut is at 15 bytes, maybe inside a character (then \xNN).
            cut = raw_bytes(comm)
            base = exe.rpartition("/")[2]
            if len(cut) == 15 and raw_bytes(base).startswith(cut):
                return base
    return comm if comm is not None else (exe.rpartition("/")[2] if exe else None)


_BYTE_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def raw_bytes(text: str) -> bytes:
    """The bytes a decoded value came from (\\xNN escapes undone)."""
    return _BYTE_ESCAPE.sub(lambda m: bytes((int(m[1], 16),)),
                            text.encode("utf-8", "surrogatepass"))


# ECS `long` (Elasticsearch refuses the whole document for a number outside it).
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


def to_int(value: Optional[str], context: Optional[BuildContext] = None) -> Optional[int]:
    """A number field as an ECS long; None when absent or not a number in
    range (then counted in `context.malformed_values`: 4301 digits raised a
    ValueError, 20 made a document Elasticsearch refuses)."""
    if value is None:
        return None
    try:
        number = int(value) if len(value) <= 20 else None
    except ValueError:
        number = None
    if number is None or not LONG_MIN <= number <= LONG_MAX:
        if context is not None:
            context.malformed_values += 1
        return None
    return number


def pruned(value: Any) -> Any:
    """Without None values and the dicts left empty (documents built from a
    record that lacks some field)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            if isinstance(v, dict):
                v = pruned(v)
                if not v:
                    continue
            out[k] = v
        return out
    return value


def id_names(context: BuildContext, tail: str,
             ids: Sequence[tuple[str, Optional[str], str]]) -> list[Optional[str]]:
    """Names for ids given as (ENRICHED field name, id, "user" | "group" | "audit"):
    the ENRICHED field (UID="root" ...), else the local user database (not for
    audit ids: the login user's name is only known from the record); None where
    the id is absent or has no name."""
    if tail:
        enriched = split_fields(tail)
        names = [enriched_text(enriched.get(field)) if ident is not None else None
                 for field, ident, _kind in ids]
    else:
        names = [None] * len(ids)
    users = context.users
    if users is not None:
        for i, (_field, ident, kind) in enumerate(ids):
            if names[i] is None and ident is not None and kind != "audit":
                names[i] = users.group_name(ident) if kind == "group" else users.user_name(ident)
    return names

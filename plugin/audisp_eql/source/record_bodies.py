"""The record bodies the ECS builder reads, taken apart in one call each.

The kernel writes SYSCALL, EXECVE, CWD and PROCTITLE records in a fixed
layout, so the common case needs no general field splitting: one anchored
regex for SYSCALL, one `str.split` for a single-record argv, a slice for
CWD. Each function returns None when the body is not in that layout, and
the caller falls back to `records.split_body`; both ways give the same
values (the fast patterns accept only text the general splitter would cut
in exactly the same places: no value may start with a quote that does not
close it, no quoted value may hold the 0x1D ENRICHED separator).

`SyscallValues` is the tuple both paths produce: the fields as plain text
(numbers unquoted, comm/exe/key raw as written), None when absent.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

from .records import ENRICHED_SEPARATOR, plain_value, split_body, text_of


class SyscallValues(NamedTuple):
    """The SYSCALL fields the builders read, as written (numbers unquoted;
    comm, exe and key raw), None when absent; `tail` is the 0x1D separator
    and the ENRICHED fields, or ""."""
    arch: Optional[str]
    syscall: Optional[str]
    success: Optional[str]
    exit: Optional[str]
    a0: Optional[str]
    a1: Optional[str]
    a2: Optional[str]
    a3: Optional[str]
    ppid: Optional[str]
    pid: Optional[str]
    auid: Optional[str]
    uid: Optional[str]
    gid: Optional[str]
    euid: Optional[str]
    suid: Optional[str]
    egid: Optional[str]
    sgid: Optional[str]
    tty: Optional[str]
    ses: Optional[str]
    comm: Optional[str]
    exe: Optional[str]
    key: Optional[str]
    tail: str


_MAKE_VALUES = SyscallValues._make

_NUM = r"([0-9]+)"
_HEXNUM = r"([0-9a-f]+)"
# A value that is "quoted" (no quote or 0x1D inside) or runs to the next space
# and does not start with a quote (the general splitter would read the quote).
_TEXT = r"(\"[^\"\x1d]*\"|[^\s\"'][^\s]*|)"
_UNCAPTURED_TEXT = r"(?:\"[^\"\x1d]*\"|[^\s\"'][^\s]*|)"
_UNQUOTED = r"([^\s\"'][^\s]*)"     # tty: quoted (some auditd versions) goes the slow way

# The kernel's order for x86_64/aarch64/i386 syscall records (kernel/auditsc.c:
# audit_log_exit and audit_log_task_info); per= and subj= appear only when set.
SYSCALL_LAYOUT = re.compile(
    rf"arch={_HEXNUM} syscall={_NUM}(?: per=[0-9a-f]+)? success=(yes|no) exit=(-?[0-9]+)"
    rf" a0={_HEXNUM} a1={_HEXNUM} a2={_HEXNUM} a3={_HEXNUM} items=[0-9]+"
    rf" ppid={_NUM} pid={_NUM} auid={_NUM} uid={_NUM} gid={_NUM} euid={_NUM}"
    rf" suid={_NUM} fsuid=[0-9]+ egid={_NUM} sgid={_NUM} fsgid=[0-9]+"
    rf" tty={_UNQUOTED} ses={_NUM} comm={_TEXT} exe={_TEXT}(?: subj={_UNCAPTURED_TEXT})?"
    rf" key={_TEXT}(\x1d.*|)", re.DOTALL)

_SYSCALL_NAMES = SyscallValues._fields[:-1]   # all but the ENRICHED tail
_PLAIN_NAMES = frozenset(_SYSCALL_NAMES) - {"comm", "exe", "key"}


def syscall_values(body: str) -> SyscallValues:
    """A SYSCALL body -> SyscallValues: the fixed layout in one match, else
    the general splitter."""
    m = SYSCALL_LAYOUT.fullmatch(body)
    if m is not None:
        return _MAKE_VALUES(m.groups())
    return syscall_values_by_splitting(body)


def syscall_values_by_splitting(body: str) -> SyscallValues:
    """SyscallValues by the general splitter (any order, quoted numbers, ...)."""
    fields, _enriched = split_body(body)
    get = fields.get
    values = [plain_value(get(n)) if n in _PLAIN_NAMES else get(n) for n in _SYSCALL_NAMES]
    _raw, separator, tail = body.partition(ENRICHED_SEPARATOR)
    values.append(separator + tail)
    return _MAKE_VALUES(values)


# A whole single-record argv as the kernel writes it: every argument "quoted"
# (the kernel quotes only arguments without space, quote or control bytes) or hex.
_ARGV_LAYOUT = re.compile(r'argc=[0-9]+(?: a[0-9]+=(?:"[^"\s\x1d]*"|(?:[0-9A-Fa-f]{2})+))*')
_ARGV_ITEM = re.compile(r' a([0-9]+)=(?:"([^"]*)"|([0-9A-Fa-f]*))')
# ("0", "1", ..., "n-1") for the common counts: the argument numbers must run in order.
_ARG_NUMBERS = [tuple(map(str, range(n))) for n in range(64)]


def single_record_argv(body: str) -> Optional[list[str]]:
    """`argc=N a0=... aN-1=...` in the kernel's layout: the arguments; None for
    anything else (split arguments, numbers out of order, other whitespace)."""
    if _ARGV_LAYOUT.fullmatch(body) is None:
        return None
    found = _ARGV_ITEM.findall(body)
    if not found:
        return []
    numbers, quoted, hexed = zip(*found)
    count = len(numbers)
    if numbers != (_ARG_NUMBERS[count] if count < 64 else tuple(map(str, range(count)))):
        return None
    if not any(hexed):
        return list(quoted)
    return [text_of(bytes.fromhex(h)) if h else q for q, h in zip(quoted, hexed)]


def plain_cwd(body: str) -> Optional[str]:
    """`cwd="..."` and nothing else -> the directory; None otherwise."""
    if body[:5] == 'cwd="' and body[-1:] == '"' and body.find('"', 5) == len(body) - 1 \
            and ENRICHED_SEPARATOR not in body:
        return body[5:-1]
    return None


# The start of a SYSCALL body, enough to name the syscall (most events are
# dropped after this); the general splitter would read the same two values.
SYSCALL_HEAD = re.compile(r"arch=([0-9a-f]+) syscall=([0-9]+) ")


def plain_proctitle(body: str) -> Optional[str]:
    """`proctitle=HEX` or `proctitle="..."` alone -> the raw value; None otherwise."""
    if body[:10] != "proctitle=" or ENRICHED_SEPARATOR in body:
        return None
    value = body[10:]
    if value.isascii() and value.isalnum():
        return value
    if value[:1] == '"' and value.find('"', 1) == len(value) - 1:
        return value
    return None

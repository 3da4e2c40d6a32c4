"""open(2) flags per architecture, and what an open did to its file.

Access mode (O_ACCMODE = 3: read 0, write 1, read-write 2) is the same
everywhere; O_CREAT, O_TRUNC and O_APPEND are not (mips, sparc, alpha and
parisc use their own values). The table is keyed by the ELF machine in the
low 16 bits of SYSCALL `arch=`; an architecture not listed is judged by the
access mode alone.
"""

from __future__ import annotations

from typing import Optional

# ELF machine -> (O_CREAT, O_TRUNC, O_APPEND)
_GENERIC = (0o100, 0o1000, 0o2000)
_FLAGS: dict[int, tuple[int, int, int]] = {
    0x3E: _GENERIC,              # x86_64
    0x03: _GENERIC,              # i386
    0xB7: _GENERIC,              # aarch64
    0x28: _GENERIC,              # arm
    0xF3: _GENERIC,              # riscv
    0x14: _GENERIC,              # ppc
    0x15: _GENERIC,              # ppc64 / ppc64le
    0x16: _GENERIC,              # s390 / s390x
    0x102: _GENERIC,             # loongarch
    0x08: (0x100, 0x200, 0x8),   # mips
    0x02: (0x200, 0x400, 0x8),   # sparc
    0x2B: (0x200, 0x400, 0x8),   # sparc64
    0x9026: (0o1000, 0o2000, 0o10),  # alpha
    0x0F: (0o400, 0o1000, 0o10),     # parisc
}

def machine_flags(arch: Optional[str]) -> Optional[tuple[int, int, int]]:
    if not arch:
        return None
    try:
        return _FLAGS.get(int(arch, 16) & 0xFFFF)
    except ValueError:
        return None


def parse_flags(value: Optional[str], base: int = 16) -> Optional[int]:
    if value is None:
        return None
    try:
        return int(value, base)
    except ValueError:
        return None


def opens_for_write(flags: int, arch: Optional[str]) -> bool:
    """Opened for writing: write access, or truncating / appending."""
    if flags & 3 in (1, 2):
        return True
    known = machine_flags(arch)
    return known is not None and bool(flags & (known[1] | known[2]))

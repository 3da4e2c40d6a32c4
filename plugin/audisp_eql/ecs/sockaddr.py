"""SOCKADDR `saddr=` (the socket address a program passed or received, as
hex bytes) -> family, address, port, unix path.

The family is a host-order u16: little-endian unless the SYSCALL arch lacks
the __AUDIT_ARCH_LE bit (0x40000000: ppc64, s390x, mips, sparc are big-
endian). Ports and IP addresses are network byte order everywhere. An IPv4
address mapped into IPv6 (::ffff:a.b.c.d) is written as IPv4, as
Elasticsearch stores it. A unix path ends at its first NUL (the kernel may
log the whole 110-byte struct with garbage after it); an abstract name
(first byte NUL) is written `@name`, as `ss` does; a 2-byte address is an
unnamed socket.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple, Optional

from ..source.records import text_of

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 0, 1, 2, 10, 16
_ARCH_LE = 0x40000000

# family number -> auditd.data.socket.family (Auditbeat's names; else the number)
FAMILY_NAMES = {AF_UNIX: "unix", AF_INET: "ipv4", AF_INET6: "ipv6", AF_NETLINK: "netlink"}


class SocketAddress(NamedTuple):
    family: int
    ip: Optional[str] = None
    port: Optional[int] = None
    path: Optional[str] = None      # unix sockets: path or @abstract; None when unnamed
    raw: str = ""                   # the saddr hex as logged

    @property
    def family_name(self) -> str:
        return FAMILY_NAMES.get(self.family, str(self.family))


def little_endian(arch: Optional[str]) -> bool:
    """Byte order of the audited process's architecture (little-endian when unknown)."""
    try:
        return not arch or bool(int(arch, 16) & _ARCH_LE)
    except ValueError:
        return True


def decode(saddr: Optional[str], arch: Optional[str]) -> Optional[SocketAddress]:
    """The address in `saddr`, or None when it is not hex or shorter than a family."""
    if not saddr:
        return None
    try:
        data = bytes.fromhex(saddr)
    except ValueError:
        return None
    if len(data) < 2:
        return None
    family = int.from_bytes(data[:2], "little" if little_endian(arch) else "big")
    if family == AF_INET:
        if len(data) < 8:
            return SocketAddress(family, raw=saddr)
        return SocketAddress(family, str(ipaddress.IPv4Address(data[4:8])),
                             int.from_bytes(data[2:4], "big"), raw=saddr)
    if family == AF_INET6:
        if len(data) < 24:
            return SocketAddress(family, raw=saddr)
        address = ipaddress.IPv6Address(data[8:24])
        mapped = address.ipv4_mapped
        ip = str(mapped) if mapped is not None else str(address)
        return SocketAddress(family, ip, int.from_bytes(data[2:4], "big"), raw=saddr)
    if family == AF_UNIX:
        name = data[2:]
        if not name:
            return SocketAddress(family, raw=saddr)
        if name[0] == 0:
            # Abstract: every byte of the given length is the name (NULs included).
            return SocketAddress(family, path="@" + text_of(name[1:]), raw=saddr)
        return SocketAddress(family, path=text_of(name.split(b"\0", 1)[0]), raw=saddr)
    return SocketAddress(family, raw=saddr)

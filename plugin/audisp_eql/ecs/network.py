"""Socket syscalls -> ECS network documents (connect, accept, bind).

| call | SOCKADDR is | event.type | event.action | network.direction |
|---|---|---|---|---|
| connect, IPv4/IPv6 | destination | start, connection | connection_attempted, connected-to | egress |
| connect, unix and other families | destination | start, connection | connected-to | - |
| accept, accept4, IPv4/IPv6 | source (the peer) | start, connection | connection_accepted, accepted-connection-from | ingress |
| accept, accept4, unix | source | start, connection | accepted-connection-from | - |
| bind (not unix, not netlink) | the local address | start | bound-socket | - |

Elastic Defend reports connection_attempted / connection_accepted for TCP
only; the transport is not in any audit record (it is an argument of
socket(2)). An accepted IPv4/IPv6 connection is a stream socket, i.e. TCP
(`network.transport: tcp`; SCTP's one-to-one style would be the rare
exception); a connect's transport stays absent, so a UDP connect (the glibc
resolver connects its DNS socket) also reads as connection_attempted.
Unix sockets get only Auditbeat's terms: Defend does not report them.

The local end of an accepted connection (`destination.*`) comes from the
bind of the listening descriptor seen earlier (bound.py); unknown -> absent.
A listener bound to 0.0.0.0 / :: (any address) gives the port only; one
bound to port 0 (the kernel chose) the address only.

Outcome: success; for connect also the errors of a real attempt
(`unknown` for EINPROGRESS, the normal answer of a non-blocking connect;
`failure` for refused, unreachable, timed out, denied). Argument errors
(EBADF, EINVAL, ENOENT on a unix path ...) and AF_UNSPEC / netlink
addresses make no document. i386 programs may use socketcall(2): its call
number (a0) names the operation; the descriptor is then unknown.
"""

from __future__ import annotations

from typing import Any, Optional

from ..source.event import AuditEvent
from ..source.records import split_body
from .actor import ACTOR_CONSTANTS, ACTOR_FIELDS, envelope
from .bound import BoundSockets
from .common import to_int
from .parts import EventParts
from .registry import Document, EventBuilder, Syscall
from .sockaddr import AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, AF_UNSPEC, SocketAddress, decode

_NET_FIELDS = frozenset("""
network.type network.transport network.direction related.ip
source.ip source.port source.address destination.ip destination.port destination.address
auditd.data.socket.family auditd.data.socket.addr auditd.data.socket.port
auditd.data.socket.path auditd.data.socket.saddr
""".split())

# socketcall(2) call numbers (include/uapi/linux/net.h), as logged in a0 (hex)
_SOCKETCALL = {"2": "bind", "3": "connect", "5": "accept", "12": "accept4"}

# errno of connect (asm-generic numbering; used only on architectures that have it)
_EINPROGRESS = "-115"
_FAILED_ATTEMPTS = frozenset({"-111", "-110", "-113", "-101", "-13", "-1", "-104", "-99"})
_GENERIC_ERRNO_MACHINES = frozenset({0x3E, 0x03, 0xB7, 0x28, 0xF3, 0x14, 0x15, 0x16, 0x102})

_IP = frozenset({AF_INET, AF_INET6})
_ANY = frozenset({"0.0.0.0", "::"})

_VARIANTS = (
    (("start", "connection"), ("connection_attempted", "connected-to")),
    (("start", "connection"), ("connected-to",)),
    (("start", "connection"), ("connection_accepted", "accepted-connection-from")),
    (("start", "connection"), ("accepted-connection-from",)),
    (("start",), ("bound-socket",)),
)


def _generic_errno(arch: Optional[str]) -> bool:
    try:
        return arch is not None and int(arch, 16) & 0xFFFF in _GENERIC_ERRNO_MACHINES
    except ValueError:
        return False


class NetworkEventBuilder(EventBuilder):
    """connect/accept/accept4/bind (and i386 socketcall) -> network documents."""

    kind = "network"
    categories = ("network",)
    fields = ACTOR_FIELDS | _NET_FIELDS
    constants = {**ACTOR_CONSTANTS, "event.category": ["network"]}
    variants = tuple({"event.type": list(t), "event.action": list(a)} for t, a in _VARIANTS)
    syscalls = frozenset({"connect", "accept", "accept4", "bind", "socketcall"})

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.bound = BoundSockets()

    def stats(self) -> dict[str, int]:
        return {"bound_sockets": len(self.bound), "bound_sockets_evicted": self.bound.evicted,
                "bound_sockets_too_long": self.bound.too_long}

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        assert syscall is not None and syscall.name is not None
        values = syscall.values
        call = syscall.name
        fd: Optional[int] = None
        if call == "socketcall":
            call = _SOCKETCALL.get(values.a0 or "", "")    # the descriptor is behind a pointer
            if not call:
                return []
        elif values.a0 is not None:
            try:
                fd = int(values.a0, 16)
            except ValueError:
                fd = None
        sockaddr = None
        for rtype, body in event.raw:
            if rtype == "SOCKADDR":
                sockaddr = body
                break
        if sockaddr is None:
            return []
        address = decode(split_body(sockaddr)[0].get("saddr"), values.arch)
        if address is None or address.family in (AF_UNSPEC, AF_NETLINK):
            return []
        success = values.success == "yes"
        pid, ppid = to_int(values.pid), to_int(values.ppid)
        if call == "bind":
            if not success:
                return []
            if fd is not None and pid is not None:
                self.bound.bind(event.node, pid, fd, address)
            if address.family == AF_UNIX:
                return []     # every daemon's control socket: kept for accept, no document
            return [self._document(event, syscall.name, values, address, "bind", None, True)]
        if call == "connect":
            outcome = self._connect_outcome(values)
            if outcome is None:
                return []
            return [self._document(event, syscall.name, values, address, "connect", None,
                                   success, outcome)]
        if not success:      # accept, accept4
            return []
        local = self.bound.local(event.node, pid, ppid, fd) \
            if fd is not None and pid is not None else None
        return [self._document(event, syscall.name, values, address, "accept", local, True)]

    @staticmethod
    def _connect_outcome(values: Any) -> Optional[str]:
        if values.success == "yes":
            return "success"
        if not _generic_errno(values.arch):
            return None
        if values.exit == _EINPROGRESS:
            return "unknown"
        return "failure" if values.exit in _FAILED_ATTEMPTS else None

    def _document(self, event: AuditEvent, name: str, values: Any, address: SocketAddress,
                  call: str, local: Optional[SocketAddress], success: bool,
                  outcome: Optional[str] = None) -> Document:
        parts = EventParts(event)
        doc = envelope(self.context, event, values, name, parts, success)
        if outcome is not None:
            doc["event"]["outcome"] = outcome
        ip = address.family in _IP
        event_fields = doc["event"]
        event_fields["category"] = ["network"]
        network: dict[str, Any] = {}
        if ip:
            network["type"] = "ipv4" if address.family == AF_INET else "ipv6"
        if call == "bind":
            event_fields["type"] = ["start"]
            event_fields["action"] = ["bound-socket"]
        else:
            event_fields["type"] = ["start", "connection"]
            if call == "connect":
                event_fields["action"] = ["connection_attempted", "connected-to"] if ip \
                    else ["connected-to"]
                _put(doc, "destination", _endpoint(address))
                if ip:
                    network["direction"] = "egress"
            else:
                event_fields["action"] = ["connection_accepted", "accepted-connection-from"] \
                    if ip else ["accepted-connection-from"]
                _put(doc, "source", _endpoint(address))
                if local is not None and local.family == address.family:
                    _put(doc, "destination", _endpoint(local, bound=True))
                if ip:
                    network["direction"] = "ingress"
                    network["transport"] = "tcp"
        if network:
            doc["network"] = network
        related = [e["ip"] for e in (doc.get("source"), doc.get("destination"))
                   if e is not None and "ip" in e]
        if related:
            doc["related"] = {"ip": list(dict.fromkeys(related))}
        socket: dict[str, Any] = {"family": address.family_name}
        if ip:
            socket["addr"], socket["port"] = address.ip, str(address.port)
        elif address.family == AF_UNIX:
            if address.path is not None:
                socket["path"] = address.path
        else:
            socket["saddr"] = address.raw
        doc["auditd"]["data"]["socket"] = socket
        return doc


def _put(doc: Document, name: str, endpoint: dict[str, Any]) -> None:
    if endpoint:          # an unnamed unix peer has nothing to show
        doc[name] = endpoint


def _endpoint(address: SocketAddress, bound: bool = False) -> dict[str, Any]:
    """source.* / destination.* of an address; a socket bound to the `any`
    address (0.0.0.0, ::) listens on every address: its port only."""
    if address.family == AF_UNIX:
        return {"address": address.path} if address.path is not None else {}
    if address.family not in _IP:
        return {}
    # A bind to port 0 lets the kernel choose: the record has the 0, not the port.
    out: dict[str, Any] = {"port": address.port} if not (bound and address.port == 0) else {}
    if not (bound and address.ip in _ANY):
        out["ip"] = out["address"] = address.ip
    return out

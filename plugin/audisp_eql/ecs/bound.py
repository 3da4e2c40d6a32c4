"""Local addresses of bound sockets, by (node, pid, fd): the port an
accept(2) listened on is in no record of the accept, only in the bind(2)
of the same descriptor before it.

Pre-fork servers bind in a parent and accept in children: a child without
an entry of its own is looked up under its parent's pid (the SYSCALL
record's ppid). Entries survive exec (descriptors do: sshd re-executes
itself). Bounded: least recently used first out, evictions counted; an
address longer than a real one (a forged SOCKADDR) is not remembered
(counted), so entries stay small whatever the records hold.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional

from .. import limits
from .sockaddr import SocketAddress

Key = tuple[Optional[str], int, int]


class BoundSockets:
    def __init__(self, max_entries: int = 0) -> None:
        self._entries: OrderedDict[Key, SocketAddress] = OrderedDict()
        self._max = max_entries or limits.MAX_BOUND_SOCKETS
        self.evicted = 0
        self.too_long = 0          # addresses not remembered: longer than any real one
        self._max_chars = limits.MAX_SOCKADDR_CHARS_STORED

    def __len__(self) -> int:
        return len(self._entries)

    def bind(self, node: Optional[str], pid: int, fd: int, address: SocketAddress) -> None:
        if len(address.raw) > self._max_chars or \
                (address.path is not None and len(address.path) > self._max_chars):
            self.too_long += 1
            return
        key = (node, pid, fd)
        self._entries[key] = address
        self._entries.move_to_end(key)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self.evicted += 1

    def local(self, node: Optional[str], pid: int, ppid: Optional[int],
              fd: int) -> Optional[SocketAddress]:
        """The address `fd` of `pid` (or of its parent, for a forked child) was bound to."""
        for owner in (pid, ppid):
            if owner is None:
                continue
            found = self._entries.get((node, owner, fd))
            if found is not None:
                self._entries.move_to_end((node, owner, fd))
                return found
        return None

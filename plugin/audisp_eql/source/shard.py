"""Which nodes one plugin instance evaluates: `shard = "K/N"`.

Several plugin instances on one collector split the nodes between them: a
record line belongs to shard `crc32(node name bytes) mod N + 1`, where the
node name is the `node=` value exactly as the line carries it. CRC-32 (zlib)
is the same in every process and on every machine (Python's own `hash` of
bytes is randomized per process, so it cannot be used). Lines without
`node=` (the collector's own records, or a sender whose auditd writes no
node name) belong to shard 1. Lines of other shards are dropped before any
parsing (`source/nodes.py`) and counted in `skipped_other_shards`.

Every record of a node goes to one shard, and all the state a rule keeps is
per node (pending events, the process table, sequences, rate limits), so
the shards' alerts together are exactly one instance's.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Optional

from .. import limits

_SPEC = re.compile(r"([0-9]{1,6})/([0-9]{1,6})")


@dataclass(frozen=True)
class Shard:
    """This instance is shard `index` (1-based) of `count`."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """"K/N" with 1 <= K <= N <= limits.MAX_SHARDS; ValueError says what is wrong."""
        found = _SPEC.fullmatch(text.strip())
        if found is None:
            raise ValueError(f'{text!r} is not "K/N" (this instance\'s number / the number '
                             "of instances, e.g. \"2/4\")")
        index, count = int(found.group(1)), int(found.group(2))
        if not 1 <= count <= limits.MAX_SHARDS:
            raise ValueError(f"{text!r}: the number of shards must be 1 to {limits.MAX_SHARDS}")
        if not 1 <= index <= count:
            raise ValueError(f"{text!r}: the shard number must be 1 to {count}")
        return cls(index, count)

    @property
    def everything(self) -> bool:
        return self.count == 1

    def owns(self, node: Optional[bytes]) -> bool:
        """Are the records of `node` (the `node=` bytes; None: no node=) this shard's?"""
        if node is None:
            return self.index == 1
        return zlib.crc32(node) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def described(self) -> str:
        """For the start line: empty for 1/1, else which records this shard takes."""
        if self.everything:
            return ""
        return f"; shard {self}" + (" (and records without node=)" if self.index == 1 else "")


def shard_problem(text: str) -> Optional[str]:
    """What is wrong with a "K/N" text (None: nothing), for the config's errors."""
    try:
        Shard.parse(text)
    except ValueError as exc:
        return str(exc)
    return None


def shard_of(node: Optional[bytes], count: int) -> int:
    """The shard (1-based) that evaluates `node` among `count` shards."""
    return 1 if node is None else zlib.crc32(node) % count + 1

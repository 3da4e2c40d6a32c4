"""Input files -> byte chunks: plain or gzip (by magic bytes), '-' = stdin,
rotated sets read oldest first."""

from __future__ import annotations

import gzip
import re
import sys
import zlib
from typing import BinaryIO, Iterator

from .. import limits
from ..escape import safe_text

# Greedy: the lazy form retried the suffix at every dot (quadratic in dots).
# What reading a file can raise: a missing or unreadable file, a truncated
# gzip (EOFError), a corrupted one (zlib.error, not an OSError). The caller
# says "cannot read" for that file and goes on with the next.
READ_ERRORS = (OSError, EOFError, zlib.error)

_ROTATION = re.compile(r"^(.*)\.(\d+)(\.gz)?$")


def rotation_order(paths: list[str]) -> list[str]:
    """Order a rotated set oldest first: audit.log.3, audit.log.2, audit.log.1, audit.log.

    Files of one set (same base name) are sorted by rotation number,
    descending, the unnumbered file last; different sets and '-' keep the
    order they were given in.
    """
    def split(path: str) -> tuple[str, int]:
        m = _ROTATION.match(path)
        return (m.group(1), int(m.group(2))) if m else (path, 0)

    groups: dict[str, list[tuple[int, int, str]]] = {}
    order: list[str] = []
    for i, path in enumerate(paths):
        base, number = split(path) if path != "-" else (f"-{i}", 0)
        if base not in groups:
            groups[base] = []
            order.append(base)
        groups[base].append((number, i, path))
    result: list[str] = []
    for base in order:
        result.extend(p for _n, _i, p in sorted(groups[base], key=lambda t: (-t[0], t[1])))
    return result


def _open(path: str) -> BinaryIO:
    raw: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def display_name(path: str) -> str:
    # File names are shown in errors on a terminal: escape them like any other text.
    return "<stdin>" if path == "-" else safe_text(path)


def iter_file(path: str, chunk_size: int = 0) -> Iterator[bytes]:
    """The chunks of one file (`chunk_size` 0: limits.READ_CHUNK_BYTES).
    READ_ERRORS propagate to the caller, which names the file."""
    chunk_size = chunk_size or limits.READ_CHUNK_BYTES
    f = _open(path)
    try:
        while True:
            data = f.read(chunk_size)
            if not data:
                break
            yield data
    finally:
        if path != "-":
            f.close()

"""Input files -> byte chunks: plain or gzip (by magic bytes), '-' = stdin,
rotated sets read oldest first, a directory read as the rotated set it holds."""

from __future__ import annotations

import gzip
import os
import re
import sys
import zlib
from typing import BinaryIO, Callable, Iterator

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


def expand_directories(paths: list[str], on_empty: Callable[[str, Exception], None]) -> list[str]:
    """A directory (`/var/log/audit`) stands for the regular files directly in it
    (hidden ones left out), to be put in rotation order with the rest; a
    directory without any is reported through `on_empty` (name, error)."""
    out: list[str] = []
    for path in paths:
        if path == "-" or not os.path.isdir(path):
            out.append(path)
            continue
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            on_empty(display_name(path), exc)
            continue
        files = [os.path.join(path, n) for n in names
                 if not n.startswith(".") and os.path.isfile(os.path.join(path, n))]
        if not files:
            on_empty(display_name(path), OSError("directory holds no files"))
        out.extend(files)
    return out


def _open(path: str) -> tuple[BinaryIO, bool]:
    """The file (decompressed when gzip) and whether it is already at its end:
    a terminal's end of input (^D) is seen once, by this first look."""
    raw: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b"?"
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), False  # type: ignore[return-value]
    return raw, head == b""


def display_name(path: str) -> str:
    # File names are shown in errors on a terminal: escape them like any other text.
    return "<stdin>" if path == "-" else safe_text(path)


def iter_file(path: str, chunk_size: int = 0) -> Iterator[bytes]:
    """The chunks of one file (`chunk_size` 0: limits.READ_CHUNK_BYTES).
    READ_ERRORS propagate to the caller, which names the file."""
    chunk_size = chunk_size or limits.READ_CHUNK_BYTES
    f, at_end = _open(path)
    # One read at a time (read1): on a terminal each ^D ends the input once.
    read = getattr(f, "read1", f.read)
    try:
        while not at_end:
            data = read(chunk_size)
            if not data:
                break
            yield data
    finally:
        if path != "-":
            f.close()

"""SHA-256 and SHA-1 without OpenSSL.

`hashlib` loads OpenSSL's libcrypto, about 3.5 MiB of the plugin's resident
memory, for what the plugin hashes: an entity id per exec, a group id per
sequence alert, the host.id of a remote node (a name-based UUID). CPython's
own implementations (`_sha256`, `_sha1`; `_sha2` from 3.12) give the same
digests as fast for such short inputs (measured: 0.7 us each), so they are
used when present; `hashlib` otherwise.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

sha256: Callable[[bytes], Any]
sha1: Callable[[bytes], Any]
try:
    from _sha256 import sha256  # type: ignore[no-redef]  # CPython <= 3.11
except ImportError:  # pragma: no cover - other interpreters
    try:
        from _sha2 import sha256  # type: ignore[no-redef]  # CPython >= 3.12
    except ImportError:
        from hashlib import sha256  # type: ignore[no-redef]
try:
    from _sha1 import sha1  # type: ignore[no-redef]
except ImportError:  # pragma: no cover
    from hashlib import sha1  # type: ignore[no-redef]

__all__ = ["sha1", "sha256", "uuid5"]


def uuid5(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """`uuid.uuid5` (RFC 4122 name-based, SHA-1), which imports hashlib."""
    return uuid.UUID(bytes=sha1(namespace.bytes + name.encode("utf-8")).digest()[:16], version=5)

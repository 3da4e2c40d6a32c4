"""Make strings from the audited system safe for a line-oriented sink.

Every argv byte is attacker-controlled: a newline would forge a second syslog
line, an ANSI escape would rewrite a terminal. `safe_text` keeps printable text
as it is and writes everything else as a visible backslash escape, so the
result is one line of printable characters that still shows what was there.
"""

from __future__ import annotations

import re

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and
# bidi overrides that can reorder or split what a reader sees, and lone
# surrogates (from surrogateescape decoding), which no UTF-8 sink can encode.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape_char(m: "re.Match[str]") -> str:
    ch = m.group()
    esc = _ESCAPES.get(ch)
    if esc is not None:
        return esc
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: str) -> str:
    """Return `value` with backslash, control and line-breaking characters escaped."""
    if not _UNSAFE.search(value):
        return value
    return _UNSAFE.sub(_escape_char, value)

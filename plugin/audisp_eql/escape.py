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


# What JSON (ensure_ascii=False) leaves raw in strings but a terminal or a line
# reader still acts on: DEL and C1 controls (0x9b is CSI), line separators,
# bidi controls, lone surrogates. JSON escapes C0 itself.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_json(encoded: str) -> str:
    """JSON text with those characters written as \\uXXXX escapes: still the same
    JSON value, now one printable line; other non-ASCII text stays readable."""
    if not _JSON_UNSAFE.search(encoded):
        return encoded
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def safe_text(value: str) -> str:
    """Return `value` with backslash, control and line-breaking characters escaped."""
    if not _UNSAFE.search(value):
        return value
    return _UNSAFE.sub(_escape_char, value)

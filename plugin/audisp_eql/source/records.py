"""One audit record: the header of an auditd string-format line and its fields.

A line looks like::

    [node=NAME ]type=TYPE msg=audit(SEC.MSEC:SERIAL): k=v k=v ...[\\x1dK=V ...]

`log_format=ENRICHED` appends the interpreted fields (`UID="root"` ...)
after a 0x1D byte; they land in `Record.enriched`, the raw ones in
`Record.fields`. Values are kept exactly as written (quotes included), so a
quoted string and a hex-encoded one can still be told apart; `value_bytes`
and `value_text` decode them.

Fields are split lazily: the assembler only needs the header to group
records, and the ECS builder skips most events after looking at their
SYSCALL record, so most PATH records are never split at all.

Text representation of bytes from the audited system: values are decoded
as UTF-8 with ``errors="backslashreplace"``, so a byte that is not valid
UTF-8 (e.g. 0xff) becomes the four characters ``\\xff``. The result is
always valid JSON text and still matchable by rules; an argument that
really contains a backslash followed by ``xff`` reads the same (documented
ambiguity, chosen over losing bytes or emitting invalid UTF-8).
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Iterable, Optional

try:  # Debian: python3-audit (type numbers; without it every UNKNOWN[n] is taken)
    import audit as _audit
except ImportError:  # pragma: no cover
    _audit = None  # type: ignore[assignment]

# The header auditd writes (`node=%s type=%s msg=audit(%lu.%03u:%lu): `); old
# auditd DAEMON_* records lack the colon. Both sources accept exactly the
# headers auparse reads as written, so that they agree on every line (a
# differential test proves it); anything else is a malformed line, counted
# and reported, never an event lost in silence:
# * seconds: at most 11 digits (year 5138: a longer value does not fit a
#   time_t for gmtime()); milliseconds: 1 to 3 digits (auparse drops 1000
#   and up); serial: at most 20 digits and below 2**64 (auparse's strtoul);
#   ASCII digits only (int() would also read other scripts' digits);
# * node: printable ASCII without spaces (a control byte such as the
#   ENRICHED separator 0x1D made auparse split the event, an empty node made
#   it drop it), at most 253 characters; type: as auditd writes it, a name in
#   capitals or UNKNOWN[n] for a number it has no name for (auparse reads
#   "syscall", "UNKNOWN[1320]" or "1320" as types SYSCALL and EOE, and trims
#   trailing punctuation), at most 28 characters (auditd's longest name has
#   25): auparse reads only the first 80 bytes of a header (340 with node=),
#   and with these bounds the longest id still fits;
# * AVC and USER_AVC records with a permission list `{ ... }` longer than
#   auparse's 256-byte buffer (it drops those records).
MAX_SERIAL = (1 << 64) - 1
_TYPE = r"(?:[A-Z][A-Z0-9_]{0,27}|UNKNOWN\[[1-9][0-9]{0,6}\])"
HEADER = re.compile(
    rf"(?:node=([!-~]{{1,253}}) )?type=({_TYPE}) "
    r"msg=audit\(([0-9]{1,11})\.([0-9]{1,3}):([0-9]{1,20})\):?[ ]?")
AVC_TYPES = frozenset({"AVC", "USER_AVC"})
AVC_LIST_CHARS = 200              # a longer { ... } list may overflow auparse's buffer
# A field: NAME=VALUE where VALUE is "double quoted", 'single quoted' (userspace
# records such as USER_CMD msg='...') or runs to the next space. The second
# branch eats a run without `=` whole (it gives ("", "")): without it findall
# retried the run from each of its characters, quadratic in its length.
FIELD = re.compile(r"([^\s=]+)=(\"[^\"]*\"|'[^']*'|[^\s]*)|[^\s=]+")
# A block whose every line has a HEADER that auparse can take as written (no
# groups: only says yes or no). Serials of 20 digits (maybe 2**64 or more),
# seconds of fewer than 10 digits (auparse_source pads them), UNKNOWN[n] and
# AVC types go line by line, for the checks of parse_line.
RECORD_BLOCK = re.compile(
    rb"(?:(?:node=[!-~]{1,253} )?type=(?!AVC |USER_AVC )[A-Z][A-Z0-9_]{0,27} "
    rb"msg=audit\([0-9]{10,11}\.[0-9]{1,3}:[0-9]{1,19}\)[^\n]*\n)*")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
ENRICHED_SEPARATOR = "\x1d"


class RecordError(ValueError):
    """A line that is not an audit record; `reason` says why.

    `unstamped` marks a well-formed record without an event id (`msg=?`,
    which auditd writes for some records it cannot stamp): nothing to group
    it with, so it is counted and skipped rather than reported.
    """

    def __init__(self, reason: str, unstamped: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unstamped = unstamped


_NAMED = itemgetter(0)     # a FIELD match that is a field, not a skipped run
_UNSTAMPED = re.compile(r"(?:node=[^ ]* )?type=[^ ]+ msg=\?(?: |$)")


def split_fields(text: str) -> dict[str, str]:
    """`k=v k="v w" ...` -> {k: raw value}; a repeated name keeps its first value
    (dict() keeps the last of each name, so it is fed the pairs in reverse)."""
    pairs = FIELD.findall(text)
    pairs.reverse()
    return dict(filter(_NAMED, pairs))


def split_body(body: str) -> tuple[dict[str, str], dict[str, str]]:
    """A record body -> (raw fields, ENRICHED fields)."""
    if ENRICHED_SEPARATOR not in body:
        return split_fields(body), {}
    raw, _sep, enriched = body.partition(ENRICHED_SEPARATOR)
    return split_fields(raw), split_fields(enriched)


class Record:
    """One audit record. `fields`/`enriched` are split on first use and cached."""

    __slots__ = ("type", "node", "sec", "msec", "serial", "body", "line_no",
                 "_fields", "_enriched")

    def __init__(self, type: str, node: Optional[str], sec: int, msec: int, serial: int,
                 body: str, line_no: int = 0) -> None:
        self.type = type
        self.node = node
        self.sec = sec
        self.msec = msec
        self.serial = serial
        self.body = body          # everything after "): ", enriched part included
        self.line_no = line_no    # 1-based line in its source; 0 when unknown
        self._fields: Optional[dict[str, str]] = None
        self._enriched: Optional[dict[str, str]] = None

    def _split(self) -> None:
        self._fields, self._enriched = split_body(self.body)

    @property
    def fields(self) -> dict[str, str]:
        if self._fields is None:
            self._split()
        return self._fields  # type: ignore[return-value]

    @property
    def enriched(self) -> dict[str, str]:
        if self._enriched is None:
            self._split()
        return self._enriched  # type: ignore[return-value]

    @property
    def key(self) -> tuple[Optional[str], int, int, int]:
        """Identity of the event this record belongs to."""
        return (self.node, self.sec, self.msec, self.serial)

    def __repr__(self) -> str:
        node = f"node={self.node} " if self.node is not None else ""
        return f"Record({node}type={self.type} {self.sec}.{self.msec:03d}:{self.serial} line {self.line_no})"


def decode_line(line: bytes) -> str:
    return line.decode("utf-8", "backslashreplace")


def parse_line(line: bytes | str, line_no: int = 0) -> Record:
    """Parse one line (without its newline) into a Record, or raise RecordError."""
    text = decode_line(line) if isinstance(line, (bytes, bytearray)) else line
    m = HEADER.match(text)
    if m is None:
        if _UNSTAMPED.match(text):
            raise RecordError("record without event id (msg=?)", unstamped=True)
        if "type=" not in text:
            raise RecordError("no type= field: not an audit record")
        raise RecordError("bad record header (expected [node=N ]type=T msg=audit(SEC.MSEC:SERIAL): "
                          "N printable, T a type name in capitals, SEC up to 11 digits, "
                          "MSEC up to 3)")
    node, rtype, sec, msec, serial = m.groups()
    if len(serial) == 20 and int(serial) > MAX_SERIAL:
        raise RecordError("bad record header: event serial above 2**64 - 1")
    body = text[m.end():]
    if rtype[-1] == "]" and _audit is not None \
            and _audit.audit_msg_type_to_name(int(rtype[8:-1])) is not None:
        raise RecordError(f"bad record header: {rtype} is type "
                          f"{_audit.audit_msg_type_to_name(int(rtype[8:-1]))} written otherwise")
    if rtype in AVC_TYPES and "{" in body:
        perms = body[body.index("{"):]
        close = perms.find("}")
        if (close if close >= 0 else len(perms)) > AVC_LIST_CHARS:
            raise RecordError(f"{rtype} permission list longer than {AVC_LIST_CHARS} characters "
                              "(auparse cannot read it)")
    return Record(rtype, node, int(sec), int(msec), int(serial), body, line_no)


def value_bytes(raw: Optional[str]) -> Optional[bytes]:
    """Bytes of an "untrusted string" value: quoted -> as is; hex -> decoded.

    `(null)` and absent values give None. A value that is neither quoted nor
    hex (e.g. `(none)`) is returned as written.
    """
    if raw is None or raw == "(null)":
        return None
    if raw[:1] == '"':
        return raw[1:-1].encode("utf-8", "surrogateescape") if raw.endswith('"') and len(raw) > 1 \
            else raw[1:].encode("utf-8", "surrogateescape")
    if _HEX.fullmatch(raw):
        return bytes.fromhex(raw)
    return raw.encode("utf-8", "surrogateescape")


def text_of(data: bytes) -> str:
    """Bytes from the audited system -> str (see the module docstring)."""
    return data.decode("utf-8", "backslashreplace")


def value_text(raw: Optional[str]) -> Optional[str]:
    """`value_bytes` as text; fast path for the common quoted value."""
    if raw is None or raw == "(null)":
        return None
    if raw[:1] == '"' and raw[-1:] == '"' and len(raw) > 1:
        return raw[1:-1]
    data = value_bytes(raw)
    return None if data is None else text_of(data)


def enriched_text(raw: Optional[str]) -> Optional[str]:
    """An ENRICHED value (`"root"` or `root`) as text; `unknown(N)` gives None."""
    if raw is None:
        return None
    if raw[:1] == '"' and raw[-1:] == '"' and len(raw) > 1:
        raw = raw[1:-1]
    if raw.startswith("unknown(") or raw in ("", "?"):
        return None
    return raw


def execve_args(records: Iterable[Record]) -> tuple[list[str], int]:
    """Rebuild argv from the EXECVE records of one event.

    Returns (args, argc as written). Arguments are `aN="..."` or hex `aN=...`;
    a long one is `aN_len=L` followed by chunks `aN[0]=... aN[1]=...` that may
    continue in the next EXECVE record. Chunks are joined as bytes before
    decoding so a UTF-8 sequence split between chunks survives.

    argc is taken as a hint: the result holds every consecutive aN present
    (a malformed `argc=0 a0="whoami"` gives ["whoami"]); when argc is bigger
    than what is present, the arguments present are returned.
    """
    return argv_of([rec.fields for rec in records])


def argv_of(field_dicts: list[dict[str, str]]) -> tuple[list[str], int]:
    """`execve_args` over the split fields of the EXECVE records."""
    if len(field_dicts) == 1:
        merged = field_dicts[0]
    else:
        merged = {}
        for fields in field_dicts:
            for name, value in fields.items():
                merged.setdefault(name, value)
    argc = -1
    for fields in field_dicts:
        if argc < 0 and "argc" in fields:
            try:
                argc = int(fields["argc"])
            except ValueError:
                argc = -1
    if len(merged) == argc + 1:
        # The common case: argc then exactly a0 .. a(argc-1), none split.
        try:
            return [value_text(merged["a%d" % i]) or "" for i in range(argc)], argc
        except KeyError:
            pass
    args: list[str] = []
    i = 0
    while True:
        name = f"a{i}"
        raw = merged.get(name)
        if raw is not None:
            args.append(value_text(raw) or "")
        elif f"{name}_len" in merged:
            chunks: list[bytes] = []
            j = 0
            while True:
                part = merged.get(f"{name}[{j}]")
                if part is None:
                    break
                chunks.append(value_bytes(part) or b"")
                j += 1
            args.append(text_of(b"".join(chunks)))
        else:
            break
        i += 1
    return args, argc


def proctitle_text(raw: Optional[str]) -> Optional[str]:
    """PROCTITLE value -> text with the NUL argument separators as spaces."""
    data = value_bytes(raw)
    if data is None:
        return None
    return text_of(data.rstrip(b"\0").replace(b"\0", b" "))


def plain_value(value: Optional[str]) -> Optional[str]:
    """A number or keyword field; some auditd versions quote them (success="yes")."""
    if value is not None and value[:1] == '"' and value[-1:] == '"' and len(value) > 1:
        return value[1:-1]
    return value

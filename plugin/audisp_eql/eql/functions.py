"""The functions of Elasticsearch EQL, on scalar arguments.

Each implementation receives already evaluated scalars (None for null or a
missing field) and returns a scalar or None.  As in Elasticsearch, a null
argument makes the result null (documented exceptions: indexOf's start and
between's greedy default when null), and a null result never satisfies a
predicate.  The `~` forms fold case with lower() on both sides.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

Scalar = Any


def _is_number(value: Scalar) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(*values: Scalar) -> bool:
    return all(_is_number(v) for v in values)


def _strings(*values: Scalar) -> bool:
    return all(isinstance(v, str) for v in values)


def _fold(insensitive: bool, *values: str) -> tuple:
    return tuple(v.lower() for v in values) if insensitive else values


def add(insensitive: bool, a: Scalar, b: Scalar) -> Scalar:
    return a + b if _numbers(a, b) else None


def subtract(insensitive: bool, a: Scalar, b: Scalar) -> Scalar:
    return a - b if _numbers(a, b) else None


def multiply(insensitive: bool, a: Scalar, b: Scalar) -> Scalar:
    return a * b if _numbers(a, b) else None


def divide(insensitive: bool, a: Scalar, b: Scalar) -> Scalar:
    if not _numbers(a, b) or b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        # integer division truncates toward zero, as in Java
        quotient = abs(a) // abs(b)
        return quotient if (a >= 0) == (b >= 0) else -quotient
    return a / b


def modulo(insensitive: bool, a: Scalar, b: Scalar) -> Scalar:
    if not _numbers(a, b) or b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        # Java's %: the sign follows the dividend
        remainder = abs(a) % abs(b)
        return remainder if a >= 0 else -remainder
    import math
    return math.fmod(a, b)


def between(insensitive: bool, source: Scalar, left: Scalar, right: Scalar,
            greedy: Scalar = False) -> Scalar:
    if not _strings(source, left, right):
        return None
    if greedy is None:
        greedy = False
    if not isinstance(greedy, bool):
        return None
    hay, lft, rgt = _fold(insensitive, source, left, right)
    start = hay.find(lft)
    if start < 0:
        return ""
    start += len(lft)
    end = hay.rfind(rgt, start) if greedy else hay.find(rgt, start)
    if end < 0:
        return ""
    return source[start:end]


def cidr_match(insensitive: bool, ip: Scalar, *cidrs: Scalar) -> Scalar:
    if not isinstance(ip, str) or not _strings(*cidrs):
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def _to_string(value: Scalar) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def concat(insensitive: bool, *values: Scalar) -> Scalar:
    if any(v is None for v in values):
        return None
    return "".join(_to_string(v) or "" for v in values)


def ends_with(insensitive: bool, source: Scalar, suffix: Scalar) -> Scalar:
    if not _strings(source, suffix):
        return None
    hay, needle = _fold(insensitive, source, suffix)
    return hay.endswith(needle)


def starts_with(insensitive: bool, source: Scalar, prefix: Scalar) -> Scalar:
    if not _strings(source, prefix):
        return None
    hay, needle = _fold(insensitive, source, prefix)
    return hay.startswith(needle)


def string_contains(insensitive: bool, source: Scalar, substring: Scalar) -> Scalar:
    if not _strings(source, substring):
        return None
    hay, needle = _fold(insensitive, source, substring)
    return needle in hay


def index_of(insensitive: bool, source: Scalar, substring: Scalar,
             start: Scalar = 0) -> Scalar:
    if not _strings(source, substring):
        return None
    if start is None:
        start = 0
    if not isinstance(start, int) or isinstance(start, bool):
        return None
    hay, needle = _fold(insensitive, source, substring)
    found = hay.find(needle, max(start, 0))
    return None if found < 0 else found


def length(insensitive: bool, value: Scalar) -> Scalar:
    return len(value) if isinstance(value, str) else None


def number(insensitive: bool, value: Scalar, base: Scalar = 10) -> Scalar:
    if value is None or base is None:
        return None
    if _is_number(value):
        return value
    if not isinstance(value, str) or not isinstance(base, int) or isinstance(base, bool):
        return None
    text = value.strip()
    try:
        if base == 10:
            return int(text, 10) if text.lstrip("+-").isdigit() else float(text)
        if base == 16 and text.lower().startswith(("0x", "-0x", "+0x")):
            return int(text, 16)
        return int(text, base)
    except ValueError:
        return None


def string(insensitive: bool, value: Scalar) -> Scalar:
    return _to_string(value)


def substring(insensitive: bool, source: Scalar, start: Scalar, end: Scalar = None) -> Scalar:
    if not isinstance(source, str) or not isinstance(start, int) or isinstance(start, bool):
        return None
    if end is not None and (not isinstance(end, int) or isinstance(end, bool)):
        return None
    # Python slice semantics, negative offsets from the end: as documented
    return source[start:end]


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # canonical spelling
    impl: Callable[..., Scalar]
    min_args: int
    max_args: Optional[int]  # None: variadic
    case_insensitive_form: bool  # whether `name~` exists


FUNCTIONS: Dict[str, FunctionSpec] = {spec.name.lower(): spec for spec in (
    FunctionSpec("add", add, 2, 2, False),
    FunctionSpec("between", between, 3, 4, True),
    FunctionSpec("cidrMatch", cidr_match, 2, None, False),
    FunctionSpec("concat", concat, 1, None, False),
    FunctionSpec("divide", divide, 2, 2, False),
    FunctionSpec("endsWith", ends_with, 2, 2, True),
    FunctionSpec("indexOf", index_of, 2, 3, True),
    FunctionSpec("length", length, 1, 1, False),
    FunctionSpec("modulo", modulo, 2, 2, False),
    FunctionSpec("multiply", multiply, 2, 2, False),
    FunctionSpec("number", number, 1, 2, False),
    FunctionSpec("startsWith", starts_with, 2, 2, True),
    FunctionSpec("string", string, 1, 1, False),
    FunctionSpec("stringContains", string_contains, 2, 2, True),
    FunctionSpec("substring", substring, 2, 3, False),
    FunctionSpec("subtract", subtract, 2, 2, False),
)}

"""Checks shared by both file formats: field names, values, expiry dates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

Fail = Callable[[str], Exception]

# ECS names: dotted words; Kibana also writes `@timestamp` and Endpoint's `Ext`.
_FIELD = re.compile(r"@?[A-Za-z0-9_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_@][A-Za-z0-9_\-]*)*")
MAX_FIELD_LENGTH = 256


def check_field(value: Any, fail: Fail) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail("needs a field name (e.g. process.executable)")
    value = value.strip()
    if len(value) > MAX_FIELD_LENGTH or not _FIELD.fullmatch(value):
        raise fail(f"{value[:80]!r} is not a field name (dotted ECS name such as "
                   "process.parent.executable)")
    return value


def scalar_text(value: Any, fail: Fail) -> str:
    """An exception value as the keyword it is compared with."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise fail(f"values are strings (or integers, true, false), got {type(value).__name__}")


def parse_expiry(value: Any, fail: Fail) -> dt.datetime:
    """TOML date (from 00:00 UTC that day), TOML datetime (no offset: UTC) or an
    ISO 8601 string (Kibana's expire_time, e.g. 2026-01-31T00:00:00.000Z)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                value = dt.date.fromisoformat(text)
            else:
                value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise fail(f"{value[:40]!r} is not a date (2026-12-31) or date and time "
                       "(2026-12-31T18:00:00Z)") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    raise fail("must be a date (2026-12-31), a date and time, or an ISO 8601 string")

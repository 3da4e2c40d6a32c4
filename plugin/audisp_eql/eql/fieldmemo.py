"""Derived forms of a field's value, computed once per document, not per leaf.

Many rules test the same field (`process.args : "rm"`, `process.args :
("-c", "history")`, ...): each leaf used to lower-case every argument again.
A `FieldMemo` per field path keeps the forms derived from the last value it
saw: the lower-cased string, or for a list a `ListView` (its string items, as
a frozenset, and joined with NUL separators so that one C-level substring
search answers "does any item start with / end with / contain ...").

Reuse is exact: the memo keeps a reference to the value (so its id cannot be
recycled) and, for a list, a shallow copy compared with `==` (element
identity makes that a pointer walk), so a list changed in place is seen as
new. Each memo state is one tuple, replaced whole: never half-updated.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

SEPARATOR = "\x00"  # argv strings cannot contain it; checked for other input


class ListView:
    """The string items of a list value (non-strings never match a string test)."""

    __slots__ = ("items", "set", "joined")

    def __init__(self, items: List[str]) -> None:
        self.items = items
        self.set = frozenset(items)
        # "\0a\0b\0": "\0" + p in joined <=> some item starts with p, etc.
        # None when an item contains the separator (then items are tested one by one).
        self.joined: Optional[str] = None
        if items and not any(SEPARATOR in item for item in items):
            self.joined = SEPARATOR + SEPARATOR.join(items) + SEPARATOR


_NOTHING: Tuple[Any, Any, Any] = (None, None, None)


class FieldMemo:
    __slots__ = ("_lowered", "_raw_view", "_folded_view")

    def __init__(self) -> None:
        self._lowered: Tuple[Any, Any, Any] = _NOTHING
        self._raw_view: Tuple[Any, Any, Any] = _NOTHING
        self._folded_view: Tuple[Any, Any, Any] = _NOTHING

    def lowered(self, value: str) -> str:
        last = self._lowered
        if last[0] is value:
            return last[2]
        lowered = value.lower()
        self._lowered = (value, None, lowered)
        return lowered

    def raw_view(self, value: list) -> ListView:
        last = self._raw_view
        if last[0] is value and last[1] == value:
            return last[2]
        view = ListView([v for v in value if v.__class__ is str])
        self._raw_view = (value, value[:], view)
        return view

    def folded_view(self, value: list) -> ListView:
        last = self._folded_view
        if last[0] is value and last[1] == value:
            return last[2]
        view = ListView([v.lower() for v in value if v.__class__ is str])
        self._folded_view = (value, value[:], view)
        return view


_MEMOS: Dict[Tuple[str, ...], FieldMemo] = {}


def memo_for(path: Tuple[str, ...]) -> FieldMemo:
    """The memo shared by every compiled leaf reading `path`."""
    memo = _MEMOS.get(path)
    if memo is None:
        memo = _MEMOS[path] = FieldMemo()
    return memo

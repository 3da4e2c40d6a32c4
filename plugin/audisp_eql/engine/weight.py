"""What a document held by stateful rules costs, and a bounded copy of a heavy one.

Pending sequences hold the documents they matched until they complete or
expire, so the state's memory is the documents' memory. `weight` estimates
it: MARSHAL_FACTOR times the size of its `marshal` form (C code, a few
microseconds; a process-start document takes about that many times more
as Python objects than marshalled, measured with tracemalloc), and what is
held is the copy `marshal` gives back (`held_form`); a document
marshal refuses (too deep, odd types) is walked instead, summing CPython
object sizes (a string's header and characters, a container's header and
slots; shared objects counted as if they were not, so it errs high). An argv is the
attacker's, up to megabytes: a document heavier than
limits.MAX_HELD_DOCUMENT_BYTES is held as `trimmed(doc)` instead, a copy
with long strings cut, long lists and objects shortened and deep nesting
dropped (`audisp_eql.truncated` says so), so a huge argument neither
exhausts memory nor slips a stage past the rule.
"""

from __future__ import annotations

import itertools
import marshal
from typing import Any

from .. import limits

MARSHAL_FACTOR = 5   # tracemalloc: a process start retains ~4.6x its marshal size
# marshal format 2 writes no back-references (3 and later refer to an object seen
# earlier in the same dump), so a document's size is its content's alone, not a
# function of which of its objects happen to be shared (caches, the process table):
# every process of `scan --jobs` weighs a document as one process does.
MARSHAL_VERSION = 2
_STR = 49          # sys.getsizeof("")
_CONTAINER = 64    # list/tuple header; a dict is counted as this plus its slots
_SLOT = 8
_SCALAR = 32       # int, float, bool (small ones are shared: errs high)


def weight(doc: Any, stop: int = 1 << 62) -> int:
    """Estimated bytes of `doc` and everything in it (when walking, it stops
    counting past `stop`)."""
    try:
        return MARSHAL_FACTOR * len(marshal.dumps(doc, MARSHAL_VERSION))
    except (ValueError, TypeError):    # too deep to marshal, or an odd type (input)
        return walked_weight(doc, stop)


def held_form(doc: Any, heavy: int) -> tuple[Any, int, bool]:
    """What to hold for `doc`, its weight, and whether it was trimmed: a
    fresh copy (its objects made together now, so that long-held documents
    fill memory pages together instead of each pinning pages of short-lived
    ones), or a trimmed copy when it weighs more than `heavy`."""
    try:
        data = marshal.dumps(doc, MARSHAL_VERSION)
    except (ValueError, TypeError):    # too deep to marshal, or an odd type (input)
        size = walked_weight(doc, heavy)
    else:
        size = MARSHAL_FACTOR * len(data)
        if size <= heavy:
            return marshal.loads(data), size, False
    if size <= heavy:
        return doc, size, False
    copy = trimmed(doc)
    return copy, weight(copy), True


def walked_weight(doc: Any, stop: int = 1 << 62) -> int:
    """`weight` by walking the objects (no recursion: any depth)."""
    total = 0
    stack = [doc]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        cls = value.__class__
        if cls is str:
            total += _STR + (len(value) if value.isascii() else 4 * len(value))
        elif cls is dict:
            total += _CONTAINER + 3 * _SLOT * len(value)
            for item in value.values():
                push(item)
        elif cls is list or cls is tuple:
            total += _CONTAINER + _SLOT * len(value)
            for item in value:
                push(item)
        else:
            total += _SCALAR
        if total > stop:
            break
    return total


def _cut(value: Any, depth: int) -> Any:
    cls = value.__class__
    if cls is str:
        cap = limits.MAX_HELD_STRING
        return value if len(value) <= cap else value[:cap] + f"...[{len(value) - cap} more]"
    if cls is dict:
        if depth >= limits.MAX_HELD_DEPTH:
            return {}
        items = itertools.islice(value.items(), limits.MAX_HELD_ITEMS)
        return {k: _cut(v, depth + 1) for k, v in items}
    if cls is list or cls is tuple:
        if depth >= limits.MAX_HELD_DEPTH:
            return []
        return [_cut(v, depth + 1) for v in value[:limits.MAX_HELD_ITEMS]]
    return value


def trimmed(doc: dict[str, Any]) -> dict[str, Any]:
    """A bounded copy of `doc` (the caller checked it is too heavy to hold).

    Iterative in the walk that matters (`weight`); `_cut` recurses at most
    MAX_HELD_DEPTH levels. If even the cut copy is too heavy (many short
    strings at every level), only the event's identity is kept."""
    copy = _cut(doc, 0)
    copy["audisp_eql"] = {"truncated": True}
    if weight(copy, limits.MAX_HELD_DOCUMENT_BYTES) > limits.MAX_HELD_DOCUMENT_BYTES:
        event = doc.get("event")
        ident = event.get("id") if isinstance(event, dict) else None
        copy = {"audisp_eql": {"truncated": True}}
        if isinstance(doc.get("@timestamp"), str):
            copy["@timestamp"] = _cut(doc["@timestamp"], 0)
        if isinstance(ident, str):
            copy["event"] = {"id": _cut(ident, 0)}
    return copy

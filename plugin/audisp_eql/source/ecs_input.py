"""ECS JSON documents as input to `scan --input ecs`, one per line.

Accepts what `audisp-eql events` prints and what Elasticsearch exports
(Auditbeat, Elastic Defend): nested or dotted keys (`"process.name": ...`),
search hits wrapped in `_source` (or carrying only `fields`), whole search and
EQL search responses and JSON arrays (one document per hit or element),
values pretty-printed over several lines (a `{` or `[` line opens one, a `}`
or `]` line at column 0 may close it), and numeric keyword ids
(`"user": {"id": 0}`), which become strings so that `user.id == "0"` holds as
in Elasticsearch.

Only strict JSON (RFC 8259) is a document, so that what we write back is
strict JSON too: NaN and Infinity are not numbers there, 1e999 is out of
range, a number longer than limits.MAX_ECS_NUMBER_CHARS is refused (Python
raised a ValueError on 4301 digits), and a document nested deeper than
limits.MAX_ECS_DEPTH (Elasticsearch's mapping depth limit), dotted keys
counted, is refused (5000 dotted parts made writing the alert recurse to
death). Each is a DocumentError: reported with its line, never a crash.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator, Optional

from .. import limits

# Keyword fields that exporters sometimes write as numbers.
_KEYWORD_ID_KEYS = frozenset({"id", "entity_id"})


class DocumentError(ValueError):
    """A line that is not an ECS document."""


def _number(text: str) -> str:
    if len(text) > limits.MAX_ECS_NUMBER_CHARS:
        raise DocumentError(f"number of {len(text)} characters; at most "
                            f"{limits.MAX_ECS_NUMBER_CHARS} (limits.MAX_ECS_NUMBER_CHARS)")
    return text


def _int(text: str) -> int:
    return int(_number(text))


def _float(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):
        raise DocumentError(f"number out of range: {text}")
    return value


def _constant(name: str) -> Any:
    raise DocumentError(f"{name} is not a JSON number (RFC 8259)")


def loads(text: bytes | str) -> Any:
    """json.loads, strict: DocumentError for what RFC 8259 or our bounds refuse."""
    return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)


def _check_depth(value: Any) -> None:
    """DocumentError when `value` nests deeper than limits.MAX_ECS_DEPTH."""
    limit = limits.MAX_ECS_DEPTH
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise DocumentError(f"nested deeper than {limit} levels (limits.MAX_ECS_DEPTH)")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` (maybe dotted) in `target`, merging with what is already nested there."""
    *parents, leaf = key.split(".") if key and "." in key.strip(".") else [key]
    if len(parents) > limits.MAX_ECS_DEPTH:
        raise DocumentError(f"key of {len(parents) + 1} dotted parts: nested deeper than "
                            f"{limits.MAX_ECS_DEPTH} levels (limits.MAX_ECS_DEPTH)")
    node = target
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if isinstance(value, dict) and isinstance(node.get(leaf), dict):
        for k, v in value.items():
            _merge(node[leaf], k, v)
    else:
        node[leaf] = value


def normalize(raw: Any) -> dict[str, Any]:
    """One decoded JSON value -> nested ECS dict (raises DocumentError)."""
    if isinstance(raw, dict) and isinstance(raw.get("_source"), dict):
        raw = raw["_source"]
    elif _is_fields_hit(raw):
        # `fields` gives every value as a list; a single value is that value.
        raw = {k: v[0] if isinstance(v, list) and len(v) == 1 else v
               for k, v in raw["fields"].items()}
    if not isinstance(raw, dict):
        raise DocumentError(f"expected a JSON object, found {type(raw).__name__}")
    _check_depth(raw)
    doc = _nest(raw)
    _check_depth(doc)      # dotted keys nest too
    return doc


def _is_fields_hit(raw: Any) -> bool:
    return (isinstance(raw, dict) and isinstance(raw.get("fields"), dict)
            and ("_id" in raw or "_index" in raw))


def _hits(raw: Any) -> Optional[list[Any]]:
    """The hits of a search or EQL search response (sequences flattened), else None."""
    if not isinstance(raw, dict) or not isinstance(raw.get("hits"), dict):
        return None
    hits = raw["hits"]
    found: Optional[list[Any]] = None
    for key in ("hits", "events"):
        if isinstance(hits.get(key), list):
            found = (found or []) + hits[key]
    if isinstance(hits.get("sequences"), list):
        found = found or []
        for sequence in hits["sequences"]:
            if isinstance(sequence, dict) and isinstance(sequence.get("events"), list):
                found += sequence["events"]
    return found


def documents_of(raw: Any) -> list[Any]:
    """One decoded JSON value -> its documents (dicts) and DocumentErrors:
    a response or an array gives one per hit or element."""
    items = _hits(raw)
    if items is None:
        items = raw if isinstance(raw, list) else [raw]
    out: list[Any] = []
    for item in items:
        try:
            out.append(normalize(item))
        except DocumentError as err:
            out.append(err)
        except RecursionError:
            out.append(DocumentError("JSON nested too deeply"))
    return out


def _nest(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        _merge(out, str(key), _value(str(key).rsplit(".", 1)[-1], value))
    return out


def _value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return _nest(value)
    if key in _KEYWORD_ID_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, list):
        return [_nest(v) if isinstance(v, dict) else v for v in value]
    return value


def parse_document(line: bytes) -> Optional[dict[str, Any]]:
    """One input line -> document; None for a blank line; DocumentError when not
    JSON or not one object (see `parse_documents` for responses and arrays)."""
    found = parse_documents(line)
    if found is None:
        return None
    if len(found) != 1 or isinstance(found[0], DocumentError):
        if found and isinstance(found[0], DocumentError):
            raise found[0]
        raise DocumentError(f"expected one JSON object, found {len(found)} documents")
    return found[0]


def parse_documents(text: bytes) -> Optional[list[Any]]:
    """One line (or pretty-printed block) -> its documents and DocumentErrors;
    None when blank; raises DocumentError when it is not JSON."""
    text = text.strip()
    if not text:
        return None
    try:
        return documents_of(loads(text))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DocumentError(f"not JSON: {err}") from None
    except RecursionError:
        raise DocumentError("JSON nested too deeply") from None


# A pretty-printed value larger than limits.MAX_ECS_BLOCK_BYTES is not waited
# for: its lines are read one by one instead (bounded memory on hostile input).
# Pretty-printed output has one `}`/`]` line at column 0 per value; a block
# that fails to close more often than limits.MAX_ECS_FAILED_CLOSES is not such
# output (each try parses the whole block, so this bounds the work too).


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


def iter_documents(chunks: Iterator[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, document or DocumentError) for each document of a stream of
    chunks: JSON lines, or values pretty-printed over several lines (numbered by
    their first line)."""
    block: list[bytes] = []    # lines of an open pretty-printed value
    block_start = 0
    block_bytes = 0
    failed_closes = 0
    line_no = 0
    for line in _lines(chunks):
        line_no += 1
        if block:
            block.append(line)
            block_bytes += len(line) + 1
            if line.rstrip() in (b"}", b"]"):
                found, open_yet = _close(block)
                if found is not None:
                    yield from ((block_start, d) for d in found)
                    block = []
                    continue
                failed_closes += 1
                if not open_yet or failed_closes > limits.MAX_ECS_FAILED_CLOSES:
                    yield from _unblock(block, block_start)
                    block = []
                    continue
            if block_bytes > limits.MAX_ECS_BLOCK_BYTES:
                yield from _unblock(block, block_start)
                block = []
            continue
        if line.strip() in (b"{", b"["):
            block, block_start, block_bytes = [line], line_no, len(line) + 1
            failed_closes = 0
            continue
        yield from _one(line_no, line)
    if block:
        yield from _unblock(block, block_start)


def _close(block: list[bytes]) -> tuple[Optional[list[Any]], bool]:
    """Try a pretty-printed block as one value: (documents, True) when it parses;
    (None, True) when it is a valid prefix that may still close; (None, False)
    when no more lines can make it valid (the error is before its end)."""
    text = b"\n".join(block).strip()
    try:
        return documents_of(loads(text)), True
    except json.JSONDecodeError as err:
        return None, err.pos >= len(text.decode("utf-8", "replace"))
    except (UnicodeDecodeError, RecursionError, DocumentError):
        return None, False


def _unblock(block: list[bytes], first_line: int) -> Iterator[tuple[int, Any]]:
    """A value that never closed: its opening line is the error, and every line
    after it is read on its own so that no document is lost."""
    yield first_line, DocumentError("a JSON value opens here and never closes")
    for offset, line in enumerate(block[1:], start=1):
        yield from _one(first_line + offset, line)


def _one(line_no: int, line: bytes) -> Iterator[tuple[int, Any]]:
    try:
        found = parse_documents(line)
    except DocumentError as err:
        yield line_no, err
        return
    for doc in found or ():
        yield line_no, doc

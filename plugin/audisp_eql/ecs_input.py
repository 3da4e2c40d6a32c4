"""ECS JSON documents as input to `scan --input ecs`, one per line.

Accepts what `audisp-eql events` prints and what Elasticsearch exports
(Auditbeat, Elastic Defend): nested or dotted keys (`"process.name": ...`),
search hits wrapped in `_source`, and numeric keyword ids (`"user": {"id": 0}`),
which become strings so that `user.id == "0"` holds as in Elasticsearch.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

# Keyword fields that exporters sometimes write as numbers.
_KEYWORD_ID_KEYS = frozenset({"id", "entity_id"})


class DocumentError(ValueError):
    """A line that is not an ECS document."""


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` (maybe dotted) in `target`, merging with what is already nested there."""
    *parents, leaf = key.split(".") if key and "." in key.strip(".") else [key]
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
    if not isinstance(raw, dict):
        raise DocumentError(f"expected a JSON object, found {type(raw).__name__}")
    return _nest(raw)


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
    """One input line -> document; None for a blank line; DocumentError when not JSON."""
    text = line.strip()
    if not text:
        return None
    try:
        return normalize(json.loads(text))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DocumentError(f"not JSON: {err}") from None
    except RecursionError:
        raise DocumentError("JSON nested too deeply") from None


def iter_documents(chunks: Iterator[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, document or DocumentError) for each non-blank line of a stream of chunks."""
    pending = b""
    line_no = 0
    for chunk in chunks:
        data = pending + chunk
        lines = data.split(b"\n")
        pending = lines.pop()
        for line in lines:
            line_no += 1
            yield from _one(line_no, line)
    if pending:
        yield from _one(line_no + 1, pending)


def _one(line_no: int, line: bytes) -> Iterator[tuple[int, Any]]:
    try:
        doc = parse_document(line)
    except DocumentError as err:
        yield line_no, err
        return
    if doc is not None:
        yield line_no, doc

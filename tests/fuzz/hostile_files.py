"""File-level classes of issue 17 for the long fuzz run: corrupted gzip logs
(item 9) and ECS JSON with hostile numbers and nesting (item 10).

Each check must end without an exception (a DocumentError or an unreadable
file is the expected answer); anything else, or output JSON that a strict
RFC 8259 parser refuses, is a finding.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

from fuzz.pipeline import InvariantError

HOSTILE_NUMBERS = ("9" * 5000, "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1e-400",
                   "-0", "18446744073709551616", "9" * 64, "9" * 65, "0.5e308")


def check_gzip(data: bytes, rng: random.Random, path: Path) -> str:
    """`data` gzip-compressed, damaged, read as a log: "read" or "unreadable"."""
    from audisp_eql.pipeline import PipelineOptions, build_pipeline

    packed = bytearray(gzip.compress(data))
    how = rng.randrange(3)
    if how == 0:                                   # flip bytes past the gzip header
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(10, len(packed))
            packed[i] ^= 1 << rng.randrange(8)
    elif how == 1:                                 # truncated
        del packed[rng.randrange(10, len(packed)):]
    else:                                          # garbage appended (a second member)
        packed += bytes([0x1F, 0x8B]) + rng.randbytes(rng.randint(1, 64))
    path.write_bytes(bytes(packed))
    unreadable: list[str] = []
    pipeline = build_pipeline(PipelineOptions(parser="python", parent_from_proc=False))
    pipeline.read_files([str(path)], lambda name, error: unreadable.append(str(error)))
    pipeline.flush()
    return "unreadable" if unreadable else "read"


def _hostile_json(rng: random.Random, doc: dict[str, Any]) -> str:
    text = json.dumps(doc)
    kind = rng.randrange(4)
    if kind == 0:       # a hostile number where a number or string was
        number = rng.choice(HOSTILE_NUMBERS)
        return text.replace('"pid": ', f'"pid": {number}, "x": ', 1) if '"pid": ' in text \
            else text[:-1] + f', "n": {number}}}'
    if kind == 1:       # a dotted key of many parts
        parts = rng.choice((5, 19, 20, 21, 30, 5000))
        return text[:-1] + ', "' + ".".join(["k"] * parts) + '": 1}'
    if kind == 2:       # nested objects
        depth = rng.choice((19, 20, 21, 50, 900))
        return text[:-1] + ', "deep": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    # nested arrays
    depth = rng.choice((10, 21, 500))
    return text[:-1] + ', "list": ' + "[" * depth + "1" + "]" * depth + "}"


def check_ecs_json(doc: dict[str, Any], rng: random.Random, engine: Any, alert_rule: Any) -> str:
    """A document made hostile, read as `scan --input ecs` reads it, through the
    rules and an alert, written as strict JSON: "document" or "refused"."""
    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Match
    from audisp_eql.outputs.format import FORMATS, format_alert
    from audisp_eql.source.ecs_input import DocumentError, iter_documents

    line = _hostile_json(rng, doc).encode("utf-8", "surrogatepass")
    found = [d for _n, d in iter_documents(iter([line + b"\n"]))]
    outcome = "refused"
    for item in found:
        if isinstance(item, DocumentError):
            continue
        outcome = "document"
        matches = engine.process(item) + [Match(alert_rule, (item,))]
        for match in matches:
            alert = make_alert(match)
            strict = json.dumps(alert, allow_nan=False, ensure_ascii=False)
            json.loads(strict, parse_constant=_refuse)
            for fmt in FORMATS:
                format_alert(alert, fmt)
    return outcome


def _refuse(name: str) -> None:
    raise InvariantError(f"output JSON holds {name}")

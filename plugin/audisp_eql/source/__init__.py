"""Stage 1: files and stdin -> lines -> audit records -> events.

    logfiles.py      files, gzip, rotated sets, stdin -> byte chunks
    framing.py       bytes -> numbered complete lines (bounded)
    records.py       one line -> a record (header, fields, value decoding)
    record_bodies.py the fixed layouts of SYSCALL/EXECVE/CWD/PROCTITLE, fast
    event.py         AuditEvent and the EventSource interface
    assemble.py      records -> events in Python (the fallback)
    auparse_source.py records -> events by auparse in feed mode (the default)
    nodes.py         one grouping source per node= name; shard.py: which nodes
    ecs_input.py     JSON lines -> ECS documents (`scan --input ecs`)
"""

from __future__ import annotations

from typing import Callable, Optional

from .. import limits
from .event import EOE_TIMEOUT, EventSource
from .framing import LineError
from .nodes import GroupingSource, NodeRoutedSource
from .shard import Shard


def make_event_source(parser: str = "auto", timeout: float = EOE_TIMEOUT,
                      max_pending: Optional[int] = None, max_line: Optional[int] = None,
                      on_error: Optional[Callable[[LineError], None]] = None,
                      shard: Shard = Shard()) -> EventSource:
    """`parser`: "auparse", "python", or "auto" (auparse when its bindings import).
    Records are grouped per node (nodes.py); `shard`: the nodes this instance
    evaluates (shard.py). Bounds default to limits.MAX_PENDING_EVENTS (per
    node and for all nodes together; auparse: limits.MAX_HELD_RECORDS per node,
    limits.MAX_HELD_RECORDS_TOTAL together) and limits.MAX_LINE."""
    if parser not in ("auto", "auparse", "python"):
        raise ValueError(f"unknown parser {parser!r} (auto, auparse or python)")
    pending = limits.MAX_PENDING_EVENTS if max_pending is None else max_pending
    line = limits.MAX_LINE if max_line is None else max_line
    make: Optional[Callable[[], GroupingSource]] = None
    total = pending
    if parser != "python":
        try:
            from .auparse_source import AuparseEventSource

            def make() -> GroupingSource:
                return AuparseEventSource(timeout=timeout, max_line=line, on_error=on_error,
                                          max_pending=pending)
            probe = make()   # raises ImportError without the bindings
            total = max(limits.MAX_HELD_RECORDS_TOTAL, probe.pending_limit)
        except ImportError:
            if parser == "auparse":
                raise
            make = None
    if make is None:
        from .assemble import PythonEventSource

        def make() -> GroupingSource:
            return PythonEventSource(timeout=timeout, max_pending=pending, max_line=line,
                                     on_error=on_error)
    return NodeRoutedSource(make, total, line, on_error, shard)

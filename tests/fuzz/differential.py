"""The differential check: both event sources on the same bytes, fed the same
way, must give the same events (node, id, record types, in order) and the
same counts of records, malformed and unstamped lines (issue 17, item 13:
the auparse path dropped forged events the python path kept, uncounted).
Used by tests/test_differential.py (hypothesis) and the long fuzz run."""

from __future__ import annotations

from typing import Any, Sequence

Outcome = tuple[list[tuple[Any, str, tuple[str, ...]]], tuple[int, int, int]]


def outcome(parser: str, chunks: Sequence[bytes]) -> Outcome:
    from audisp_eql.source import make_event_source

    source = make_event_source(parser=parser)
    events = []
    for chunk in chunks:
        events += source.feed(chunk)
    events += source.flush()
    stats = source.stats
    return ([(e.node, e.event_id, tuple(t for t, _b in e.raw)) for e in events],
            (stats.records, stats.malformed, stats.unstamped))


def disagreement(chunks: Sequence[bytes]) -> str:
    """"" when both sources agree on `chunks`, else what differs."""
    auparse = outcome("auparse", chunks)
    python = outcome("python", chunks)
    if auparse == python:
        return ""
    if auparse[1] != python[1]:
        return f"counts (records, malformed, unstamped): auparse {auparse[1]}, python {python[1]}"
    for i, (a, p) in enumerate(zip(auparse[0], python[0])):
        if a != p:
            return f"event {i}: auparse {a}, python {p}"
    return f"{len(auparse[0])} events from auparse, {len(python[0])} from python"

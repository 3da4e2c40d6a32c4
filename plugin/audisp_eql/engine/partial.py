"""A sequence in progress: what a sequence rule remembers of one join key.

Both the matcher (sequence.py) and its missing-event steps (missing.py) read
and update it, so it lives below both.
"""

from __future__ import annotations

from typing import Optional


class Partial:
    """A pending (or completed) sequence: its events and times (ms)."""

    __slots__ = ("events", "first", "last", "miss_after", "doomed", "lead")

    def __init__(self, events: tuple, first: int, last: int, doomed: bool,
                 lead: Optional[int]) -> None:
        self.events = events
        self.first = first
        self.last = last
        self.miss_after: Optional[int] = None   # earliest middle miss after `last`
        self.doomed = doomed                    # a gap held a miss (M1)
        self.lead = lead                        # latest leading miss before `first`

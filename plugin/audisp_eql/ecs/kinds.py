"""The event kinds audisp-eql builds, in dispatch order. To add a kind: write
its `EventBuilder` subclass in a module of its own here and list it below;
`check`, the coverage analysis and every pipeline pick it up from this list."""

from __future__ import annotations

from .fork import ForkTracker
from .process import ProcessStartBuilder
from .registry import EventBuilder

KINDS: tuple[type[EventBuilder], ...] = (ProcessStartBuilder, ForkTracker)

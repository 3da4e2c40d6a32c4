"""Records -> events with auparse's rules, for the python source.

What auparse 3.0.9 (Debian 12's, read from its source and held to by the
differential test, tests/test_differential.py) does in feed mode, step by
step, so that both sources give the same events in the same order:

* a record joins the building event with its (node, sec, msec, serial);
  otherwise it starts a new event, in the lowest free slot; a record of
  type EOE that would start one is dropped ("standalone EOE");
* after each record, every building event is complete when it is
  `timeout` seconds older than that record (`sec + timeout <= record's
  sec`, in whatever order records come), or when its last record ends
  events (`ends_event`);
* complete events are handed out only at a hand-out point: when a record
  starts a new event, and when a new feed begins. Then, while the event
  with the lowest (sec, msec, serial) that is not handed out yet (ties: the
  lowest slot) is complete, it is handed out; one still building holds
  every later one back;
* at the end of input everything is complete and handed out in that order.

Bounds (not auparse's): more than `max_pending` building events, or their
records past limits.MAX_PENDING_BYTES, complete the oldest early (counted in
`evicted`). Two heaps with lazy deletion keep every step O(log n).
"""

from __future__ import annotations

import heapq
from typing import Callable, Optional

from .event import AuditEvent

Key = tuple  # (sec, msec, serial, node)
# Bytes a pending record costs beyond its text (tuple, list slot): for the bound.
RECORD_OVERHEAD = 64


class EventGrouper:
    def __init__(self, timeout: float, max_pending: int, max_bytes: int,
                 ends_event: Callable[[str], bool]) -> None:
        self._timeout = timeout
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._ends_event = ends_event
        self._building: dict[Key, int] = {}     # key -> slot
        self._slots: list[Optional[AuditEvent]] = []
        self._complete: list[bool] = []
        self._gen: list[int] = []                # per slot, its event's number: heap entries expire
        self._made = 0                           # events made (numbers them)
        self._sizes: list[int] = []
        self._free: list[int] = []               # heap of free slots
        self._by_time: list[tuple] = []          # (sec, slot, gen) of building events
        self._by_order: list[tuple] = []         # (sec, msec, serial, slot, gen) not handed out
        self.touched: dict[Key, float] = {}      # key -> monotonic time of its last record
        self.bytes = 0
        self.evicted = 0

    def __len__(self) -> int:
        """Events not handed out yet."""
        return len(self._slots) - len(self._free)

    @property
    def max_pending(self) -> int:
        return self._max_pending

    @property
    def building(self) -> int:
        return len(self._building)

    def add(self, node: Optional[str], sec: int, msec: int, serial: int, rtype: str,
            body: str, now: float, done: list[AuditEvent]) -> None:
        key = (sec, msec, serial, node)
        slot = self._building.get(key)
        if slot is None:
            if rtype == "EOE":
                return                            # standalone EOE: eaten, no clock either
            slot = self._new_slot(AuditEvent(node, sec, msec, serial, [(rtype, body)]))
            self._building[key] = slot
            heapq.heappush(self._by_time, (sec, slot, self._gen[slot]))
            heapq.heappush(self._by_order, (sec, msec, serial, slot, self._gen[slot]))
            started = True
        else:
            if rtype != "EOE":
                self._slots[slot].raw.append((rtype, body))  # type: ignore[union-attr]
            started = False
        if rtype != "EOE":
            size = len(body) + len(rtype) + RECORD_OVERHEAD
            self._sizes[slot] += size
            self.bytes += size
        self.touched[key] = now
        self._check(sec, key, rtype)
        if started:
            self.hand_out(done)
        self._bound(done)

    def _check(self, sec: int, key: Key, rtype: str) -> None:
        """auparse's check after a record: the record's own event by its
        type, every building event by age."""
        if self._ends_event(rtype) and key in self._building:
            self._finish(key)
        limit = sec - self._timeout
        by_time = self._by_time
        while by_time and by_time[0][0] <= limit:
            old_sec, slot, gen = heapq.heappop(by_time)
            if self._live(slot, gen) and not self._complete[slot]:
                event = self._slots[slot]
                self._finish((event.sec, event.msec, event.serial, event.node))  # type: ignore[union-attr]

    def _finish(self, key: Key) -> None:
        self._complete[self._building.pop(key)] = True
        self.touched.pop(key, None)

    def hand_out(self, done: list[AuditEvent]) -> None:
        """While the lowest event not handed out is complete, hand it out."""
        order = self._by_order
        while order:
            _sec, _msec, _serial, slot, gen = order[0]
            if not self._live(slot, gen):
                heapq.heappop(order)
                continue
            if not self._complete[slot]:
                return
            heapq.heappop(order)
            done.append(self._slots[slot])  # type: ignore[arg-type]
            self._release(slot)

    def _live(self, slot: int, gen: int) -> bool:
        """Whether a heap entry still names the event it was made for."""
        return slot < len(self._slots) and self._gen[slot] == gen \
            and self._slots[slot] is not None

    def _new_slot(self, event: AuditEvent) -> int:
        self._made += 1
        if self._free:
            slot = heapq.heappop(self._free)
            self._slots[slot] = event
            self._complete[slot] = False
            self._gen[slot] = self._made
            self._sizes[slot] = 0
            return slot
        self._slots.append(event)
        self._complete.append(False)
        self._gen.append(self._made)
        self._sizes.append(0)
        return len(self._slots) - 1

    def _release(self, slot: int) -> None:
        self._slots[slot] = None
        self.bytes -= self._sizes[slot]
        self._sizes[slot] = 0
        heapq.heappush(self._free, slot)
        if slot == len(self._slots) - 1:       # keep the lists short
            slots = self._slots
            while slots and slots[-1] is None:
                slots.pop()
                self._complete.pop()
                self._gen.pop()
                self._sizes.pop()
            self._free = [i for i in self._free if i < len(slots)]
            heapq.heapify(self._free)

    def _bound(self, done: list[AuditEvent]) -> None:
        while self._building and (len(self._building) > self._max_pending
                                  or self.bytes > self._max_bytes):
            self.shed(done)

    def shed(self, done: list[AuditEvent]) -> None:
        """The lowest building event is completed now (counted in `evicted`)
        and handed out with what waited behind it; a later record of it
        starts a new event. Without a building event, only what is complete
        is handed out."""
        self.hand_out(done)
        if not self._building:
            return
        _sec, _msec, _serial, slot, _gen = self._by_order[0]   # live and building now
        event = self._slots[slot]
        self._finish((event.sec, event.msec, event.serial, event.node))  # type: ignore[union-attr]
        self.evicted += 1
        self.hand_out(done)

    def age(self, before: float, done: list[AuditEvent]) -> None:
        """Complete the events whose last record came at or before `before`."""
        for key in [k for k, t in self.touched.items() if t <= before]:
            if key in self._building:
                self._finish(key)
        self.hand_out(done)

    def finish_all(self, done: list[AuditEvent]) -> None:
        for key in list(self._building):
            self._finish(key)
        self.hand_out(done)

    # -- the fast path (assemble.py): whole events in order ------------------
    def simple_after(self, sec: int, msec: int, serial: int) -> Optional[AuditEvent]:
        """When nothing is building and at most one complete event waits, with
        an id below (sec, msec, serial): that event (or a marker that none
        waits), else None. Then a whole new event of that id can skip `add`."""
        if self._building or len(self) > 1:
            return None
        for slot, event in enumerate(self._slots):
            if event is not None:
                return event if (event.sec, event.msec, event.serial) < (sec, msec, serial) \
                    else None
        return _NONE_WAITING

    def replace_waiting(self, event: AuditEvent, done: list[AuditEvent]) -> None:
        """The fast path's step: what waits is handed out (the new event's first
        record would do that) and `event`, complete, waits in its place."""
        self.hand_out(done)
        slot = self._new_slot(event)
        self._complete[slot] = True
        heapq.heappush(self._by_order,
                       (event.sec, event.msec, event.serial, slot, self._gen[slot]))


_NONE_WAITING = AuditEvent(None, -1, 0, 0, [])

"""A `scan --jobs` worker process: builds the documents of batches of events
and runs the single-event index on them (tracking.py: its state is speculative,
the merging process settles it).

Forked from the merging process after its pipeline is built, so it starts
with the same compiled rules (no pickling of rules); it makes its own
builders over a SpeculativeTable and uses its copy of the engine for the
index only, with the sequences' state terms off (it holds no sequence
state; the merging process applies those terms, in order).

Per event it answers `(ops, documents, shipped, errors)`, or None when a
builder failed on the event (the merging process builds it and reports
the failure): `ops` the event's calls on the builders' state with what its
reads returned; `documents` how many it built; `shipped` the documents
something matched (or every one, when a stateful matcher wants them all),
each as `(doc, positions of the single-event rules matched, stateful hits)`;
`errors` the rule failures `(position, class name, text)`.
"""

from __future__ import annotations

import gc
import queue
import signal
import threading
from typing import Any, Optional

from ..ecs.bound import BoundSockets
from ..ecs.proctable import ProcessTable
from ..engine.rule_errors import RuleErrors
from ..rules import Rule
from ..source.event import AuditEvent
from .tracking import Op, SpeculativeBound, SpeculativeTable, apply, bound_of

EventAnswer = Optional[tuple[list[Op], int, Optional[list[Any]], Optional[list[Any]]]]


class LoggedErrors(RuleErrors):
    """Rule failures kept for the merging process (which counts and logs them)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Rule, str, str]] = []

    def count_named(self, rule: Rule, kind: str, text: str) -> None:
        self.seen.append((rule, kind, text))


class Worker:
    def __init__(self, pipeline: Any) -> None:
        from ..pipeline import build_builders
        options = pipeline.options
        self.builders = build_builders(options)
        self.base = ProcessTable(options.process_table_size)
        self.table = SpeculativeTable(self.base)
        self.builders.context.table = self.table
        self.bound_base = BoundSockets()
        self.bound: Optional[SpeculativeBound] = None
        keeper = bound_of(self.builders)
        if keeper is not None:
            self.bound = SpeculativeBound(self.bound_base, self.table.log)
            keeper[0].bound = self.bound
        engine = pipeline.engine
        engine.guards.enabled = False        # no sequence state here
        self.errors = LoggedErrors()
        engine.errors = engine.single.errors = self.errors
        self.engine = engine
        self.positions = {id(rule): n for n, rule in enumerate(engine.single.rules)}
        self.every = engine.needs_every_document

    def batch(self, forwarded: list[Op], events: list[AuditEvent]) -> list[EventAnswer]:
        apply(self.base, self.bound_base, forwarded)
        build = self.builders.build
        match = self.engine.single.match
        split = self.engine.split
        positions = self.positions
        every = self.every
        log = self.table.log
        seen = self.errors.seen
        out: list[EventAnswer] = []
        for event in events:
            start = len(log)
            try:
                documents = build(event)
            except Exception:  # noqa: BLE001 - the merging process builds it and reports
                out.append(None)
                continue
            shipped: Optional[list[Any]] = None
            for doc in documents:
                found = match(doc)
                if found or every:
                    matches, hits = split(doc, found)
                    if shipped is None:
                        shipped = []
                    shipped.append((doc, [positions[id(m.rule)] for m in matches], hits))
            errors = None
            if seen:
                errors = [(positions[id(rule)], kind, text) for rule, kind, text in seen]
                seen.clear()
            out.append((log[start:], len(documents), shipped, errors))
        log.clear()
        self.table.overlay.clear()
        if self.bound is not None:
            self.bound.overlay.clear()
        return out


def worker_main(conn: Any, pipeline: Any) -> None:
    """The worker's loop: (forwarded ops, events) in, answers out, None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the merging process handles ^C
    gc.freeze()   # the rules and tables inherited stay out of this process's collections
    # Messages are taken off the pipe by a thread of their own: the merging
    # process may send the next batch while this one sends its answer (each
    # blocked on a full pipe otherwise). It sends at most
    # limits.JOBS_BATCHES_AHEAD batches ahead of the answers it took.
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = None
            inbox.put(message)
            if message is None:
                return
    threading.Thread(target=receive, daemon=True).start()
    worker = Worker(pipeline)
    while True:
        message = inbox.get()
        if message is None:
            return
        conn.send(worker.batch(*message))

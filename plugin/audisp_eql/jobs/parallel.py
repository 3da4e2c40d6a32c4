"""`scan --jobs N`: the same answer as one process, with building and the
single-event rules in N worker processes.

This process (the merging one) reads the inputs and groups records into
events exactly as one process does (the grouping state, auparse's included,
never crosses a process), cuts the events into batches
(limits.JOBS_BATCH_EVENTS) and sends them round-robin to the workers
(worker.py), at most limits.JOBS_BATCHES_AHEAD per worker ahead. It takes
their answers back in input order and, event by event:

- checks what the worker's builders read of the process and socket tables
  against the true tables (tracking.py); when it agrees, replays the
  event's calls on them, else builds the event itself with the true tables
  (then the documents go through the whole engine here);
- runs the stateful matchers (sequences, samples) on the documents whose
  steps the worker's index matched, with the sequences' state terms tested
  here against the true state, in the order one process would;
- suppresses by exceptions, makes and writes the alerts, counts.

Messages about the input (malformed lines, unreadable files) are kept in
the batch at the place they arose and given out when the merge reaches it,
so stderr keeps one process's order too. The true tables' calls are
forwarded to every worker (its settled base). A worker that fails ends the
parallel part: what is left is done here, as with --jobs 1.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from typing import Any, Callable, Optional, Sequence

from .. import limits
from ..engine.engine import Match
from ..engine.sequence import STATE_TERM
from ..pipeline import Pipeline, build_pipeline
from ..source.event import AuditEvent
from .tracking import Op, RecordingBound, RecordingTable, apply, bound_of, verify
from .worker import worker_main


# Tests cut batches tiny (a few events), so that parents and children, and
# the steps of sequences, fall into different workers' batches.
BATCH_ENV = "AUDISP_EQL_JOBS_BATCH"


def batch_events() -> int:
    """Events per batch: limits.JOBS_BATCH_EVENTS, or $AUDISP_EQL_JOBS_BATCH (at least 1)."""
    try:
        return max(1, int(os.environ.get(BATCH_ENV) or limits.JOBS_BATCH_EVENTS))
    except ValueError:
        return limits.JOBS_BATCH_EVENTS


class Deferred:
    """A message to give out when the merge reaches this point of the input."""

    __slots__ = ("call", "args")

    def __init__(self, call: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.call, self.args = call, args


class JobStats:
    """What the parallel run did (for tests and the bench)."""

    def __init__(self) -> None:
        self.batches = 0
        self.events = 0
        self.rebuilt = 0          # events the merging process built again
        self.local_batches = 0    # batches done here (no worker left)


class ParallelPipeline(Pipeline):
    """A Pipeline (audit records in) whose building and single-event matching
    run in `jobs` worker processes; `close()` ends them."""

    def __init__(self, base: Pipeline, jobs: int) -> None:
        super().__init__(base.source, base.builders, base.engine, None, base._on_alert,
                         base._on_build_error, base._on_event, base.exceptions)
        self.options = base.options
        self.stats = JobStats()
        builders = self.builders
        assert builders is not None and self.engine is not None
        old = builders.context.table
        assert old is not None
        self._log: list[Op] = []
        self.table = RecordingTable(self.options.process_table_size if self.options else 0)
        self.table.host_id = old.host_id
        self.table.log = self._log
        builders.context.table = self.table
        self.bound: Optional[RecordingBound] = None
        keeper = bound_of(builders)
        if keeper is not None:
            self.bound = RecordingBound()
            self.bound.log = self._log
            keeper[0].bound = self.bound
        self._rules = self.engine.single.rules
        self._batch: list[Any] = []
        self._batch_events = 0
        self._batch_limit = batch_events()
        self._in_flight: deque[tuple[int, list[Any]]] = deque()
        self._sent = 0
        context = multiprocessing.get_context("fork")
        self._workers: list[Any] = []
        self._outbox: list[list[Op]] = []
        self._ahead: list[int] = []
        for _ in range(jobs):
            mine, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(theirs, self), daemon=True)
            process.start()
            theirs.close()
            self._workers.append((process, mine))
            self._outbox.append([])
            self._ahead.append(0)

    # -- what the source hands on ------------------------------------------------------
    def _events(self, events: list[AuditEvent]) -> None:
        while events:
            room = self._batch_limit - self._batch_events
            taken, events = events[:room], events[room:]
            self._batch.extend(taken)
            self._batch_events += len(taken)
            if self._batch_events >= self._batch_limit:
                self._dispatch()

    def defer(self, call: Callable[..., None]) -> Callable[..., None]:
        """`call`, given out in input order (for callbacks about the input)."""
        def deferred(*args: Any) -> None:
            self._batch.append(Deferred(call, args))
        return deferred

    def read_files(self, paths: Sequence[str],
                   on_unreadable: Callable[[str, Exception], None],
                   on_chunk: Optional[Callable[[str, int], None]] = None,
                   on_no_records: Optional[Callable[[str, int], None]] = None,
                   on_file: Optional[Callable[[str], None]] = None) -> int:
        return super().read_files(paths, self.defer(on_unreadable), on_chunk,
                                  self.defer(on_no_records) if on_no_records else None,
                                  on_file)

    def flush(self) -> None:
        if self.source is not None:
            self._events(self.source.flush())
        self._dispatch()
        while self._in_flight:
            self._merge_oldest()
        self.close()
        if self.engine is not None:
            self._alerts(self.engine.flush())

    def close(self) -> None:
        """End the workers (this process's own children, by their handles)."""
        workers, self._workers = self._workers, []
        for process, conn in workers:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
            conn.close()
        for process, _conn in workers:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()

    # -- batches out, answers in -----------------------------------------------------------
    def _dispatch(self) -> None:
        batch, self._batch = self._batch, []
        self._batch_events = 0
        if not batch:
            return
        number = self._sent
        self._sent += 1
        self.stats.batches += 1
        if self._workers:
            worker = number % len(self._workers)
            while self._workers and self._ahead[worker] >= limits.JOBS_BATCHES_AHEAD:
                self._merge_oldest()
        if not self._workers:
            self._in_flight.append((-1, batch))
            self._merge_oldest()
            return
        events = [e for e in batch if e.__class__ is not Deferred]
        process, conn = self._workers[worker]
        try:
            conn.send((self._outbox[worker], events))
        except (OSError, ValueError):
            self._give_up()
            self._in_flight.append((-1, batch))
            self._merge_oldest()
            return
        self._outbox[worker] = []
        self._ahead[worker] += 1
        self._in_flight.append((worker, batch))

    def _merge_oldest(self) -> None:
        worker, batch = self._in_flight.popleft()
        answers: Optional[list[Any]] = None
        if worker >= 0 and self._workers:
            self._ahead[worker] -= 1
            try:
                answers = self._workers[worker][1].recv()
            except (EOFError, OSError):
                self._give_up()
        if answers is None:
            self.stats.local_batches += 1
        self._log.clear()
        self._merge(batch, answers)
        if self._workers and self._log:
            for outbox in self._outbox:
                outbox.extend(self._log)
        self._log.clear()

    def _give_up(self) -> None:
        """A worker failed: every batch from here on is done in this process."""
        self.close()
        self._outbox = []

    def _merge(self, batch: list[Any], answers: Optional[list[Any]]) -> None:
        rebuild = super()._events
        engine = self.engine
        assert engine is not None
        table, bound = self.table, self.bound
        counts = self.counts
        stats = self.stats
        position = 0
        for item in batch:
            if item.__class__ is Deferred:
                item.call(*item.args)
                continue
            answer = answers[position] if answers is not None else None
            position += 1
            stats.events += 1
            if answer is None or not verify(table, bound, answer[0]):
                if answers is not None:
                    stats.rebuilt += 1
                rebuild([item])
                continue
            ops, documents, shipped, errors = answer
            apply(table, bound, ops)
            counts.events += 1
            if self._on_event is not None:
                self._on_event(item)
            if errors:
                for number, kind, text in errors:
                    engine.errors.count_named(self._rules[number], kind, text)
            counts.documents += documents
            if shipped:
                for doc, singles, hits in shipped:
                    matches = [Match(self._rules[n], (doc,)) for n in singles]
                    if hits:
                        hits = _with_state(engine, doc, hits)
                    matches = engine.stateful(doc, matches, hits)
                    if matches:
                        self._alerts(matches)


def _with_state(engine: Any, doc: dict[str, Any],
                hits: dict[int, list[int]]) -> Optional[dict[int, list[int]]]:
    """The worker's step hits less the guarded steps whose state term is false
    here (what the index of one process would have found)."""
    out: Optional[dict[int, list[int]]] = None
    for number, indices in hits.items():
        conditions = engine.stateful_matcher(number).conditions
        kept = [i for i in indices if _holds(conditions[i], doc)]
        if kept:
            if out is None:
                out = {}
            out[number] = kept
    return out


def _holds(condition: Any, doc: dict[str, Any]) -> bool:
    conjuncts = getattr(condition, "conjuncts", ())
    if conjuncts and conjuncts[-1][0] is STATE_TERM:
        return bool(conjuncts[-1][1](doc))
    return True


def build_parallel(options: Any, jobs: int, **callbacks: Any) -> ParallelPipeline:
    """A ParallelPipeline over `options` (audit input, with rules); `callbacks`
    as build_pipeline takes them (on_error is given out in input order)."""
    holder: list[ParallelPipeline] = []
    on_error = callbacks.pop("on_error", None)

    def deferred_error(error: Any) -> None:
        if on_error is not None:
            holder[0].defer(on_error)(error)
    base = build_pipeline(options, on_error=deferred_error, **callbacks)
    pipeline = ParallelPipeline(base, jobs)
    holder.append(pipeline)
    return pipeline

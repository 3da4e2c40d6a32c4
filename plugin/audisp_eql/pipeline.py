"""The one place the stages are wired: records -> events -> ECS documents ->
matches -> alerts. `events`, `scan`, the plugin and the tests all build their
pipeline with `build_pipeline` and only decide where documents and alerts go.

    pipeline = build_pipeline(PipelineOptions(rules=ruleset.rules), on_alert=write)
    pipeline.start_source("audit.log")
    for chunk in iter_file("audit.log"):
        pipeline.feed(chunk)
    pipeline.flush()

Data flows one way and each stage is swappable on its own (the plugin
replaces the engine on reload and the builders when their settings change).
A builder that fails on one event is counted and reported, never fatal:
the input is the attacker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

from .alerts import make_alert
from .ecs import BuildContext, BuilderRegistry, make_registry
from .ecs.proctable import ProcessTable
from .ecs.users import UserDb
from .engine import Engine
from .rules import Rule
from .source import make_event_source
from .source.event import EOE_TIMEOUT, AuditEvent, EventSource
from .source.framing import LineError
from .source.logfiles import READ_ERRORS, display_name, iter_file, rotation_order

Document = dict[str, Any]


@dataclass
class PipelineOptions:
    parser: str = "auto"                # record grouping: auparse, python, auto
    event_timeout: float = EOE_TIMEOUT  # seconds an event waits for its next record
    action: str = "exec"                # event.action of process starts
    include_failed: bool = False        # failed execs become documents too
    hostname: Optional[str] = None      # host.name for records without node=
    local_users: bool = False           # names from this host's user database
    process_table_size: int = 0         # 0: limits.MAX_PROCESSES
    parent_from_proc: bool = False      # live only: unknown parents from /proc
    audit_input: bool = True            # False: the input is ECS documents (no source)
    rules: Optional[Sequence[Rule]] = None   # None: no engine (documents only)


@dataclass
class PipelineCounts:
    events: int = 0         # audit events assembled
    documents: int = 0      # ECS documents built (or read)
    alerts: int = 0
    build_errors: int = 0   # events a builder failed on (reported, skipped)
    malformed_values: int = 0   # numbers out of range, left out (set by `Pipeline.count`)


class Pipeline:
    def __init__(self, source: Optional[EventSource], builders: Optional[BuilderRegistry],
                 engine: Optional[Engine],
                 on_document: Optional[Callable[[Document], None]] = None,
                 on_alert: Optional[Callable[[Document], None]] = None,
                 on_build_error: Optional[Callable[[AuditEvent, Exception], None]] = None,
                 on_event: Optional[Callable[[AuditEvent], None]] = None) -> None:
        self.source = source
        self.builders = builders
        self.engine = engine
        self.counts = PipelineCounts()
        self._on_document = on_document
        self._on_alert = on_alert
        self._on_build_error = on_build_error
        self._on_event = on_event

    # -- audit records in --------------------------------------------------------
    def start_source(self, name: str) -> None:
        """A new input begins (its name goes into error messages)."""
        self._events(self._source().start_source(name))

    def feed(self, data: bytes) -> None:
        self._events(self._source().feed(data))

    def age(self, now: Optional[float] = None) -> None:
        """Complete events that waited too long (the plugin calls this when idle;
        `now`: a time.monotonic() value, for tests)."""
        self._events(self._source().age(now))

    def flush(self) -> None:
        """End of input: every pending event, then what only the end decides."""
        if self.source is not None:
            self._events(self.source.flush())
        if self.engine is not None:
            self._alerts(self.engine.flush())

    def read_files(self, paths: Sequence[str],
                   on_unreadable: Callable[[str, Exception], None],
                   on_chunk: Optional[Callable[[str], None]] = None) -> int:
        """Feed audit log files (rotated sets oldest first, gzip, '-' for stdin);
        a file that cannot be read is reported and skipped. Does not flush.
        Returns the number of files read."""
        count = 0
        for path in rotation_order(list(paths)):
            name = display_name(path)
            count += 1
            self.start_source(name)
            try:
                for chunk in iter_file(path):
                    self.feed(chunk)
                    if on_chunk is not None:
                        on_chunk(name)
            except READ_ERRORS as exc:
                on_unreadable(name, exc)
        return count

    # -- ECS documents in ----------------------------------------------------------
    def documents(self, documents: Iterable[Document]) -> None:
        """Documents that need no building (`scan --input ecs`)."""
        self._documents(documents)

    # -- the per-event path ---------------------------------------------------------
    def _events(self, events: list[AuditEvent]) -> None:
        if not events:
            return
        counts = self.counts
        counts.events += len(events)
        if self._on_event is not None:
            for event in events:
                self._on_event(event)
        if self.builders is None:
            return
        build = self.builders.build
        to_engine = self._documents
        for event in events:
            try:
                documents = build(event)
            except Exception as exc:  # noqa: BLE001 - one odd event must not stop the stream
                counts.build_errors += 1
                if self._on_build_error is not None:
                    self._on_build_error(event, exc)
                continue
            if documents:
                to_engine(documents)

    def _documents(self, documents: Iterable[Document]) -> None:
        on_document = self._on_document
        process = self.engine.process if self.engine is not None else None
        seen = 0   # counted locally, stored even if an output raises
        try:
            for doc in documents:
                seen += 1
                if on_document is not None:
                    on_document(doc)
                if process is not None:
                    matches = process(doc)
                    if matches:
                        self._alerts(matches)
        finally:
            self.counts.documents += seen

    def _alerts(self, matches: list[Any]) -> None:
        on_alert = self._on_alert
        for match in matches:
            self.counts.alerts += 1
            if on_alert is not None:
                on_alert(make_alert(match))

    def count(self) -> PipelineCounts:
        """`counts`, with what the builders counted brought in."""
        if self.builders is not None and self.builders.builders:
            self.counts.malformed_values = self.builders.builders[0].context.malformed_values
        return self.counts

    def _source(self) -> EventSource:
        if self.source is None:
            raise RuntimeError("this pipeline reads ECS documents, not audit records")
        return self.source


def build_builders(options: PipelineOptions) -> BuilderRegistry:
    """The builders of every registered event kind, sharing one process table."""
    return make_registry(BuildContext(
        action=options.action, include_failed=options.include_failed,
        table=ProcessTable(options.process_table_size, proc_fallback=options.parent_from_proc),
        users=UserDb() if options.local_users else None, hostname=options.hostname))


def build_pipeline(options: PipelineOptions,
                   on_document: Optional[Callable[[Document], None]] = None,
                   on_alert: Optional[Callable[[Document], None]] = None,
                   on_error: Optional[Callable[[LineError], None]] = None,
                   on_build_error: Optional[Callable[[AuditEvent, Exception], None]] = None,
                   on_event: Optional[Callable[[AuditEvent], None]] = None) -> Pipeline:
    """Every stage `options` asks for: a record source and the builders (unless
    the input is ECS documents), and an engine over `options.rules` (if any)."""
    source = builders = None
    if options.audit_input:
        source = make_event_source(options.parser, timeout=options.event_timeout,
                                   on_error=on_error)
        builders = build_builders(options)
    engine = Engine(options.rules) if options.rules is not None else None
    return Pipeline(source, builders, engine, on_document, on_alert, on_build_error, on_event)

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
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from .alerts import make_alert
from .ecs import BuildContext, BuilderRegistry, make_registry
from .ecs.common import DEFAULT_ACTIONS
from .ecs.environ import EnvironReader
from .ecs.host import HostDirectory, local_identity, named_identity
from .ecs.proctable import ProcessTable
from .ecs.users import UserDb
from .engine import Engine
from .exceptions import ExceptionSet, Suppressor
from .rule_values import env_var_names
from .rules import Rule
from .source import make_event_source
from .source.event import EOE_TIMEOUT, AuditEvent, EventSource
from .source.framing import LineError
from .source.logfiles import (READ_ERRORS, display_name, expand_directories, iter_file,
                               rotation_order)
from .source.shard import Shard

Document = dict[str, Any]


@dataclass
class PipelineOptions:
    parser: str = "auto"                # record grouping: auparse, python, auto
    event_timeout: float = EOE_TIMEOUT  # seconds an event waits for its next record
    # event.action of process starts: one value, or several (a list in documents)
    action: Union[str, tuple[str, ...]] = DEFAULT_ACTIONS
    include_failed: bool = False        # failed execs become documents too
    # The host that wrote records without node=: `hostname` names another host
    # (host.id derived from the name); else this machine (hostname, machine-id,
    # OS) unless `local_host` is False (then no host.name/id).
    hostname: Optional[str] = None
    local_host: bool = True
    local_users: bool = False           # names from this host's user database
    process_table_size: int = 0         # 0: limits.MAX_PROCESSES
    parent_from_proc: bool = False      # live only: unknown parents from /proc
    shard: Shard = Shard()              # the nodes evaluated here (source/shard.py)
    # The records are this host's, as they happen (the plugin): the builders may
    # read /proc and /sys for what records lack (process.env_vars, module taint).
    live: bool = False
    env_vars: tuple[str, ...] = ()      # live only: variables for process.env_vars ...
    env_vars_from_rules: bool = True    # ... and those the rules test
    audit_input: bool = True            # False: the input is ECS documents (no source)
    rules: Optional[Sequence[Rule]] = None   # None: no engine (documents only)
    exceptions: Optional[ExceptionSet] = None  # matches they cover become no alert
    # Bytes of documents sequences and samples hold together (0: limits.MAX_PENDING_BYTES).
    state_bytes: int = 0


@dataclass
class PipelineCounts:
    events: int = 0         # audit events assembled
    documents: int = 0      # ECS documents built (or read)
    alerts: int = 0
    excepted: int = 0       # matches an exception covered (no alert)
    build_errors: int = 0   # events a builder failed on (reported, skipped)
    malformed_values: int = 0   # numbers out of range, left out (set by `Pipeline.count`)


class Pipeline:
    options: Optional[PipelineOptions] = None   # what it was built with (build_pipeline)

    def __init__(self, source: Optional[EventSource], builders: Optional[BuilderRegistry],
                 engine: Optional[Engine],
                 on_document: Optional[Callable[[Document], None]] = None,
                 on_alert: Optional[Callable[[Document], None]] = None,
                 on_build_error: Optional[Callable[[AuditEvent, Exception], None]] = None,
                 on_event: Optional[Callable[[AuditEvent], None]] = None,
                 exceptions: Optional[Suppressor] = None) -> None:
        self.source = source
        self.builders = builders
        self.engine = engine
        self.exceptions = exceptions   # between the engine and the alerts
        self.counts = PipelineCounts()
        self._on_document = on_document
        self._on_alert = on_alert
        self._on_build_error = on_build_error
        self._on_event = on_event

    def set_engine(self, engine: Engine, rules: Sequence[Rule]) -> None:
        """A new rule set: its engine, and the environment variables its rules
        look for (read from /proc in live mode)."""
        self.engine = engine
        if self.builders is not None and self.options is not None:
            self.builders.context.environ = environ_reader(self.options, rules)

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

    def replace_source(self, source: EventSource) -> None:
        """Read records with `source` from now on; what the old one holds is
        evaluated first (a reload that changes how records are read)."""
        partial = b""
        if self.source is not None:
            # A line cut by the read goes on in the new source, not ended here.
            partial = getattr(self.source, "take_partial", bytes)()
            self._events(self.source.flush())
        self.source = source
        if partial:
            self.feed(partial)

    def read_files(self, paths: Sequence[str],
                   on_unreadable: Callable[[str, Exception], None],
                   on_chunk: Optional[Callable[[str, int], None]] = None,
                   on_no_records: Optional[Callable[[str, int], None]] = None,
                   on_file: Optional[Callable[[str], None]] = None) -> int:
        """Feed audit log files (directories as the rotated set they hold,
        rotated sets oldest first, gzip, '-' for stdin); a file that cannot be
        read is reported and skipped, and so is a file of which no line is an
        audit record (`on_no_records(name, malformed lines)`). Does not flush.
        `on_file(name)` before each file, `on_chunk(name, bytes)` after each read.
        Returns the number of files read."""
        count = 0
        stats = self._source().stats
        for path in rotation_order(expand_directories(list(paths), on_unreadable)):
            name = display_name(path)
            count += 1
            if on_file is not None:
                on_file(name)
            self.start_source(name)
            records, malformed = stats.records, stats.malformed
            try:
                for chunk in iter_file(path):
                    self.feed(chunk)
                    if on_chunk is not None:
                        on_chunk(name, len(chunk))
            except READ_ERRORS as exc:
                on_unreadable(name, exc)
                continue
            self.start_source(name)   # ends the file's last line if it has no newline
            if on_no_records is not None and stats.records == records \
                    and stats.malformed > malformed:
                on_no_records(name, stats.malformed - malformed)
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
        exceptions = self.exceptions
        for match in matches:
            if exceptions is not None and \
                    exceptions.suppressing(match.rule.rule_id, match.documents) is not None:
                self.counts.excepted += 1
                continue
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


def environ_reader(options: PipelineOptions,
                   rules: Optional[Sequence[Rule]]) -> Optional[EnvironReader]:
    """What reads process.env_vars (live only): the configured variables and
    those the rules look for; None when there are none."""
    if not options.live:
        return None
    names = dict.fromkeys(options.env_vars)
    if options.env_vars_from_rules and rules:
        names.update(dict.fromkeys(env_var_names(
            r.compiled.query for r in rules if getattr(r.compiled, "query", None) is not None)))
    return EnvironReader(tuple(names)) if names else None


def build_builders(options: PipelineOptions) -> BuilderRegistry:
    """The builders of every registered event kind, sharing one process table."""
    local = named_identity(options.hostname) if options.hostname else \
        local_identity() if options.local_host else None
    return make_registry(BuildContext(
        action=options.action, include_failed=options.include_failed,
        table=ProcessTable(options.process_table_size, proc_fallback=options.parent_from_proc,
                           host_id=local.ident if local is not None else None),
        users=UserDb() if options.local_users else None, hosts=HostDirectory(local),
        live=options.live, environ=environ_reader(options, options.rules)))


def never_firing(options: PipelineOptions) -> Optional[Callable[[Rule], bool]]:
    """For a pipeline whose documents all come from our builders: which rules
    none of them can match (Engine's `never_fires`); None for ECS input."""
    if not options.audit_input:
        return None
    if options.action == DEFAULT_ACTIONS:      # check's own verdict, kept by load_rules
        return lambda rule: bool(rule.never_fires)
    from . import coverage
    from .ecs import catalog
    from .eql import compile_query
    ours = catalog(options.action)
    return lambda rule: bool(coverage.never_fires(rule.compiled.query, ours, compile_query))


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
                                   on_error=on_error, shard=options.shard)
        builders = build_builders(options)
    engine = Engine(options.rules, never_fires=never_firing(options),
                    state_bytes=options.state_bytes) if options.rules is not None else None
    exceptions = Suppressor(options.exceptions) if options.exceptions and options.exceptions.items \
        else None
    pipeline = Pipeline(source, builders, engine, on_document, on_alert, on_build_error, on_event,
                        exceptions)
    pipeline.options = options
    return pipeline

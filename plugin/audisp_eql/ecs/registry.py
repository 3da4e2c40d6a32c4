"""Which builder turns which audit event into ECS documents.

An event kind is one `EventBuilder` subclass: its class attributes say what
it takes (syscall names, or the record type that opens a userspace event)
and what it produces (categories, fields, fields with one value on all its
documents); `build` makes zero or more documents of one event. The
`Catalog` of the registered kinds is what `check` reads to decide whether a
rule can fire; the `BuilderRegistry` dispatches events in a pipeline.

Dispatch: an event with a SYSCALL record goes to the builders registered for
its syscall's name (named with the audit bindings' tables, so any
architecture); any other event to the builders registered for the type of
its first record. A record the kernel logs *during* a syscall (CONFIG_CHANGE
from auditctl, LOGIN from pam_loginuid, TIME_INJOFFSET, ANOM_*) comes before
that syscall's SYSCALL record: such an event goes to the builders of its
first record's type (with the SYSCALL) and then to those of the syscall. An
event whose first record is SYSCALL (every exec) pays one string comparison
for this. One event may give documents from several builders, in
registration order.

What a kind produces is declared for `check`: `categories`, `fields`,
`constants` (one value on all its documents) and `variants` (the values the
fields that tell its documents apart take together, e.g. event.action and
event.type per record type; each document has exactly one of them, lists
included). The coverage analysis evaluates a rule on each kind's variants.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Mapping, Optional, Sequence

from ..source.event import AuditEvent
from ..source.record_bodies import SYSCALL_HEAD, SyscallValues, syscall_values
from .common import BuildContext, syscall_name

Document = dict[str, Any]
_NO_DOCUMENTS: list[Document] = []   # returned, never changed


class Syscall:
    """The SYSCALL record of an event: its name, body, and fields parsed once."""

    __slots__ = ("name", "body", "_values")

    def __init__(self, name: Optional[str], body: str,
                 values: Optional[SyscallValues] = None) -> None:
        self.name = name
        self.body = body
        self._values = values

    @property
    def values(self) -> SyscallValues:
        values = self._values
        if values is None:
            values = self._values = syscall_values(self.body)
        return values


class EventBuilder:
    """One event kind. Subclasses set the class attributes and `build`."""

    kind: ClassVar[str] = ""
    categories: ClassVar[tuple[str, ...]] = ()        # event.category of its documents
    fields: ClassVar[frozenset[str]] = frozenset()    # every field its documents may set
    # Fields with the same value on every document it makes (with the default settings).
    constants: ClassVar[Mapping[str, Any]] = {}
    # The combinations of values its documents take for the fields that vary by
    # what happened (event.action, event.type, ...): each document has one. Empty: one
    # variant, `constants`.
    variants: ClassVar[tuple[Mapping[str, Any], ...]] = ()
    # Fields whose value on one of its documents no earlier document carries
    # (a process start's new entity id): a sequence step joining on one never
    # meets an earlier step's value.
    fresh: ClassVar[frozenset[str]] = frozenset()
    syscalls: ClassVar[frozenset[str]] = frozenset()      # SYSCALL events it takes
    # Events by the type of their first record (userspace records, or a record the
    # kernel logs before the SYSCALL of the same event).
    record_types: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, context: BuildContext) -> None:
        self.context = context

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        """The documents of `event` (`syscall` is None for events without one)."""
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        """Sizes and eviction counts of the state this builder keeps (status line)."""
        return {}


class Catalog:
    """What the registered kinds produce, for `check` (no builder instances).

    `overrides` (kind -> field -> value) replaces constants that a setting
    changes (the process builder's event.action), for a pipeline whose
    settings are not the defaults."""

    def __init__(self, kinds: Sequence[type[EventBuilder]],
                 overrides: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
        self.kinds = tuple(kinds)
        self.overrides = dict(overrides or {})

    def _constants_of(self, kind: type[EventBuilder]) -> Mapping[str, Any]:
        override = self.overrides.get(kind.kind)
        return {**kind.constants, **override} if override else kind.constants

    @property
    def categories(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for kind in self.kinds:
            seen.update(dict.fromkeys(kind.categories))
        return tuple(seen)

    def _producing(self, category: Optional[str]) -> list[type[EventBuilder]]:
        return [k for k in self.kinds if k.categories and
                (category is None or category in k.categories)]

    def kinds_of(self, category: Optional[str] = None) -> list[type[EventBuilder]]:
        """The kinds that make documents of `category` (None: any documents)."""
        return self._producing(category)

    def fields(self, category: Optional[str] = None) -> frozenset[str]:
        """Fields some document of `category` (None: of any category) may carry."""
        out: frozenset[str] = frozenset()
        for kind in self._producing(category):
            out |= self.kind_fields(kind)
        return out

    def constants(self, category: Optional[str] = None) -> dict[str, Any]:
        """Fields with one value on every document of `category` (None: all documents)."""
        variants = [v for kind in self._producing(category)
                    for v in self.kind_variants(kind, category)]
        if not variants:
            return {}
        first, *rest = variants
        return {name: value for name, value in first.items()
                if all(name in v and v[name] == value for v in rest)}

    def kind_fields(self, kind: type[EventBuilder]) -> frozenset[str]:
        """Every field a document of `kind` may carry."""
        out = kind.fields | frozenset(self._constants_of(kind))
        for variant in kind.variants:
            out |= frozenset(variant)
        return out

    def kind_variants(self, kind: type[EventBuilder],
                      category: Optional[str] = None) -> list[dict[str, Any]]:
        """The fixed fields of each of `kind`'s variants (constants, with this
        catalog's overrides, included), only those of documents of `category`
        when one is given."""
        constants = self._constants_of(kind)
        out = []
        for variant in kind.variants or ({},):
            merged = {**constants, **variant}
            categories = merged.get("event.category", kind.categories)
            if category is None or category in categories:
                out.append(merged)
        return out


class BuilderRegistry:
    """Builder instances of one pipeline, indexed for dispatch."""

    def __init__(self, builders: Iterable[EventBuilder],
                 context: Optional[BuildContext] = None) -> None:
        self.builders = list(builders)
        # The settings and state the builders share (made by make_registry).
        self.context = context if context is not None else \
            (self.builders[0].context if self.builders else BuildContext())
        by_syscall: dict[str, list[EventBuilder]] = {}
        by_type: dict[str, list[EventBuilder]] = {}
        for builder in self.builders:
            for name in builder.syscalls:
                by_syscall.setdefault(name, []).append(builder)
            for rtype in builder.record_types:
                by_type.setdefault(rtype, []).append(builder)
        self._by_syscall = {k: tuple(v) for k, v in by_syscall.items()}
        self._by_type = {k: tuple(v) for k, v in by_type.items()}

    def stats(self) -> dict[str, int]:
        """Every builder's state counters, and the process table's evictions."""
        out: dict[str, int] = {}
        for builder in self.builders:
            out.update(builder.stats())
        table = self.context.table
        if table is not None:
            out["processes"] = len(table)
            out["processes_evicted"] = table.evicted
        return out

    def build(self, event: AuditEvent) -> list[Document]:
        """Every document of `event`, in registration order of the builders."""
        raw = event.raw
        for rtype, body in raw:
            if rtype == "SYSCALL":
                break
        else:
            builders = self._by_type.get(raw[0][0]) if raw else None
            if builders is None:
                return _NO_DOCUMENTS
            return self._all(builders, event, None)
        # Name the syscall from its first two fields before reading anything else:
        # most events are dropped here.
        head = SYSCALL_HEAD.match(body)
        values: Optional[SyscallValues] = None
        if head is not None:
            name = syscall_name(head[1], head[2])
        else:
            values = syscall_values(body)
            name = syscall_name(values.arch, values.syscall)
        builders = self._by_syscall.get(name)  # type: ignore[arg-type]
        first = raw[0][0]
        if first != "SYSCALL":
            # A record logged during the syscall opens the event (CONFIG_CHANGE, LOGIN...).
            typed = self._by_type.get(first)
            if typed is not None:
                builders = typed + builders if builders is not None else typed
        if builders is None:
            return _NO_DOCUMENTS
        return self._all(builders, event, Syscall(name, body, values))

    @staticmethod
    def _all(builders: tuple[EventBuilder, ...], event: AuditEvent,
             call: Optional[Syscall]) -> list[Document]:
        if len(builders) == 1:
            return builders[0].build(event, call)
        documents: list[Document] = []
        for builder in builders:
            documents.extend(builder.build(event, call))
        return documents

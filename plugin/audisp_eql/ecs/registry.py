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
its first record. One event may give documents from several builders, in
registration order.
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
    syscalls: ClassVar[frozenset[str]] = frozenset()      # SYSCALL events it takes
    record_types: ClassVar[frozenset[str]] = frozenset()  # other events, by first record type

    def __init__(self, context: BuildContext) -> None:
        self.context = context

    def build(self, event: AuditEvent, syscall: Optional[Syscall]) -> list[Document]:
        """The documents of `event` (`syscall` is None for events without one)."""
        raise NotImplementedError


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

    def fields(self, category: Optional[str] = None) -> frozenset[str]:
        """Fields some document of `category` (None: of any category) may carry."""
        out: frozenset[str] = frozenset()
        for kind in self._producing(category):
            out |= kind.fields | frozenset(self._constants_of(kind))
        return out

    def constants(self, category: Optional[str] = None) -> dict[str, Any]:
        """Fields with one value on every document of `category` (None: all documents)."""
        kinds = self._producing(category)
        if not kinds:
            return {}
        first, *rest = [self._constants_of(k) for k in kinds]
        return {name: value for name, value in first.items()
                if all(name in k and k[name] == value for k in rest)}


class BuilderRegistry:
    """Builder instances of one pipeline, indexed for dispatch."""

    def __init__(self, builders: Iterable[EventBuilder]) -> None:
        self.builders = list(builders)
        by_syscall: dict[str, list[EventBuilder]] = {}
        by_type: dict[str, list[EventBuilder]] = {}
        for builder in self.builders:
            for name in builder.syscalls:
                by_syscall.setdefault(name, []).append(builder)
            for rtype in builder.record_types:
                by_type.setdefault(rtype, []).append(builder)
        self._by_syscall = {k: tuple(v) for k, v in by_syscall.items()}
        self._by_type = {k: tuple(v) for k, v in by_type.items()}

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

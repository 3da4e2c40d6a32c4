"""Stage 2: audit events -> ECS documents, one builder per event kind.

    registry.py   EventBuilder (what a kind takes and produces), Catalog, BuilderRegistry
    kinds.py      the registered kinds
    common.py     BuildContext and helpers every builder uses
    process.py    execve/execveat -> process start
    fork.py       fork/clone -> the process table
    proctable.py  processes seen (parents), bounded
    users.py      local uid/gid names
"""

from __future__ import annotations

from .common import BuildContext
from .kinds import KINDS
from .registry import BuilderRegistry, Catalog


def catalog() -> Catalog:
    """What the registered kinds produce (for `check`)."""
    return Catalog(KINDS)


def make_registry(context: BuildContext) -> BuilderRegistry:
    """One builder of every registered kind, sharing `context`."""
    return BuilderRegistry((kind(context) for kind in KINDS), context)


__all__ = ["BuildContext", "BuilderRegistry", "Catalog", "catalog", "make_registry"]

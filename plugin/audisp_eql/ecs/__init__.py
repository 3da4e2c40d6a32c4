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

from typing import Any

from .common import DEFAULT_ACTIONS, BuildContext
from .kinds import KINDS
from .registry import BuilderRegistry, Catalog


def catalog(action: Any = None) -> Catalog:
    """What the registered kinds produce (for `check`); `action`: process
    starts' event.action when not the default (a value, or a tuple of them)."""
    if action is None or action == DEFAULT_ACTIONS:
        return Catalog(KINDS)
    value = action if isinstance(action, str) else list(action)
    return Catalog(KINDS, {"process": {"event.action": value}})


def make_registry(context: BuildContext) -> BuilderRegistry:
    """One builder of every registered kind, sharing `context`."""
    return BuilderRegistry((kind(context) for kind in KINDS), context)


__all__ = ["BuildContext", "BuilderRegistry", "Catalog", "catalog", "make_registry"]

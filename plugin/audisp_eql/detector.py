"""What the plugin detects with: rules, exceptions, and the engine over the
rules, loaded together from the configuration and swapped whole on reload
(a set with errors is refused and the running one kept, reloader.py)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from . import limits
from .config import Config, missing_ok


class Detector:
    """Rules, exceptions and the engine over the rules; swapped whole on reload."""

    def __init__(self, cfg: Config,
                 between_files: Optional[Callable[[int], None]] = None) -> None:
        """`between_files(n)` runs after the nth rule file loaded, and with -1
        after the last (a reload collects the young generations there)."""
        from .check import load_checked
        from .engine import Engine
        from .exceptions import Suppressor
        from .pipeline import PipelineOptions, never_firing
        self.ruleset, self.exceptions = load_checked(cfg.rule_paths, cfg.exception_paths,
                                                     missing_ok=missing_ok(cfg),
                                                     between_files=between_files)
        # The plugin's documents are all ours: rules check says cannot fire are skipped.
        self.engine = Engine(self.ruleset.rules,
                             never_fires=never_firing(PipelineOptions(action=cfg.event_action)),
                             state_bytes=cfg.sequence_memory_mib << 20)
        self.suppressor = Suppressor(self.exceptions) if self.exceptions.items else None

    @property
    def problems(self) -> List[str]:
        return [r.reason for r in self.ruleset.invalid] + [str(e) for e in self.exceptions.errors]

    @property
    def rule_count(self) -> int:
        return len(self.engine.rules)

    def loaded_text(self) -> str:
        from .exceptions import utc_now
        text = f"{self.rule_count} rules loaded"
        skipped = sum(1 for r in self.ruleset.reports if r.status == "unsupported")
        if skipped:
            text += f", {skipped} rule files not run (see audisp-eql check)"
        items = self.exceptions.items
        if items or self.exceptions.disabled_rules:
            expired = len(self.exceptions.expired(utc_now()))
            text += (f", {len(items)} exceptions ({expired} expired, not applied), "
                     f"{len(self.exceptions.disabled_rules)} rules disabled")
        return text


def exceptions_text(excepted: int, suppressor: Any) -> str:
    """` excepted=N` and the exceptions that suppressed something, most first (bounded)."""
    if suppressor is None and not excepted:
        return ""
    text = f" excepted={excepted}"
    counted = [(item, n) for item, n in (suppressor.count_lines() if suppressor else []) if n]
    if counted:
        shown = counted[:limits.MAX_STATUS_EXCEPTIONS]
        text += " by_exception=" + ",".join(f"{item.key}:{n}" for item, n in shown)
        if len(counted) > len(shown):
            text += f",+{len(counted) - len(shown)}more"
    return text

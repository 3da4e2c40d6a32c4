"""Rule evaluation errors: counted per rule, logged sparingly, never fatal."""

from __future__ import annotations

import logging

from ..rules import Rule

log = logging.getLogger("audisp_eql.engine")


class RuleErrors:
    """Failures of rule predicates, by rule_id, shared by every matcher."""

    def __init__(self) -> None:
        self.by_rule: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())

    def count(self, rule: Rule, err: Exception) -> None:
        self.count_named(rule, type(err).__name__, str(err))

    def count_named(self, rule: Rule, kind: str, text: str) -> None:
        """A failure known by its exception's class name and text (one a
        `scan --jobs` worker saw, counted here in input order)."""
        count = self.by_rule.get(rule.rule_id, 0) + 1
        self.by_rule[rule.rule_id] = count
        # Log the 1st, 10th, 100th... failure of each rule: visible, but a rule
        # that fails on every event cannot flood the log.
        if str(count).rstrip("0") == "1":
            log.warning("rule %s (%s) failed %d time(s), last on %s: %s",
                        rule.rule_id, rule.name, count, kind, text)

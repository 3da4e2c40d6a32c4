"""Exceptions: known-good activity that a rule's alerts should leave out,
written the way Kibana users already write them (audisp-eql-exceptions(5)).

    exceptions = load_exceptions(["/etc/audisp-eql/exceptions.d"])
    ruleset = without_disabled(load_rules(paths), exceptions)
    pipeline = build_pipeline(PipelineOptions(rules=..., exceptions=exceptions), ...)

The pipeline's exception stage (`Suppressor`) sits between the engine and
the alerts: a match an exception covers never becomes an alert, and is
counted for that exception.
"""

from __future__ import annotations

import dataclasses

from ..rules import RuleSet
from .loader import load_exceptions
from .matcher import Suppressor, lucene_wildcard, values_at
from .model import (OPERATORS, Entry, ExceptionFileError, ExceptionItem, ExceptionSet,
                    utc_now)

DISABLED = "disabled"

__all__ = ["DISABLED", "OPERATORS", "Entry", "ExceptionFileError", "ExceptionItem",
           "ExceptionSet", "Suppressor", "load_exceptions", "lucene_wildcard", "utc_now",
           "values_at", "without_disabled"]


def without_disabled(ruleset: RuleSet, exceptions: ExceptionSet) -> RuleSet:
    """The rules not named in `disabled_rules`; their reports say where they were disabled."""
    disabled = exceptions.disabled_rules
    if not disabled:
        return ruleset
    reports = [dataclasses.replace(r, status=DISABLED, reason=f"disabled by {disabled[r.rule_id]}")
               if r.rule_id in disabled and r.status != "invalid" else r
               for r in ruleset.reports]
    return RuleSet(rules=[r for r in ruleset.rules if r.rule_id not in disabled], reports=reports)

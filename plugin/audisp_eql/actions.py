"""event.action of a process start: the values a setting may choose.

Elastic Defend writes "exec", Auditbeat's auditd module "executed"; the
corpus' rules test one or the other. A document answers both by default:
event.action is the list ["exec", "executed"], and EQL matches a list when
any element does (so a rule passing with either term passes with the
list). A setting (`event_action`, `--action`) may choose one value (only it
is written) or several (a list)."""

from __future__ import annotations

from typing import Any, Optional, Union

# Values Elastic's Linux rules accept for a process start (see the seed rule).
ACTIONS = ("exec", "exec_event", "executed", "process_started", "start")
DEFAULT_ACTIONS: tuple[str, ...] = ("exec", "executed")
Action = Union[str, tuple[str, ...]]


def action_problem(value: Any) -> Optional[str]:
    """What is wrong with a setting's value (a string or a list of strings), or None."""
    chosen = value if isinstance(value, list) else [value]
    if not chosen:
        return "must name at least one action"
    for item in chosen:
        if not isinstance(item, str):
            return "expected a string or a list of strings"
        if item not in ACTIONS:
            return f"{item!r} is not one of {', '.join(ACTIONS)}"
    return None


def action_setting(value: Any) -> Action:
    """A checked value as the builders take it: one string, or a tuple."""
    if isinstance(value, list):
        chosen = tuple(dict.fromkeys(value))
        return chosen[0] if len(chosen) == 1 else chosen
    return value

"""Long argv and paths cut to a bound, keeping what rules look at.

An argv is the attacker's: 3 x 100 kB arguments on every exec made the
process table hold gigabytes. Where a value is kept beyond its event (the
process table) or would make one document huge, it is cut here, and the
document says so (`audisp_eql.args_truncated`, `audisp_eql.parent_truncated`).

Cutting argv: every argument keeps its place; the long ones are shortened
first, all to the same length (the largest that fits the budget), so short
arguments such as `-e` or `/bin/sh` survive anywhere in a padded argv. Only
when even `MIN_KEPT` characters each would not fit are the last arguments
dropped; `args_count` stays the real count.
"""

from __future__ import annotations

from typing import Optional, Sequence

MIN_KEPT = 16   # characters each argument keeps before arguments are dropped


def cut_args(args: Sequence[str], max_arg: int, max_total: int) -> Optional[list[str]]:
    """`args` cut to at most `max_arg` characters each and `max_total` in all;
    None when they fit as they are (the common case: one pass over lengths)."""
    lengths = [len(a) for a in args]
    total = sum(lengths)
    if total <= max_total and (not lengths or max(lengths) <= max_arg):
        return None
    cap = max_arg
    if sum(min(n, cap) for n in lengths) > max_total:
        # The largest cap c with sum(min(n, c)) <= max_total: fill from the shortest.
        remaining, left = max_total, len(lengths)
        for n in sorted(lengths):
            if n * left > remaining:
                cap = remaining // left
                break
            remaining -= n
            left -= 1
    cap = min(cap, max_arg)
    if cap >= MIN_KEPT:
        return [a if len(a) <= cap else a[:cap] for a in args]
    kept: list[str] = []
    budget = max_total
    for a in args:
        piece = a[:MIN_KEPT]
        if len(piece) > budget:
            break
        kept.append(piece)
        budget -= len(piece)
    return kept


def cut_text(value: Optional[str], limit: int) -> tuple[Optional[str], bool]:
    """A path or name cut to `limit` characters; (value, whether it was cut)."""
    if value is None or len(value) <= limit:
        return value, False
    return value[:limit], True

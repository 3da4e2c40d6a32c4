"""`and` of pure terms, reordered once by how often each term is observed false.

The static order (cost.py) knows what a term costs, not how often it holds
on this host: `process.user.id == "0" and ...` is cheap but true for most
root commands. For the first `limits.LEARNING_CALLS` evaluations the terms run in
the static order and each evaluated term's outcome is counted; then they are
sorted once by cost / P(false) (the classic order for independent filters,
smallest first) and kept. Terms have no side effects, so any order gives the
same answer; the counts only decide how soon a false term is reached.
"""

from __future__ import annotations

from typing import Callable, List, Sequence

from .. import limits

Predicate = Callable[[dict], bool]


def adaptive_all(terms: Sequence[Predicate], costs: Sequence[float]) -> Predicate:
    """A predicate true when all `terms` are (each a pure function of the document)."""
    order: List[Predicate] = list(terms)
    evaluated = [0] * len(order)
    failed = [0] * len(order)
    calls = 0
    learning_calls = limits.LEARNING_CALLS

    def learn(doc: dict) -> bool:
        nonlocal calls, order
        calls += 1
        result = True
        for position, term in enumerate(order):
            evaluated[position] += 1
            if not term(doc):
                failed[position] += 1
                result = False
                break
        if calls == learning_calls:
            def rank(position: int) -> float:
                # unseen terms keep a neutral rate; a never-false term goes last
                p_false = (failed[position] + 1) / (evaluated[position] + 2)
                return costs[position] / p_false
            order = [order[p] for p in sorted(range(len(order)), key=rank)]
            learned[:] = order
        return result

    # Empty while learning; then the learned order (one truth test per call).
    learned: List[Predicate] = []

    def all_terms(doc: dict) -> bool:
        if not learned:
            return learn(doc)
        for term in learned:
            if not term(doc):
                return False
        return True
    all_terms.learned = learned  # type: ignore[attr-defined]  # (read by the tests)
    return all_terms

"""The documents pending sequences hold (engine/state.py, engine/weight.py):
counted once however many entries hold them, bounded in estimated bytes,
a heavy one held as a trimmed copy (never refused: a huge argument must not
let an event slip past a sequence), and every answer still right."""

from __future__ import annotations

import marshal

from audisp_eql import limits
from audisp_eql.engine.state import PendingStore, StateBudget
from audisp_eql.engine.weight import MARSHAL_FACTOR, MARSHAL_VERSION, held_form, trimmed, walked_weight, weight
from harness.streams import event, ids, make_rule, run


def doc(n: int, size: int = 10) -> dict:
    return {"event": {"id": str(n)}, "process": {"args": ["x" * size]}}


def test_weight_is_marshal_based_and_walks_what_marshal_refuses() -> None:
    d = doc(1, 1000)
    assert weight(d) == MARSHAL_FACTOR * len(marshal.dumps(d, MARSHAL_VERSION))
    deep: dict = {}
    node = deep
    for _ in range(5000):            # deeper than marshal goes
        node["a"] = {}
        node = node["a"]
    assert weight(deep) == walked_weight(deep) > 5000 * 64
    assert walked_weight(deep, stop=1000) < 2000        # stops counting early


def test_held_form_is_an_equal_copy_or_a_bounded_trimmed_one() -> None:
    d = doc(1)
    copy, size, cut = held_form(d, 1 << 20)
    assert copy == d and copy is not d and not cut and size == weight(d)
    huge = {"@timestamp": "t", "event": {"id": "9"},
            "process": {"args": ["y" * 3_000_000] * 3, "env": {str(i): i for i in range(10**5)}}}
    copy, size, cut = held_form(huge, limits.MAX_HELD_DOCUMENT_BYTES)
    assert cut and size <= limits.MAX_HELD_DOCUMENT_BYTES
    assert copy["event"]["id"] == "9" and copy["audisp_eql"] == {"truncated": True}
    assert len(copy["process"]["args"][0]) < 2 * limits.MAX_HELD_STRING
    # many short strings at every level: only the identity survives
    wide = {f"k{i}": {f"j{j}": "z" * 100 for j in range(64)} for i in range(64)}
    wide["event"] = {"id": "w"}
    assert trimmed(wide) == {"audisp_eql": {"truncated": True}, "event": {"id": "w"}}


def test_a_document_held_by_several_entries_counts_once() -> None:
    budget = StateBudget()
    a: PendingStore[str] = PendingStore("a", budget, span=60.0)
    b: PendingStore[str] = PendingStore("b", budget, span=60.0)
    held = budget.keep(doc(1))
    assert budget.keep(doc(1)) is not held            # another document, another copy
    original = doc(2)
    first = budget.keep(original)
    assert budget.keep(original) is first             # one copy for every rule keeping it
    a.put("h", "k", "x", 0.0, (first,))
    b.put("h", "k", "y", 0.0, (first,))
    assert budget.bytes == weight(first)
    a.pop("h", "k")
    assert budget.bytes == weight(first)
    b.pop("h", "k")
    assert budget.bytes == 0


def test_the_byte_bound_evicts_the_oldest_and_counts_it() -> None:
    one = weight(doc(0, 1000))
    with limits.lowered(MAX_PENDING_BYTES=3 * one + one // 2):
        budget = StateBudget()
    store: PendingStore[int] = PendingStore("s", budget, span=None)
    for n in range(10):
        kept = budget.keep(doc(n, 1000))
        store.put("h", n, n, float(n), (kept,))
        assert budget.bytes <= budget.byte_limit
    assert [k for k, _ in store.items("h")] == [7, 8, 9] and store.evicted == 7


def test_a_heavy_stage_document_still_completes_its_sequence() -> None:
    """A 3 MB argument in the first step: held trimmed, the sequence still matches,
    and the alert's first event is the trimmed copy, the last the live document."""
    rule = make_rule('sequence by k with maxspan=5s [process where t == "A"] '
                     '[process where t == "B"]')
    first = event(0, "A", ident="1", process={"args": ["z" * 3_000_000]})
    matches, engine = run([rule], [first, event(1, "B", ident="2")])
    assert [ids(m) for m in matches] == [["1", "2"]]
    held = matches[0].documents[0]
    assert held["audisp_eql"] == {"truncated": True}
    assert len(held["process"]["args"][0]) < 2 * limits.MAX_HELD_STRING
    assert engine.budget.trimmed == 1 and engine.stats()["pending_bytes"] == 0

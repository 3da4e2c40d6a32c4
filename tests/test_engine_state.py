"""engine/state.py and the engine's stateful plumbing: pending state is bounded
per rule, per host and in all, expires by each host's own event time, and every
eviction is counted."""

from __future__ import annotations

from typing import Any, Optional


from audisp_eql import limits
from audisp_eql.engine import Engine, Match
from audisp_eql.engine import engine as engine_module
from audisp_eql.engine.clock import event_time
from audisp_eql.engine.state import PendingStore, StateBudget
from audisp_eql.rules import load_rules
from conftest import SEED


def test_store_expires_by_event_time_per_host() -> None:
    store: PendingStore[str] = PendingStore("a", StateBudget(), span=10.0)
    store.put("h1", "k", "first", started=100.0)
    store.put("h2", "k", "other host", started=5.0)
    assert store.get("h1", "k", now=110.0) == "first"          # span is inclusive
    assert store.get("h1", "k", now=110.5) is None and store.expired == 1
    assert store.get("h2", "k", now=15.0) == "other host"     # h2's own clock
    assert store.expire("h2", now=16.0) == 1 and len(store) == 0


def test_store_bound_evicts_the_flooding_hosts_oldest_first() -> None:
    with limits.lowered(MAX_PENDING_PER_RULE=4):
        store: PendingStore[int] = PendingStore("a", StateBudget(), span=None)
    store.put("quiet", "q", 0, started=0.0)
    for i in range(10):
        store.put("flood", i, i, started=float(i))
    assert len(store) == 4 and store.evicted == 7
    assert store.get("quiet", "q", now=0.0) == 0                 # untouched
    assert [k for k, _ in store.items("flood")] == [7, 8, 9]


def test_budget_bounds_all_stores_and_takes_from_the_writer_first() -> None:
    with limits.lowered(MAX_PENDING_TOTAL=5):
        budget = StateBudget()
    a: PendingStore[int] = PendingStore("a", budget, span=None)
    b: PendingStore[int] = PendingStore("b", budget, span=None)
    for i in range(3):
        a.put(None, i, i, started=0.0)
    for i in range(4):
        b.put(None, i, i, started=0.0)
    # The writer pays: b's flood evicted b's own oldest, a kept all of its entries.
    assert budget.used == 5 and (len(a), len(b)) == (3, 2) and budget.evicted == 2
    assert [k for k, _ in b.items(None)] == [2, 3]
    c: PendingStore[int] = PendingStore("c", budget, span=None)
    c.put(None, "x", 1, started=0.0)                            # empty writer: largest gives
    assert budget.used == 5 and (len(a), len(b), len(c)) == (2, 2, 1)


def test_replacing_a_key_moves_it_to_the_newest_place() -> None:
    store: PendingStore[str] = PendingStore("a", StateBudget(), span=100.0)
    store.put(None, "x", "1", started=0.0)
    store.put(None, "y", "2", started=1.0)
    store.put(None, "x", "3", started=2.0)
    assert [k for k, _ in store.items(None)] == ["y", "x"]
    assert store.pop(None, "x") == "3" and store.pop(None, "x") is None


def test_event_time_reads_our_timestamps_and_iso_8601() -> None:
    assert event_time({"@timestamp": "2024-06-03T07:33:20.250Z"}) == 1717400000.25
    assert event_time({"@timestamp": "2024-06-03T07:33:20+00:00"}) == 1717400000.0
    assert event_time({"@timestamp": "2024-06-03T07:33:20"}) == 1717400000.0
    assert event_time({"@timestamp": "yesterday"}) is None
    assert event_time({"@timestamp": 5}) is None and event_time({}) is None


class PairMatcher:
    """A small real stateful matcher for the plumbing: two documents of one
    process.pid on one host, within 10 s, make a match."""

    def __init__(self, rule: Any, budget: StateBudget, errors: Any) -> None:
        self.rule = rule
        self.store: PendingStore[dict] = PendingStore(rule.rule_id, budget, span=10.0)

    def process(self, doc: dict, host: Optional[str], now: float) -> list[Match]:
        self.store.expire(host, now)
        pid = doc["process"]["pid"]
        first = self.store.pop(host, pid)
        if first is None:
            self.store.put(host, pid, doc, started=now)
            return []
        return [Match(self.rule, (first, doc))]

    def flush(self) -> list[Match]:
        return []


def _doc(pid: int, second: int, host: str = "a") -> dict:
    return {"@timestamp": f"2024-06-03T07:33:{second:02d}.000Z", "host": {"name": host},
            "event": {"category": ["process"], "id": f"{second}.000:{pid}"},
            "process": {"pid": pid, "name": "x"}}


def test_engine_feeds_stateful_matchers_per_host_clock(shared, monkeypatch) -> None:
    [rule] = load_rules([SEED]).rules
    kind = type(rule.compiled.query).__name__
    monkeypatch.setitem(engine_module.STATEFUL_MATCHERS, "pair-test", PairMatcher)
    monkeypatch.setattr(type(rule.compiled.query), "kind", "pair-test", raising=False)
    engine = Engine([rule])
    assert engine.single.rules == [] and kind == "EventQuery"
    out = [engine.process(d) for d in (_doc(1, 0), _doc(1, 5), _doc(2, 0, "b"), _doc(2, 20, "b"))]
    assert [len(m) for m in out] == [0, 1, 0, 0]            # host b's pair is 20 s apart
    assert [d["process"]["pid"] for d in out[1][0].documents] == [1, 1]
    # A document older than its host's clock is taken at the clock: time never runs back.
    engine.process(_doc(3, 30, "b"))
    assert engine.process(_doc(3, 1, "b"))[0].documents[-1]["@timestamp"].endswith("01.000Z")
    assert engine.stats()["expired_partial_matches"] >= 1
    assert engine.stats()["pending_partial_matches"] == 1   # pid 2 of host b, since 20 s


def test_budget_takes_from_the_host_holding_most_over_all_rules() -> None:
    """A host flooding one rule and writing to another cannot push out a
    quiet host's entries of that other rule (fairshare.py, over all stores)."""
    with limits.lowered(MAX_PENDING_TOTAL=14):
        budget = StateBudget()
    a: PendingStore[int] = PendingStore("a", budget, span=None)
    b: PendingStore[int] = PendingStore("b", budget, span=None)
    for i in range(3):
        a.put("quiet", i, i, started=0.0)
    a.put("flood", "first", 0, started=0.0)
    for i in range(10):
        b.put("flood", i, i, started=0.0)
    a.put("flood", "second", 1, started=1.0)       # the budget is full: someone gives one up
    assert a.held("quiet") == 3 and [k for k, _ in a.items("flood")] == ["second"]
    c: PendingStore[int] = PendingStore("c", budget, span=None)
    c.put("quiet", "new", 1, started=2.0)          # a store the flood holds nothing in
    assert [k for k, _ in b.items("flood")] == list(range(1, 10))   # b holds most of flood's
    assert a.held("quiet") == 3 and c.held("quiet") == 1 and a.held("flood") == 1
    assert budget.used == 14 and budget.evicted == 2


def test_host_clocks_forget_the_host_seen_least_recently(shared, monkeypatch) -> None:
    """More hosts than clocks: a flood of new host names forgets the hosts seen
    least recently, not a quiet host that is still sending, whose time so
    never runs backwards."""
    [rule] = load_rules([SEED]).rules
    monkeypatch.setitem(engine_module.STATEFUL_MATCHERS, "pair-test", PairMatcher)
    monkeypatch.setattr(type(rule.compiled.query), "kind", "pair-test", raising=False)
    with limits.lowered(MAX_HOST_CLOCKS=4):
        engine = Engine([rule])
    for i in range(20):
        engine.process(_doc(1, 50, "quiet"))            # quiet keeps sending ...
        engine.process(_doc(100 + i, 10, f"flood{i}"))  # ... among ever new hosts
    for i in range(2):   # two more new hosts: quiet is the third most recent of four
        engine.process(_doc(200 + i, 10, f"late{i}"))
    assert engine.stats()["forgotten_host_clocks"] == 21 + 2 - 4
    # quiet's clock is still :50, so an older document of it is taken at :50.
    engine.process(_doc(9, 1, "quiet"))
    assert engine._clocks["quiet"] == event_time(_doc(1, 50, "quiet"))


def test_engine_counts_each_eviction_once(shared, monkeypatch) -> None:
    [rule] = load_rules([SEED]).rules
    monkeypatch.setitem(engine_module.STATEFUL_MATCHERS, "pair-test", PairMatcher)
    monkeypatch.setattr(type(rule.compiled.query), "kind", "pair-test", raising=False)
    with limits.lowered(MAX_PENDING_TOTAL=3):
        engine = Engine([rule])
    for pid in range(10):                       # ten first halves, room for three
        engine.process(_doc(pid, 0))
    assert engine.budget.evicted == 7
    assert engine.stats()["evicted_partial_matches"] == 7
    assert engine.stats()["pending_partial_matches"] == 3

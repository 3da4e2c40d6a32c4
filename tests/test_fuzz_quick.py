"""The fuzz run in miniature, part of `make test`: bounded by example count, not time.

* hypothesis: arbitrary bytes into the record parser and both event sources;
  arbitrary field values in otherwise well-formed exec events through the ECS
  builder, an alert and every output format;
* mutation: real events from ../shared/logs/ (tests/fuzz/seeds.py), mutated
  (tests/fuzz/mutators.py), through the whole pipeline of tests/fuzz/pipeline.py
  with the 351 corpus rules, for both parsers.
The long run is `make fuzz` (tests/fuzz/run.py).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, SEED, SHARED
from fuzz.mutators import Mutator
from fuzz.pipeline import Pipeline, check_line, load_rule_set
from fuzz.seeds import load_seeds

from audisp_eql.source.records import RecordError, parse_line

PARSERS = ("auparse", "python")
MUTATED_INPUTS = 1500   # per parser

# Bytes weighted towards what matters to the format.
record_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"type=", b"SYSCALL", b"EXECVE", b"EOE", b" msg=audit(",
                              b"1700000000.000:1", b"): ", b"a0=", b'"', b"=", b" ", b"\n",
                              b"\x1d", b"\x00", b"\xff", b"argc=", b"a1_len=", b"a1[0]=",
                              b"41", b"node=", b"-", b"9" * 30, b")"]),
             max_size=40).map(b"".join),
)


@given(record_bytes)
@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
def test_parse_line_raises_only_record_error(line: bytes) -> None:
    try:
        record = parse_line(line)
    except RecordError as err:
        assert err.reason
        return
    record.fields, record.enriched  # splitting must not raise either


@pytest.mark.parametrize("parser", PARSERS)
@given(chunks=st.lists(record_bytes, max_size=12))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_event_source_never_raises_and_accounts_for_every_line(parser: str,
                                                               chunks: list[bytes]) -> None:
    from audisp_eql.source import make_event_source
    source = make_event_source(parser=parser)
    events = []
    for chunk in chunks:
        events += source.feed(chunk)
    events += source.age(None)
    events += source.flush()
    stats = source.stats
    assert stats.records + stats.malformed == stats.lines
    assert stats.events == len(events)
    assert sum(len(e.records) for e in events) <= stats.records


# -- ECS builder on well-formed events with hostile values -------------------
hostile_text = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "(null)", "-1", "99999999999999999999", "4294967295", "0x1f", '"', "\\", "?"]))
field_value = st.one_of(
    hostile_text.map(lambda t: '"' + t.replace('"', "") + '"'),
    st.binary(max_size=20).map(lambda b: b.hex().upper()),
    hostile_text.map(lambda t: "".join(t.split()) or "x"),
)
SYSCALL_FIELDS = ("arch", "syscall", "success", "exit", "ppid", "pid", "auid", "uid", "gid",
                  "euid", "ses", "tty", "comm", "exe", "key", "items")


@pytest.fixture(scope="module")
def builder() -> object:
    """The documents-only pipeline the tests below feed, one for the module
    (a long-lived process table, as in the plugin)."""
    from audisp_eql.pipeline import PipelineOptions, build_pipeline
    documents: list = []
    pipeline = build_pipeline(PipelineOptions(parser="python", parent_from_proc=False),
                              on_document=documents.append, on_build_error=_reraise)
    pipeline.collected = documents  # type: ignore[attr-defined]
    return pipeline


def _reraise(event: object, error: Exception) -> None:
    raise error


@pytest.fixture(scope="module")
def rules() -> tuple[list, object]:
    return load_rule_set(CORPUS, SEED)


@given(data=st.data())
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture],
          deadline=None)
def test_ecs_builder_alert_and_formats_on_hostile_values(builder: object, rules: tuple,
                                                         data: st.DataObject) -> None:
    import json

    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Match
    from audisp_eql.outputs.format import FORMATS, format_alert
    base = {"arch": "c000003e", "syscall": "59", "success": "yes", "exit": "0", "ppid": "1",
            "pid": "4242", "auid": "1000", "uid": "0", "gid": "0", "euid": "0", "ses": "1",
            "tty": "pts0", "comm": '"sh"', "exe": '"/bin/sh"', "key": "(null)", "items": "1"}
    for name in data.draw(st.lists(st.sampled_from(SYSCALL_FIELDS), max_size=4)):
        base[name] = data.draw(field_value)
    args = data.draw(st.lists(field_value, min_size=0, max_size=5))
    header = "msg=audit(1700000000.123:77): "
    lines = ["type=SYSCALL " + header + " ".join(f"{k}={v}" for k, v in base.items()),
             "type=EXECVE " + header + f"argc={len(args)} "
             + " ".join(f"a{i}={v}" for i, v in enumerate(args)),
             "type=CWD " + header + "cwd=" + data.draw(field_value),
             "type=PATH " + header + "item=0 name=" + data.draw(field_value) + " nametype=NORMAL",
             "type=PROCTITLE " + header + "proctitle=" + data.draw(field_value)]
    documents = builder.collected  # type: ignore[attr-defined]
    documents.clear()
    builder.feed(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))  # type: ignore[attr-defined]
    builder.flush()  # type: ignore[attr-defined]
    engine_rules, seed_rule = rules
    for doc in documents:
        json.dumps(doc, allow_nan=False)
        alert = make_alert(Match(seed_rule, (doc,)))
        for fmt in FORMATS:
            check_line(format_alert(alert, fmt), fmt)


# Syscalls of the file, network, module and process-change builders (x86_64 and
# i386 numbers), with the auxiliary records they read.
SYSCALLS = ("2", "257", "437", "85", "76", "87", "263", "84", "82", "264", "316", "86", "265",
            "88", "266", "133", "259", "83", "258", "90", "268", "92", "260", "188", "197",
            "42", "43", "288", "49", "175", "313", "176", "62", "117", "119", "112", "231")
AUX = ("PATH item={n} name={v} inode={v} mode={v} ouid={v} ogid={v} nametype={t}",
       "SOCKADDR saddr={v}", "KERN_MODULE name={v}", "OBJ_PID opid={v} ocomm={v}",
       "OPENAT2 oflag={v} mode={v}", "CWD cwd={v}", "PROCTITLE proctitle={v}",
       "AVC apparmor={v} operation={v} class={v} name={v} requested_mask={v} pid={v} comm={v}")


@given(data=st.data())
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture],
          deadline=None)
def test_syscall_builders_on_hostile_values(builder: object, rules: tuple,
                                            data: st.DataObject) -> None:
    import json

    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Match
    from audisp_eql.outputs.format import FORMATS, format_alert
    arch = data.draw(st.sampled_from(["c000003e", "40000003", "c00000b7", "80000015", "x"]))
    base = {"arch": arch, "syscall": data.draw(st.sampled_from(SYSCALLS + ("102",))),
            "success": data.draw(st.sampled_from(["yes", "no", "x"])),
            "exit": data.draw(st.sampled_from(["0", "-115", "-111", "3", "x"])),
            "a0": data.draw(st.sampled_from(["ffffff9c", "3", "2", "zz", "-1"])),
            "a1": "1", "a2": data.draw(st.sampled_from(["241", "0", "40", "zz"])), "a3": "1b6",
            "items": "2", "ppid": "1", "pid": "4242", "auid": "1000", "uid": "0", "gid": "0",
            "euid": "0", "ses": "1", "tty": "pts0", "comm": '"sh"', "exe": '"/bin/sh"',
            "key": "(null)"}
    for name in data.draw(st.lists(st.sampled_from(tuple(base)), max_size=3)):
        base[name] = data.draw(field_value)
    header = "msg=audit(1700000000.123:78): "
    lines = ["type=SYSCALL " + header + " ".join(f"{k}={v}" for k, v in base.items())]
    for n, template in enumerate(data.draw(st.lists(st.sampled_from(AUX), max_size=6))):
        record = template.format(n=n, t=data.draw(st.sampled_from(
            ["CREATE", "DELETE", "NORMAL", "PARENT", "UNKNOWN"])),
            v=data.draw(field_value))
        rtype, _sep, body = record.partition(" ")
        lines.insert(0, f"type={rtype} {header}{body}") if rtype == "AVC" else \
            lines.append(f"type={rtype} {header}{body}")
    documents = builder.collected  # type: ignore[attr-defined]
    documents.clear()
    builder.feed(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))  # type: ignore[attr-defined]
    builder.flush()  # type: ignore[attr-defined]
    _engine_rules, seed_rule = rules
    for doc in documents:
        json.dumps(doc, allow_nan=False)
        alert = make_alert(Match(seed_rule, (doc,)))
        for fmt in FORMATS:
            check_line(format_alert(alert, fmt), fmt)


# -- mutation fuzz through the whole pipeline --------------------------------
@pytest.mark.parametrize("parser", PARSERS)
def test_mutated_shared_logs_through_the_pipeline(parser: str, rules: tuple) -> None:
    engine_rules, seed_rule = rules
    mutator = Mutator(random.Random(20241018 + len(parser)), load_seeds(SHARED, generated=50))
    pipe = Pipeline(parser, engine_rules, seed_rule, max_pending=64)
    for _ in range(MUTATED_INPUTS):
        pipe.feed(b"\n".join(mutator()) + b"\n")   # raises on any crash or violation
    pipe.age_all(1e12)
    pipe.finish()
    # The fuzz inputs must really reach the later stages, or this proves little:
    # every kind of document among them.
    assert pipe.counts["events"] > MUTATED_INPUTS // 4
    assert pipe.counts["documents"] > MUTATED_INPUTS // 10
    for category in ("process", "file", "network", "driver"):
        assert sum(n for key, n in pipe.counts.items()
                   if key.startswith("documents.") and category in key[10:].split("+")) > 0, \
            (category, pipe.counts)


# -- rule text: mutated corpus queries and rule files -------------------------
QUERY_MUTATIONS = 1500
QUERY_BYTES = '"()[]{}*?\\~:=<>!,.|$`\'\n\t aA0-_/#%@^&'


def _mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.choice((1, 1, 2, 4))):
        i = rng.randrange(len(text) + 1)
        op = rng.randrange(4)
        if op == 0:
            text = text[:i] + rng.choice(QUERY_BYTES) + text[i:]
        elif op == 1:
            text = text[:i] + text[i + rng.randint(1, 8):]
        elif op == 2:
            j = min(len(text), i + rng.randint(1, 40))
            text = text[:j] + text[i:j] * rng.randint(2, 50) + text[j:]
        else:
            text = text[:i] + rng.choice(["\\", '"', "\udcff", "\x00", "9" * 400, "(" * 200]) + text[i:]
    return text


def test_mutated_corpus_queries_raise_only_eql_errors() -> None:
    from audisp_eql.eql import EqlError, compile_query, parse_query
    from test_regex_linear import corpus_queries
    rng = random.Random(1963)
    queries = [text for _name, text in corpus_queries()]
    docs = [{"event": {"category": ["process"], "type": ["start"]},
             "process": {"name": "sh", "args": ["sh", "-c", "x" * 1000], "pid": -1,
                         "parent": {"name": None}}},
            {"process": {"name": ["not", "a", "string"], "args": "not-a-list", "pid": "NaN"}},
            {}]
    compiled = 0
    for _ in range(QUERY_MUTATIONS):
        text = _mutate_text(rng, rng.choice(queries))
        try:
            query = compile_query(parse_query(text))
        except EqlError:
            continue
        compiled += 1
        for step in getattr(query, "conditions", (query,)):   # a sequence: each step
            for doc in docs:
                assert step.predicate(doc) in (True, False)
    assert compiled > QUERY_MUTATIONS // 20   # enough mutants survive to reach evaluation


def test_mutated_rule_files_become_reports_never_exceptions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from audisp_eql.rules import load_rules
    rng = random.Random(2023)
    text = SEED.read_text()
    directory = tmp_path / "rules"
    directory.mkdir(mode=0o755)
    count = 300
    for i in range(count):
        path = directory / f"r{i:03d}.toml"
        path.write_bytes(_mutate_text(rng, text).encode("utf-8", "surrogateescape"))
        path.chmod(0o644)
    ruleset = load_rules([directory])
    assert len(ruleset.reports) == count
    assert all(r.status and (r.status == "ok" or r.reason) for r in ruleset.reports)


# -- ECS JSON input (`scan --input ecs`): any JSON, any types, through the rules --
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=30), st.sampled_from(["sh", "bash", "nc", "/bin/sh", "-c"]))
ecs_keys = st.sampled_from(["process", "name", "args", "parent", "executable", "event",
                            "category", "type", "action", "user", "id", "host", "os",
                            "command_line", "process.name", "process.args", "event.category",
                            "working_directory", "pid", "args_count", "x"])
json_doc = st.dictionaries(ecs_keys, st.recursive(
    json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                       st.dictionaries(ecs_keys, inner, max_size=4)),
    max_leaves=20), max_size=6)


@given(doc=json_doc)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture],
          deadline=None)
def test_any_json_document_through_the_corpus_rules(rules: tuple, doc: dict) -> None:
    import json

    from audisp_eql.alerts import make_alert
    from audisp_eql.engine import Match
    from audisp_eql.source.ecs_input import DocumentError, parse_document
    from audisp_eql.outputs.format import FORMATS, format_alert
    engine_rules, seed_rule = rules
    engine = _engine_for(engine_rules)
    try:
        parsed = parse_document(json.dumps(doc).encode())
    except DocumentError:
        return
    if parsed is None:
        return
    before = engine.error_count
    matches = engine.process(parsed)
    assert engine.error_count == before, engine.errors.by_rule
    for match in [*matches, Match(seed_rule, (parsed,))]:
        alert = make_alert(match)
        for fmt in FORMATS:
            check_line(format_alert(alert, fmt), fmt)


_ENGINES: dict = {}


def _engine_for(rules: list) -> object:
    from audisp_eql.engine import Engine
    key = id(rules)
    if key not in _ENGINES:
        _ENGINES[key] = Engine(rules)
    return _ENGINES[key]


# -- plugin configuration: any text is a clear ConfigError (file:line), never a crash --
toml_piece = st.sampled_from([
    "[plugin]\n", "[rules]\n", "[output.syslog]\n", "[output.file]\n", "[[output.remote]]\n",
    "[ratelimit]\n", "user = ", "paths = ", "mode = ", "port = ", "enabled = ", "burst = ",
    "host = ", "format = ", "status_interval = ", "queue_size = ", "sequence_memory_mib = ",
    '"x"', "-1", "1e999", "0777",
    "99999999999999999999", "true", "[]", '["/etc"]', "{}", "nan", "\n", "=", '"', "\x00",
    "\udcff", "[output]\nremote = 5\n", "socket = \"relative\"\n", "tag = \"a:b\"\n"])


@given(st.lists(toml_piece, max_size=30).map("".join))
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_any_config_text_gives_config_error_or_config(text: str) -> None:
    from audisp_eql.config import Config, ConfigError, parse_config
    try:
        cfg = parse_config(text, "/etc/audisp-eql/test.toml")
    except ConfigError as err:
        assert str(err).startswith("/etc/audisp-eql/test.toml")
        check_line(str(err), "config error")   # logged to syslog: one safe line
        return
    assert isinstance(cfg, Config)

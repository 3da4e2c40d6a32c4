"""Exceptions: what each operator means on real document shapes (Kibana's
semantics), the two file formats with their errors, and the pipeline stage
that suppresses and counts."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audisp_eql import limits
from audisp_eql.exceptions import (Entry, ExceptionItem, ExceptionSet, Suppressor,
                                   load_exceptions, lucene_wildcard, values_at)
from audisp_eql.exceptions.matcher import compile_entry, compile_item
from audisp_eql.rules import load_rules
from conftest import SEED
from harness.pipelines import run
from harness.records import exec_event

DOC = {
    "process": {"name": "nc", "executable": "/usr/bin/nc.openbsd", "pid": 4242,
                "args": ["nc", "-U", "/run/app.sock"],
                "parent": {"name": "backup.sh", "executable": "/usr/local/sbin/backup.sh"}},
    "user": {"id": "0", "name": "root"},
    "event": {"action": "exec", "category": ["process"]},
    "host": {"os": {"type": "linux"}},
    "file": {"Ext": {"code_signature": [{"subject_name": "A", "trusted": False},
                                        {"subject_name": "B", "trusted": True}]}},
}


def entry(field: str, kind: str, *values: str, negated: bool = False) -> Entry:
    return Entry(field, kind, negated, tuple(values))


@pytest.mark.parametrize("e, holds", [
    (entry("process.executable", "match", "/usr/bin/nc.openbsd"), True),
    (entry("process.executable", "match", "/usr/bin/NC.openbsd"), False),   # case-sensitive
    (entry("process.executable", "match", "/usr/bin/nc"), False),           # exact, not prefix
    (entry("process.pid", "match", "4242"), True),          # a number equals its text
    (entry("process.pid", "match", "4242.0"), True),
    (entry("user.id", "match", "0"), True),
    (entry("process.args", "match", "-U"), True),            # any value of a list
    (entry("process.args", "match", "-U", negated=True), False),
    (entry("process.title", "match", "x", negated=True), True),   # missing: must_not holds
    (entry("process.title", "match", "x"), False),
    (entry("user.name", "match_any", "backup", "root"), True),
    (entry("user.name", "match_any", "backup", "www-data"), False),
    (entry("user.name", "match_any", "backup", "root", negated=True), False),
    (entry("process.parent.executable", "wildcard", "/usr/local/*/backup.sh"), True),
    (entry("process.parent.executable", "wildcard", "/USR/local/*"), False),  # case-sensitive
    (entry("process.args", "wildcard", "/run/*.sock"), True),
    (entry("process.args", "wildcard", "/run/???.sock"), True),
    (entry("process.args", "wildcard", "/run/??.sock"), False),
    (entry("process.pid", "wildcard", "42*"), True),
    (entry("process.args", "wildcard", "*.sock", negated=True), False),
    (entry("process.title", "exists"), False),
    (entry("process.title", "exists", negated=True), True),
    (entry("process.parent", "exists"), True),               # an object with fields
    (entry("event.category", "match", "process"), True),
])
def test_each_operator_on_a_document(e: Entry, holds: bool) -> None:
    assert compile_entry(e)(DOC) is holds


def test_nested_needs_one_object_satisfying_every_sub_entry() -> None:
    same_object = Entry("file.Ext.code_signature", "nested", entries=(
        entry("subject_name", "match", "B"), entry("trusted", "match", "true")))
    across_objects = Entry("file.Ext.code_signature", "nested", entries=(
        entry("subject_name", "match", "A"), entry("trusted", "match", "true")))
    assert compile_entry(same_object)(DOC) is True
    assert compile_entry(across_objects)(DOC) is False
    assert compile_entry(same_object)({"process": {"name": "x"}}) is False


def test_dotted_keys_and_arrays_of_objects_are_read_like_elasticsearch() -> None:
    doc = {"process.name": "a", "x": [{"y": 1}, {"y": [2, 3]}], "p": {"Ext.api": {"name": "n"}}}
    assert values_at(doc, ["process", "name"]) == ["a"]
    assert values_at(doc, ["x", "y"]) == [1, 2, 3]
    assert values_at(doc, ["p", "Ext", "api", "name"]) == ["n"]
    assert values_at(doc, ["missing"]) == []


def test_os_types_add_host_os_type_like_kibana() -> None:
    base = dict(name="n", path=Path("x.toml"), line=1,
                entries=(entry("process.name", "match", "nc"),), all_rules=True)
    assert compile_item(ExceptionItem(**base, os_types=("linux",)))(DOC) is True
    assert compile_item(ExceptionItem(**base, os_types=("windows", "macos")))(DOC) is False
    assert compile_item(ExceptionItem(**base, os_types=("windows",)))(
        {"process": {"name": "nc"}, "host": {"os": {"name": {"caseless": "windows"}}}}) is True


def _reference_wildcard(pattern: str, value: str) -> bool:
    """Lucene's wildcard, written the obvious way (regex), to compare with."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), value, re.S) is not None


@settings(max_examples=600, deadline=None)
@given(st.text("ab*?\\", max_size=8), st.text("ab*?\\", max_size=10))
def test_matches_is_elasticsearch_wildcard_with_escapes(pattern: str, value: str) -> None:
    assert lucene_wildcard(pattern)(value) is _reference_wildcard(pattern, value)


# -- the TOML format -------------------------------------------------------------

GOOD = '''\
disabled_rules = ["rule-off"]

[[exception]]
name = "backup over netcat"
rule_ids = ["rule-a"]
comment = "CHG-1"
expires = 2999-01-01
entries = [
  { field = "process.parent.name", operator = "is", value = "backup.sh" },
  { field = "user.name", operator = "is one of", value = ["backup", "root"] },
]

[[exception]]
name = "everywhere"
all_rules = true
[[exception.entries]]
field = "process.args"
operator = "matches"
value = "/run/*.sock"
'''


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


def test_toml_exceptions_load_with_their_lines(tmp_path: Path) -> None:
    loaded = load_exceptions([write(tmp_path / "local.toml", GOOD)])
    assert loaded.errors == []
    first, second = loaded.items
    assert (first.name, first.line, first.rule_ids, first.all_rules) == \
        ("backup over netcat", 3, frozenset({"rule-a"}), False)
    assert first.expires == dt.datetime(2999, 1, 1, tzinfo=dt.timezone.utc)
    assert [e.operator for e in first.entries] == ["is", "is one of"]
    assert (second.line, second.all_rules, second.entries[0].operator) == (13, True, "matches")
    assert loaded.disabled_rules == {"rule-off": f"{tmp_path / 'local.toml'}:1"}


@pytest.mark.parametrize("body, message", [
    ('name = "x"\nentries = [{field = "a", operator = "is", value = "b"}]',
     'exception "x": say which rules: rule_ids = [...] or all_rules = true'),
    ('name = "x"\nall_rules = true\nrule_ids = ["r"]\nentries = []',
     'exception "x": rule_ids and all_rules = true together'),
    ('name = "x"\nrule_id = "r"\nentries = []', "unknown key 'rule_id'"),
    ('name = "x"\nall_rules = true\nentries = [{field = "a", operator = "iss", value = "b"}]',
     'exception "x": entry 1: operator must be one of "is", "is not"'),
    ('name = "x"\nall_rules = true\nentries = [{field = "a", operator = "exists", value = "b"}]',
     "entry 1 (a exists): takes no value"),
    ('name = "x"\nall_rules = true\nentries = [{field = "a", operator = "is", value = ["b"]}]',
     'a list needs "is one of"'),
    ('name = "x"\nall_rules = true\nentries = [{field = "a b", operator = "is", value = "c"}]',
     "'a b' is not a field name"),
    ('name = "x"\nall_rules = true\nexpires = "soon"\nentries = [{field = "a", operator = '
     '"exists"}]', "expires: 'soon' is not a date"),
    ('all_rules = true\nentries = []', "[[exception]] needs a name"),
    ('name = "x"\nall_rules = true', 'exception "x": needs entries'),
])
def test_a_bad_exception_is_named_with_its_line_and_the_others_load(
        tmp_path: Path, body: str, message: str) -> None:
    text = GOOD + "\n# a bad one\n[[exception]]\n" + body + "\n"
    path = write(tmp_path / "bad.toml", text)
    loaded = load_exceptions([path])
    [error] = loaded.errors
    assert str(error).startswith(f"{path}:{text.splitlines().index('[[exception]]', 15) + 1}: ")
    assert message in str(error)
    assert [i.name for i in loaded.items] == ["backup over netcat", "everywhere"]


def test_toml_syntax_error_and_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path / "x.toml", 'disabled_rules = ["a"]\n[[exception]\n')
    [error] = load_exceptions([path]).errors
    assert str(error).startswith(f"{path}:2: TOML syntax error")
    path = write(tmp_path / "y.toml", 'disable_rules = ["a"]\n')
    [error] = load_exceptions([path]).errors
    assert str(error) == (f"{path}:1: unknown key 'disable_rules' (expected disabled_rules, "
                          "[[exception]] or [[attach]])")


def test_paths_missing_other_files_and_untrusted_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.d"
    assert [str(e) for e in load_exceptions([missing]).errors] == \
        [f"{missing}: no such file or directory"]
    assert load_exceptions([missing], missing_ok=[str(missing)]).errors == []
    other = write(tmp_path / "notes.txt", "x")
    assert "not an exception file" in str(load_exceptions([other]).errors[0])
    # A directory: its *.toml and *.ndjson files, other files ignored.
    (tmp_path / "d").mkdir()
    write(tmp_path / "d" / "a.toml", GOOD)
    write(tmp_path / "d" / "README", "not read")
    assert len(load_exceptions([tmp_path / "d"]).items) == 2
    writable = write(tmp_path / "d" / "b.toml", GOOD)
    os.chmod(writable, 0o666)   # whoever may change it may silence alerts
    loaded = load_exceptions([tmp_path / "d"])
    assert [str(e) for e in loaded.errors] == [f"{writable}: refusing to load: "
                                               "world-writable (mode 0666)"]
    assert len(loaded.items) == 2


def test_the_number_of_exceptions_is_bounded(tmp_path: Path) -> None:
    path = write(tmp_path / "x.toml", GOOD)
    with limits.lowered(MAX_EXCEPTION_ITEMS=1):
        loaded = load_exceptions([path])
    assert len(loaded.items) == 1
    assert "more than 1 exceptions" in str(loaded.errors[0])
    with limits.lowered(MAX_EXCEPTION_FILE_BYTES=100):
        assert "larger than 100 bytes" in str(load_exceptions([path]).errors[0])


# -- Kibana exports --------------------------------------------------------------

def kibana_list(list_id: str = "known-good", list_type: str = "detection") -> dict:
    return {"_version": "WzEsMV0=", "created_by": "elastic", "description": "d",
            "id": "0f4a", "immutable": False, "list_id": list_id, "name": "Known good",
            "namespace_type": "single", "os_types": [], "tags": [], "type": list_type,
            "version": 1}


def kibana_item(item_id: str, entries: list, list_id: str = "known-good", **more) -> dict:
    item = {"comments": [{"comment": "ok'd by SOC", "created_by": "elastic"}],
            "description": "d", "entries": entries, "item_id": item_id, "list_id": list_id,
            "name": f"item {item_id}", "namespace_type": "single", "os_types": ["linux"],
            "tags": [], "type": "simple"}
    item.update(more)
    return item


SUMMARY = {"exported_exception_list_count": 1, "exported_exception_list_item_count": 2,
           "missing_exception_list_item_count": 0, "missing_exception_list_items": [],
           "missing_exception_lists": [], "missing_exception_lists_count": 0}


def ndjson(path: Path, *objects: dict) -> Path:
    return write(path, "".join(json.dumps(o) + "\n" for o in objects))


NC_ENTRIES = [{"field": "process.executable", "operator": "included", "type": "match",
               "value": "/usr/bin/nc.openbsd"},
              {"field": "process.parent.name", "operator": "excluded", "type": "match_any",
               "value": ["sshd", "cron"]}]


def test_kibana_list_export_attached_by_a_toml_table(tmp_path: Path) -> None:
    export = ndjson(tmp_path / "team.ndjson", kibana_list(),
                    kibana_item("i-1", NC_ENTRIES, expire_time="2999-05-01T00:00:00.000Z"),
                    kibana_item("i-2", [{"field": "process.args", "operator": "included",
                                         "type": "wildcard", "value": "*.sock"}]),
                    SUMMARY)
    unattached = load_exceptions([export])
    assert unattached.errors == [] and len(unattached.items) == 2
    assert not any(item.rule_ids or item.all_rules for item in unattached.items)
    assert "is attached to no rule: its 2 item(s) are not applied" in unattached.warnings[0]
    attach = write(tmp_path / "attach.toml",
                   '[[attach]]\nlist_id = "known-good"\nrule_ids = ["rule-a"]\n')
    loaded = load_exceptions([attach, export])
    assert loaded.errors == [] and loaded.warnings == []
    first = loaded.items[0]
    assert (first.key, first.name, first.line, first.rule_ids) == \
        ("i-1", "item i-1", 2, frozenset({"rule-a"}))
    assert first.comment == "ok'd by SOC" and first.os_types == ("linux",)
    assert first.expires == dt.datetime(2999, 5, 1, tzinfo=dt.timezone.utc)
    assert [(e.kind, e.negated) for e in first.entries] == [("match", False), ("match_any", True)]
    assert compile_item(first)(DOC) is True
    assert compile_item(first)({**DOC, "process": {**DOC["process"],
                                                   "parent": {"name": "cron"}}}) is False


def test_kibana_rule_export_attaches_its_lists_to_its_rules(tmp_path: Path) -> None:
    rule = {"rule_id": "rule-b", "name": "R", "type": "eql", "query": "process where true",
            "enabled": True, "exceptions_list": [{"id": "0f4a", "list_id": "known-good",
                                                  "namespace_type": "single",
                                                  "type": "detection"}]}
    export = ndjson(tmp_path / "rules_export.ndjson", rule, kibana_list(),
                    kibana_item("i-1", NC_ENTRIES),
                    {"exported_count": 3, "exported_rules_count": 1, "missing_rules": []})
    loaded = load_exceptions([export])
    assert loaded.errors == [] and loaded.warnings == []
    assert loaded.items[0].rule_ids == {"rule-b"}


def test_kibana_entries_and_lists_refused_with_the_reason(tmp_path: Path) -> None:
    value_list = [{"field": "source.ip", "operator": "included", "type": "list",
                   "list": {"id": "bad-ips.txt", "type": "ip"}}]
    export = ndjson(tmp_path / "x.ndjson", kibana_list(),
                    kibana_item("uses-list", value_list),
                    kibana_item("fine", NC_ENTRIES),
                    kibana_list("trusted", "endpoint_trusted_apps"),
                    kibana_item("app", NC_ENTRIES, list_id="trusted"),
                    {"something": "else"}, SUMMARY)
    write(tmp_path / "a.toml", '[[attach]]\nlist_id = "known-good"\nall_rules = true\n')
    loaded = load_exceptions([tmp_path])
    errors = [str(e) for e in loaded.errors]
    assert errors == [
        f'{export}:2: item "item uses-list": source.ip: entries of type list ("is in list", '
        "value list 'bad-ips.txt') are not supported: Kibana value lists are not part of the "
        'export; write the values with "is one of"',
        f'{export}:4: list "Known good" is an Elastic Defend artifact (endpoint_trusted_apps), '
        "not a rule exception list: not imported",
        f"{export}:6: not an exception list, exception item, rule or export summary"]
    assert [i.key for i in loaded.items] == ["fine"] and loaded.items[0].all_rules


def test_kibana_nested_entry(tmp_path: Path) -> None:
    nested = [{"field": "file.Ext.code_signature", "type": "nested", "entries": [
        {"field": "subject_name", "operator": "included", "type": "match", "value": "B"},
        {"field": "trusted", "operator": "included", "type": "match", "value": "true"}]}]
    ndjson(tmp_path / "n.ndjson", kibana_list(), kibana_item("n", nested))
    write(tmp_path / "a.toml", '[[attach]]\nlist_id = "known-good"\nall_rules = true\n')
    [item] = load_exceptions([tmp_path]).items
    assert compile_item(item)(DOC) is True


# -- the stage -------------------------------------------------------------------

def item(name: str, *entries: Entry, rules: tuple = (), expires: dt.datetime | None = None,
         line: int = 1) -> ExceptionItem:
    return ExceptionItem(name=name, path=Path("e.toml"), line=line, entries=entries,
                         rule_ids=frozenset(rules), all_rules=not rules, expires=expires)


def test_suppressor_counts_the_first_exception_that_covers_an_alert() -> None:
    to_all = item("all", entry("process.name", "match", "nc"), line=1)
    to_rule = item("rule", entry("user.name", "match", "root"), rules=("r",), line=2)
    stage = Suppressor(ExceptionSet(items=[to_all, to_rule]))
    assert stage.suppressing("r", [DOC]) is to_rule       # attached to the rule first
    assert stage.suppressing("other", [DOC]) is to_all
    assert stage.suppressing("other", [{"process": {"name": "ls"}}]) is None
    assert stage.counts == {"e.toml:1": 1, "e.toml:2": 1} and stage.total == 2
    # A sequence's match: suppressed when any of its documents is covered.
    assert stage.suppressing("other", [{"process": {"name": "ls"}}, DOC]) is to_all
    assert stage.counts["e.toml:1"] == 2
    later = Suppressor(ExceptionSet(items=[to_all]))
    later.inherit_counts(stage)
    assert later.counts == {"e.toml:1": 2} and later.total == 3


def test_an_expired_exception_is_not_applied() -> None:
    until = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    stage = Suppressor(ExceptionSet(items=[item("x", entry("process.name", "match", "nc"),
                                                expires=until)]),
                       clock=lambda: until.timestamp() - 1)
    assert stage.suppressing("r", [DOC]) is not None
    stage._clock = lambda: until.timestamp()
    assert stage.suppressing("r", [DOC]) is None


def test_pipeline_stage_between_engine_and_alerts(tmp_path: Path, shared) -> None:
    """The seed rule over two real-format events; an exception covers one."""
    rules = load_rules([SEED]).rules
    data = b"".join(exec_event(10, ["nc", "-U", "/run/app.sock"], "/usr/bin/nc.openbsd")
                    + exec_event(11, ["nc", "-U", "/run/other.sock"], "/usr/bin/nc.openbsd",
                                 pid=4001))
    _, alerts, pipeline = run(data, rules=rules)
    assert len(alerts) == 2 and pipeline.exceptions is None
    path = write(tmp_path / "e.toml", '[[exception]]\nname = "app socket"\n'
                                      f'rule_ids = ["{rules[0].rule_id}"]\n'
                                      'entries = [{ field = "process.args", operator = "is", '
                                      'value = "/run/app.sock" }]\n')
    _, alerts, pipeline = run(data, rules=rules, exceptions=load_exceptions([path]))
    assert [a["process"]["args"][2] for a in alerts] == ["/run/other.sock"]
    assert (pipeline.counts.alerts, pipeline.counts.excepted) == (1, 1)
    assert pipeline.exceptions is not None and pipeline.exceptions.counts == {"e.toml:1": 1}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_exception_directories_nobody_may_read_are_errors_not_silence(
        other_user, tmp_path: Path) -> None:
    """As the plugin's user after a mistaken chmod: a directory it cannot list
    or reach must not look like one without exceptions."""
    work = other_user.workdir("exceptions")
    closed = work / "closed.d"          # cannot be listed
    closed.mkdir(mode=0o711)
    (closed / "a.toml").write_text(GOOD)
    os.chmod(closed / "a.toml", 0o644)
    os.chmod(closed, 0o311)
    hidden = work / "hidden"            # cannot be reached
    (hidden / "inner.d").mkdir(parents=True)
    os.chmod(hidden, 0o700)
    script = ("import sys\nfrom audisp_eql.exceptions import load_exceptions\n"
              "for e in load_exceptions(sys.argv[1:]).errors:\n    print(e)\n")
    out = subprocess.run(other_user.python_command(script, str(closed), str(hidden / "inner.d")),
                         **other_user.run_as(), capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"{closed}: cannot read: Permission denied",
                                       f"{hidden / 'inner.d'}: cannot read: Permission denied"]


def test_hostile_document_shapes_never_break_the_stage() -> None:
    """Documents read with --input ecs are anyone's: deep arrays, odd types."""
    deep: object = "nc"
    for _ in range(5000):
        deep = [deep]
    stage = Suppressor(ExceptionSet(items=[item("x", entry("process.name", "match", "nc"))]))
    assert stage.suppressing("r", [{"process": {"name": deep}}]) is not None
    odd = {"process": {"name": {"x": 1}, "args": [None, 1.5, True, {"a": "b"}]}, "user": 7}
    expected = {   # (field, kind) -> positive answer; the negated one is its complement
        ("process.name", "match"): False, ("process.name", "wildcard"): False,
        ("process.name", "exists"): True, ("process.args", "match"): True,
        ("process.args", "wildcard"): True, ("process.args", "exists"): True,
        ("user.name", "match"): False, ("user.name", "exists"): False,
        ("user", "match"): True, ("user", "wildcard"): True, ("user", "exists"): True,
    }
    values = {"match": ("1.5", "true", "7"), "wildcard": ("*",), "exists": ()}
    for (field, kind), holds in expected.items():
        kind_values = values[kind]
        test = compile_entry(Entry(field, "match_any" if kind == "match" else kind, False,
                                   kind_values))
        negated = compile_entry(Entry(field, "match_any" if kind == "match" else kind, True,
                                      kind_values))
        assert (test(odd), negated(odd)) == (holds, not holds), (field, kind)

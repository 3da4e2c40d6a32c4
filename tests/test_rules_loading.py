"""rules.py and coverage.py: TOML -> Rule, per-rule reports, can-it-fire analysis."""

from __future__ import annotations

from pathlib import Path

import pytest

from audisp_eql import coverage
from audisp_eql.eql import parse_query
from audisp_eql.rules import CANNOT_FIRE, INVALID, OK, UNSUPPORTED, load_rules

from conftest import CORPUS, SEED

GATE = 'process where host.os.type == "linux" and event.action == "exec" and '


def write_rule(directory: Path, name: str, query: str, *, rule_id: str | None = None,
               rule_type: str = "eql", language: str = "eql", maturity: str = "production") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        "[metadata]\n"
        f'maturity = "{maturity}"\n'
        "\n[rule]\n"
        f'name = "{name}"\n'
        f'rule_id = "{rule_id or name + "-id"}"\n'
        'description = "test rule"\n'
        "risk_score = 21\n"
        'severity = "low"\n'
        f'type = "{rule_type}"\n'
        f'language = "{language}"\n'
        f"query = '''\n{query}\n'''\n")
    return path


def only_report(ruleset):
    assert len(ruleset.reports) == 1, ruleset.reports
    return ruleset.reports[0]


def test_seed_rule_loads_ok(shared):
    ruleset = load_rules([SEED])
    report = only_report(ruleset)
    assert (report.status, report.rule_id) == (OK, "41284ba3-ed1a-4598-bfba-a97f75d9aba2")
    rule = ruleset.rules[0]
    assert rule.name == "Unix Socket Connection" and rule.risk_score == 21
    assert rule.threat[0]["tactic"]["id"] == "TA0002"
    assert rule.compiled is not None and rule.compiled.category == "process"


def test_corpus_every_rule_has_a_status_and_none_is_invalid(shared):
    ruleset = load_rules([CORPUS])
    assert len(ruleset.reports) == 351
    assert not ruleset.invalid, [r.reason for r in ruleset.invalid][:5]
    counts = ruleset.counts()
    assert counts[OK] > 100 and counts[UNSUPPORTED] == 0   # sequences and samples run too
    assert all(r.reason for r in ruleset.reports if r.status != OK)


def test_toml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[rule]\nname = "x"\nrule_id = = "y"\n')
    write_rule(tmp_path, "good", GATE + 'process.name == "ls"')
    ruleset = load_rules([tmp_path])
    statuses = {r.path.name: r for r in ruleset.reports}
    assert statuses["good.toml"].status == OK  # one bad file does not stop the others
    assert statuses["bad.toml"].status == INVALID
    assert f"{bad}:3:" in statuses["bad.toml"].reason


def test_duplicate_rule_id_names_both_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_rule(tmp_path / "a", "one", GATE + 'process.name == "ls"', rule_id="same")
    second = write_rule(tmp_path / "b", "two", GATE + 'process.name == "id"', rule_id="same")
    ruleset = load_rules([tmp_path])
    dup = [r for r in ruleset.reports if r.status == INVALID]
    assert len(dup) == 1 and str(first) in dup[0].reason and dup[0].path == second
    assert len(ruleset.rules) == 1


def test_duplicate_rule_id_reason_alone_names_both_files(tmp_path):
    """`check` prints the reason beside the rule's name, not its path: the reason
    itself must say where the duplicate is and where the first one was."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_rule(tmp_path / "a", "one", GATE + 'process.name == "ls"', rule_id="same")
    second = write_rule(tmp_path / "b", "two", GATE + 'process.name == "id"', rule_id="same")
    dup = [r for r in load_rules([tmp_path]).reports if r.status == INVALID]
    assert len(dup) == 1
    assert str(second) in dup[0].reason and str(first) in dup[0].reason


def test_non_eql_and_non_production_rules_are_unsupported(tmp_path):
    write_rule(tmp_path, "kql", "process.name : ls", rule_type="query", language="kuery")
    write_rule(tmp_path, "ml", "x", rule_type="machine_learning", language="")
    write_rule(tmp_path, "dev", GATE + 'process.name == "ls"', maturity="development")
    ruleset = load_rules([tmp_path])
    assert {r.name: r.status for r in ruleset.reports} == {
        "dev": UNSUPPORTED, "kql": UNSUPPORTED, "ml": UNSUPPORTED}
    assert "--include-non-production" in next(r.reason for r in ruleset.reports if r.name == "dev")
    with_dev = load_rules([tmp_path], include_non_production=True)
    assert [r.name for r in with_dev.rules] == ["dev"]


def test_eql_syntax_error_is_reported_at_its_line_and_column_in_the_file(tmp_path):
    path = write_rule(tmp_path, "broken", GATE + '\n  process.name == == "ls" and\n  process.args == "-x"')
    report = only_report(load_rules([path]))
    assert report.status == INVALID
    where, _, message = report.reason.partition(": ")
    file_name, line, col = where.rsplit(":", 2)
    text = path.read_text().splitlines()
    assert file_name == str(path) and message
    # the position points into the file at the second `==` of the query's 2nd line
    assert text[int(line) - 1] == '  process.name == == "ls" and'
    assert text[int(line) - 1][int(col) - 1:int(col) + 1] == "=="
    assert int(col) == 19


def test_syntax_error_on_the_first_query_line_counts_the_column_in_the_file(tmp_path):
    path = tmp_path / "inline.toml"
    path.write_text('[rule]\nname = "n"\nrule_id = "i"\ntype = "eql"\nlanguage = "eql"\n'
                    'query = "process where process.name == == 1"\n')
    report = only_report(load_rules([path]))
    assert report.status == INVALID
    line, col = report.reason.split(": ")[0].rsplit(":", 2)[1:]
    assert int(line) == 6
    assert path.read_text().splitlines()[5][int(col) - 1:int(col) + 1] == "=="


def test_syntax_error_in_a_one_line_query_with_escapes_is_on_the_query_line(tmp_path):
    """A basic string with escapes does not appear verbatim in the file: the
    position must still be on the `query =` line, not the line after it."""
    path = tmp_path / "escaped.toml"
    path.write_text('[rule]\nname = "n"\nrule_id = "i"\ntype = "eql"\nlanguage = "eql"\n'
                    'query = "process where process.name == \\"a\\" and and"\n'
                    'severity = "low"\n')
    report = only_report(load_rules([path]))
    assert report.status == INVALID
    line = int(report.reason.split(": ")[0].rsplit(":", 2)[1])
    assert line == 6


def test_sequence_rule_is_judged_step_by_step(tmp_path):
    path = write_rule(tmp_path, "seq", 'sequence by process.entity_id [process where true] '
                                       '[registry where true]')
    ruleset = load_rules([path])
    report = only_report(ruleset)
    assert report.status == CANNOT_FIRE and ruleset.rules[0].compiled.stages   # compiled: runs
    assert "sequence step 2: category registry: audisp-eql produces " in report.reason
    assert ruleset.rules[0].never_fires    # kept for the engine (not evaluated on our documents)
    path = write_rule(tmp_path, "seq2", 'sequence [process where true] by process.pid '
                                        '[process where true] by process.Ext.thing')
    assert "never have process.Ext.thing" in only_report(load_rules([path])).reason


def test_look_back_window_is_read_from_the_rule(tmp_path):
    path = write_rule(tmp_path, "lb", 'process where true')
    assert load_rules([path]).rules[0].lookback == 360.0          # Kibana's default now-6m
    text = path.read_text().replace("[rule]\n", '[rule]\nfrom = "now-119m"\n')
    path.write_text(text)
    assert load_rules([path]).rules[0].lookback == 119 * 60.0
    path.write_text(text.replace("now-119m", "yesterday"))
    report = only_report(load_rules([path]))
    assert report.status == INVALID and "from is not a look-back" in report.reason


@pytest.mark.parametrize("condition, required", [
    ('a == "x" and b == "y"', {"a", "b"}),
    ('a == "x" or b == "y"', set()),
    ('(a == "x" and c == 1) or (b == "y" and c == 2)', {"c"}),
    ('not a == "x"', set()),
    ('a != "x"', set()),
    ('a != null', {"a"}),
    ('a == null', set()),
    ('?a == "x"', set()),
    ('a not in ("x", "y")', set()),
    ('a in ("x", "y") and b : "z*"', {"a", "b"}),
    ('startsWith(a, "x")', set()),
])
def test_required_fields(condition, required):
    query = parse_query(f"process where {condition}")
    assert coverage.required_fields(query.condition) == frozenset(required)


DOCS = "audisp-eql's process documents"


@pytest.mark.parametrize("condition, reason", [
    ('process.Ext.api.name == "x"',
     f'13:15: process.Ext.api.name == "x" can never hold: {DOCS} never have process.Ext.api.name'),
    ('process.name == "ls" and ?process.Ext.api.name == "x"', None),
    ('process.name == "ls" or process.Ext.api.name == "x"', None),
    ('not process.Ext.api.name == "x"', None),
    ('event.action == "no-such-action"',
     f'13:15: event.action == "no-such-action" can never hold: {DOCS} have event.action '),
    ('event.action == "executed"', None),   # both vocabularies: a list
    ('event.action in ("exec", "no-such-action")', None),
    # The first term that can never hold, as written, at its own line and column.
    # Process documents: starts (exec, sudo's ran-command, services), ends and
    # changes (auditd, audit configuration, set*id), crashes, AppArmor denials;
    # never an installation.
    ('process.name == "ls" and\n   event.type   ==  "installation"',
     f'14:4: event.type == "installation" can never hold: {DOCS} have event.type ["start"] or '),
    ('not event.type in ("start", "end", "change", "info")',
     f'13:15: not event.type in ("start", "end", "change", "info") can never hold: {DOCS} have '
     'event.type ["start"] or '),
    ('event.type == "change" and process.name == "ls"', None),
    # An `or` all of whose branches fail is named whole, with each reason.
    ('process.name == "ls" and (event.type : "installation" or\n process.Ext.x == 1)',
     f'13:41: event.type : "installation" or process.Ext.x == 1 can never hold: {DOCS} have '
     'event.type ["start"] or '),
    ('event.type == "installation" or process.name == "ls"', None),
    ('event.action == "rename"',
     f'13:15: event.action == "rename" can never hold: {DOCS} have event.action '),
])
def test_cannot_fire_names_the_condition_that_can_never_hold(tmp_path, condition, reason):
    path = write_rule(tmp_path, "r", f"process where {condition}")
    ruleset = load_rules([path])
    report = only_report(ruleset)
    if reason is None:
        assert report.status == OK, report.reason
    else:
        assert report.status == CANNOT_FIRE
        # (the values our documents have are listed after the quoted condition)
        assert report.reason.startswith(f"{path}:{reason}"), report.reason
        assert ruleset.rules  # a report, not a filter: the rule is still loaded


def test_cannot_fire_position_points_at_the_condition_in_the_file(tmp_path):
    """The line:col of the message is where the quoted text is in the file."""
    path = write_rule(tmp_path, "r", 'process where process.name == "ls" and\n'
                                     '  // a comment\n  event.action  ==  "start"  // end')
    report = only_report(load_rules([path]))
    where, message = report.reason[len(f"{path}:"):].split(": ", 1)
    line, col = map(int, where.split(":"))
    written = path.read_text().splitlines()[line - 1][col - 1:]
    assert written.startswith('event.action  ==  "start"')
    assert message.startswith('event.action == "start" can never hold')


def test_sequence_step_and_join_key_that_can_never_hold():
    """Judged on the query (sequences may not be compiled yet): a step that can
    never match, or a join key never set, and the sequence can never fire."""
    from audisp_eql.ecs import catalog
    from audisp_eql.eql import compile_query

    def reasons(text):
        return [(str(r), r.offset) for r in
                coverage.never_fires(parse_query(text), catalog(), compile_query, text)]

    text = ('sequence with maxspan=1m\n  [process where process.name == "a"]\n'
            '  [process where event.action == "no-such-action"]')
    [(message, offset)] = reasons(text)
    assert message.startswith(f'sequence step 2: event.action == "no-such-action" can never '
                              f'hold: {DOCS} have event.action ')
    assert offset == text.index("event.action")
    [(message, _)] = reasons('sequence by process.Ext.id with maxspan=1m\n'
                             '  [process where true] [process where true]')
    assert message.startswith("sequence step 1 can never join: ")
    assert "never have process.Ext.id" in message
    assert reasons('sequence by ?process.Ext.id with maxspan=1m\n'
                   '  [process where true] [process where true]') == []
    assert reasons('sequence with maxspan=1m [process where true] [process where true]') == []
    # A key judged on the kinds the step can match: uid changes carry no previous image.
    [(message, _)] = reasons('sequence by process.previous.executable with maxspan=1m\n'
                             '  [process where event.type == "start"]\n'
                             '  [process where event.action == "uid_change"]')
    assert message.startswith("sequence step 2 can never join: ")
    assert "kind process_change" in message and "process.previous.executable" in message
    # A process start's entity id is new: a later exec step never joins on it ...
    exec_step = '[process where event.type == "start" and event.action == "exec"]'
    [(message, _)] = reasons('sequence by process.entity_id with maxspan=1m\n'
                             f'  [process where event.type == "change"] {exec_step}')
    assert message.startswith("sequence step 2 can never join: process.entity_id ")
    assert "is new on each of them" in message
    # ... but a first one does, a later one on its parent's id does, and a later
    # step that may be another kind (a uid change of the same image) does.
    assert reasons(f'sequence by process.entity_id with maxspan=1m {exec_step}\n'
                   '  [process where event.type == "change"]') == []
    assert reasons('sequence with maxspan=1m\n'
                   f'  {exec_step} by process.entity_id {exec_step} by process.parent.entity_id'
                   ) == []
    assert reasons('sequence by process.entity_id with maxspan=1m\n'
                   f'  {exec_step} [process where true]') == []
    assert reasons(f'sample by process.entity_id [process where true] {exec_step}') == []


def test_registry_rule_cannot_fire_but_stays_loaded(tmp_path):
    path = write_rule(tmp_path, "f", 'registry where registry.path == "HKLM"')
    ruleset = load_rules([path])
    report = only_report(ruleset)
    assert report.status == CANNOT_FIRE and "category registry" in report.reason
    assert len(ruleset.rules) == 1


def test_non_rule_toml_found_in_a_checkout_is_unsupported_not_invalid(tmp_path) -> None:
    """A detection-rules checkout holds pyproject.toml, hunting queries and
    settings next to its rules: found by searching a directory, a TOML file
    without [rule] (and without [metadata]) is reported as not a rule file."""
    from audisp_eql.rules import UNSUPPORTED, INVALID, load_rules
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "hunting").mkdir()
    (tmp_path / "hunting" / "h.toml").write_text('[hunt]\nname = "h"\n')
    (tmp_path / "broken_rule.toml").write_text('[metadata]\nmaturity = "production"\n')
    ruleset = load_rules([tmp_path])
    by_name = {r.path.name: r for r in ruleset.reports}
    assert by_name["pyproject.toml"].status == UNSUPPORTED
    assert "not a detection rule file" in by_name["pyproject.toml"].reason
    assert by_name["h.toml"].status == UNSUPPORTED
    # Half a rule is still a broken rule.
    assert by_name["broken_rule.toml"].status == INVALID
    # Named explicitly, a file that is not a rule is an error.
    [explicit] = load_rules([tmp_path / "pyproject.toml"]).reports
    assert explicit.status == INVALID and "no [rule] table" in explicit.reason


def test_empty_rule_directory_is_reported(tmp_path) -> None:
    from audisp_eql.rules import INVALID, load_rules
    (tmp_path / "empty").mkdir()
    [report] = load_rules([tmp_path / "empty"]).reports
    assert report.status == INVALID and "no rule files" in report.reason

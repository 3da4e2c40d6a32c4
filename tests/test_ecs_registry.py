"""ecs/registry.py: each registered event kind produces what it declares (the
`check` analysis trusts the declarations), dispatch finds the right builders,
and what the registry holds drives the coverage analysis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from audisp_eql import coverage
from audisp_eql.ecs import BuildContext, catalog
from audisp_eql.ecs.kinds import KINDS
from audisp_eql.ecs.proctable import ProcessTable
from audisp_eql.ecs.running import RunningProcessKind, running_documents
from audisp_eql.ecs.registry import BuilderRegistry, Catalog, EventBuilder
from audisp_eql.eql import compile_query, parse_query
from audisp_eql.source import make_event_source
from conftest import LOGS, ROOT

# Every audit log the tests have: the shared real logs and our own.
LOG_FILES = sorted(p for p in [*LOGS.rglob("*"), *(ROOT / "tests" / "data").rglob("*.log")]
                   if p.is_file() and p.suffix in (".log", ".txt"))


def _flat(doc: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in doc.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def _empty_objects(doc: dict) -> bool:
    return any(value == {} or isinstance(value, dict) and _empty_objects(value)
               for value in doc.values())


def _documents_of_kind(kind: type[EventBuilder]) -> list[dict]:
    registry = BuilderRegistry([kind(BuildContext(table=ProcessTable(), include_failed=True))])
    docs: list[dict] = []
    for path in LOG_FILES:
        source = make_event_source("python")
        source.start_source(str(path))
        for event in source.feed(path.read_bytes()) + source.flush():
            docs += registry.build(event)
    return docs


def _check_declared(kind: type[EventBuilder], docs: list[dict]) -> None:
    declared = Catalog(KINDS).kind_fields(kind)
    variants = Catalog(KINDS).kind_variants(kind)
    seen: set[int] = set()
    for doc in docs:
        flat = dict(_flat(doc))
        assert set(flat) <= declared, set(flat) - declared
        assert None not in flat.values() and not _empty_objects(doc), doc
        for name, value in kind.constants.items():
            assert flat.get(name) == value, (name, flat.get(name))
        assert set(flat.get("event.category", [])) <= set(kind.categories)
        # Each document has exactly the values of one declared variant.
        matching = [i for i, variant in enumerate(variants)
                    if all(flat.get(name) == value for name, value in variant.items())]
        assert len(matching) == 1, (kind.kind, {k: flat.get(k) for k in variants[0]})
        seen.update(matching)
    # ... and every declared variant happens in real (or, where this machine cannot
    # make them, constructed) records: no declaration the coverage check trusts is idle.
    unseen = [variants[i] for i in range(len(variants)) if i not in seen]
    assert not unseen, (kind.kind, unseen)


def _takes_events(kind: type[EventBuilder]) -> bool:
    return bool(kind.syscalls or kind.record_types)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.categories and _takes_events(k)],
                         ids=lambda k: k.kind)
def test_each_kind_produces_what_it_declares(shared: Path, kind: type[EventBuilder]) -> None:
    docs = _documents_of_kind(kind)
    assert docs, f"no log in the tests exercises the {kind.kind} builder"
    _check_declared(kind, docs)


def test_already_running_documents_of_this_machine_are_what_the_kind_declares() -> None:
    table = ProcessTable()
    docs = list(running_documents(BuildContext(table=table)))
    assert any(d["process"]["pid"] == os.getpid() for d in docs)
    _check_declared(RunningProcessKind, docs)
    # They name the parents of later execs.
    assert table.get(None, os.getpid(), from_proc=False) is not None


@pytest.mark.parametrize("kind", [k for k in KINDS if k.variants], ids=lambda k: k.kind)
def test_declared_variants_are_distinct_and_complete(kind: type[EventBuilder]) -> None:
    """Every variant names the same fields, and no two are equal: the coverage
    analysis reads them as the exact set of value combinations."""
    names = {frozenset(v) for v in kind.variants}
    assert len(names) == 1
    assert len({repr(sorted(v.items())) for v in kind.variants}) == len(kind.variants)


def test_kinds_without_categories_make_no_documents(shared: Path) -> None:
    for kind in KINDS:
        if not kind.categories or not _takes_events(kind):
            assert _documents_of_kind(kind) == [], kind.kind


def test_catalog_scopes_fields_and_constants_by_category() -> None:
    class Files(EventBuilder):
        kind, categories = "file", ("file",)
        fields = frozenset({"file.path", "event.action"})
        constants = {"event.category": ["file"], "host.os.type": "linux"}

    class Procs(EventBuilder):
        kind, categories = "proc", ("process",)
        fields = frozenset({"process.name"})
        constants = {"event.category": ["process"], "host.os.type": "linux",
                     "event.action": "exec"}

    cat = Catalog([Procs, Files])
    assert cat.categories == ("process", "file")
    assert cat.fields("file") == {"file.path", "event.action", "event.category", "host.os.type"}
    assert cat.constants("process")["event.action"] == "exec"
    assert cat.constants(None) == {"host.os.type": "linux"}   # only what all share
    # A file rule is judged on file documents: event.action is not constant there.
    query = parse_query('file where event.action == "creation" and file.path : "/etc/*"')
    assert coverage.never_fires(query, cat, compile_query) == []
    text = 'process where event.action == "fork"'
    assert [str(r) for r in coverage.never_fires(parse_query(text), cat, compile_query, text)] \
        == ['event.action == "fork" can never hold: audisp-eql\'s process documents have '
            'event.action "exec"']
    reasons = coverage.never_fires(parse_query('network where destination.port == 22'), cat,
                                   compile_query)
    assert str(reasons[0]) == "category network: audisp-eql produces process/file events only"
    text = 'process where dns.question.name == "x"'
    reasons = coverage.never_fires(parse_query(text), cat, compile_query, text)
    assert [str(r) for r in reasons] == [
        'dns.question.name == "x" can never hold: audisp-eql\'s process documents never have '
        "dns.question.name (not in audit records: DNS questions are packet payload: the kernel "
        "reports socket addresses, never what is sent)"]


def test_dispatch_by_syscall_name_and_by_record_type() -> None:
    seen: list[tuple[str, Any]] = []

    class Opens(EventBuilder):
        kind, syscalls = "opens", frozenset({"openat"})

        def build(self, event: Any, syscall: Any) -> list[dict]:
            seen.append(("opens", syscall.name))
            return [{"n": 1}]

    class Logins(EventBuilder):
        kind, record_types = "logins", frozenset({"USER_LOGIN"})

        def build(self, event: Any, syscall: Any) -> list[dict]:
            seen.append(("logins", syscall))
            return [{"n": 2}, {"n": 3}]

    registry = BuilderRegistry([Opens(BuildContext()), Logins(BuildContext())])
    source = make_event_source("python")
    events = source.feed(
        b"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=257 success=yes exit=3 a0=1"
        b" a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0"
        b" egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"cat\" exe=\"/bin/cat\" key=(null)\n"
        b"type=EOE msg=audit(1.000:1): \n"
        b"type=USER_LOGIN msg=audit(1.000:2): pid=1 uid=0 msg='op=login res=success'\n"
        b"type=SYSCALL msg=audit(1.000:3): arch=c000003e syscall=59 success=yes exit=0 a0=1"
        b" a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0"
        b" egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"x\" exe=\"/bin/x\" key=(null)\n"
        b"type=EOE msg=audit(1.000:3): \n") + source.flush()
    documents = [registry.build(e) for e in events]
    assert documents == [[{"n": 1}], [{"n": 2}, {"n": 3}], []]
    assert seen == [("opens", "openat"), ("logins", None)]


def test_a_record_logged_during_a_syscall_goes_to_its_type_then_the_syscall() -> None:
    """CONFIG_CHANGE (auditctl), LOGIN (pam_loginuid): the record comes before the
    SYSCALL of the same event; both builders see the event, with the SYSCALL."""
    seen: list[tuple[str, Any]] = []

    class Config(EventBuilder):
        kind, record_types = "config", frozenset({"CONFIG_CHANGE"})

        def build(self, event: Any, syscall: Any) -> list[dict]:
            seen.append(("config", syscall.name if syscall else None))
            return [{"n": 1}]

    class Sends(EventBuilder):
        kind, syscalls = "sends", frozenset({"sendto"})

        def build(self, event: Any, syscall: Any) -> list[dict]:
            seen.append(("sends", syscall.name))
            return [{"n": 2}]

    registry = BuilderRegistry([Config(BuildContext()), Sends(BuildContext())])
    source = make_event_source("python")
    events = source.feed(
        b"type=CONFIG_CHANGE msg=audit(1.000:1): auid=0 ses=1 op=add_rule key=\"k\" list=4 res=1\n"
        b"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=44 success=yes exit=60 a0=3"
        b" a1=2 a2=3 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0"
        b" egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"auditctl\" exe=\"/sbin/auditctl\" key=(null)\n"
        b"type=EOE msg=audit(1.000:1): \n"
        b"type=CONFIG_CHANGE msg=audit(1.000:2): auid=0 ses=1 op=remove_rule key=\"k\" list=4 res=1\n"
        b"type=EOE msg=audit(1.000:2): \n") + source.flush()
    assert [registry.build(e) for e in events] == [[{"n": 1}, {"n": 2}], [{"n": 1}]]
    assert seen == [("config", "sendto"), ("sends", "sendto"), ("config", None)]


def test_coverage_judges_each_kind_on_its_own_variants_and_fields() -> None:
    class Logins(EventBuilder):
        kind, categories = "logins", ("authentication",)
        fields = frozenset({"user.name", "source.ip"})
        constants = {"event.category": ["authentication"]}
        variants = ({"event.action": ["logged-in", "user_login"], "event.type": ["start"]},
                    {"event.action": "authenticated", "event.type": ["info"]})

    class Daemons(EventBuilder):
        kind, categories = "daemons", ("authentication",)
        fields = frozenset({"process.pid"})
        constants = {"event.category": ["authentication"], "event.action": "started"}

    cat = Catalog([Logins, Daemons])
    def fires(text: str) -> list[str]:
        return [str(r) for r in coverage.never_fires(parse_query(text), cat, compile_query, text)]
    what = "audisp-eql's authentication documents"
    # A list-valued action matches when any element does (Elasticsearch).
    assert fires('authentication where event.action == "user_login"') == []
    assert fires('authentication where event.action in ("ssh_login", "user_login") and '
                 'event.type == "start" and user.name != null') == []
    # user_login exists, but never with event.type info (Daemons has no event.type).
    # (Different conditions fail on different kinds: the whole condition is named.)
    assert fires('authentication where event.action == "user_login" and event.type == "info"') \
        == ['event.action == "user_login" and event.type == "info" can never hold: '
            f'{what} have event.type ["start"]; {what} have event.action "authenticated" or '
            f'"started"']
    # The only kind with process.pid never has this action.
    assert fires('authentication where process.pid == 1 and event.action == "authenticated"') \
        == ['process.pid == 1 and event.action == "authenticated" can never hold: '
            f'{what} have event.action "started"; {what} never have process.pid']
    # Each field exists, but no kind has both.
    assert fires('authentication where process.pid == 1 and user.name == "x"') == \
        [f'process.pid == 1 and user.name == "x" can never hold: {what} never have '
         'process.pid, user.name']


def test_check_reads_the_registered_kinds() -> None:
    assert catalog().categories == tuple(dict.fromkeys(c for k in KINDS for c in k.categories))

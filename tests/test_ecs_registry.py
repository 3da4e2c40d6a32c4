"""ecs/registry.py: each registered event kind produces what it declares (the
`check` analysis trusts the declarations), dispatch finds the right builders,
and what the registry holds drives the coverage analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from audisp_eql import coverage
from audisp_eql.ecs import BuildContext, catalog
from audisp_eql.ecs.kinds import KINDS
from audisp_eql.ecs.proctable import ProcessTable
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


def _documents_of_kind(kind: type[EventBuilder]) -> list[dict]:
    registry = BuilderRegistry([kind(BuildContext(table=ProcessTable(), include_failed=True))])
    docs: list[dict] = []
    for path in LOG_FILES:
        source = make_event_source("python")
        source.start_source(str(path))
        for event in source.feed(path.read_bytes()) + source.flush():
            docs += registry.build(event)
    return docs


@pytest.mark.parametrize("kind", [k for k in KINDS if k.categories], ids=lambda k: k.kind)
def test_each_kind_produces_what_it_declares(shared: Path, kind: type[EventBuilder]) -> None:
    docs = _documents_of_kind(kind)
    assert docs, f"no log in the tests exercises the {kind.kind} builder"
    declared = kind.fields | set(kind.constants)
    for doc in docs:
        flat = dict(_flat(doc))
        assert set(flat) <= declared, set(flat) - declared
        for name, value in kind.constants.items():
            assert flat.get(name) == value, (name, flat.get(name))
        assert set(flat.get("event.category", [])) <= set(kind.categories)


def test_kinds_without_categories_make_no_documents(shared: Path) -> None:
    for kind in KINDS:
        if not kind.categories:
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


def test_check_reads_the_registered_kinds() -> None:
    assert catalog().categories == tuple(dict.fromkeys(c for k in KINDS for c in k.categories))

"""The package's shape, checked from the source: no import circles (module-level
or inside functions), no module over the size one head can hold, `eql/` a pure
language package, and the stages importing only downstream of themselves."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "plugin" / "audisp_eql"
MAX_LINES = 420   # "about 400": a module past this has a second job inside


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if node.level:
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.append(sub if sub in MODULES else target)
    return found


def imports_of(name: str) -> set[str]:
    """Package modules `name` imports anywhere in its source (lazy imports too),
    with the packages that importing a submodule runs first."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(name, path.name == "__init__.py", node))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    edges = set()
    for target in found:
        parts = target.split(".")
        # Importing a.b.c runs package a.b first, unless the importer is inside a.b
        # (then a.b is already being imported); never the top package (a version).
        for i in range(2, len(parts) + 1):
            prefix = ".".join(parts[:i])
            inside = name.startswith(prefix + ".")
            if prefix in MODULES and prefix != name and (i == len(parts) or not inside):
                edges.add(prefix)
    return edges


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    assert len(GRAPH) > 40
    assert cycles(GRAPH) == []


def test_the_circle_finder_finds_circles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_and_relative_imports_are_edges() -> None:
    assert "audisp_eql.source.auparse_source" in GRAPH["audisp_eql.source"]   # lazy, in a function
    assert "audisp_eql.limits" in GRAPH["audisp_eql.engine.ruleindex"]       # from .. import limits
    assert "audisp_eql.engine" in GRAPH["audisp_eql.alerts"]                 # package first


def test_no_module_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}


def test_eql_is_the_language_only() -> None:
    """eql/ imports nothing of the program but its bounds (like Elastic's own package)."""
    for name, targets in GRAPH.items():
        if name.startswith("audisp_eql.eql"):
            outside = {t for t in targets if not t.startswith("audisp_eql.eql")}
            assert outside <= {"audisp_eql.limits"}, (name, outside)


def test_stages_import_only_what_comes_before_them() -> None:
    """source/ knows nothing of documents, ecs/ nothing of rules, engine/ nothing of
    outputs or the pipeline."""
    forbidden = {
        "audisp_eql.source": ("audisp_eql.ecs", "audisp_eql.engine", "audisp_eql.rules",
                              "audisp_eql.alerts", "audisp_eql.outputs", "audisp_eql.pipeline"),
        "audisp_eql.ecs": ("audisp_eql.engine", "audisp_eql.rules", "audisp_eql.alerts",
                           "audisp_eql.outputs", "audisp_eql.pipeline"),
        "audisp_eql.engine": ("audisp_eql.alerts", "audisp_eql.outputs", "audisp_eql.pipeline",
                              "audisp_eql.daemon", "audisp_eql.scan"),
    }
    for name, targets in GRAPH.items():
        for stage, banned in forbidden.items():
            if name == stage or name.startswith(stage + "."):
                assert not [t for t in targets if t.startswith(banned)], name

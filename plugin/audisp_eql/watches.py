"""The `files` audit rule profile, derived from the rules: which paths to
watch so that the kernel reports the file events the rules look for.

Input: every positive `file.path` / `file.Ext.original.path` test of the
`file` and `any` queries (sequence steps included) of the rules given.
Mapping, in order:

1. Not a Linux absolute path (Windows `C:\\...`, `?:\\...`, macOS `/private`,
   `/Users`, `/Library`..., relative names such as `.load`): skipped.
2. A pattern is cut at its first wildcard (`*`, `?`); without one it names a
   file (or directory) to watch; with one, the directory before the wildcard
   is watched (recursively, as auditctl does for an existing directory).
   A wildcard inside a directory name (`/home/*/.ssh/...`,
   `/usr/lib/python3*/...`) leaves a parent too broad: `--host` expands it.
3. Too broad to watch (every write on a busy host, or not watchable:
   `/`, `/etc`, `/tmp`, `/home`, `/usr/lib`, `/usr/bin` as trees, `/proc`,
   `/sys`, ...): reported, not watched. Files inside them may be watched.
4. A path under another watched directory is dropped (the tree covers it).
5. Portable output (the committed conf/profiles/files.rules, the same on
   every machine: the filesystem is not read): a watch loads only when its
   parent directory exists, so a path whose parent is not a directory every
   systemd-based Linux has (`BASES`) is replaced by its ancestor just below
   such a directory (`/etc/NetworkManager/dispatcher.d` ->
   `/etc/NetworkManager`), unless that ancestor is too broad; then it is
   listed as host-specific, in a comment.
   Host output (`--host`): the paths as derived, wildcards in directory
   names expanded on this host (bounded), kept only where the parent exists.
"""

from __future__ import annotations

import argparse
import glob
import os
import posixpath
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from .eql import parse_query
from .rule_values import wanted_values

FIELDS = ("file.path", "file.Ext.original.path")
KEY = "files"
PERMISSIONS = "wa"
MAX_EXPANSIONS = 256      # --host: paths one pattern may expand to

# Directories every systemd-based Linux has: a watch directly below one loads anywhere.
BASES = frozenset({
    "/", "/etc", "/usr", "/usr/lib", "/usr/share", "/usr/bin", "/usr/sbin", "/usr/local",
    "/usr/local/lib", "/usr/local/share", "/usr/local/bin", "/usr/local/sbin", "/var",
    "/var/log", "/var/lib", "/var/spool", "/root", "/boot", "/run", "/home", "/tmp", "/opt",
    "/bin", "/sbin", "/lib", "/etc/systemd", "/usr/lib/systemd", "/lib/systemd", "/run/systemd",
})
# Never watched as trees: too busy, or not watchable (proc, sysfs, devices).
TOO_BROAD = frozenset({
    "/", "/etc", "/usr", "/usr/lib", "/usr/lib64", "/usr/share", "/usr/include", "/usr/local",
    "/usr/local/lib", "/usr/local/share", "/usr/local/include", "/var", "/var/lib", "/var/log",
    "/var/spool", "/var/tmp", "/var/www", "/var/cache", "/tmp", "/dev", "/dev/shm", "/run",
    "/run/user", "/home", "/root", "/opt", "/srv", "/mnt", "/media", "/proc", "/sys", "/boot",
    "/lib", "/lib64", "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin",
    "/usr/local/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/i386-linux-gnu",
    "/etc/systemd", "/usr/lib/systemd", "/lib/systemd", "/run/systemd", "/root/.config",
    "/root/.local", "/var/run", "/run/shm", "/usr/share/man",
})
_NOT_WATCHABLE = ("/proc/", "/sys/", "/dev/")
_SECURITYFS = "/sys/kernel/security/"     # --host: AppArmor's policy files, where present
_FOREIGN = ("/private/", "/Users/", "/Library/", "/System/", "/Applications/", "/Volumes/")


@dataclass
class Derivation:
    watches: dict[str, set[str]] = field(default_factory=dict)       # path -> rule names
    host_specific: dict[str, set[str]] = field(default_factory=dict)  # portable: not emitted
    too_broad: dict[str, set[str]] = field(default_factory=dict)      # pattern -> rule names
    not_coverable: set[str] = field(default_factory=set)   # rules naming no watchable path
    rules: int = 0                                         # rules read


def read_queries(paths: Iterable[str | Path]) -> list[tuple[str, object]]:
    """(rule name, parsed query) of every production EQL rule under `paths`."""
    out: list[tuple[str, object]] = []
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.rglob("*.toml")) if path.is_dir() else [path])
    for path in files:
        if "_deprecated" in path.parts:
            continue
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        rule = doc.get("rule")
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        if not isinstance(rule, dict) or rule.get("language", "eql") != "eql" or \
                rule.get("type", "eql") != "eql" or meta.get("maturity", "production") != \
                "production" or not isinstance(rule.get("query"), str):
            continue
        try:
            out.append((str(rule.get("name", path.stem)), parse_query(rule["query"])))
        except Exception:  # noqa: BLE001 - `check` reports unparsable rules; not our job
            continue
    return out


def _linux_path(value: str) -> bool:
    return value.startswith("/") and "\\" not in value and not value.startswith(_FOREIGN)


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _watch_path(pattern: str) -> tuple[str, bool]:
    """(the path to watch, whether it is a tree: the directory before a wildcard)."""
    cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=-1)
    if cut < 0:
        return posixpath.normpath(pattern), False
    return posixpath.normpath(pattern[:cut].rpartition("/")[0] or "/"), True


def _under(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip("/") + "/")


def _anchor(path: str) -> str:
    """`path`, or its ancestor just below the deepest base directory above it."""
    if posixpath.dirname(path) in BASES:
        return path
    base = max((b for b in BASES if _under(path, b)), key=len, default="/")
    first = path[len(base.rstrip("/")) + 1:].split("/")[0]
    return posixpath.join(base, first)


def _glob(pattern: str) -> list[str]:
    """Existing paths matching an EQL wildcard pattern (as a shell glob, bounded)."""
    return sorted(glob.glob(pattern.replace("[", "[[]")))[:MAX_EXPANSIONS]


def _expand_directories(pattern: str) -> list[str]:
    """--host: the pattern with its wildcard directory names replaced by this
    host's matching directories (`/home/*/.ssh/*` -> `/home/ann/.ssh/*` ...)."""
    parts = pattern.split("/")
    wild = [i for i, part in enumerate(parts[:-1]) if _wild(part)]
    if not wild:
        return [pattern]
    head = "/".join(parts[:wild[-1] + 1])
    tail = "/".join(parts[wild[-1] + 1:])
    return [f"{d}/{tail}" for d in _glob(head) if os.path.isdir(d)]


def _places(value: str, wildcard: bool, host: bool) -> tuple[list[tuple[str, bool]], bool]:
    """Where to watch for one pattern: [(path, is a tree)], and whether some of
    it was too broad to watch."""
    patterns = _expand_directories(value) if host and wildcard else [value]
    places: list[tuple[str, bool]] = []
    broad = not patterns
    for pattern in patterns:
        path, tree = _watch_path(pattern) if wildcard else (posixpath.normpath(pattern), False)
        if path.startswith(_NOT_WATCHABLE) and not (host and path.startswith(_SECURITYFS)):
            broad = True
            continue
        if path in TOO_BROAD:
            broad = True
            last = pattern.rpartition("/")[2]
            literal = last.split("*")[0].split("?")[0]
            if host and wildcard and tree and not _wild(pattern.rpartition("/")[0]) and \
                    len(literal) >= 2:
                # `/etc/sudoers*`: this host's existing matches, watched one by one.
                places += [(p, os.path.isdir(p)) for p in _glob(pattern)
                           if posixpath.normpath(p) not in TOO_BROAD]
            continue
        places.append((path, tree))
    return places, broad


def derive(queries: list[tuple[str, object]], host: bool = False) -> Derivation:
    out = Derivation(rules=len(queries))
    found: dict[str, tuple[bool, set[str]]] = {}    # path -> (a tree, rule names)
    for name, query in queries:
        watched = False
        for wanted in wanted_values([query], FIELDS):
            if wanted.category not in ("file", None) or not _linux_path(wanted.value) or \
                    not wanted.wildcard and _wild(wanted.value):
                continue     # not a Linux path; a `*` compared with == is a literal star
            places, broad = _places(wanted.value, wanted.wildcard, host)
            if broad:
                out.too_broad.setdefault(wanted.value, set()).add(name)
            for path, tree in places:
                was_tree, names = found.get(path, (False, set()))
                found[path] = (was_tree or tree, names | {name})
                watched = True
        if not watched:
            out.not_coverable.add(name)
    for path, (_tree, names) in found.items():
        if host:
            target = path if os.path.isdir(posixpath.dirname(path)) else None
        else:
            target = _anchor(path)
            target = None if target in TOO_BROAD else target
        if target is None:
            out.host_specific.setdefault(path, set()).update(names)
        else:
            out.watches.setdefault(target, set()).update(names)
    # A path inside a watched tree is covered by it (anchors are trees: their
    # own path continued below them).
    trees = {p for p in out.watches
             if found.get(p, (False,))[0] or any(_under(q, p) for q in found)}
    for path in sorted(out.watches, key=len, reverse=True):
        owner = next((t for t in trees if t != path and _under(path, t)), None)
        if owner is not None:
            out.watches[owner].update(out.watches.pop(path))
    return out


def render(result: Derivation, sources: list[str], host: bool = False) -> str:
    lines = [
        "## audisp-eql files profile: watches on the paths detection rules look at.",
        "## Generated by `python3 -m audisp_eql.watches` (`make profiles`) from "
        f"{result.rules} rules in: " + ", ".join(sources) + ".",
        "## Do not edit: regenerate. " + (
            "Made for this host (--host): paths whose parent is missing are left out."
            if host else "Portable: loads on any systemd-based Linux; "
            "the same with --host adds what only some hosts have."),
        "## Cost: nothing on unrelated syscalls; one event per write, create, rename, delete,",
        "## chmod/chown (and timestamp change) of a watched file or inside a watched tree.",
        "",
    ]
    for path in sorted(result.watches):
        names = sorted(result.watches[path])
        shown = ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
        lines.append(f"## {shown}")
        lines.append(f"-w {path} -p {PERMISSIONS} -k {KEY}")
    if result.host_specific:
        lines += ["", "## Host-specific (their parent directory is not on every system):"]
        lines += [f"# -w {p} -p {PERMISSIONS} -k {KEY}" for p in sorted(result.host_specific)]
    if result.too_broad:
        lines += ["", "## Too broad to watch (the rules looking there need a files-wide rule set):"]
        lines += [f"#   {p}" for p in sorted(result.too_broad)]
    if result.not_coverable:
        lines += ["", f"## {len(result.not_coverable)} rules name no watchable path "
                  "(file.name / file.extension only, or only broad places)."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None, default_rules: Optional[list[str]] = None,
         name_source: Callable[[str], str] = str) -> int:
    """`python3 -m audisp_eql.watches [--host] [--rules PATH...] [-o FILE]`."""
    parser = argparse.ArgumentParser(prog="audisp_eql.watches",
                                     description="Write the files audit rule profile: watches "
                                                 "on the paths the rules look at.")
    parser.add_argument("--rules", nargs="+", metavar="PATH", default=default_rules,
                        required=default_rules is None,
                        help="rule files or directories (e.g. /etc/audisp-eql/rules.d)")
    parser.add_argument("--host", action="store_true",
                        help="for this host: expand wildcards, keep watches whose parent exists")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    missing = [p for p in args.rules if not Path(p).exists()]
    if missing:
        print(f"{parser.prog}: no such rule path: {', '.join(missing)}", file=sys.stderr)
        return 2
    text = render(derive(read_queries(args.rules), host=args.host),
                  [name_source(p) for p in args.rules], host=args.host)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Running audisp-eql as another user (nobody) from files that user can reach.

The checkout may sit below a directory only root can traverse (a clone in
/root, or in a 0700 `mktemp -d`): its .venv and plugin/ are then out of the
other user's reach, whatever their own modes. So each test that runs something
as another user gets a fresh root-owned 0755 directory under the temporary
directory with the program laid out as `make install` lays it out: the
package's .py files under lib/, a launcher run by the system python3 (the venv's
base interpreter), and beside the package the third-party modules that only the
venv has (google-re2); Debian's pyparsing, audit and auparse come from the
system site-packages, as in production. Work directories for rules, configs and
alert files go there too.

conftest.py turns this into the `other_user` fixture and marks every test using
it `other_user`; test_other_user_clone.py runs those from a clone under a 0700
directory.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import audisp_eql

USER = "nobody"


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    gid: int
    base: Path      # root-owned, 0755, removed afterwards
    lib: Path       # audisp_eql and the third-party modules the system python lacks
    program: Path   # launcher: `program plugin CONFIG`, like $(PREFIX)/bin/audisp-eql
    python: str     # the system interpreter the launcher runs

    def python_command(self, code: str, *args: str) -> List[str]:
        """argv running `code` with audisp_eql importable, isolated like the launcher."""
        preamble = f"import sys\nsys.path.insert(0, {str(self.lib)!r})\n"
        return [self.python, "-I", "-c", preamble + code, *args]

    def run_as(self) -> Dict[str, Any]:
        """subprocess arguments that make the child this user, with no groups of root's."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def workdir(self, name: str) -> Path:
        """A fresh root-owned 0755 directory the other user can traverse."""
        path = self.base / name
        path.mkdir()
        path.chmod(0o755)   # mkdir's mode goes through the umask
        return path


def reachable_by_others(path: Path) -> bool:
    """Can a user other than the owner (and not in its group) open `path`?
    Every ancestor must be searchable by others, the file readable."""
    path = Path(os.path.realpath(path))
    if not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def system_python() -> str:
    """The interpreter behind the venv: same version as the one that built re2's extension."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def third_party_modules(package: Path) -> Set[str]:
    """Top-level modules the package imports that are neither stdlib nor its own."""
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    names: Set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in stdlib and name != package.name}


def _missing_from(python: str, modules: Set[str]) -> Set[str]:
    probe = ("import importlib.util, sys\n"
             "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))")
    out = subprocess.run([python, "-I", "-c", probe, *sorted(modules)], capture_output=True,
                         text=True, check=True, timeout=60)
    return set(out.stdout.split())


def _copy_module(name: str, lib: Path) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return   # optional (e.g. tomli on 3.11+): the package copes without it
    if spec.submodule_search_locations:
        source = Path(spec.origin).parent
        shutil.copytree(source, lib / source.name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy(spec.origin, lib)


def _not_source(directory: str, names: List[str]) -> List[str]:
    """Only the .py files, as `make install` copies them."""
    return [n for n in names if n == "__pycache__"
            or (not n.endswith(".py") and not os.path.isdir(os.path.join(directory, n)))]


def _open_up(root: Path) -> None:
    """Dirs 0755, files 0644: copies keep the source's modes, and a clone made
    under umask 077 has 0600 files."""
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)


@contextlib.contextmanager
def prepared() -> Iterator[OtherUser]:
    """The installed layout in a fresh world-traversable directory; removed on exit."""
    entry = pwd.getpwnam(USER)
    python = system_python()
    if not reachable_by_others(Path(python)):
        raise RuntimeError(f"{python} (the venv's base interpreter) is not reachable by {USER}")
    base = Path(tempfile.mkdtemp(prefix="audisp-eql-other-user-"))
    try:
        base.chmod(0o755)
        lib = base / "lib"
        package = Path(audisp_eql.__file__).parent   # the package under test
        shutil.copytree(package, lib / package.name, ignore=_not_source)
        for name in sorted(_missing_from(python, third_party_modules(package))):
            _copy_module(name, lib)
        program = base / "bin" / "audisp-eql"
        program.parent.mkdir()
        # The launcher `make install` writes, pointed at this lib.
        program.write_text(f"#!{python} -I\nimport sys\nsys.path.insert(0, {str(lib)!r})\n"
                           "from audisp_eql.cli import main\nsys.exit(main())\n")
        _open_up(base)
        program.chmod(0o755)
        yield OtherUser(USER, entry.pw_uid, entry.pw_gid, base, lib, program, python)
    finally:
        shutil.rmtree(base)

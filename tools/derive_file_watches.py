#!/usr/bin/env python3
"""Write the `files` audit rule profile: watches on the paths the rules look at.

    tools/derive_file_watches.py                       # portable, from rules/ and the corpus
    tools/derive_file_watches.py --host --rules /etc/audisp-eql/rules.d \\
        > /etc/audit/rules.d/51-audisp-eql-files.rules  # this host, the rules it loads

How patterns become watches: plugin/audisp_eql/watches.py (module docstring).
`make profiles` rewrites conf/profiles/files.rules; tests/test_profiles.py
checks that the committed file is what this tool writes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugin"))

from audisp_eql import watches  # noqa: E402


def default_rules() -> list[str]:
    shared = Path(os.environ.get("AUDISP_EQL_SHARED", ROOT.parent / "shared"))
    return [str(ROOT / "rules"), str(shared / "corpus" / "detection-rules")]


def source_name(path: str) -> str:
    """How a rule source is named in the header: the same on every machine."""
    p = Path(path).resolve()
    for base, shown in ((ROOT, ""), (ROOT.parent / "shared", "shared/")):
        try:
            return shown + str(p.relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", nargs="+", metavar="PATH",
                        help="rule files or directories (default: rules/ and the shared corpus)")
    parser.add_argument("--host", action="store_true",
                        help="for this host: expand wildcards, keep watches whose parent exists")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    paths = args.rules or default_rules()
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        print(f"derive_file_watches: no such rule path: {', '.join(missing)}", file=sys.stderr)
        return 2
    result = watches.derive(watches.read_queries(paths), host=args.host)
    text = watches.render(result, [source_name(p) for p in paths], host=args.host)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

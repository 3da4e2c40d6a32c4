#!/usr/bin/env python3
"""Write the `files` audit rule profile: watches on the paths the rules look at.

    tools/derive_file_watches.py                  # portable, from rules/ and the corpus
    tools/derive_file_watches.py --host --rules /etc/audisp-eql/rules.d \\
        > /etc/audit/rules.d/51-audisp-eql-files.rules   # this host, the rules it loads

The work is audisp_eql/watches.py (`python3 -m audisp_eql.watches` where the
package is installed); this wrapper runs it from a checkout, with the
checkout's rules and the shared corpus as the default. `make profiles`
rewrites conf/profiles/files.rules; tests/test_profiles.py checks that the
committed file is what this writes.
"""

from __future__ import annotations

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
    resolved = Path(path).resolve()
    shared = Path(os.environ.get("AUDISP_EQL_SHARED", ROOT.parent / "shared")).resolve()
    for base, shown in ((ROOT.resolve(), ""), (shared, "shared/")):
        try:
            return shown + str(resolved.relative_to(base))
        except ValueError:
            continue
    return str(path)


if __name__ == "__main__":
    sys.exit(watches.main(default_rules=default_rules(), name_source=source_name))

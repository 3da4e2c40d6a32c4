"""Rule load time, measured cold in a fresh interpreter: import, then read, parse and
compile every rule under the given paths. Prints one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def measure_in_subprocess(rules: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.ruleload", str(rules)],
                         capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    from audisp_eql.rules import load_rules
    imported = time.perf_counter()
    ruleset = load_rules([argv[0]])
    loaded = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "load_s": loaded - imported,
                      "files": len(ruleset.reports), "rules": len(ruleset.rules),
                      "counts": ruleset.counts()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Replay a saved fuzz failure: its context inputs, then the input, through both parsers."""

from __future__ import annotations

import traceback
from pathlib import Path

from conftest import CORPUS, SEED
from fuzz.pipeline import Pipeline, load_rule_set

PARSERS = ("auparse", "python")


def replay(base: Path) -> int:
    """`base` is any of the saved files (NAME.input / .context / .txt); 1 if it still fails."""
    stem = base.with_suffix("")
    data = stem.with_suffix(".input").read_bytes()
    context_file = stem.with_suffix(".context")
    context = context_file.read_bytes() if context_file.exists() else b""
    rules, alert_rule = load_rule_set(CORPUS, SEED)
    failed = 0
    for parser in PARSERS:
        pipe = Pipeline(parser, rules, alert_rule)
        try:
            pipe.feed(context)
            pipe.feed(data)
            pipe.finish()
            print(f"{parser}: ok ({dict(pipe.counts)})")
        except Exception:  # noqa: BLE001 - reporting what the fuzzer found
            failed = 1
            print(f"{parser}: FAILED")
            traceback.print_exc()
    return failed

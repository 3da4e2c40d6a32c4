"""A rule that fires on every process start, so hostile input reaches every output."""

from __future__ import annotations

from pathlib import Path

CATCHALL_RULE_ID = "00000000-0000-4000-8000-00000000f022"

CATCHALL_TOML = f'''\
[metadata]
maturity = "production"

[rule]
rule_id = "{CATCHALL_RULE_ID}"
name = "Any process start (hostile input test)"
description = "Fires on every process start document."
type = "eql"
language = "eql"
severity = "high"
risk_score = 73
query = """
process where event.type == "start"
"""
'''


def write_catchall(directory: Path) -> Path:
    """Write the rule into `directory` (mode 0644) and return its path."""
    path = directory / "catchall.toml"
    path.write_text(CATCHALL_TOML)
    path.chmod(0o644)
    return path

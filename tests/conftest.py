"""Shared fixtures: where ../shared/ is, and helpers to read its files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# CI lays shared/ beside the clone; AUDISP_EQL_SHARED points elsewhere
# (e.g. a user's own checkout of elastic/detection-rules under corpus/).
SHARED = Path(os.environ.get("AUDISP_EQL_SHARED", ROOT.parent / "shared")).resolve()
LOGS = SHARED / "logs"
CORPUS = SHARED / "corpus" / "detection-rules"
SEED = SHARED / "seed" / "execution_unix_socket_communication.toml"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared reference data not found at {SHARED} (set AUDISP_EQL_SHARED)")
    return SHARED

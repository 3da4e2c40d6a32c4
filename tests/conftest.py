"""Shared fixtures: where ../shared/ is, and helpers to read its files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, List

import pytest

from harness.other_user import OtherUser, prepared

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


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    """The program and work directories where nobody can reach them, wherever the checkout is."""
    with prepared() as user:
        yield user


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "other_user: runs something as another user (uses the other_user fixture)")


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    # By fixture, not by hand: test_other_user_clone.py selects them with -m other_user.
    for item in items:
        if "other_user" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.other_user)

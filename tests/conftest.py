"""Shared fixtures: where the real test footage and faces live.

Small samples ship in ``tests/data`` (see NOTICE); the larger pool in ``../shared/data`` is used
when present (CI has it) and tests needing it are skipped with a reason otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_DATA = REPO / "tests" / "data"
SHARED_DATA = REPO.parent / "shared" / "data"


def find_data(relative: str) -> Path:
    """Path of a data file, preferring the copy shipped in the repo; skip the test if absent."""
    for root in (SHIPPED_DATA, SHARED_DATA):
        candidate = root / relative
        if candidate.exists():
            return candidate
    pytest.skip(f"test data {relative} not found in tests/data or ../shared/data")


@pytest.fixture
def data():
    """``data("plates/weekly_address_clip1.mp4")`` -> Path, from tests/data or ../shared/data."""
    return find_data

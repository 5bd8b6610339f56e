"""Shared fixtures: paths to the real data set beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("EARTH3D_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A file of the shared real-data set; skips the test when the set is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (set EARTH3D_TEST_DATA)")
    return path


@pytest.fixture
def data():
    return data_path

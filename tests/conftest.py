"""Shared fixtures and helpers: paths to the real data set beside the repository; store comparisons."""

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


def assert_same_files(got: dict[str, bytes], want: dict[str, bytes]) -> None:
    """Two stores' files ({relative path: bytes}) are byte-identical; else name the files that
    differ or are missing on either side, and show both store.json."""
    differ = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
    meta = ""
    if "store.json" in differ:
        meta = f"; store.json {got.get('store.json', b'').decode()} != {want.get('store.json', b'').decode()}"
    assert not differ, f"{len(differ)} files differ from the uninterrupted build's: {differ[:8]}{meta}"

"""The demo's second process: the toy descent it runs, and how it is started and stopped."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import earth3d.store
from earth3d.scenarios import prewarm


def test_toy_descent_runs_the_descent_path(tmp_path):
    """The toy path lifts rasters with every field a world's have, builds a store and renders frames;
    the rasterizer is then in the on-disk cache (what `compiling_aside` checks)."""
    raster = prewarm.ToyWorld().generate((10.0, 0.3, 10.001, 0.301), 2.0)
    assert raster.classes is not None and raster.instances is not None and np.ptp(raster.height) == 20.0
    prewarm.run_toy_descent(tmp_path)
    assert (tmp_path / "toy.mp4").stat().st_size > 0 and (tmp_path / "toy.png").stat().st_size > 0
    assert earth3d.store.open_store(tmp_path / "toy.e3d").info()["splat_count"] > 1000
    assert prewarm.kernels_cached()


def test_compiling_aside_starts_only_when_cold_and_cleans_up(monkeypatch):
    monkeypatch.setattr(prewarm, "kernels_cached", lambda: True)
    with prewarm.compiling_aside() as proc:
        assert proc is None
    monkeypatch.setattr(prewarm, "kernels_cached", lambda: False)
    with prewarm.compiling_aside() as proc:
        assert proc is not None
        folder = Path(proc.args[-1])
        assert folder.is_dir()
    # The block ended before the process did: it is stopped and its folder removed.
    assert proc.returncode is not None
    assert not folder.exists()

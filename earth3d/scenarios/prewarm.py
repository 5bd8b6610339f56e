"""Compiling a descent's kernels in a second process while the first stages run.

On a fresh install numba compiles each kernel the first time it runs, on one core: `earth3d demo`
spends about two thirds of its first run compiling (120 of 175 s on a 2-core machine), synthesis,
lifting, store building and rendering in turn, while the other core mostly waits.
`compiling_aside()` starts a second process that runs the same path at toy size (two small nested
levels lifted into a store, two 64x36 frames rendered under the sky into a video) at a lower
priority. The kernels it compiles land in numba's on-disk cache (`earth3d._numba_cache`), where
the first process finds them when it reaches lifting, building and rendering, instead of
compiling them there. Both run the same library calls on the same array types, so they compile
the same signatures, and the cache writes each file whole. Once the kernels are cached (a warm
install), no process is started.

Run as `python -m earth3d.scenarios.prewarm FOLDER`: the toy path, written into FOLDER.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The toy nesting: (half size m, cell m) of two levels around `TOY_LONLAT`.
TOY_LEVELS = ((600.0, 20.0), (60.0, 2.0))
#: Where they lie (any place would do: the toy world is the same everywhere).
TOY_LONLAT = (10.0, 0.3)


def kernels_cached() -> bool:
    """Whether the rasterizer's kernel is in numba's on-disk cache for this version of the package.

    It is compiled last on a descent (rendering comes after synthesis, lifting and building), so it
    stands for the rest; an unreadable cache counts as cold.
    """
    from ..renderers import composite

    rasterize: Any = composite.rasterize  # numba's dispatcher: its cache is not in its type hints
    try:
        return bool(rasterize._cache._cache_file._load_index())
    except Exception:  # numba's cache internals: if they change, start the process (only costs a core)
        return False


@contextmanager
def compiling_aside() -> Iterator[subprocess.Popen | None]:
    """Within the block, compile the descent's kernels in a second process if they are not cached.

    The process is stopped (if still running) and its folder removed when the block ends, also on
    an error; its output is discarded (the first process compiles whatever it did not).

    Yields:
        The process, or None where the kernels are cached already.

    Example:
        >>> from earth3d.scenarios.prewarm import compiling_aside
        >>> with compiling_aside():  # doctest: +SKIP
        ...     run_the_demo()
    """
    if kernels_cached():
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="earth3d-prewarm-"))
    env = dict(os.environ, NUMBA_NUM_THREADS="1")  # compiling is one core's work; leave the other alone
    proc = subprocess.Popen([sys.executable, "-m", "earth3d.scenarios.prewarm", str(folder)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


class ToyWorld:
    """A generator of toy rasters with every field a world's rasters have (colours, heights, classes,
    instances, all of the same types), in blocks of buildings that stand 20 m over streets, drawn
    with numpy alone: compiling the synthesis kernels is the first process's work.
    """

    def generate(self, bbox: tuple[float, float, float, float], resolution_m: float):
        """A toy GeoRaster over `bbox` (west, south, east, north; degrees) at `resolution_m`."""
        import numpy as np
        from affine import Affine
        from rasterio.crs import CRS

        from ..classes import ROAD, ROOF
        from ..raster import GeoRaster
        from ..synth.grid import lattice_for

        lat = lattice_for(bbox, resolution_m)  # the procedural world's own grid of the box
        row, col = np.mgrid[0:lat.height, 0:lat.width]
        building = (row % 8 < 5) & (col % 8 < 5)
        height = np.where(building, 220.0, 200.0).astype(np.float32)
        rgb = np.stack([0.3 + 0.4 * building, 0.3 + 0.1 * (col % 3), 0.3 + 0.1 * (row % 2)], -1).astype(np.float32)
        classes = np.where(building, ROOF, ROAD).astype(np.uint8)
        instances = np.where(building, 1 + col // 8 + 1000 * (row // 8), 0).astype(np.int64)
        return GeoRaster(rgb, height, np.ones(height.shape, bool),
                         Affine(lat.dlon, 0.0, lat.west, 0.0, -lat.dlat, lat.north), CRS.from_epsg(4326),
                         "ellipsoid", "toy", classes, instances)


def run_toy_descent(folder: Path) -> None:
    """The toy path of `compiling_aside`, written into `folder`: nested rasters, store, two frames."""
    from ..atmosphere import Sky
    from ..geometry import paths
    from ..renderers import default_renderer
    from .flythrough import render_flythrough
    from .levels import Level
    from .store_build import build_nested_store

    lon, lat = TOY_LONLAT
    levels = [Level(f"toy{k}", half, res) for k, (half, res) in enumerate(TOY_LEVELS)]
    store, _ = build_nested_store(ToyWorld(), lon, lat, folder / "toy.e3d", levels)
    cameras = paths.descent(lon, lat, 2, ground_m=200.0, start_altitude_m=3_000.0, end_altitude_m=20.0,
                            width=64, height=36)
    render_flythrough(store, cameras, folder / "toy.mp4", poster=(folder / "toy.png", 1),
                      renderer=default_renderer(), atmosphere=Sky(ground_height_m=200.0))


if __name__ == "__main__":
    if hasattr(os, "nice"):
        os.nice(10)
    try:
        run_toy_descent(Path(sys.argv[1]))
    finally:  # also where the first process is gone
        shutil.rmtree(sys.argv[1], ignore_errors=True)

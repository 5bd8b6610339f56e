"""A scene to render: splats from a store (streamed with levels of detail) or from a lifted raster.

Both answer what a single view or a path over the scene needs: where the scene is (`center`), the
ground height under a point (`ground`, so cameras can be placed at a height above it) and what to
hand to `render_path` (`source`, with the `renderer`).
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from ..gaussians import Gaussians
from ..geometry import Camera, ecef_to_geodetic
from ..lifting import lift
from ..raster import GeoRaster, read_raster
from ..renderers import Renderer
from ..store import Store, open_store
from ..stream import Stream
from .frame import render
from .levels import GroundFn, raster_center, raster_ground
from .report import Report

#: Ground probes of a store, each from closer above the ground than the last.
PROBE_STEPS = 6


class Scene(Protocol):
    """What rendering a view or a path over a scene needs."""

    renderer: Renderer

    @property
    def source(self) -> Stream | Gaussians:
        """What `render_path` draws from."""
        ...

    def center(self) -> tuple[float, float]:
        """(lon, lat) of the scene's center, degrees."""
        ...

    def ground(self) -> GroundFn:
        """A function `ground(lon, lat) -> heights` (metres, ellipsoidal) over arrays of degrees."""
        ...

    def close(self) -> None:
        """Release what the scene holds (chunk loader threads)."""
        ...


class RasterScene:
    """A raster lifted in memory: drawn whole, its ground read from its cells.

    Args:
        raster: the raster (its heights are the ground).
        gaussians: its splats (`earth3d.lift(raster)`).
        renderer: the rasterizer.
    """

    def __init__(self, raster: GeoRaster, gaussians: Gaussians, renderer: Renderer):
        self.raster, self.gaussians, self.renderer = raster, gaussians, renderer

    @property
    def source(self) -> Gaussians:
        """The lifted splats, drawn whole."""
        return self.gaussians

    def center(self) -> tuple[float, float]:
        """(lon, lat) of the raster's center, degrees."""
        return raster_center(self.raster)

    def ground(self) -> GroundFn:
        """The raster's nearest cell height under each point."""
        return raster_ground(self.raster)

    def close(self) -> None:
        """Nothing to release."""
        return None

    def __enter__(self) -> RasterScene:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StoreScene:
    """A store streamed with levels of detail; its ground found by rendering depth probes.

    Args:
        store: the store.
        stream: the Stream views are drawn through.
        renderer: the rasterizer.
    """

    def __init__(self, store: Store, stream: Stream, renderer: Renderer):
        self.store, self.stream, self.renderer = store, stream, renderer
        extent = store.info()["extent_ecef_m"]
        self._extent = tuple(np.asarray(extent[k], np.float64) for k in ("bmin", "bmax"))
        self._probes: Stream | None = None

    @property
    def source(self) -> Stream:
        """The Stream views are drawn through."""
        return self.stream

    def center(self) -> tuple[float, float]:
        """(lon, lat) of the center of the store's extent, degrees."""
        lon, lat, _ = ecef_to_geodetic(0.5 * (self._extent[0] + self._extent[1]))
        return float(lon), float(lat)

    def ground(self) -> GroundFn:
        """Ground height found by rendering narrow, straight-down depth probes over each point, each
        probe from closer above the ground the last one found (distant probes see coarse levels).
        """
        corners = np.stack(np.meshgrid(*zip(*self._extent, strict=True), indexing="ij"), -1).reshape(-1, 3)
        top = float(ecef_to_geodetic(corners)[:, 2].max()) + 1000.0
        if self._probes is None:
            # A probe sees a few pixels: no splat budget, so the cut refines by screen-space error alone.
            self._probes = Stream(self.store, cache_bytes=self.stream.cache_bytes, splat_budget_per_pixel=None)
        probes = self._probes

        def probe(lon: float, lat: float, height: float) -> float:
            cam = Camera.from_geodetic(lon, lat, height, 0.0, -90.0, 0.0, 16, 16, fov_y_deg=0.2)
            out = render(probes, cam, self.renderer)
            center = out.depth[6:10, 6:10][out.alpha[6:10, 6:10] > 0.5]
            if center.numel() == 0:
                raise ValueError(f"the store {self.store.path} has no ground at lon={lon:.6f}, lat={lat:.6f}")
            return height - float(center.median())

        def ground(lon, lat):
            out = []
            for lo, la in zip(np.ravel(lon), np.ravel(lat), strict=True):
                height, g = top, probe(float(lo), float(la), top)
                for _ in range(PROBE_STEPS):
                    if height - g <= 500.0:
                        break
                    height = g + max(0.05 * (height - g), 300.0)
                    g = probe(float(lo), float(la), height)
                out.append(g)
            return np.asarray(out).reshape(np.shape(lon))

        return ground

    def close(self) -> None:
        """Stop the loader threads of the view and probe streams."""
        for stream in (self.stream, self._probes):
            if stream is not None:
                stream.close()

    def __enter__(self) -> StoreScene:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store_scene(store: str | os.PathLike, renderer: Renderer, *, cache_mb: int = 512, sse: float = 1.0,
                     splat_budget: float | None = 1.0, report: Report | None = None) -> StoreScene:
    """Open a store as a scene streamed through a Stream of `cache_mb` MiB.

    Args:
        store: the store folder or URL.
        renderer: the rasterizer.
        cache_mb: chunk cache budget, MiB.
        sse: screen-space error threshold in pixels.
        splat_budget: most splats per pixel drawn (`Stream`'s `splat_budget_per_pixel`; None: the
            screen-space error alone decides).
        report: progress ("open store" stage); silent by default.

    Returns:
        The scene; close it (or use it as a context manager) to stop its loader threads.

    Example:
        >>> from earth3d.renderers import CpuRenderer                  # doctest: +SKIP
        >>> with open_store_scene("world.e3d", CpuRenderer()) as scene:  # doctest: +SKIP
        ...     lon, lat = scene.center()
    """
    with (report or Report(quiet=True)).stage("open store"):
        st = open_store(store)
        stream = Stream(st, cache_bytes=cache_mb * 2**20, sse_threshold_px=sse, splat_budget_per_pixel=splat_budget)
    return StoreScene(st, stream, renderer)


def open_raster_scene(dem: str | os.PathLike, renderer: Renderer, ortho: str | os.PathLike | None = None,
                      resolution: float | None = None, report: Report | None = None) -> RasterScene:
    """Read a DEM (+ orthophoto) and lift it in memory as a scene.

    Args:
        dem: the DEM GeoTIFF.
        renderer: the rasterizer.
        ortho: an orthophoto GeoTIFF draped on the DEM.
        resolution: lifting cell size in the DEM CRS's units (default: the finer input's).
        report: progress ("read" and "lift" stages); silent by default.

    Returns:
        The scene.
    """
    report = report or Report(quiet=True)
    with report.stage("read"):
        raster = read_raster(dem, ortho, resolution=resolution)
    with report.stage("lift"):
        gaussians = lift(raster)
    return RasterScene(raster, gaussians, renderer)

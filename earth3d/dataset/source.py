"""Where a dataset's views come from: a store (streamed with levels of detail) or a region of a world.

A world (anything with `generate(bbox=, resolution_m=) -> GeoRaster`, such as
`earth3d.synth.ProceduralWorld`) is synthesized over the region, lifted and built into a small
store in a work folder first, as `earth3d build --synth` does; its raster also gives the ground
and the streets. A store is opened as is; its ground is found by depth probes
(`earth3d.scenarios.StoreScene.ground`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError, InputNotFoundError
from ..gaussians import Gaussians
from ..geometry import ecef_to_geodetic, geodetic_to_ecef
from ..renderers import Renderer
from ..scenarios.levels import raster_ground
from ..scenarios.scene import StoreScene
from ..store import Store, open_store
from ..stream import Stream


class DatasetSource:
    """A store streamed for the views, with the ground, the splats of the region and (for a world) its raster."""

    def __init__(self, store: Store, renderer: Renderer, *, raster=None, cache_mb: int = 512, sse: float = 1.0,
                 splat_budget: float | None = 1.0):
        self.store, self.raster = store, raster
        stream = Stream(store, cache_bytes=cache_mb * 2**20, sse_threshold_px=sse, splat_budget_per_pixel=splat_budget)
        self.scene = StoreScene(store, stream, renderer)
        self.ground = raster_ground(raster) if raster is not None else self._store_ground(self.scene.ground())

    def _store_ground(self, probe):
        """The store's ground by depth probes (each point once); a point over a hole takes the median of the
        points found so far.
        """
        known: dict[tuple[float, float], float] = {}  # each point is probed once

        def ground(lon, lat):
            out = []
            for lo, la in zip(np.ravel(lon), np.ravel(lat), strict=True):
                key = (float(lo), float(la))
                if key not in known:
                    try:
                        known[key] = float(probe(np.array([lo]), np.array([la]))[0])
                    except ValueError:
                        known[key] = np.nan
                out.append(known[key])
            heights = np.asarray(out)
            if np.isnan(heights).any():
                found = [v for v in known.values() if not np.isnan(v)]
                if not found:
                    raise InputError(f"the store {self.store.path} has no ground under lon={lo:.6f}, lat={la:.6f} "
                                     "(nor anywhere asked so far in the region)")
                heights = np.where(np.isnan(heights), float(np.median(found)), heights)
            return heights.reshape(np.shape(lon))

        return ground

    @property
    def stream(self) -> Stream:
        return self.scene.stream

    def height_range(self) -> tuple[float, float]:
        """Lowest and highest ellipsoidal heights of the source (the raster's, or the store extent's corners)."""
        if self.raster is not None:
            h = self.raster.height[self.raster.valid]
            return float(np.nanmin(h)), float(np.nanmax(h))
        bmin, bmax = self.scene._extent
        corners = np.stack(np.meshgrid(*zip(bmin, bmax, strict=True), indexing="ij"), -1).reshape(-1, 3)
        h = ecef_to_geodetic(corners)[:, 2]
        return float(h.min()), float(h.max())

    def lonlat_box(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) degrees around the store's ECEF extent."""
        bmin, bmax = self.scene._extent
        corners = np.stack(np.meshgrid(*zip(bmin, bmax, strict=True), indexing="ij"), -1).reshape(-1, 3)
        geo = ecef_to_geodetic(corners)
        return float(geo[:, 0].min()), float(geo[:, 1].min()), float(geo[:, 0].max()), float(geo[:, 1].max())

    def check_region(self, bbox) -> None:
        """InputError when the region does not overlap the store."""
        west, south, east, north = self.lonlat_box()
        w, s, e, n = bbox
        if e <= west or w >= east or n <= south or s >= north:
            raise InputError(f"region {w:g} {s:g} {e:g} {n:g} lies outside the store {self.store.path} "
                             f"(which covers about {west:.5f} {south:.5f} {east:.5f} {north:.5f})")

    def region_splats(self, bbox) -> Gaussians:
        """The full-detail splats (leaves) whose centres lie in the region's lon/lat box."""
        w, s, e, n = bbox
        geo = ecef_to_geodetic(np.stack(np.meshgrid(*zip(self.scene._extent[0], self.scene._extent[1], strict=True),
                                                    indexing="ij"), -1).reshape(-1, 3))
        lon, lat = np.meshgrid(np.linspace(w, e, 5), np.linspace(s, n, 5))
        pts = np.concatenate([geodetic_to_ecef(lon.ravel(), lat.ravel(), np.full(lon.size, h))
                              for h in (geo[:, 2].min() - 1.0, geo[:, 2].max() + 1.0)])
        # The ECEF box of the region (a slab between the store's lowest and highest heights), padded
        # for the curvature between the sample points.
        pad = 0.01 * float(np.linalg.norm(pts.max(0) - pts.min(0))) + 1.0
        lo, hi = pts.min(0) - pad, pts.max(0) + pad
        keys, parts = list(self.store.root_keys()), []
        while keys:
            key = keys.pop()
            entry = self.store.entry(key)
            if np.any(entry["bmin"] > hi) or np.any(entry["bmax"] < lo):
                continue
            if self.store.is_leaf(key):
                parts.append(self.store.read(key))
            else:
                keys.extend(self.store.children(key))
        if not parts:
            return Gaussians.empty(sh_degree=self.store.sh_degree)
        g = Gaussians.concat(parts)
        ll = ecef_to_geodetic(g.means_ecef())
        inside = (ll[:, 0] >= w) & (ll[:, 0] <= e) & (ll[:, 1] >= s) & (ll[:, 1] <= n)
        return g[np.flatnonzero(inside)]

    def close(self) -> None:
        self.scene.close()

    def __enter__(self) -> "DatasetSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(source, bbox, renderer: Renderer, work: Path, *, resolution_m: float = 30.0, cache_mb: int = 512,
                sse: float = 1.0, splat_budget: float | None = 1.0) -> DatasetSource:
    """A DatasetSource for a store (a Store, or its folder or URL) or a world (anything with `generate`).

    Args:
        source: the store or the world.
        bbox: the region (west, south, east, north) degrees.
        renderer: the rasterizer (used for a store's ground probes).
        work: a scratch folder (a world's store is built in it).
        resolution_m: cell size a world is synthesized at, metres.
        cache_mb: chunk cache, MiB.
        sse: screen-space error threshold, pixels.
        splat_budget: most splats per pixel drawn (`Stream`'s `splat_budget_per_pixel`; None: the
            screen-space error alone decides).

    Returns:
        The source, checked to overlap the region; close it when done.

    Raises:
        InputError: the region lies outside the store, or the source is of no known kind.
        InputNotFoundError: a store path that does not exist.
    """
    kw = dict(cache_mb=cache_mb, sse=sse, splat_budget=splat_budget)
    if hasattr(source, "generate"):
        from ..lifting import lift
        from ..store import build_store

        if not resolution_m > 0:
            raise InputError(f"resolution_m={resolution_m} must be positive")
        raster = source.generate(bbox=tuple(bbox), resolution_m=resolution_m)
        store = build_store([lift(raster)], work / "world.e3d", leaf_cap=8192)
        out = DatasetSource(store, renderer, raster=raster, **kw)  # type: ignore[arg-type]
    else:
        if isinstance(source, (str, os.PathLike)):
            if "://" not in str(source) and not Path(source).exists():
                raise InputNotFoundError(f"store {source}: does not exist")
            source = open_store(source)
        if not isinstance(source, Store):
            raise InputError(f"source {type(source).__name__}: give a store (or its path) or a world with generate()")
        out = DatasetSource(source, renderer, **kw)  # type: ignore[arg-type]
    try:
        out.check_region(bbox)
    except Exception:
        out.close()
        raise
    return out

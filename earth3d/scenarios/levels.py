"""Nested levels of a multi-level world: squares around one place, each finer and smaller than the last.

A world seen from orbit down to the street is drawn from a few nested rasters (`Level`s): each
covers a square around the target at its own cell size, and where a finer level covers a place,
the coarser ones leave it out, so every place is drawn by one level only.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..geometry import GEODETIC_CRS, transformer
from ..raster import GeoRaster
from .report import Report

GroundFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Level:
    """One nested raster of a multi-level world: a square of `half_size_m` around the target at `resolution_m`."""

    name: str
    half_size_m: float
    resolution_m: float


#: From a continent seen from 2,000 km down to the street: each level 4-10 times finer and smaller.
DEMO_LEVELS = (
    Level("continental", 2_600_000.0, 12_000.0),
    Level("regional", 260_000.0, 1_200.0),
    Level("district", 26_000.0, 120.0),
    Level("city", 2_600.0, 10.0),
    Level("blocks", 640.0, 2.0),
    Level("street", 160.0, 0.5),
)
#: The same nesting at coarser cells (a few tens of thousands of splats): a quick preview.
QUICK_LEVELS = (
    Level("continental", 2_600_000.0, 60_000.0),
    Level("regional", 260_000.0, 6_000.0),
    Level("district", 26_000.0, 600.0),
    Level("city", 2_600.0, 60.0),
    Level("blocks", 640.0, 12.0),
    Level("street", 160.0, 4.0),
)


def level_bbox(lon: float, lat: float, half_size_m: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a square `2 * half_size_m` on a side centered on (lon, lat).

    Across the antimeridian east is written above 180 (east > west), as `earth3d.synth.grid.check_bbox`
    expects; latitudes are clamped to +-89.9.
    """
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    lons, lats, _ = geod.fwd([lon] * 4, [lat] * 4, [270.0, 180.0, 90.0, 0.0], [half_size_m] * 4)
    west, east = float(lons[0]), float(lons[2])
    if east <= west:
        east += 360.0
    return west, max(float(lats[1]), -89.9), east, min(float(lats[3]), 89.9)


def nested_rasters(generator, lon: float, lat: float, levels: Sequence[Level] = DEMO_LEVELS,
                   report: Report | None = None) -> list[GeoRaster]:
    """One raster per level around (lon, lat), coarse to fine, each cut out where the next level lies.

    Each raster's cells that lie wholly inside the next finer level are masked out (made invalid),
    so every place is drawn by one level only (the finest that covers it).

    Args:
        generator: any world source with `generate(bbox=(w, s, e, n), resolution_m=...) -> GeoRaster`
            (the `earth3d.synth.TileGenerator` protocol).
        lon: target longitude, degrees.
        lat: target latitude, degrees.
        levels: the nesting, coarse to fine.
        report: progress (one stage per level); silent by default.

    Returns:
        The rasters, in the order of `levels`.

    Example:
        >>> from earth3d.synth import ProceduralWorld                     # doctest: +SKIP
        >>> rasters = nested_rasters(ProceduralWorld(0), 9.16, 0.71, QUICK_LEVELS)  # doctest: +SKIP
    """
    rasters = []
    for level in levels:
        it = contextlib.nullcontext() if report is None else report.stage(
            f"synthesize {level.name} ({level.resolution_m:g} m)")
        with it:
            rasters.append(generator.generate(bbox=level_bbox(lon, lat, level.half_size_m),
                                              resolution_m=level.resolution_m))
    for outer, level in zip(rasters[:-1], levels[1:], strict=True):
        w, s, e, n = level_bbox(lon, lat, level.half_size_m)
        x, y = outer.cell_centers()
        clon, clat = transformer(outer.crs, GEODETIC_CRS.to_2d()).transform(x, y)
        clon = np.where(clon < w, clon + 360.0, clon)  # boxes across the antimeridian have east > 180
        deg_lat = 0.5 * max(outer.resolution) if outer.crs.is_geographic else 0.5 * max(outer.resolution) / 111_000
        deg_lon = deg_lat / max(math.cos(math.radians(lat)), 1e-6) if not outer.crs.is_geographic else \
            0.5 * outer.resolution[0]
        covered = (clon - deg_lon >= w) & (clon + deg_lon <= e) & (clat - deg_lat >= s) & (clat + deg_lat <= n)
        outer.valid = outer.valid & ~covered
    return rasters


def raster_ground(*rasters: GeoRaster) -> GroundFn:
    """Ground height at lon/lat from the first of `rasters` (finest first) with a valid cell there.

    Args:
        *rasters: the rasters to look in, finest first.

    Returns:
        A function `ground(lon, lat) -> heights` over arrays of degrees: the nearest cell's height
        in the first raster with a valid cell there; off every raster, the last one's median height.
    """
    fallback = float(np.nanmedian(rasters[-1].height[rasters[-1].valid]))

    def ground(lon, lat):
        lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
        out = np.full(np.shape(lon), np.nan)
        for raster in rasters:
            todo = np.isnan(out)
            if not todo.any():
                break
            x, y = transformer(GEODETIC_CRS.to_2d(), raster.crs).transform(lon[todo], lat[todo])
            col, row = ~raster.transform @ (np.asarray(x), np.asarray(y))
            col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
            rows_n, cols_n = raster.shape
            inside = (col >= 0) & (col < cols_n) & (row >= 0) & (row < rows_n)
            found = np.full(col.shape, np.nan)
            ok_rows, ok_cols = row[inside], col[inside]
            found[inside] = np.where(raster.valid[ok_rows, ok_cols], raster.height[ok_rows, ok_cols], np.nan)
            out[todo] = found
        return np.where(np.isnan(out), fallback, out)

    return ground


def raster_center(raster: GeoRaster) -> tuple[float, float]:
    """(lon, lat) in degrees of the center of `raster`."""
    h, w = raster.shape
    x, y = raster.transform @ (w / 2, h / 2)
    lon, lat = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform(x, y)
    return float(lon), float(lat)

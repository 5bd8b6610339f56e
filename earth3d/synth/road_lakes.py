"""Where roads meet the lakes that the hydrology draws: routing lattice cells in a lake, farm drives across one.

Used by roads.py: its A* lattice takes a cell in a lake at 20 times the cost per metre, and a farm drive
(a straight line) that would cross a lake is not built. Lakes come from hydrology.Network at a cell size
fine enough to see them, as the rasters draw them (settlements.lake_grid), not from the distance to a lake node.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import settlements as ST
from .grid import M_PER_DEG

LAKE_SUB = 2  # lake samples per routing lattice cell side
LAKE_TILE = 32  # routing lattice cells per side of a cached tile of lake flags
DRIVE_LAKE_M = 100.0  # a farm drive that crosses a lake at cells this size (m) is not built


@lru_cache(maxsize=1024)
def _lake_cells(key: int, g: float, ti: int, tj: int) -> np.ndarray:
    """Whether each cell of routing lattice tile (ti, tj) lies in a lake: (LAKE_TILE, LAKE_TILE) bool, south row
    first, from cell (ti, tj) x LAKE_TILE of the lattice of g degrees (ti unwrapped). A cell is in a lake where any of
    LAKE_SUB x LAKE_SUB samples of it is more than half lake, as the hydrology draws lakes at cells of that
    sample spacing. Tiles are cached: the routing windows of neighbouring road blocks overlap.
    """
    S = ST._SEEDS[key]
    n, d = LAKE_TILE * LAKE_SUB, g / LAKE_SUB
    west, south = -180.0 + ti * LAKE_TILE * g, -90.0 + tj * LAKE_TILE * g
    lons = west + (np.arange(n) + 0.5) * d
    lats = (south + (np.arange(n) + 0.5) * d)[::-1]
    lats = lats[(lats > -90.0) & (lats < 90.0)]
    res = d * M_PER_DEG
    out = np.zeros((LAKE_TILE, LAKE_TILE), dtype=bool)
    if lats.size == 0:
        return out
    grid = ST.lake_grid(S, lons, lats, res)
    if grid is None:
        return out
    lake = np.zeros((n, n))
    lake[:lats.size] = grid[::-1]  # south first (rows past a pole stay dry)
    out[:] = lake.reshape(LAKE_TILE, LAKE_SUB, LAKE_TILE, LAKE_SUB).max(axis=(1, 3)) > 0.5
    out.setflags(write=False)
    return out


def mark_lakes(W: np.ndarray, i0: int, j0: int, g: float, key: int) -> None:
    """Flag the cells [i0, i0 + nx) x [j0, j0 + ny) of a routing lattice of g degrees (W, 2) that lie in a lake
    (_lake_cells; key: settlements._key of the world's seeds).
    """
    ny, nx = W.shape
    t = LAKE_TILE
    for tj in range(j0 // t, (j0 + ny - 1) // t + 1):
        for ti in range(i0 // t, (i0 + nx - 1) // t + 1):
            cells = _lake_cells(key, g, ti, tj)
            a0, a1 = max(ti * t, i0), min(ti * t + t, i0 + nx)
            b0, b1 = max(tj * t, j0), min(tj * t + t, j0 + ny)
            part = W[b0 - j0:b1 - j0, a0 - i0:a1 - i0]
            part[cells[b0 - tj * t:b1 - tj * t, a0 - ti * t:a1 - ti * t] & (part < 2)] = 2


def over_lake(S: np.ndarray, segs: np.ndarray, west: float, south: float, east: float, north: float) -> np.ndarray:
    """Whether each straight segment (n, 4: lon0, lat0, lon1, lat1, inside the box) crosses a lake: a point
    every DRIVE_LAKE_M / 2 along it in a cell of DRIVE_LAKE_M that is more than half lake.
    """
    out = np.zeros(len(segs), dtype=bool)
    if len(segs) == 0:
        return out
    d = DRIVE_LAKE_M / M_PER_DEG
    lons = np.arange(west + 0.5 * d, east, d)
    lats = np.arange(north - 0.5 * d, south, -d)
    grid = ST.lake_grid(S, lons, lats, DRIVE_LAKE_M)
    if grid is None:
        return out
    lake = grid > 0.5
    for k, (x0, y0, x1, y1) in enumerate(segs):
        n = max(int(2.0 * math.hypot((x1 - x0) * math.cos(math.radians(y0)), y1 - y0) / d) + 1, 2)
        t = np.linspace(0.0, 1.0, n)
        i = np.clip(((x0 + t * (x1 - x0) - west) / d).astype(np.int64), 0, lons.size - 1)
        j = np.clip(((north - y0 - t * (y1 - y0)) / d).astype(np.int64), 0, lats.size - 1)
        out[k] = bool(lake[j, i].any())
    return out

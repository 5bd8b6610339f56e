"""Land-use cells (CELL_DEG on a side) and the frames their land-cover textures are drawn in.

A land-use cell has one local tangent frame and seed: its fields, its city and its textures
live there. Textures must not stop at a cell's edge, so within TEXTURE_BAND_M of the edge a
pixel is also placed in the neighbouring cells' frames, and the textures of those frames are
mixed (landcover.frame_textures).
"""

from __future__ import annotations

import math

from numba import njit

from .grid import M_PER_DEG
from .noise import hash2, smoothstep

CELL_DEG = 0.5  # land-use cell: one local frame, at most one city
TEXTURE_BAND_M = 400.0  # land-cover textures of neighbouring land-use cells cross-fade over this band


@njit(cache=True)
def _cell_frame_at(lon, lat, ci, cj, seed, frames, seeds, k, weight):
    """Frame k of texture_frames: the pixel (lon, lat) in land-use cell (ci, cj)'s tangent frame."""
    lon0 = -180.0 + (ci + 0.5) * CELL_DEG
    lat0 = -90.0 + (cj + 0.5) * CELL_DEG
    frames[k, 0] = ((lon - lon0 + 180.0) % 360.0 - 180.0) * M_PER_DEG * math.cos(math.radians(lat0))
    frames[k, 1] = (lat - lat0) * M_PER_DEG
    frames[k, 2] = weight
    seeds[k] = seed ^ hash2(ci, cj, seed)


@njit(cache=True)
def texture_frames(lon, lat, u, v, ci, cj, seed, frames, seeds):
    """The land-cover texture frames of a pixel at (lon, lat), (u, v) in its cell (ci, cj); returns their count.

    Frame 0 is the pixel's own cell (its position (u, v), the cell's seed). Within
    TEXTURE_BAND_M of the cell's edges the neighbours across the nearer edges join, their
    weight rising to one half at the edge (to one quarter each at a corner), so that the
    textures (landcover.frame_textures) are continuous across land-use cells.
    """
    nlon, nlat = int(360.0 / CELL_DEG), int(180.0 / CELL_DEG)
    half_u = 0.5 * CELL_DEG * M_PER_DEG * math.cos(math.radians(-90.0 + (cj + 0.5) * CELL_DEG))
    half_v = 0.5 * CELL_DEG * M_PER_DEG
    wx = 0.5 * smoothstep(TEXTURE_BAND_M, 0.0, half_u - abs(u))
    wy = 0.5 * smoothstep(TEXTURE_BAND_M, 0.0, half_v - abs(v))
    sx = 1 if u > 0.0 else -1
    sy = 1 if v > 0.0 else -1
    if cj + sy < 0 or cj + sy >= nlat:
        wy = 0.0
    frames[0, 0], frames[0, 1], frames[0, 2] = u, v, (1.0 - wx) * (1.0 - wy)
    seeds[0] = seed ^ hash2(ci, cj, seed)
    n = 1
    if wx > 0.0:
        _cell_frame_at(lon, lat, (ci + sx) % nlon, cj, seed, frames, seeds, n, wx * (1.0 - wy))
        n += 1
    if wy > 0.0:
        _cell_frame_at(lon, lat, ci, cj + sy, seed, frames, seeds, n, (1.0 - wx) * wy)
        n += 1
        if wx > 0.0:
            _cell_frame_at(lon, lat, (ci + sx) % nlon, cj + sy, seed, frames, seeds, n, wx * wy)
            n += 1
    return n

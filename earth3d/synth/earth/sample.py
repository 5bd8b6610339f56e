"""Sampling global lon/lat grids onto a request's pixel lattice, as area averages.

A global grid has `n` cells per degree, cell-registered from 180 W (columns, which wrap)
and 90 N (rows). A pixel of size (dlat, dlon) takes the mean of k x k interpolated samples
spread over its footprint (k = cells of the grid across the pixel, at least 1; Catmull-Rom
for the 4 arc-minute grids, bilinear for the 1 km mask), so a coarse pixel is the average
of the finer ones over the same area and pixels finer than the grid interpolate it
smoothly. The sampling is separable: one weight matrix per axis.
"""

from __future__ import annotations

import math

import numpy as np


def _taps(f: np.ndarray, cubic: bool) -> list[tuple[int, np.ndarray]]:
    """(offset, weight) of the interpolation taps at fractional positions f: linear, or Catmull-Rom."""
    if not cubic:
        return [(0, 1.0 - f), (1, f)]
    f2, f3 = f * f, f * f * f
    return [(-1, 0.5 * (-f3 + 2 * f2 - f)), (0, 0.5 * (3 * f3 - 5 * f2 + 2)), (1, 0.5 * (-3 * f3 + 4 * f2 + f)),
            (2, 0.5 * (f3 - f2))]


def axis_weights(centres: np.ndarray, cell: float, n: int, size: int, lat: bool,
                 cubic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices into a grid axis and a (len(centres), len(indices)) weight matrix of pixel means.

    Args:
        centres: pixel-centre coordinates in degrees (latitudes or longitudes).
        cell: pixel size along the axis in degrees.
        n: grid cells per degree.
        size: number of grid cells along the axis.
        lat: True for the latitude axis (rows from 90 N, clamped), False for longitude (wraps).
        cubic: Catmull-Rom instead of linear interpolation (smooth slopes, no facets at grid cells).

    Returns:
        (indices, weights): weights @ grid[indices] gives the pixel means.
    """
    k = max(1, int(math.ceil(cell * n - 1e-9)))
    offs = ((np.arange(k) + 0.5) / k - 0.5) * cell
    pos = centres[:, None] + offs[None, :]
    t = ((90.0 - pos) if lat else (pos + 180.0)) * n - 0.5
    i0 = np.floor(t).astype(np.int64)
    f = t - i0
    lo = int(i0.min()) - 1
    span = int(i0.max()) - lo + 3
    w = np.zeros((centres.size, span))
    rows = np.repeat(np.arange(centres.size), k)
    for off, wt in _taps(f, cubic):
        np.add.at(w, (rows, (i0 - lo + off).ravel()), (wt / k).ravel())
    idx = np.arange(lo, lo + span)
    idx = np.clip(idx, 0, size - 1) if lat else idx % size
    return idx, w


def sample_grid(grid: np.ndarray, lats: np.ndarray, lons: np.ndarray, dlat: float, dlon: float, n: int) -> np.ndarray:
    """Pixel means of a global grid (H, W) or (H, W, C) over the lattice lats x lons (Catmull-Rom)."""
    ri, rw = axis_weights(lats, dlat, n, grid.shape[0], lat=True, cubic=True)
    ci, cw = axis_weights(lons, dlon, n, grid.shape[1], lat=False, cubic=True)
    r0, r1 = int(ri.min()), int(ri.max()) + 1
    block = np.asarray(grid[r0:r1], dtype=np.float32)[ri - r0][:, ci]
    if block.ndim == 2:
        return (rw @ block @ cw.T).astype(np.float32)
    return np.einsum("ar,rcx,bc->abx", rw, block, cw, optimize=True).astype(np.float32)


def sample_bits(bits: np.ndarray, lats: np.ndarray, lons: np.ndarray, dlat: float, dlon: float, n: int) -> np.ndarray:
    """Pixel means of a packed-bit global grid (H, W/8) uint8, as float32 fractions in [0, 1]."""
    size_c = bits.shape[1] * 8
    ri, rw = axis_weights(lats, dlat, n, bits.shape[0], lat=True)
    ci, cw = axis_weights(lons, dlon, n, size_c, lat=False)
    r0, r1 = int(ri.min()), int(ri.max()) + 1
    bytes_needed = np.unique(ci // 8)
    rows = np.asarray(bits[r0:r1][:, bytes_needed])
    unpacked = np.unpackbits(rows, axis=1).reshape(rows.shape[0], bytes_needed.size, 8)
    lookup = np.searchsorted(bytes_needed, ci // 8)
    block = unpacked[:, lookup, ci % 8][ri - r0].astype(np.float32)
    return (rw @ block @ cw.T).astype(np.float32)

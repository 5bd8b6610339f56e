"""Drainage statistics of elevation models: depression filling, closed depressions, flow accumulation.

- `fill_depressions`: priority-flood filling (Barnes, Lehman and Mulla 2014), numba with a binary heap;
  the edge cells are the outlets, so water leaves the raster across its border.
- `depression_share`: share of the cells lying in closed depressions deeper than `depth_m`
  (flat water, e.g. lakes, is not a depression: its filled depth is zero).
- `flow_accumulation`: D8 drainage area (cells) on the filled surface, with flats
  routed by the flood order, so every cell drains to the border.
- `drainage_tau`: the exponent tau of the exceedance distribution of drainage area,
  P(A >= a) ~ a^-tau (about 0.43 on real river networks, Rodriguez-Iturbe and Rinaldo 1997).

Example:
    >>> import numpy as np
    >>> z = np.add.outer(np.arange(8.0), np.arange(8.0)); z[4, 4] = -5.0
    >>> round(depression_share(z, 1.0), 4)
    0.0156
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import InputError

_DI = np.array([-1, -1, -1, 0, 0, 1, 1, 1])
_DJ = np.array([-1, 0, 1, -1, 1, -1, 0, 1])


def _heights(z) -> np.ndarray:
    a = np.asarray(z, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 3:
        raise InputError(f"heights must be a 2D array at least 3 x 3, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InputError("heights contain NaN or infinite values; fill or crop nodata first")
    return a


@njit(cache=True)
def _heap_push(hk, hc, hi, size, key, order, index):
    """Push (key, insertion order, index) onto the binary min-heap of the first `size` slots; returns the new size."""
    k = size
    hk[k], hc[k], hi[k] = key, order, index
    while k > 0:
        p = (k - 1) // 2
        if hk[p] < hk[k] or (hk[p] == hk[k] and hc[p] < hc[k]):
            break
        hk[p], hk[k] = hk[k], hk[p]
        hc[p], hc[k] = hc[k], hc[p]
        hi[p], hi[k] = hi[k], hi[p]
        k = p
    return size + 1


@njit(cache=True)
def _flood(z):
    """Priority flood: (filled heights, flood order of the flat indices, receiver flat index or -1)."""
    h, w = z.shape
    n = h * w
    filled = z.copy()
    seen = np.zeros((h, w), dtype=np.bool_)
    rec = np.full(n, -1, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    # binary min-heap of (height, insertion count, flat index): ties pop first-in first-out
    hk = np.empty(n)
    hc = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    size = 0
    count = 0
    for a in range(h):
        for b in range(w):
            if a == 0 or b == 0 or a == h - 1 or b == w - 1:
                seen[a, b] = True
                size = _heap_push(hk, hc, hi, size, z[a, b], count, a * w + b)
                count += 1
    m = 0
    while size > 0:
        level, cell = hk[0], hi[0]
        size -= 1
        hk[0], hc[0], hi[0] = hk[size], hc[size], hi[size]
        k = 0
        while True:
            c1, c2, s = 2 * k + 1, 2 * k + 2, k
            if c1 < size and (hk[c1] < hk[s] or (hk[c1] == hk[s] and hc[c1] < hc[s])):
                s = c1
            if c2 < size and (hk[c2] < hk[s] or (hk[c2] == hk[s] and hc[c2] < hc[s])):
                s = c2
            if s == k:
                break
            hk[s], hk[k] = hk[k], hk[s]
            hc[s], hc[k] = hc[k], hc[s]
            hi[s], hi[k] = hi[k], hi[s]
            k = s
        order[m] = cell
        m += 1
        a, b = cell // w, cell % w
        for d in range(8):
            na, nb = a + _DI[d], b + _DJ[d]
            if na < 0 or nb < 0 or na >= h or nb >= w or seen[na, nb]:
                continue
            seen[na, nb] = True
            filled[na, nb] = max(z[na, nb], level)
            rec[na * w + nb] = cell
            size = _heap_push(hk, hc, hi, size, filled[na, nb], count, na * w + nb)
            count += 1
    return filled, order, rec


@njit(cache=True)
def _d8_receivers(filled, rec):
    """Steepest-descent D8 receivers on the filled surface; flats keep the flood's receiver."""
    h, w = filled.shape
    out = rec.copy()
    for a in range(1, h - 1):
        for b in range(1, w - 1):
            best, bd = 0.0, -1
            for d in range(8):
                na, nb = a + _DI[d], b + _DJ[d]
                dist = 1.4142135623730951 if _DI[d] != 0 and _DJ[d] != 0 else 1.0
                s = (filled[a, b] - filled[na, nb]) / dist
                if s > best:
                    best, bd = s, na * w + nb
            if bd >= 0:
                out[a * w + b] = bd
    return out


@njit(cache=True)
def _accumulate(order, rec, n):
    acc = np.ones(n)
    for m in range(n - 1, -1, -1):
        c = order[m]
        if rec[c] >= 0:
            acc[rec[c]] += acc[c]
    return acc


def fill_depressions(z) -> np.ndarray:
    """Heights with every closed depression filled to its spill level (priority flood, border cells drain out).

    Args:
        z: heights (H, W) in metres.

    Returns:
        The filled heights (H, W), >= z everywhere.

    Raises:
        InputError: when z is not a finite 2D array of at least 3 x 3 cells.
    """
    return _flood(_heights(z))[0]


def depression_depth(z) -> np.ndarray:
    """Depth (m) of the water that would pond on every cell: filled minus original heights."""
    a = _heights(z)
    return _flood(a)[0] - a


def depression_share(z, depth_m: float, margin: int = 0) -> float:
    """Share of the cells in closed depressions deeper than `depth_m` metres (flat water counts as none).

    Args:
        z: heights (H, W) in metres.
        depth_m: the depth a cell's pond must exceed to count.
        margin: cells at the border excluded from the count (their depressions may spill outside).

    Returns:
        The share in [0, 1].
    """
    d = depression_depth(z)
    if margin:
        d = d[margin:-margin, margin:-margin]
    return float((d > depth_m).mean())


def flow_accumulation(z) -> np.ndarray:
    """D8 drainage area in cells (each cell counts itself) on the depression-filled surface."""
    a = _heights(z)
    filled, order, rec = _flood(a)
    # the flood order lists every receiver before its donors; D8 receivers on the filled surface
    # point to lower (earlier) cells or, on flats, to the flood's receiver, so the order still holds
    return _accumulate(order, _d8_receivers(filled, rec), a.size).reshape(a.shape)


@dataclass
class DrainageStats:
    """Drainage statistics of one elevation model."""

    share_1m: float  # share of cells in closed depressions deeper than 1 m
    share_20m: float  # ... deeper than 20 m
    tau: float  # exceedance exponent of drainage area, P(A >= a) ~ a^-tau

    def __str__(self) -> str:
        return f"depressions > 1 m {100 * self.share_1m:.2f} %, > 20 m {100 * self.share_20m:.2f} %, tau {self.tau:.3f}"


def drainage_tau(acc: np.ndarray, a_min: float = 10.0, max_fraction: float = 0.01) -> float:
    """Exponent tau of P(A >= a) ~ a^-tau, fitted in log-log on a in [a_min, max_fraction * cells].

    Args:
        acc: drainage areas in cells (flow_accumulation).
        a_min: smallest area of the fit (below it hillslope, not channel, flow dominates).
        max_fraction: largest area of the fit as a share of the cells (larger areas are cut by the border).

    Returns:
        tau (positive).
    """
    a = np.sort(np.asarray(acc, dtype=np.float64).ravel())
    a_max = max_fraction * a.size
    if a_max <= 2 * a_min:
        raise InputError(f"raster of {a.size} cells too small for a drainage-area fit from {a_min} cells")
    grid = np.exp(np.linspace(np.log(a_min), np.log(a_max), 20))
    p = 1.0 - np.searchsorted(a, grid, side="left") / a.size
    ok = p > 0
    slope = np.polyfit(np.log(grid[ok]), np.log(p[ok]), 1)[0]
    return float(-slope)


def drainage_stats(z, margin: int = 2) -> DrainageStats:
    """Depression shares (> 1 m, > 20 m) and the drainage-area exponent tau of heights z."""
    a = _heights(z)
    filled, order, rec = _flood(a)
    d = (filled - a)[margin:-margin or None, margin:-margin or None]
    acc = _accumulate(order, _d8_receivers(filled, rec), a.size)
    return DrainageStats(float((d > 1.0).mean()), float((d > 20.0).mean()), drainage_tau(acc))

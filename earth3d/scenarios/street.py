"""Finding a street: a straight, clear ground corridor in a raster, to fly along at street level.

Where the raster has classes (generated worlds, or a source with a land-cover raster) a street is a
straight run of `road` cells at any bearing, found on the road's clearance map (`_along_roads`).
Without classes it is a clear corridor of the heights along one of the four cardinal headings
(`_along_heights`).
"""

from __future__ import annotations

import numpy as np
from pyproj import Geod
from scipy.ndimage import distance_transform_edt, map_coordinates, maximum_filter1d, minimum_filter1d

from ..classes import ROAD
from ..geometry import GEODETIC_CRS, transformer
from ..raster import GeoRaster

# Bearings tried along roads, degrees: a 55 m flight drifts under 1 m across at half a step off.
HEADING_STEP_DEG = 2.0
# Clearances (metres from the flight line to the nearest cell that is not road: a kerb, a parked
# car) that rank streets: a wider street wins over a nearer one.
CLEARANCE_LEVELS_M = (1.5, 2.5, 4.0, 6.0)


def find_street(raster: GeoRaster, lon: float, lat: float, length_m: float, search_m: float = 80.0,
                behind_m: float = 15.0) -> tuple[float, float, float] | None:
    """A straight, clear street near (lon, lat) in a north-up raster: its start (lon, lat) and
    heading, or None.

    With a class raster, the street is a straight line along `road` cells at any bearing (in steps of
    `HEADING_STEP_DEG`) that stays at least 1.5 m from every other cell (kerbs, parked cars, trees)
    for `length_m` ahead of the start and `behind_m` behind it. The widest such street wins (by
    `CLEARANCE_LEVELS_M`), then the one nearest (lon, lat), and the start is moved across the street to
    its middle. Without classes, or with no clear run of road near, the street is a corridor along a cardinal
    heading that lies at ground level (the lowest few percent of the heights around) and whose
    heights, less their linear trend, vary by under 0.75 m (no building or tree in it); the widest
    wins, then the nearest.

    Args:
        raster: a north-up raster (the finest level around the place).
        lon: longitude to search around, degrees.
        lat: latitude to search around, degrees.
        length_m: how far ahead the street must be clear, metres.
        search_m: how far from (lon, lat) the start may lie, metres.
        behind_m: how far behind the start it must be clear, metres.

    Returns:
        (start lon, start lat, heading in degrees clockwise from north), or None when no street is
        clear (or the raster is rotated).

    Example:
        >>> start_lon, start_lat, heading = find_street(raster, lon, lat, 40.0)   # doctest: +SKIP
    """
    t = raster.transform
    if t.b != 0 or t.d != 0 or t.e >= 0:
        return None
    x, y = transformer(GEODETIC_CRS.to_2d(), raster.crs).transform(lon, lat)
    # Metres per cell along x and y at the target.
    ex, ey = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform([x, x + t.a, x], [y, y, y + t.e])
    geod = Geod(ellps="WGS84")
    mx = geod.inv(ex[0], ey[0], ex[1], ey[1])[2]
    my = geod.inv(ex[0], ey[0], ex[2], ey[2])[2]
    col, row = ~t @ (x, y)
    found = _along_roads(raster, row, col, my, mx, length_m, search_m, behind_m)
    if found is None:
        found = _along_heights(raster, int(np.floor(row)), int(np.floor(col)), my, mx, length_m, search_m, behind_m)
    if found is None:
        return None
    (srow, scol), heading = found
    sx, sy = t @ (scol, srow)
    slon, slat = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform(sx, sy)
    return float(slon), float(slat), float(heading)


def _along_roads(raster: GeoRaster, row: float, col: float, my: float, mx: float, length_m: float, search_m: float,
                 behind_m: float) -> tuple[tuple[float, float], float] | None:
    """The start (row, col, fractional) and heading of the widest straight run of road cells near
    (row, col), or None when the raster has no classes or no road there (see `find_street`). `my`,
    `mx`: metres per row and column.
    """
    if raster.classes is None:
        return None
    reach = search_m + max(length_m, behind_m) + 2.0
    r0, r1 = max(int(row - reach / my), 0), min(int(row + reach / my) + 2, raster.shape[0])
    c0, c1 = max(int(col - reach / mx), 0), min(int(col + reach / mx) + 2, raster.shape[1])
    if r1 <= r0 or c1 <= c0:
        return None
    road = (raster.classes[r0:r1, c0:c1] == ROAD) & raster.valid[r0:r1, c0:c1]
    if not road.any():
        return None
    # Metres from each road cell's centre to the nearest other cell's edge.
    clear = distance_transform_edt(road, sampling=(my, mx)) - 0.5 * min(my, mx)
    step = max(min(my, mx), 1.0)
    n_search = int(search_m / step)
    back, ahead = int(np.ceil(behind_m / step)), int(np.ceil(length_m / step))
    half = (back + ahead + 1) // 2  # a centred window of 2 half + 1 samples covers the run
    along = np.arange(-n_search - back, n_search + 2 * half - back + 1) * step
    across = np.arange(-n_search, n_search + 1) * step
    a, b = np.meshgrid(along, across, indexing="ij")
    # The window centred on sample k runs from k - half to k + half: a start `back` samples after
    # its first one.
    start_along = np.broadcast_to((along + (back - half) * step)[:, None], a.shape)
    best = None
    for heading in np.arange(0.0, 360.0, HEADING_STEP_DEG):
        s, c = np.sin(np.radians(heading)), np.cos(np.radians(heading))
        # east, north metres of each sample, then fractional rows and columns of the window
        east, north = a * s + b * c, a * c - b * s
        rr, cc = row - r0 - 0.5 + (-north / my), col - c0 - 0.5 + east / mx
        v = map_coordinates(clear, [rr, cc], order=1, mode="constant", cval=0.0)
        run = minimum_filter1d(v, 2 * half + 1, axis=0, mode="constant", cval=0.0)
        dist = np.hypot(start_along, b)
        ok = (dist <= search_m) & (run > CLEARANCE_LEVELS_M[0])
        if not ok.any():
            continue
        level = np.searchsorted(CLEARANCE_LEVELS_M, run, side="right")
        score = np.where(ok, level * 1e6 - dist, -np.inf)
        k, j = np.unravel_index(int(np.argmax(score)), score.shape)
        if best is None or score[k, j] > best[0]:
            # The middle of the street: the clearest start across the run of good starts at this distance along.
            good = ok[k] & (level[k] == level[k, j])
            lo, hi = j, j
            while lo > 0 and good[lo - 1]:
                lo -= 1
            while hi < len(good) - 1 and good[hi + 1]:
                hi += 1
            m = lo + int(np.argmax(run[k, lo:hi + 1]))
            best = (score[k, j], heading, start_along[k, m], across[m])
    if best is None:
        return None
    _, heading, sa, sb = best
    s, c = np.sin(np.radians(heading)), np.cos(np.radians(heading))
    east, north = sa * s + sb * c, sa * c - sb * s
    return (row - north / my, col + east / mx), float(heading)


def _along_heights(raster: GeoRaster, r0: int, c0: int, my: float, mx: float, length_m: float, search_m: float,
                   behind_m: float) -> tuple[tuple[float, float], float] | None:
    """The start (row, col of a cell's centre) and cardinal heading of the widest clear, ground-level
    corridor of the heights near cell (r0, c0), or None (see `find_street`). `my`, `mx`: metres per
    row and column.
    """
    rows_n, cols_n = raster.shape
    height = np.where(raster.valid, raster.height, np.nan)
    best = None
    # heading: (array with the travel direction along axis 0 increasing, metres per step, metres across)
    views = {
        180.0: (height, my, mx, r0, c0),
        0.0: (height[::-1], my, mx, rows_n - 1 - r0, c0),
        90.0: (height.T, mx, my, c0, r0),
        270.0: (height.T[::-1], mx, my, cols_n - 1 - c0, r0),
    }
    for heading, (h, step, across, a0, b0) in views.items():
        ahead, back = int(length_m / step) + 1, int(behind_m / step) + 1
        search = int(search_m / across)
        lo_a, hi_a = a0 - back, a0 + ahead
        lo_b, hi_b = max(b0 - search, 0), min(b0 + search + 1, h.shape[1])
        if lo_a < 0 or hi_a > h.shape[0] or hi_b <= lo_b:
            continue
        seg = h[lo_a:hi_a, lo_b:hi_b]
        if not np.isfinite(seg).all():
            continue
        s = np.arange(seg.shape[0], dtype=np.float64)
        trend = np.polynomial.polynomial.polyfit(s, seg, 1)  # (2, columns)
        resid = seg - (trend[0] + s[:, None] * trend[1])
        # A street is at ground level: a flat roof or a lawn on a terrace is not.
        low = (np.median(seg, axis=0) <= np.percentile(seg, 5) + 1.5).astype(np.int8)
        for half_width_m in (12.0, 9.0, 6.0, 4.0, 2.0, 1.0):
            width = 2 * int(half_width_m / across) + 1
            top = maximum_filter1d(resid, width, axis=1, mode="nearest").max(axis=0)
            bottom = minimum_filter1d(resid, width, axis=1, mode="nearest").min(axis=0)
            clear = (top - bottom < 0.75) & (minimum_filter1d(low, width, mode="nearest") > 0)
            if clear.any():
                # The middle of the clear run nearest the target.
                edges = np.flatnonzero(np.diff(np.concatenate([[0], clear.astype(np.int8), [0]])))
                centers = lo_b + (edges[0::2] + edges[1::2] - 1) // 2
                b = int(centers[np.argmin(np.abs(centers - b0))])
                score = (half_width_m, -abs(b - b0) * across)
                if best is None or score > best[0]:
                    best = (score, heading, b)
                break
    if best is None:
        return None
    _, heading, b = best
    col, row = (b, r0) if heading in (0.0, 180.0) else (c0, b)
    return (row + 0.5, col + 0.5), heading

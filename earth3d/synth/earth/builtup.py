"""Built-up areas of real places: a lobed disc per GeoNames place, its area growing with population.

A place of population P covers P / DENSITY square km (DENSITY inhabitants per km^2 of built-up
land), as a disc of that area centred on its GeoNames position, its edge modulated by three
angular harmonics with phases from the place's id and the world seed. A pixel's value is the
share of it that is built up. Discs wider than the pixel do not end at a line: the share falls
from 1 to 0 across a fringe FRINGE of the radius wide either side of the edge (at least the
pixel), and a fractal noise (`fray`, the same field for all places) moves each point's
distance in or out by up to FRAY of it, so the fringe frays into the land around it as real
towns do, in patches and tongues; since the share is a smooth function of position, fine
pixels average to the coarse value. Smaller discs split their area bilinearly among the four
nearest pixels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..grid import M_PER_DEG

DENSITY = 2500.0  # inhabitants per km^2 of built-up area
FRINGE = 0.1  # half width of the fringe, in radii
FRAY = 0.4  # the noise moves distances in or out by up to this share
FRAY_WAVE_M = 3000.0  # longest wavelength of that noise (m); it runs down to the pixel size
LOBE = 1.45  # the lobed edge lies within 1 + 0.18 + 0.12 + 0.08 radii; with a margin
REACH = LOBE * (1.0 + FRINGE) / (1.0 - FRAY)  # the farthest a place's frayed fringe reaches, in radii


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
def builtup(lats, lons, dlat, dlon, clon, clat, crad, cid, seed, fray):
    """Built-up share (H, W) of the lattice lats x lons (north row first) from discs (clon, clat, crad).

    `fray` (H, W) is the fringe noise in about [-1, 1] at the pixels (earth.noise.fbm, FRAY_WAVE_M
    down to the pixel size).
    """
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
        reach = r * REACH + 1.5 * pix
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
                half = max(FRINGE, 0.5 * pix / re)
                q = d / re * (1.0 + FRAY * min(1.0, max(-1.0, fray[j, i])))
                t = min(1.0, max(0.0, (1.0 + half - q) / (2.0 * half)))
                cov = t * t * (3.0 - 2.0 * t)
                if cov > out[j, i]:
                    out[j, i] = cov
    return out


"""Band-limited value noise on the sphere, a pure function of position (numba)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..grid import EARTH_RADIUS_M


@njit(cache=True)
def _hash3(i, j, k, seed):
    h = np.uint64(seed) ^ (np.uint64(i & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15))
    h ^= np.uint64(j & 0xFFFFFFFF) * np.uint64(0xC2B2AE3D27D4EB4F)
    h ^= np.uint64(k & 0xFFFFFFFF) * np.uint64(0x165667B19E3779F9)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return (h >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0


@njit(cache=True)
def _value(x, y, z, seed):
    i, j, k = math.floor(x), math.floor(y), math.floor(z)
    fx, fy, fz = x - i, y - j, z - k
    ux, uy, uz = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy), fz * fz * (3 - 2 * fz)
    acc = 0.0
    for dk in range(2):
        wz = uz if dk else 1.0 - uz
        for dj in range(2):
            wy = uy if dj else 1.0 - uy
            for di in range(2):
                wx = ux if di else 1.0 - ux
                acc += wx * wy * wz * _hash3(int(i) + di, int(j) + dj, int(k) + dk, seed)
    return acc


@njit(parallel=True, cache=True)
def _fbm(lats, lons, seed, wavelength, finest):
    h, w = lats.shape[0], lons.shape[0]
    out = np.zeros((h, w))
    n_oct = max(1, int(math.ceil(math.log2(max(wavelength / finest, 1.0)))) + 1)
    for a in prange(h):
        la = math.radians(lats[a])
        for b in range(w):
            lo = math.radians(lons[b])
            x = EARTH_RADIUS_M * math.cos(la) * math.cos(lo)
            y = EARTH_RADIUS_M * math.cos(la) * math.sin(lo)
            z = EARTH_RADIUS_M * math.sin(la)
            amp, wl, tot, norm = 1.0, wavelength, 0.0, 0.0
            for o in range(n_oct):
                fade = min(1.0, max(0.0, wl / finest - 1.0))  # octaves under the pixel size fade out
                tot += fade * amp * _value(x / wl, y / wl, z / wl, seed + o)
                norm += amp
                amp *= 0.55
                wl *= 0.5
            out[a, b] = tot / norm * 1.6
    return out


def fbm(lats: np.ndarray, lons: np.ndarray, seed: int, wavelength_m: float, finest_m: float) -> np.ndarray:
    """Fractal value noise (H, W), about [-1, 1], with wavelengths from `wavelength_m` down to `finest_m`."""
    return _fbm(np.asarray(lats, np.float64), np.asarray(lons, np.float64), np.uint64(seed & 0xFFFFFFFFFFFFFFFF),
                float(wavelength_m), float(max(finest_m, 1e-3)))

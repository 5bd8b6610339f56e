"""Hashed 3D gradient noise with analytic derivatives (numba), the building block of every field.

Noise is evaluated at 3D points (positions on the unit sphere scaled by a
frequency), so fields have no seam at ±180° and no pinch at the poles. All
randomness comes from an integer hash of lattice coordinates and a seed: values
are pure functions of position, identical whatever tile or order asks for them.
`noise2` is the 2D twin for textures in the metric frame of a land-use cell (landcover.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)
_F1 = np.uint64(0xFF51AFD7ED558CCD)
_F2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_INV53 = 1.0 / 9007199254740992.0

# The 12 cube-edge gradient directions (improved Perlin noise), padded to 16.
_GRAD = np.array(
    [[1, 1, 0], [-1, 1, 0], [1, -1, 0], [-1, -1, 0], [1, 0, 1], [-1, 0, 1], [1, 0, -1], [-1, 0, -1],
     [0, 1, 1], [0, -1, 1], [0, 1, -1], [0, -1, -1], [1, 1, 0], [-1, 1, 0], [0, -1, 1], [0, -1, -1]],
    dtype=np.float64,
)


@njit(cache=True)
def mix64(h):
    """64-bit finaliser (murmur3 fmix64): avalanches every input bit."""
    h ^= h >> _S33
    h *= _F1
    h ^= h >> _S33
    h *= _F2
    h ^= h >> _S33
    return h


@njit(cache=True)
def hash3(ix, iy, iz, seed):
    """Hash of three int64 lattice coordinates and a uint64 seed."""
    h = np.uint64(ix) * _M1 ^ np.uint64(iy) * _M2 ^ np.uint64(iz) * _M3 ^ seed
    return mix64(h)


@njit(cache=True)
def hash2(ix, iy, seed):
    return mix64(np.uint64(ix) * _M1 ^ np.uint64(iy) * _M2 ^ seed)


@njit(cache=True)
def unit(h):
    """A hash mapped to a float in [0, 1)."""
    return float(h >> np.uint64(11)) * _INV53


@njit(cache=True)
def rehash(h, k):
    """A further independent hash value derived from h."""
    return mix64(h ^ (np.uint64(k) * _M3))


@njit(cache=True)
def _corners(ix, iy, iz, seed):
    """Gradient-table indices of the 8 lattice corners of cell (ix, iy, iz)."""
    m = np.uint64(15)
    return (hash3(ix, iy, iz, seed) & m, hash3(ix + 1, iy, iz, seed) & m,
            hash3(ix, iy + 1, iz, seed) & m, hash3(ix + 1, iy + 1, iz, seed) & m,
            hash3(ix, iy, iz + 1, seed) & m, hash3(ix + 1, iy, iz + 1, seed) & m,
            hash3(ix, iy + 1, iz + 1, seed) & m, hash3(ix + 1, iy + 1, iz + 1, seed) & m)


@njit(cache=True)
def noised(x, y, z, seed):
    """Gradient noise at (x, y, z) and its gradient (dn/dx, dn/dy, dn/dz); value in about [-1, 1]."""
    fx, fy, fz = np.floor(x), np.floor(y), np.floor(z)
    ix, iy, iz = np.int64(fx), np.int64(fy), np.int64(fz)
    wx, wy, wz = x - fx, y - fy, z - fz
    ux = wx * wx * wx * (wx * (wx * 6.0 - 15.0) + 10.0)
    uy = wy * wy * wy * (wy * (wy * 6.0 - 15.0) + 10.0)
    uz = wz * wz * wz * (wz * (wz * 6.0 - 15.0) + 10.0)
    dux = 30.0 * wx * wx * (wx * (wx - 2.0) + 1.0)
    duy = 30.0 * wy * wy * (wy * (wy - 2.0) + 1.0)
    duz = 30.0 * wz * wz * (wz * (wz - 2.0) + 1.0)
    a, b, c, d, e, f, g, h = _corners(ix, iy, iz, seed)
    G = _GRAD
    va = G[a, 0] * wx + G[a, 1] * wy + G[a, 2] * wz
    vb = G[b, 0] * (wx - 1) + G[b, 1] * wy + G[b, 2] * wz
    vc = G[c, 0] * wx + G[c, 1] * (wy - 1) + G[c, 2] * wz
    vd = G[d, 0] * (wx - 1) + G[d, 1] * (wy - 1) + G[d, 2] * wz
    ve = G[e, 0] * wx + G[e, 1] * wy + G[e, 2] * (wz - 1)
    vf = G[f, 0] * (wx - 1) + G[f, 1] * wy + G[f, 2] * (wz - 1)
    vg = G[g, 0] * wx + G[g, 1] * (wy - 1) + G[g, 2] * (wz - 1)
    vh = G[h, 0] * (wx - 1) + G[h, 1] * (wy - 1) + G[h, 2] * (wz - 1)
    k1, k2, k3 = vb - va, vc - va, ve - va
    k4 = va - vb - vc + vd
    k5 = va - vc - ve + vg
    k6 = va - vb - ve + vf
    k7 = -va + vb + vc - vd + ve - vf - vg + vh
    n = va + ux * k1 + uy * k2 + uz * k3 + ux * uy * k4 + uy * uz * k5 + uz * ux * k6 + ux * uy * uz * k7
    ga, gb, gc, gd, ge, gf, gg, gh = G[a, 0], G[b, 0], G[c, 0], G[d, 0], G[e, 0], G[f, 0], G[g, 0], G[h, 0]
    dx = (ga + ux * (gb - ga) + uy * (gc - ga) + uz * (ge - ga) + ux * uy * (ga - gb - gc + gd)
          + uy * uz * (ga - gc - ge + gg) + uz * ux * (ga - gb - ge + gf)
          + ux * uy * uz * (-ga + gb + gc - gd + ge - gf - gg + gh) + dux * (k1 + uy * k4 + uz * k6 + uy * uz * k7))
    ga, gb, gc, gd, ge, gf, gg, gh = G[a, 1], G[b, 1], G[c, 1], G[d, 1], G[e, 1], G[f, 1], G[g, 1], G[h, 1]
    dy = (ga + ux * (gb - ga) + uy * (gc - ga) + uz * (ge - ga) + ux * uy * (ga - gb - gc + gd)
          + uy * uz * (ga - gc - ge + gg) + uz * ux * (ga - gb - ge + gf)
          + ux * uy * uz * (-ga + gb + gc - gd + ge - gf - gg + gh) + duy * (k2 + uz * k5 + ux * k4 + uz * ux * k7))
    ga, gb, gc, gd, ge, gf, gg, gh = G[a, 2], G[b, 2], G[c, 2], G[d, 2], G[e, 2], G[f, 2], G[g, 2], G[h, 2]
    dz = (ga + ux * (gb - ga) + uy * (gc - ga) + uz * (ge - ga) + ux * uy * (ga - gb - gc + gd)
          + uy * uz * (ga - gc - ge + gg) + uz * ux * (ga - gb - ge + gf)
          + ux * uy * uz * (-ga + gb + gc - gd + ge - gf - gg + gh) + duz * (k3 + ux * k6 + uy * k5 + ux * uy * k7))
    return n, dx, dy, dz


@njit(cache=True)
def noise(x, y, z, seed):
    """Gradient noise value only (same field as noised)."""
    fx, fy, fz = np.floor(x), np.floor(y), np.floor(z)
    ix, iy, iz = np.int64(fx), np.int64(fy), np.int64(fz)
    wx, wy, wz = x - fx, y - fy, z - fz
    ux = wx * wx * wx * (wx * (wx * 6.0 - 15.0) + 10.0)
    uy = wy * wy * wy * (wy * (wy * 6.0 - 15.0) + 10.0)
    uz = wz * wz * wz * (wz * (wz * 6.0 - 15.0) + 10.0)
    a, b, c, d, e, f, g, h = _corners(ix, iy, iz, seed)
    G = _GRAD
    va = G[a, 0] * wx + G[a, 1] * wy + G[a, 2] * wz
    vb = G[b, 0] * (wx - 1) + G[b, 1] * wy + G[b, 2] * wz
    vc = G[c, 0] * wx + G[c, 1] * (wy - 1) + G[c, 2] * wz
    vd = G[d, 0] * (wx - 1) + G[d, 1] * (wy - 1) + G[d, 2] * wz
    ve = G[e, 0] * wx + G[e, 1] * wy + G[e, 2] * (wz - 1)
    vf = G[f, 0] * (wx - 1) + G[f, 1] * wy + G[f, 2] * (wz - 1)
    vg = G[g, 0] * wx + G[g, 1] * (wy - 1) + G[g, 2] * (wz - 1)
    vh = G[h, 0] * (wx - 1) + G[h, 1] * (wy - 1) + G[h, 2] * (wz - 1)
    x0 = va + ux * (vb - va)
    x1 = vc + ux * (vd - vc)
    x2 = ve + ux * (vf - ve)
    x3 = vg + ux * (vh - vg)
    y0 = x0 + uy * (x1 - x0)
    y1 = x2 + uy * (x3 - x2)
    return y0 + uz * (y1 - y0)


@njit(cache=True)
def fbm(x, y, z, freq, octaves, gain, seed):
    """Sum of `octaves` noise octaves from frequency `freq` (lacunarity 2), normalised to about [-1, 1]."""
    total, amp, norm = 0.0, 1.0, 0.0
    for i in range(octaves):
        s = seed + np.uint64(i) * _M2
        o = unit(s) * 97.0
        total += amp * noise(x * freq + o, y * freq - o, z * freq + 0.5 * o, s)
        norm += amp
        amp *= gain
        freq *= 2.0
    return total / norm


@njit(cache=True)
def smoothstep(e0, e1, x):
    t = (x - e0) / (e1 - e0)
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


@njit(cache=True)
def lerp(a, b, t):
    return a + (b - a) * t


# ----------------------------------------------------------------------------- 2D noise (local frames)
_GRAD2 = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0],
                   [0.7071, 0.7071], [-0.7071, 0.7071], [0.7071, -0.7071], [-0.7071, -0.7071]])
NOISE2_STD = 0.22  # standard deviation of noise2 (measured)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0xFF51AFD7ED558CCD)


@njit(cache=True)
def _h8(ix, iy, seed):
    """A cheap hash of a 2D lattice point to 0..7 (one multiply-xorshift round; enough for gradient choice)."""
    h = (np.uint64(ix) * _K1) ^ (np.uint64(iy) * _K2) ^ seed
    h = (h ^ (h >> np.uint64(31))) * _K3
    return (h >> np.uint64(61)) & np.uint64(7)


@njit(cache=True)
def noise2(x, y, seed):
    """2D gradient noise (quintic fade, 8 gradient directions), value in about [-0.7, 0.7]."""
    fx, fy = math.floor(x), math.floor(y)
    ix, iy = np.int64(fx), np.int64(fy)
    wx, wy = x - fx, y - fy
    ux = wx * wx * wx * (wx * (wx * 6.0 - 15.0) + 10.0)
    uy = wy * wy * wy * (wy * (wy * 6.0 - 15.0) + 10.0)
    a = _h8(ix, iy, seed)
    b = _h8(ix + 1, iy, seed)
    c = _h8(ix, iy + 1, seed)
    d = _h8(ix + 1, iy + 1, seed)
    G = _GRAD2
    va = G[a, 0] * wx + G[a, 1] * wy
    vb = G[b, 0] * (wx - 1.0) + G[b, 1] * wy
    vc = G[c, 0] * wx + G[c, 1] * (wy - 1.0)
    vd = G[d, 0] * (wx - 1.0) + G[d, 1] * (wy - 1.0)
    x0 = va + ux * (vb - va)
    x1 = vc + ux * (vd - vc)
    return x0 + uy * (x1 - x0)

"""Lakes of the hydrology network: level water around the level-0 nodes that hold one (numba).

A level-0 node whose closed basin the priority flood filled deeper than hydrology.LAKE_MIN_M holds a
lake of depth LAKE (hydrology._level0_polylines). Its water stands at one level around the node and
floods the relief below it, so the shore follows the valleys and spurs there; it ends at the outlet,
where the valley's channel drops below the node's. Used by hydrology.surface, per block of cells
(lake_nodes) and per cell (lake_share).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import kernel as K
from .basins import Q0_DEG
from .channels import _lookup
from .grid import EARTH_RADIUS_M, M_PER_DEG
from .noise import noise, smoothstep

LAKE_REACH = (0.4, 0.85)  # a lake's water stands at its full level up to this many node spacings from its node,
# and sinks to the node's channel at this many
LAKE_WOBBLE = (0.35, 1500.0)  # ... distances stretched and shrunk by up to this share by noise of this wavelength (m)
LAKE_REACH_DEG = LAKE_REACH[1] * Q0_DEG / (1.0 - LAKE_WOBBLE[0])  # the farthest a lake reaches from its node
LAKE_SPILL = (0.5, 3.0)  # where a valley's channel lies more than this (m) below a lake node's, the lake's level
# there sinks this many times faster: a lake ends at its outlet and does not spill into a lower valley
LAKE_FRAY_M = (120.0, 40.0, 12.0)  # wavelengths (m) of the noise that roughens a shore, each where the cells
LAKE_FRAY = 0.15  # resolve it (4 cells a wavelength), moving it by up to this share of the wavelength
LAKE_SALT = np.uint64(0x1A4E)
# Where closed basins hold lakes. Ice sheets scoured the land where it is cold now (mean annual temperature
# under GLACIAL_C[0] C, none above GLACIAL_C[1]): lakes fill its basins. Elsewhere rivers and sediment have
# breached and filled most basins long since; lakes keep to districts (a noise of LAKE_DISTRICT[0] m:
# floodplains, rifts, karst) where it passes LAKE_DISTRICT[1] (none) to LAKE_DISTRICT[2] (all).
GLACIAL_C = (4.0, 10.0)
LAKE_DISTRICT = (250_000.0, 0.05, 0.3)


@njit(cache=True)
def lake_climate(lon, lat, height, S, m):
    """How much of its depth a level-0 node's closed basin at (lon, lat), `height` m, holds as a lake.

    1 in humid land (frozen or not: permafrost keeps its lakes) that ice sheets scoured (GLACIAL_C) or in a
    lake district (LAKE_DISTRICT); none in dry land or under an ice cap. S: the world's seeds
    (kernel.make_seeds); m: scratch (kernel.N_MACRO,).
    """
    x, y, z = K.unit_vector(lon, lat)
    K.macro_at(x, y, z, S, m)
    t, w = K.climate(m, lat, height, m[0] - K.SEA)
    f = EARTH_RADIUS_M / LAKE_DISTRICT[0]
    district = smoothstep(LAKE_DISTRICT[1], LAKE_DISTRICT[2], noise(x * f, y * f, z * f, S[K.S_LAKE]))
    return (smoothstep(0.2, 0.5, w) * (1.0 - smoothstep(-8.0, -14.0, t))
            * max(smoothstep(GLACIAL_C[1], GLACIAL_C[0], t), district))


@njit(cache=True)
def lake_nodes(lons, lats, ra, rb, ca, cb, GEO, I0, J0, NI, NJ, OFF, VX, VY, LAKE):
    """The level-0 nodes holding a lake (LAKE > 0) whose water can reach the block of cells [ra, rb) x [ca, cb).

    A lake reaches LAKE_REACH[1] node spacings, stretched by at most 1 / (1 - LAKE_WOBBLE[0]): under two
    spacings, so its node lies in the 5 x 5 level-0 cells around every cell of the block (GEO row 0).
    """
    lon_lo, lon_hi = min(lons[ca], lons[cb - 1]), max(lons[ca], lons[cb - 1])
    lat_lo, lat_hi = min(lats[ra], lats[rb - 1]), max(lats[ra], lats[rb - 1])
    cmin = min(math.cos(math.radians(lat_lo)), math.cos(math.radians(lat_hi)))
    reach = LAKE_REACH_DEG  # degrees of latitude
    ci0, cj0, nci, ncj = GEO[0, 0], GEO[0, 1], GEO[0, 2], GEO[0, 3]
    out = np.empty((nci + 4) * (ncj + 4), dtype=np.int64)
    n = 0
    for jj in range(cj0 - 2, cj0 + ncj + 2):
        for ii in range(ci0 - 2, ci0 + nci + 2):
            p = _lookup(0, ii, jj, I0, J0, NI, NJ, OFF)
            if p < 0 or LAKE[p] <= 0.0 or math.isnan(VX[p, 0]):
                continue
            dx = max(lon_lo - VX[p, 0], 0.0, VX[p, 0] - lon_hi) * cmin
            dy = max(lat_lo - VY[p, 0], 0.0, VY[p, 0] - lat_hi)
            if math.sqrt(dx * dx + dy * dy) < reach:
                out[n] = p
                n += 1
    return out[:n]


@njit(cache=True)
def lake_share(lon, lat, coslat, channel, height, slope, res, seed, LN, VX, VY, VE, LAKE):
    """(lake share, water level m) of the cell at (lon, lat) whose valley channel lies at `channel` m and
    surface at `height` m.

    A lake node's water stands LAKE m above its channel up to LAKE_REACH[0] node spacings from it and sinks
    to the channel at LAKE_REACH[1] (distances wobbled by noise: lobed, not round); it floods the land
    below that level, so its shore follows the valleys and spurs of the relief around it. Where the cell's
    valley channel lies below the node's (down the outlet, or a lower valley over a divide) the level
    sinks fast (LAKE_SPILL). The share is the cell's part below the water, linear across the cell; near
    the shore, noise as fine as the cells resolve (LAKE_FRAY_M) moves it, so it is not a straight contour
    of the valley side at fine cells.
    """
    spacing = Q0_DEG * M_PER_DEG
    grad = res * (slope + 0.02)  # the rise across the cell
    band = 0.5 * grad + LAKE_FRAY * sum(LAKE_FRAY_M) * (slope + 0.02)  # the most the fraying moves a shore
    # no lake within reach, or the cell above the highest of them: no water, and no noise to evaluate
    top = -math.inf
    for m in range(LN.shape[0]):
        p = LN[m]
        dx, dy = (lon - VX[p, 0]) * coslat, lat - VY[p, 0]
        if math.sqrt(dx * dx + dy * dy) * M_PER_DEG * (1.0 - LAKE_WOBBLE[0]) < LAKE_REACH[1] * spacing:
            top = max(top, VE[p, 0] + LAKE[p])
    if height - top >= band:
        return 0.0, -math.inf
    la, lo = math.radians(lat), math.radians(lon)
    x, y, z = coslat * math.cos(lo), coslat * math.sin(lo), math.sin(la)
    f = EARTH_RADIUS_M / LAKE_WOBBLE[1]
    g = 3.1 * f
    wob = 1.0 + LAKE_WOBBLE[0] * (0.67 * noise(x * f, y * f, z * f, seed ^ LAKE_SALT)
                                  + 0.33 * noise(x * g, y * g, z * g, seed ^ (LAKE_SALT + np.uint64(1))))
    level = -math.inf
    for m in range(LN.shape[0]):
        p = LN[m]
        dx, dy = (lon - VX[p, 0]) * coslat, lat - VY[p, 0]
        dn = math.sqrt(dx * dx + dy * dy) * M_PER_DEG * wob
        if dn >= LAKE_REACH[1] * spacing:
            continue
        floor = VE[p, 0]
        lv = (floor + LAKE[p] * smoothstep(LAKE_REACH[1] * spacing, LAKE_REACH[0] * spacing, dn)
              - LAKE_SPILL[1] * max(floor - LAKE_SPILL[0] - channel, 0.0))
        level = max(level, lv)
    if level == -math.inf:
        return 0.0, level
    gap = level - height
    if abs(gap) < band:
        for k in range(len(LAKE_FRAY_M)):
            w = smoothstep(0.5 * LAKE_FRAY_M[k], 0.25 * LAKE_FRAY_M[k], res)
            if w > 0.0:
                q = EARTH_RADIUS_M / LAKE_FRAY_M[k]
                gap += (w * LAKE_FRAY * LAKE_FRAY_M[k] * (slope + 0.02)
                        * noise(x * q, y * q, z * q, seed ^ (LAKE_SALT + np.uint64(2 + k))))
    return min(max(0.5 + gap / grad, 0.0), 1.0), level

"""Channel segments of the hydrology network: distances, valley sides and per-block candidate lists (numba).

Shared by earth3d.synth.hydrology: the geometry of one channel segment (nearest point, the
concave valley side around it) and, for a block of cells, the list of segments that can shape
each of its coarse cells (_block_lists), which lets the surface skip most of the 5 x 5 nodes
per level that every cell would otherwise visit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .basins import NS, Q0_DEG
from .grid import M_PER_DEG
from .noise import smoothstep

GAMMA = 1.25  # hillslope gradient grows by this factor per finer level (relief H < 1)
CONCAVE = 0.2  # valley sides steepen from the floor to the full gradient over this share of the spacing
SUPER, SUPER_RES_M = 3, 240.0  # cells from this size up average 3 x 3 sub-cells
SMOOTH_RES_M = 240.0  # cells from this size up round the crests
TOPO_LEVEL = 2  # topographic position: across the valleys of levels 0 to this (875 m apart), at any cell size
RIVER_MIN_M2 = 25e6  # runoff area (basins.runoff_share) from which a channel carries visible water
WIDTH_M = 6.0  # channel width at 100 km^2 of drainage area, growing as A^0.5


@njit(cache=True)
def width_m(area):
    """Channel width (m) at drainage area `area` (m^2)."""
    return WIDTH_M * math.sqrt(area / 1e8)


@njit(cache=True)
def water_width_m(area, runoff):
    """Width (m) of a river's water at drainage area `area` and runoff area `runoff` (m^2): that of
    the geometric mean of the two, so it narrows with the dryness of its basin, but less than its
    mean flow does (channels are shaped by floods).
    """
    return width_m(math.sqrt(area * runoff))


@njit(cache=True)
def _closest(px, py, ax, ay, bx, by, coslat):
    """(distance m, parameter t in [0, 1]) from (px, py) to segment a-b, all in degrees, at cos(lat)."""
    ux = (bx - ax) * coslat
    uy = by - ay
    vx = (px - ax) * coslat
    vy = py - ay
    ll = ux * ux + uy * uy
    t = 0.0 if ll <= 0.0 else min(max((vx * ux + vy * uy) / ll, 0.0), 1.0)
    dx, dy = vx - t * ux, vy - t * uy
    return math.sqrt(dx * dx + dy * dy) * M_PER_DEG, t


@njit(cache=True)
def _lookup(k, ii, jj, I0, J0, NI, NJ, OFF):
    a, b = jj - J0[k], ii - I0[k]
    if a < 0 or b < 0 or a >= NJ[k] or b >= NI[k]:
        return -1
    return OFF[k] + a * NI[k] + b


# node offsets of the 5 x 5 neighbourhood, nearest first
_SPIRAL = np.array(sorted(((i, j) for i in range(-2, 3) for j in range(-2, 3)),
                          key=lambda o: (o[0] ** 2 + o[1] ** 2, o)), dtype=np.int64)


@njit(cache=True)
def _nseg(k):
    return NS if k == 0 else 1


@njit(cache=True)
def _valley(d, half, sk, r0, lk):
    """Height of a concave valley side at distance d (m) from a channel of half width `half` (see surface)."""
    x = max(d - half, 0.0)
    xe = math.sqrt(x * x + r0 * r0)
    return sk * xe * xe / (xe + lk)


@njit(cache=True)
def _is_river(p, RUNOFF):
    """Whether level-0 channel p carries water: the runoff area above it (m^2, basins.runoff_share)
    reaches RIVER_MIN_M2, so a river fed upstream flows on through dry land.
    """
    return RUNOFF[p] >= RIVER_MIN_M2


@njit(cache=True)
def _t_range(lon_lo, lon_hi, lat_lo, lat_hi, ax, ay, bx, by, cmin, cmax):
    """Range of the parameter t of the nearest point of segment a-b (_closest) over a box, at cos(lat) in [cmin, cmax].

    t is linear in the point before clamping, and monotone in cos(lat)^2: its extremes lie at the corners.
    """
    ta, tb = 1.0, 0.0
    for c in (cmin, cmax):
        ux, uy = (bx - ax) * c, by - ay
        ll = ux * ux + uy * uy
        for px in (lon_lo, lon_hi):
            for py in (lat_lo, lat_hi):
                t = 0.0 if ll <= 0.0 else min(max(((px - ax) * c * ux + (py - ay) * uy) / ll, 0.0), 1.0)
                ta, tb = min(ta, t), max(tb, t)
    return ta, tb


@njit(cache=True)
def _block_lists(lons, lats, r0_, r1, c0, c1, SP, res, kmax, I0, J0, NI, NJ, OFF, VX, VY, VE, AREA, RUNOFF,  # noqa: C901
                 AM):
    """The channel segments that can shape a block of cells [r0_, r1) x [c0, c1), per level and coarse cell.

    For every level k and every level-k cell (ci, cj) the block touches, the segments of the 5 x 5
    nodes around it, in the order surface() visits them (nearest first), less those that cannot
    change any output at any cell of the block: a segment whose lowest possible value over the
    block exceeds the highest possible surface there (bounded by segments every cell of the block
    sees), plus 1.25 crest widths at level 0 (a crest lowers the surface by at most a quarter width
    and needs a second valley within one width), and that cannot be the nearest river bank either
    (lakes do not depend on the segments: surface() finds them by their nodes). A river's course
    lies up to AM[p] metres off its chord (its meanders at this cell size), which widens its bounds
    by as much. Segments of levels 0 to TOPO_LEVEL go by the highest surface of those levels alone
    (surface()'s topographic position).
    Returns (GEO (kmax + 1, 6): ci0, cj0, nci, ncj, first cell, first candidate; START; P; S): cell c's segments are
    P[START[c]:START[c + 1]] (node) and S[...] (sub-segment).
    """
    lon_lo, lon_hi = min(lons[c0], lons[c1 - 1]), max(lons[c0], lons[c1 - 1])
    lat_lo, lat_hi = min(lats[r0_], lats[r1 - 1]), max(lats[r0_], lats[r1 - 1])
    cmin, cmax = 1.0, 0.0
    for r in range(r0_, r1):
        c = math.cos(math.radians(lats[r]))
        cmin, cmax = min(cmin, c), max(cmax, c)
    spmin, spmax = math.inf, 0.0
    for r in range(r0_, r1):
        for col in range(c0, c1):
            spmin, spmax = min(spmin, SP[r, col]), max(spmax, SP[r, col])
    rr = res / math.sqrt(12.0)
    ksmax = spmax * res * smoothstep(0.5 * SMOOTH_RES_M, SMOOTH_RES_M, res) + 1e-9
    GEO = np.empty((kmax + 1, 6), dtype=np.int64)
    ncand, ncell = 0, 0
    for k in range(kmax + 1):
        q = Q0_DEG / (1 << k)
        ci0, ci1 = int(math.floor((lon_lo + 180.0) / q)), int(math.floor((lon_hi + 180.0) / q))
        cj0, cj1 = int(math.floor((lat_lo + 90.0) / q)), int(math.floor((lat_hi + 90.0) / q))
        GEO[k, 0], GEO[k, 1], GEO[k, 2], GEO[k, 3], GEO[k, 4] = ci0, cj0, ci1 - ci0 + 1, cj1 - cj0 + 1, ncell
        GEO[k, 5] = ncand
        ncell += (ci1 - ci0 + 1) * (cj1 - cj0 + 1)
        ncand += (ci1 - ci0 + 5) * (cj1 - cj0 + 5) * _nseg(k)
    LB = np.empty(ncand)
    RB = np.empty(ncand)
    PID = np.empty(ncand, dtype=np.int64)
    ub, ubr, ubt = math.inf, math.inf, math.inf  # ubt: as ub over levels 0 to TOPO_LEVEL alone
    # finest levels first: their valleys bound the surface tightest, so fewer upper bounds are needed
    for k in range(kmax, -1, -1):
        n = GEO[k, 5]
        q = Q0_DEG / (1 << k)
        lk = CONCAVE * q * M_PER_DEG
        sklo, skhi = spmin * GAMMA ** k, spmax * GAMMA ** k
        ci0, cj0, nci, ncj = GEO[k, 0], GEO[k, 1], GEO[k, 2], GEO[k, 3]
        for jj in range(cj0 - 2, cj0 + ncj + 2):
            for ii in range(ci0 - 2, ci0 + nci + 2):
                p = _lookup(k, ii, jj, I0, J0, NI, NJ, OFF)
                ok = p >= 0 and not math.isnan(VX[max(p, 0), 0])
                # a node every cell of the block sees (in each cell's 5 x 5 neighbourhood)
                every = ci0 + nci - 3 <= ii <= ci0 + 2 and cj0 + ncj - 3 <= jj <= cj0 + 2
                half = 0.5 * width_m(AREA[p]) if ok and k == 0 else 0.0
                riv = ok and k == 0 and _is_river(p, RUNOFF)
                whalf = 0.5 * water_width_m(AREA[p], RUNOFF[p]) if riv else 0.0  # the water's (surface())
                for s in range(_nseg(k)):
                    PID[n] = p if ok else -1
                    if not ok:
                        LB[n], RB[n] = math.inf, math.inf
                        n += 1
                        continue
                    ax, ay, bx, by = VX[p, s], VY[p, s], VX[p, s + 1], VY[p, s + 1]
                    if not riv:
                        # a first, looser bound from the segment's box: most segments stop here
                        dx = max(min(ax, bx) - lon_hi, 0.0, lon_lo - max(ax, bx)) * cmin
                        dy = max(min(ay, by) - lat_hi, 0.0, lat_lo - max(ay, by))
                        lb = min(VE[p, s], VE[p, s + 1]) + _valley(math.sqrt(dx * dx + dy * dy) * M_PER_DEG,
                                                                   half, sklo, rr, lk)
                        lim = ubt if k <= TOPO_LEVEL else ub
                        if lb > lim + 1e-6 * (1.0 + abs(lim)) + (1.25 * ksmax if k == 0 else 0.0):
                            LB[n], RB[n] = lb, math.inf
                            n += 1
                            continue
                    # the nearest points of the segment to the block's cells lie between ta and tb
                    ta, tb = _t_range(lon_lo, lon_hi, lat_lo, lat_hi, ax, ay, bx, by, cmin, cmax)
                    ea, eb = VE[p, s] + ta * (VE[p, s + 1] - VE[p, s]), VE[p, s] + tb * (VE[p, s + 1] - VE[p, s])
                    xa, xb = ax + ta * (bx - ax), ax + tb * (bx - ax)
                    ya, yb = ay + ta * (by - ay), ay + tb * (by - ay)
                    dx = max(min(xa, xb) - lon_hi, 0.0, lon_lo - max(xa, xb)) * cmin
                    dy = max(min(ya, yb) - lat_hi, 0.0, lat_lo - max(ya, yb))
                    dmin = max(math.sqrt(dx * dx + dy * dy) * M_PER_DEG - (AM[p] if riv else 0.0), 0.0)
                    LB[n] = min(ea, eb) + _valley(dmin, half, sklo, rr, lk)
                    RB[n] = dmin - 5.0 * whalf if riv else math.inf
                    if every and (LB[n] < (ubt if k <= TOPO_LEVEL else ub) or riv):
                        # the farthest cell of the block lies at a corner (distance is convex)
                        dmax = max(_closest(lon_lo, lat_lo, ax, ay, bx, by, cmax)[0],
                                   _closest(lon_hi, lat_lo, ax, ay, bx, by, cmax)[0],
                                   _closest(lon_lo, lat_hi, ax, ay, bx, by, cmax)[0],
                                   _closest(lon_hi, lat_hi, ax, ay, bx, by, cmax)[0]) + (AM[p] if riv else 0.0)
                        v = max(ea, eb) + _valley(dmax, half, skhi, rr, lk)
                        ub = min(ub, v)
                        if k <= TOPO_LEVEL:
                            ubt = min(ubt, v)
                        if riv:
                            ubr = min(ubr, dmax - whalf)
                    n += 1

    START = np.empty(ncell + 1, dtype=np.int64)
    size = 0
    for k in range(kmax + 1):
        size += GEO[k, 2] * GEO[k, 3] * 25 * _nseg(k)
    P = np.empty(size, dtype=np.int64)
    S = np.empty(size, dtype=np.int64)
    m = 0
    for k in range(kmax + 1):
        ci0, cj0, nci, ncj = GEO[k, 0], GEO[k, 1], GEO[k, 2], GEO[k, 3]
        ns, wi = _nseg(k), nci + 4
        top = ubt if k <= TOPO_LEVEL else ub
        lim = top + 1e-6 * (1.0 + abs(top)) + (1.25 * ksmax if k == 0 else 0.0)
        for cj in range(cj0, cj0 + ncj):
            for ci in range(ci0, ci0 + nci):
                START[GEO[k, 4] + (cj - cj0) * nci + (ci - ci0)] = m
                for o in range(_SPIRAL.shape[0]):
                    g = GEO[k, 5] + ((cj + _SPIRAL[o, 1] - cj0 + 2) * wi + (ci + _SPIRAL[o, 0] - ci0 + 2)) * ns
                    for s in range(ns):
                        if PID[g + s] >= 0 and (LB[g + s] <= lim or (RB[g + s] < math.inf and RB[g + s] <= ubr + 1e-6)):
                            P[m], S[m] = PID[g + s], s
                            m += 1
    START[ncell] = m
    return GEO, START, P, S

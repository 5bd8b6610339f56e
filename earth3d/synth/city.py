"""City layout as box-filtered area fractions (numba).

A city lives in a local metric frame (u east, v north, metres). Its streets
(city_layout.py) run along district borders (arterials) and, inside each
district, along a two-level grid in the district's turned and warped frame;
blocks (city_blocks.py, city_lots.py) hold parks, squares, industrial sheds and towers with
their car parks, perimeter blocks with courtyards or parcels of houses (boxes and L-shapes),
by density and chance. Everything inside a district is a rectangle or a
Gaussian crown in the district frame, so the area average over a pixel
footprint is exact up to the local linearisation of the warp (the footprint
becomes a square of the same area in that frame); border arterials are strips
box-filtered across their width, most of them lined with rows of Gaussian crowns
placed along the border (avenues, `_avenue`). A pixel value is that average: averaging a
fine tile down gives the coarse tile, and neighbouring tiles agree on their border.
Pixels wider than SPLIT average 2 x 2 footprints (3 x 3 above 2 MAX_FOOTPRINT; none wider than
MAX_FOOTPRINT).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import city_blocks as B
from . import city_lots
from .city_blocks import (
    BEST_B,
    C_BD,
    C_COS,
    C_CX,
    C_CY,
    C_DH0,
    C_DH1,
    C_DP,
    C_KEY0,
    C_KEY1,
    C_SIN,
    C_U,
    C_V,
    CANOPY,
    CANOPY_H,
    CAR_A,
    CAR_B,
    CAR_COLOURS,
    CAR_G,
    CAR_R,
    G_AT,
    G_N,
    G_NEXT,
    HEIGHT,
    INST_BUILDING,
    INST_CAR,
    INST_TREE,
    LOT,
    MARK,
    MARK_Y,
    N_AREA,
    N_OUT,
    N_PUBLIC,
    PARK,
    RISE,
    ROAD,
    ROOF_A,
    ROOF_B,
    ROOF_G,
    ROOF_H,
    ROOF_R,
    SHADOW,
    SIDEWALK,
    SIDEWALK_A,
    TREE_MARGIN,
    YARD_COM,
    YARD_RES,
    ov,
)
from .city_graph import city_street_graph
from .city_layout import (
    BORDER_HALF_WIDTH,
    block_edges,
    city_style,
    cut_fraction,
    district_at,
    district_params,
    green_seed,
    green_space,
    next_block,
    row_offset,
    street_block,
    warp_inverse,
)
from .noise import hash3, rehash, unit

__all__ = ["city_pixel", "city_street_graph", "surface_height", "KERB_M", "SHARP_EDGES_M", "N_OUT", "ROAD",
           "SIDEWALK_A", "ROOF_A", "ROOF_R", "ROOF_G", "ROOF_B",
           "HEIGHT", "YARD_RES", "YARD_COM", "PARK", "CANOPY", "CANOPY_H", "SHADOW", "RISE", "MARK", "MARK_Y",
           "CAR_A", "CAR_R", "CAR_G", "CAR_B", "LOT", "ROOF_H", "INST_BUILDING", "INST_CAR", "INST_TREE", "CAR_COLOURS"]

MAX_FOOTPRINT = 48.0  # metres: wider pixels average up to 3 x 3 footprints this wide
SPLIT = 3.0  # metres: wider pixels average 2 x 2 footprints (the district frame's square stands for a turned one)
SHADOW_REACH = B.SHADOW_MAX
SUN = (0.70710678, -0.70710678)  # world direction of cast shadows (sun in the north-west)
AVENUE_SHARE = 0.7  # share of the arterials lined with trees
AVENUE_SPACING = 9.0  # metres between the trees of a row
AVENUE_GAP = 0.12  # share of the places in a row left without a tree
AVENUE_ROW = BORDER_HALF_WIDTH - 2.0  # metres from the arterial's centre line to its rows of trees
AVENUE_REACH = 2.0 + B.TREE_MARGIN + 14.0  # metres beyond the arterial that its crowns and their shadows reach


@njit(cache=True)
def _green_space(out, bh, qa, qb, width, depth, origin, gseed):
    """city_layout.green_space of the block of hash `bh`, through the cache of the last G_N blocks in `out`
    (a row of metre pixels meets the same few blocks again and again; the noise is most of the cost).
    """
    key = float(bh >> np.uint64(11))  # exact in a float64
    for k in range(G_N):
        at = G_AT + 4 * k
        if out[at] == key:
            return out[at + 1], out[at + 2] > 0.5, out[at + 3] > 0.5
    green, west, south = green_space(qa, qb, width, depth, origin, gseed)
    at = G_AT + 4 * int(out[G_NEXT])
    out[at], out[at + 1], out[at + 2], out[at + 3] = key, green, 1.0 if west else 0.0, 1.0 if south else 0.0
    out[G_NEXT] = float((int(out[G_NEXT]) + 1) % G_N)
    return green, west, south


@njit(cache=True)
def _blocks(qa, qb, side, dp, dens, built, region, sx, sy, origin, gseed, out):  # noqa: C901  (one numba pixel kernel)
    """Add the district content over the square [qa +- side/2] x [qb +- side/2] of its frame; returns road area.

    `origin` (cx, cy, cos, sin): the district's centre in the city frame and its bearing, which place
    a block in the city's green space (`city_layout.green_space`, noise seed `gseed`).
    """
    (dh, theta, A1, k1, ph1, A2, k2, ph2, coll, lo_a, hi_a, lo_b, hi_b, stagger, cds, ind) = dp
    px0, px1, py0, py1 = qa - 0.5 * side, qa + 0.5 * side, qb - 0.5 * side, qb + 0.5 * side
    # window reached by shadows (cast along (sx, sy)) and crowns
    wx0 = px0 - max(sx, 0.0) * SHADOW_REACH - TREE_MARGIN
    wx1 = px1 + max(-sx, 0.0) * SHADOW_REACH + TREE_MARGIN
    wy0 = py0 - max(sy, 0.0) * SHADOW_REACH - TREE_MARGIN
    wy1 = py1 + max(-sy, 0.0) * SHADOW_REACH + TREE_MARGIN
    outer_sum = 0.0
    # on the fringe (built < 1/2) whole blocks stay undeveloped, and the others hold buildings on
    # the share of their parcels that keeps the mean at `built`
    developed = min(2.0 * built, 1.0)
    parcel_share = built / developed if developed > 0.0 else 0.0
    kv, jv = street_block(wy0, 1, dh, coll, lo_b, hi_b)
    while True:
        y0, y1, hy0, hy1, nv = block_edges(kv, jv, 1, dh, coll, lo_b, hi_b)
        if y0 > wy1:
            break
        off = row_offset(kv, jv, dh, stagger, lo_a)
        ku, ju = street_block(wx0 - off, 0, dh, coll, lo_a, hi_a)
        while True:
            x0, x1, hx0, hx1, nu = block_edges(ku, ju, 0, dh, coll, lo_a, hi_a)
            x0 += off
            x1 += off
            if x0 > wx1:
                break
            oa, ob, oc, od = x0 + hx0, x1 - hx1, y0 + hy0, y1 - hy1
            ia, ib, ic, idd = oa + SIDEWALK, ob - SIDEWALK, oc + SIDEWALK, od - SIDEWALK
            a_outer = ov(px0, px1, oa, ob) * ov(py0, py1, oc, od)
            a_inner = ov(px0, px1, ia, ib) * ov(py0, py1, ic, idd)
            outer_sum += a_outer
            bh = hash3(ku * 4096 + ju, kv * 4096 + jv, 0, dh)
            if unit(rehash(bh, 79)) >= developed:
                # an undeveloped block of the fringe: land, with its sidewalks and its west and south
                # streets and their corner (the streets it owns), so no street runs through open land
                owned = ov(px0, px1, x0 - hx0, ob) * ov(py0, py1, y0 - hy0, od)
                out[YARD_RES] += owned
                outer_sum += owned - a_outer  # (a_outer is in already)
                ku, ju = next_block(ku, ju, nu)
                continue
            green, west, south = _green_space(out, bh, 0.5 * (oa + ob), 0.5 * (oc + od), x1 - x0, y1 - y0, origin,
                                              gseed)
            # deep in the green space a park takes in its sidewalks and, where the park goes on across
            # them, its west and south streets and their corner: a large park is not cut into blocks
            out[PARK if green >= 1.0 else SIDEWALK_A] += a_outer - a_inner
            out[HEIGHT] += KERB_M * a_outer  # the block stands a kerb above its streets
            lawn = 0.0
            if west:  # with the south street, the corner between them too
                lawn = ov(px0, px1, x0 - hx0, x0 + hx0) * ov(py0, py1, y0 - hy0 if south else oc, od)
            if south:
                lawn += ov(px0, px1, oa, ob) * ov(py0, py1, y0 - hy0, y0 + hy0)
            else:
                B.street(px0, px1, py0, py1, y0, hy0, oa, ob, False, rehash(bh, 78), dens, out)
            out[PARK] += lawn
            outer_sum += lawn
            # the block owns the street segments along its west and south sides; a cul-de-sac
            # leaves the north part of its west street as lawn
            if not west:
                cf = cut_fraction(ku, ju, kv, jv, dh, cds, nu)
                s_end = od
                if cf < 1.0:
                    s_end = oc + cf * (od - oc)
                    gap = ov(px0, px1, x0 - hx0, x0 + hx0) * ov(py0, py1, s_end, od)
                    outer_sum += gap
                    out[YARD_RES] += gap
                B.street(px0, px1, py0, py1, x0, hx0, oc, s_end, True, rehash(bh, 77), dens, out)
            if a_inner > 0.0 or (ia < wx1 and ib > wx0 and ic < wy1 and idd > wy0):
                kind = unit(rehash(bh, 0))
                t2 = unit(rehash(bh, 3))
                roofs = 0.0
                if kind < 0.03 + 0.04 * (1.0 - dens) + green:
                    out[PARK] += a_inner
                    B.park_trees(px0, px1, py0, py1, wx0, wx1, wy0, wy1, ia, ib, ic, idd, bh, sx, sy,
                                 0.55 if green < 0.5 else 0.3 + 0.6 * t2, out)
                elif dens > 0.5 and kind < 0.1:  # paved square with a few trees
                    out[YARD_COM] += a_inner
                    B.park_trees(px0, px1, py0, py1, wx0, wx1, wy0, wy1, ia, ib, ic, idd, bh, sx, sy, 0.08, out)
                else:
                    com = kind < 0.2 + 0.7 * dens * dens
                    if ind > 0.5 and built > 0.9:
                        roofs = city_lots.industrial(px0, px1, py0, py1, ia, ib, ic, idd, bh, sx, sy, out)
                        com = True
                    elif dens > 0.7 and t2 < 2.0 * (dens - 0.65):
                        roofs = city_lots.towers(px0, px1, py0, py1, ia, ib, ic, idd, bh, dh, dens, region, sx, sy, out)
                        com = True
                    elif dens > 0.3 and t2 < dens - 0.1:
                        roofs = B.perimeter_block(px0, px1, py0, py1, ia, ib, ic, idd, bh, dh, dens, region, sx, sy,
                                                  out)
                    else:
                        roofs = B.parcels(px0, px1, py0, py1, wx0, wx1, wy0, wy1, ia, ib, ic, idd, bh, dh, dens,
                                          parcel_share, region, sx, sy, out)
                    if com:
                        out[YARD_COM] += a_inner - roofs
                    else:
                        out[YARD_RES] += a_inner - roofs
            ku, ju = next_block(ku, ju, nu)
        kv, jv = next_block(kv, jv, nv)
    return side * side - outer_sum


@njit(cache=True)
def _avenue(u, v, side, cs, g, polar, theta0, spacing, bi, bj, bx, by, ni, nj, nx, ny, check, out):
    """Add the rows of trees along the arterial between districts (bi, bj) and (ni, nj), centres (bx, by), (nx, ny).

    The trees stand at the kerbs, in the carriageway's outer lanes AVENUE_ROW either side of the
    border (as in tree pits between parking bays), every AVENUE_SPACING
    metres with a little jitter and a few gaps, placed along the border from its midpoint in the
    order of the two districts' indices, so the pixels on both sides draw the same trees. Near a
    junction, a tree is left out unless this border is still the nearest to it and the next one
    lies beyond the arterial's half width (so no tree stands in a crossing road): `check` says
    a junction may lie within reach of the footprint. Crowns and shadows are Gaussians
    box-filtered over the footprint, taken as a square of side `side` in the border's frame
    (city_blocks.tree), as fractions of the footprint.
    """
    if ni < bi or (ni == bi and nj < bj):
        bi, bj, bx, by, ni, nj, nx, ny = ni, nj, nx, ny, bi, bj, bx, by
    key = hash3(bi, bj, 71, hash3(ni, nj, 72, cs))
    if unit(key) >= AVENUE_SHARE:
        return
    el = math.hypot(nx - bx, ny - by)
    ex, ey = (nx - bx) / el, (ny - by) / el  # across, from the first district to the second
    tx, ty = -ey, ex  # along
    mx, my = 0.5 * (bx + nx), 0.5 * (by + ny)
    along = (u - mx) * tx + (v - my) * ty
    across = (u - mx) * ex + (v - my) * ey
    sx, sy = (SUN[0] * tx + SUN[1] * ty) / side, (SUN[0] * ex + SUN[1] * ey) / side
    px0, px1 = (along - 0.5 * side) / side, (along + 0.5 * side) / side
    py0, py1 = (across - 0.5 * side) / side, (across + 0.5 * side) / side
    reach = 0.5 * side + AVENUE_REACH
    for k in range(int(math.floor((along - reach) / AVENUE_SPACING)),
                   int(math.floor((along + reach) / AVENUE_SPACING)) + 1):
        for row in (-1, 1):
            h = hash3(k, row, 73, key)
            if unit(h) < AVENUE_GAP:
                continue
            tu = (k + 0.5 + 0.3 * (unit(rehash(h, 1)) - 0.5)) * AVENUE_SPACING
            tv = row * AVENUE_ROW
            if check:
                wx, wy = mx + tu * tx + tv * ex, my + tu * ty + tv * ey
                ti, tj, _, _, _, ui, uj, _, _, tb2, _, _, _, _ = district_at(wx, wy, cs, g, polar, theta0, spacing)
                if tb2 < BORDER_HALF_WIDTH + 1.0 or not (
                        (ti == bi and tj == bj and ui == ni and uj == nj)
                        or (ti == ni and tj == nj and ui == bi and uj == bj)):
                    continue
            sig = 1.6 + 0.9 * unit(rehash(h, 2))
            th = 7.0 + 7.0 * unit(rehash(h, 3))
            B.tree(px0, px1, py0, py1, tu / side, tv / side, sig / side, th, sx, sy, h, out)


@njit(cache=True)
def _footprint(u, v, du, dv, dens, built, cs, out):
    """Area fractions over the footprint (u, v, du, dv) into out (overwritten; colour slots as sums)."""
    for k in range(N_PUBLIC):
        out[k] = 0.0
    side = math.sqrt(du * dv)
    hb = BORDER_HALF_WIDTH
    m32 = np.uint64(0xFFFFFFFF)
    k0, k1 = float(cs >> np.uint64(32)), float(cs & m32)
    # the district of the last call on this buffer holds while the pixel stays farther from its
    # anchor's borders than the strip and its trees reach (then they cover nothing either)
    if (out[C_KEY0] == k0 and out[C_KEY1] == k1
            and math.hypot(u - out[C_U], v - out[C_V]) < out[C_BD] - hb - AVENUE_REACH - side):
        bd = 1e300
        g = polar = theta0 = spacing = 0.0
        near = (0, 0, 0.0, 0.0, 0, 0, 0.0, 0.0, 1e300, 0, 0, 0.0, 0.0)
        dp = (np.uint64(out[C_DH0]) << np.uint64(32) | np.uint64(out[C_DH1]), out[C_DP], out[C_DP + 1],
              out[C_DP + 2], out[C_DP + 3], out[C_DP + 4], out[C_DP + 5], out[C_DP + 6], out[C_DP + 7],
              out[C_DP + 8], out[C_DP + 9], out[C_DP + 10], out[C_DP + 11], out[C_DP + 12], out[C_DP + 13],
              out[C_DP + 14])
        cx, cy = out[C_CX], out[C_CY]
        c, s = out[C_COS], out[C_SIN]
    else:
        g, polar, theta0, spacing = city_style(cs)
        i, j, cx, cy, bd, ni, nj, nx, ny, bd2, mi, mj, mx, my = district_at(u, v, cs, g, polar, theta0, spacing)
        near = (i, j, cx, cy, ni, nj, nx, ny, bd2, mi, mj, mx, my)
        dp = district_params(i, j, cx, cy, cs, g, polar, theta0, spacing)
        out[C_KEY0], out[C_KEY1], out[C_U], out[C_V], out[C_BD] = k0, k1, u, v, bd
        out[C_CX], out[C_CY] = cx, cy
        out[G_NEXT] = 0.0
        for k in range(G_N):
            out[G_AT + 4 * k] = -1.0
        out[C_DH0], out[C_DH1] = float(dp[0] >> np.uint64(32)), float(dp[0] & m32)
        (_, out[C_DP], out[C_DP + 1], out[C_DP + 2], out[C_DP + 3], out[C_DP + 4], out[C_DP + 5], out[C_DP + 6],
         out[C_DP + 7], out[C_DP + 8], out[C_DP + 9], out[C_DP + 10], out[C_DP + 11], out[C_DP + 12],
         out[C_DP + 13], out[C_DP + 14]) = dp
        c, s = math.cos(dp[1]), math.sin(dp[1])
        out[C_COS], out[C_SIN] = c, s
    region = unit(rehash(cs, 905))
    # arterial along the district border: a strip 2 BORDER_HALF_WIDTH wide, box-filtered across
    t0, t1 = bd - 0.5 * side, bd + 0.5 * side
    fb = ov(t0, t1, -hb, hb) / side
    if fb < 1.0:
        dx, dy = u - cx, v - cy
        qa, qb, det = warp_inverse(c * dx + s * dy, -s * dx + c * dy, dp[2], dp[3], dp[4], dp[5], dp[6], dp[7])
        sq = side / math.sqrt(max(det, 0.2))
        sx, sy = c * SUN[0] + s * SUN[1], -s * SUN[0] + c * SUN[1]
        out[ROAD] += _blocks(qa, qb, sq, dp, dens, built, region, sx, sy, (cx, cy, c, s), green_seed(cs), out)
        inv = (1.0 - fb) / (sq * sq)
        for k in range(N_AREA):
            out[k] *= inv
        for k in range(3):
            out[BEST_B + k] *= inv
    if fb > 0.0:
        out[ROAD] += fb
        out[MARK_Y] += (ov(t0, t1, -0.3, -0.15) + ov(t0, t1, 0.15, 0.3)) / side
        e = hb - 3.5
        out[MARK] += (ov(t0, t1, -e - 0.15, -e) + ov(t0, t1, e, e + 0.15)) / side
    # the trees of the nearest border's arterial and, near a junction, of the second's
    reach = hb + AVENUE_REACH + side
    if bd < reach:
        ai, aj, ax, ay, ni, nj, nx, ny, bd2, mi, mj, mx, my = near
        _avenue(u, v, side, cs, g, polar, theta0, spacing, ai, aj, ax, ay, ni, nj, nx, ny, bd2 < reach + side, out)
        if bd2 < reach:
            _avenue(u, v, side, cs, g, polar, theta0, spacing, ai, aj, ax, ay, mi, mj, mx, my, True, out)


#: A block (its sidewalks, plots and parks) stands this much (m) above its streets: the kerb.
KERB_M = 0.15
#: Cells at most this wide are roof or ground where a building's edge cuts them, not a mix of both heights.
SHARP_EDGES_M = 1.0


@njit(cache=True)
def surface_height(out, res):
    """Height (m) that city_pixel's output `out` adds to the ground of a cell `res` metres wide.

    The area-weighted mean height of what stands in the cell (roofs, rooftop units, cars, the
    blocks' kerb), except in cells at most SHARP_EDGES_M wide that a building's edge cuts: those
    take the roofs' mean height where roofs cover at least half of them, none where they cover
    less (as the class map makes them roof or not). A cell partly over a roof at a mean height
    would stand as a step of random height at the foot of every wall, which the lifted walls show
    from the street.
    """
    h = out[HEIGHT]
    if res <= SHARP_EDGES_M and out[ROOF_A] > 0.0:
        h -= out[ROOF_H]
        if out[ROOF_A] >= 0.5:
            h += out[ROOF_H] / out[ROOF_A]
    return h


@njit(cache=True)
def city_pixel(u, v, du, dv, dens, built, cs, out):
    """Area fractions (and area-weighted colours/heights) of city features over one pixel footprint.

    (u, v): pixel centre in the city frame (m); (du, dv): footprint size (m);
    dens: density in [0, 1] (taller, tighter buildings towards 1); built: the built-up
    share, that of parcels holding a building (under 1/2, whole blocks stay land with the
    streets they own, and the others build on twice the share of their parcels); cs: city
    seed. `out` (N_OUT,) is overwritten with fractions of the footprint area (colour slots
    are averages over their feature's area, INST_* the ids of the building, car and crown
    covering most of the pixel, 0 if none).
    Slots from N_PUBLIC on cache the last district: reusing one buffer along a row of pixels
    saves the district search; any buffer (fresh or reused) gives the same values.
    """
    if du <= SPLIT and dv <= SPLIT:
        _footprint(u, v, du, dv, dens, built, cs, out)
    else:
        for i in range(N_PUBLIC):
            out[i] = 0.0
        tmp = np.empty(N_OUT)
        tmp[C_KEY0] = -1.0
        n = max(2, min(3, int(math.ceil(max(du, dv) / MAX_FOOTPRINT))))
        fu, fv = min(du / n, MAX_FOOTPRINT), min(dv / n, MAX_FOOTPRINT)
        w = 1.0 / (n * n)
        for a in range(n):
            for b in range(n):
                _footprint(u + ((a + 0.5) / n - 0.5) * du, v + ((b + 0.5) / n - 0.5) * dv, fu, fv, dens, built,
                           cs, tmp)
                for k in range(N_AREA):
                    out[k] += w * tmp[k]
                for k in range(3):
                    if w * tmp[BEST_B + k] > out[BEST_B + k]:
                        out[BEST_B + k] = w * tmp[BEST_B + k]
                        out[INST_BUILDING + k] = tmp[INST_BUILDING + k]
    if out[ROOF_A] > 0.0:
        out[ROOF_R] /= out[ROOF_A]
        out[ROOF_G] /= out[ROOF_A]
        out[ROOF_B] /= out[ROOF_A]
    if out[CAR_A] > 0.0:
        out[CAR_R] /= out[CAR_A]
        out[CAR_G] /= out[CAR_A]
        out[CAR_B] /= out[CAR_A]
    for k in range(3):
        out[BEST_B + k] = 0.0

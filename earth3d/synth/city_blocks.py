"""City blocks as exact box-filtered area fractions (numba): buildings, yards, trees, street furniture.

All functions work in a district frame (x, y metres; rectangles axis-aligned in it)
and add area-weighted quantities over the pixel box [px0, px1] x [py0, py1] to
`out` (slots below). Shadows fall along the unit vector (sx, sy) in that frame.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .noise import rehash, unit

SIDEWALK = 2.5
SHADOW_MAX = 42.0  # metres, cap of the cast-shadow length
TREE_MARGIN = 8.0  # metres, reach of a crown (3 sigma) beyond its centre
SLOT = 6.5  # metres of street per parking or traffic slot
DASH_PERIOD, DASH_LEN = 9.0, 3.0
CAR_W, CAR_L = 1.8, 4.5  # metres, a car's footprint
CAR_GLASS = np.array([0.09, 0.10, 0.12])  # windows seen from above: dark glass with a little sky in it
# A car as rectangles (along from its nose, metres; across from its side; height in metres at their
# two ends along; glass or body): bonnet, windscreen, roof, rear window and boot across the middle,
# and along the cabin the side windows, lower and sloping inward (tumblehome), on both sides.
CAR_SIDE = 0.15  # metres of side window seen from above on each side of the cabin
CAR_PARTS = np.array([
    # along0, along1, across0, across1, height0, height1, glass
    [0.0, 1.1, 0.0, CAR_W, 0.80, 0.98, 0.0],
    [1.1, 1.9, 0.0, CAR_SIDE, 0.98, 1.10, 1.0], [1.1, 1.9, CAR_SIDE, CAR_W - CAR_SIDE, 1.00, 1.42, 1.0],
    [1.1, 1.9, CAR_W - CAR_SIDE, CAR_W, 0.98, 1.10, 1.0],
    [1.9, 3.5, 0.0, CAR_SIDE, 1.10, 1.10, 1.0], [1.9, 3.5, CAR_SIDE, CAR_W - CAR_SIDE, 1.45, 1.45, 0.0],
    [1.9, 3.5, CAR_W - CAR_SIDE, CAR_W, 1.10, 1.10, 1.0],
    [3.5, 4.0, 0.0, CAR_SIDE, 1.10, 1.00, 1.0], [3.5, 4.0, CAR_SIDE, CAR_W - CAR_SIDE, 1.42, 1.05, 1.0],
    [3.5, 4.0, CAR_W - CAR_SIDE, CAR_W, 1.10, 1.00, 1.0],
    [4.0, CAR_L, 0.0, CAR_W, 1.00, 0.92, 0.0]])
CAR_H = 1.45  # metres, a car's highest point (its roof)

# Output slots of city_pixel. INST_* hold the id (an integer < 2**52) of the building / car / crown that
# covers most of the pixel; BEST_* are their areas (scratch).
# LOT is the asphalt of car parks (city_lots.parking): paved ground as land cover, asphalt to the eye.
# ROOF_H is the part of HEIGHT that roofs (and what stands on them) hold.
(ROAD, SIDEWALK_A, ROOF_A, ROOF_R, ROOF_G, ROOF_B, HEIGHT, YARD_RES, YARD_COM, PARK, CANOPY, CANOPY_H, SHADOW, RISE,
 MARK, MARK_Y, CAR_A, CAR_R, CAR_G, CAR_B, LOT, ROOF_H, INST_BUILDING, INST_CAR, INST_TREE, BEST_B, BEST_C,
 BEST_T) = range(28)
N_PUBLIC = 28  # slots from here on are a cache of the last district (kept between calls on one buffer)
C_KEY0, C_KEY1, C_U, C_V, C_BD, C_I, C_J, C_CX, C_CY, C_DH0, C_DH1, C_DP = range(28, 40)
C_COS, C_SIN = C_DP + 15, C_DP + 16  # cosine and sine of the district's bearing
# then the green space (city_layout.green_space) of the district's last G_N blocks: (key, green share,
# west, south) each, and where the next one goes; emptied with the district cache
G_N = 8
G_AT = C_DP + 17
G_NEXT = G_AT + 4 * G_N
N_OUT = G_NEXT + 1
N_AREA = INST_BUILDING  # slots before this one are area fractions or area-weighted sums

CAR_COLOURS = np.array(
    [[0.85, 0.85, 0.86], [0.10, 0.10, 0.11], [0.55, 0.56, 0.58], [0.60, 0.08, 0.07], [0.12, 0.20, 0.45],
     [0.75, 0.76, 0.78], [0.30, 0.31, 0.33], [0.20, 0.30, 0.22]], dtype=np.float64)
# Flat roofs: k-means centres of roof blocks in the WorldView-3 tile of north Las Vegas
# (examples/roof_palette.py), most common first.
ROOF_FLAT = np.array([
    [0.422, 0.430, 0.438], [0.427, 0.440, 0.454], [0.408, 0.409, 0.415], [0.442, 0.448, 0.456],
    [0.432, 0.313, 0.269], [0.442, 0.419, 0.410], [0.434, 0.466, 0.493], [0.394, 0.381, 0.380]])
ROOF_EXPOSURE = 1.3  # that tile is darker than the generator's exposure (its asphalt is 0.05)
# Pitched roofs: the tile colour measured there, and grey and brown shingle.
ROOF_PITCHED = np.array([[0.432, 0.313, 0.269], [0.30, 0.30, 0.32], [0.40, 0.34, 0.30], [0.52, 0.33, 0.26]])


@njit(cache=True)
def ov(a0, a1, b0, b1):
    """Length of the overlap of [a0, a1] and [b0, b1]."""
    return max(0.0, min(a1, b1) - max(a0, b0))


@njit(cache=True)
def _gauss_int(a, b, c, s):
    """Integral over [a, b] of exp(-(x - c)^2 / (2 s^2))."""
    r = s * 1.4142135623730951
    return s * 1.2533141373155001 * (math.erf((b - c) / r) - math.erf((a - c) / r))


@njit(cache=True)
def _tent_int(a, b, c0, c1):
    """Integral over [a, b] of the unit tent on [c0, c1] (0 at the ends, 1 in the middle)."""
    m, hw = 0.5 * (c0 + c1), 0.5 * (c1 - c0)
    lo, hi = max(a, c0), min(b, c1)
    if hi <= lo:
        return 0.0
    t0, t1 = lo - m, hi - m
    return (t1 - t1 * abs(t1) / (2.0 * hw)) - (t0 - t0 * abs(t0) / (2.0 * hw))


@njit(cache=True)
def tree(px0, px1, py0, py1, tu, tv, sig, th, sx, sy, tid, out):
    """Add one crown (Gaussian, peak 1) and its cast shadow."""
    reach = 3.0 * sig
    if tu + reach > px0 and tu - reach < px1 and tv + reach > py0 and tv - reach < py1:
        g = _gauss_int(px0, px1, tu, sig) * _gauss_int(py0, py1, tv, sig)
        out[CANOPY] += g
        out[CANOPY_H] += g * th
        if g > out[BEST_T]:
            out[BEST_T], out[INST_TREE] = g, float(tid >> np.uint64(12))
    o = min(th, SHADOW_MAX)
    su, sv = tu + sx * o, tv + sy * o
    if su + reach > px0 and su - reach < px1 and sv + reach > py0 and sv - reach < py1:
        out[SHADOW] += 0.8 * _gauss_int(px0, px1, su, sig) * _gauss_int(py0, py1, sv, sig)


@njit(cache=True)
def roof_colour(ph, dh, pitched, region):
    """Roof colour of building hash ph in district dh: the district's usual colour or another, shaded."""
    same = unit(rehash(ph, 30)) < 0.6
    h = dh if same else ph
    shade = ROOF_EXPOSURE * (0.9 + 0.2 * unit(rehash(ph, 31)))
    if pitched:
        w = unit(rehash(h, 32))
        i = 0 if w < region else 1 + int(rehash(h, 33) % np.uint64(3))
        return ROOF_PITCHED[i, 0] * shade, ROOF_PITCHED[i, 1] * shade, ROOF_PITCHED[i, 2] * shade
    i = int(rehash(h, 34) % np.uint64(8))
    return ROOF_FLAT[i, 0] * shade, ROOF_FLAT[i, 1] * shade, ROOF_FLAT[i, 2] * shade


@njit(cache=True)
def building(px0, px1, py0, py1, x0, x1, y0, y1, height, gable, ph, dh, region, sx, sy, out,  # noqa: C901
             hx0=0.0, hx1=0.0, hy0=0.0, hy1=0.0):
    """A box building [x0, x1] x [y0, y1] (minus the courtyard [hx0, hx1] x [hy0, hy1] if any).

    Flat roofs get a lighter parapet rim and, when large, one rooftop unit; gabled roofs a
    ridge along the long side. Returns the roof area inside the pixel.
    """
    court = hx1 > hx0 and hy1 > hy0
    ou, ovv = ov(px0, px1, x0, x1), ov(py0, py1, y0, y1)
    area = ou * ovv
    if court:
        area -= ov(px0, px1, hx0, hx1) * ov(py0, py1, hy0, hy1)
    rise = 0.3 * min(x1 - x0, y1 - y0) if gable else 0.0
    if area > 0.0:
        r, g, b = roof_colour(ph, dh, gable, region)
        rim = 0.0
        unit_a = 0.0
        if not gable:
            rim = ou * ovv - ov(px0, px1, x0 + 0.6, x1 - 0.6) * ov(py0, py1, y0 + 0.6, y1 - 0.6)
            if not court and (x1 - x0) > 12.0 and (y1 - y0) > 12.0 and unit(rehash(ph, 12)) < 0.6:
                bu = x0 + 3.0 + (x1 - x0 - 9.0) * unit(rehash(ph, 10))
                bv = y0 + 3.0 + (y1 - y0 - 9.0) * unit(rehash(ph, 11))
                unit_a = ov(px0, px1, bu, bu + 3.0) * ov(py0, py1, bv, bv + 2.2)
                out[HEIGHT] += 2.0 * unit_a
                out[ROOF_H] += 2.0 * unit_a
                out[RISE] += 2.0 * unit_a
        plain = area - rim - unit_a
        out[ROOF_A] += area
        out[ROOF_R] += plain * r + rim * min(1.0, r * 1.1) + unit_a * 0.6
        out[ROOF_G] += plain * g + rim * min(1.0, g * 1.1) + unit_a * 0.6
        out[ROOF_B] += plain * b + rim * min(1.0, b * 1.1) + unit_a * 0.6
        out[HEIGHT] += area * height
        out[ROOF_H] += area * height
        if gable:  # ridge along the long side: tent across the short side
            if (x1 - x0) >= (y1 - y0):
                pitch = rise * ou * _tent_int(py0, py1, y0, y1)
            else:
                pitch = rise * ovv * _tent_int(px0, px1, x0, x1)
            out[HEIGHT] += pitch
            out[ROOF_H] += pitch
            out[RISE] += pitch
        if area > out[BEST_B]:
            out[BEST_B], out[INST_BUILDING] = area, float(ph >> np.uint64(12))
    o = min(height + 0.5 * rise, SHADOW_MAX)
    ox, oy = sx * o, sy * o
    sh = ov(px0, px1, x0 + min(ox, 0.0), x1 + max(ox, 0.0)) * ov(py0, py1, y0 + min(oy, 0.0), y1 + max(oy, 0.0))
    if court:
        sh -= ov(px0, px1, hx0 + max(ox, 0.0), hx1 + min(ox, 0.0)) * ov(py0, py1, hy0 + max(oy, 0.0),
                                                                       hy1 + min(oy, 0.0))
    out[SHADOW] += max(sh - area, 0.0)
    return area


@njit(cache=True)
def _touches(px0, px1, py0, py1, x0, x1, y0, y1, ox, oy):
    """Whether the pixel box overlaps the box [x0, x1] x [y0, y1] drawn out by (ox, oy) (its shadow's reach)."""
    return (ov(px0, px1, x0 + min(ox, 0.0), x1 + max(ox, 0.0)) > 0.0
            and ov(py0, py1, y0 + min(oy, 0.0), y1 + max(oy, 0.0)) > 0.0)


@njit(cache=True)
def floors_of(ph, dens, lo, scale):
    """Number of floors: lo plus an exponential tail growing with density."""
    return lo + math.floor(-math.log(1.0 - unit(rehash(ph, 5))) * scale * (0.3 + dens * dens))


@njit(cache=True)
def parcels(px0, px1, py0, py1, wx0, wx1, wy0, wy1, ia, ib, ic, idd, bh, dh, dens, built, region,  # noqa: C901
            sx, sy, out):
    """Houses and small buildings (boxes and L-shapes) on the parcels of one block, with yard trees.

    [wx0, wx1] x [wy0, wy1] is the pixel box widened by the reach of shadows and crowns.
    """
    along_u = (ib - ia) >= (idd - ic)
    la0, la1 = (ia, ib) if along_u else (ic, idd)
    lc0, lc1 = (ic, idd) if along_u else (ia, ib)
    if along_u:
        wa0, wa1, wc0, wc1 = wx0, wx1, wy0, wy1
    else:
        wa0, wa1, wc0, wc1 = wy0, wy1, wx0, wx1
    length, depth = la1 - la0, lc1 - lc0
    if length <= 1.0 or depth <= 1.0:
        return 0.0
    pw = 12.0 + 14.0 * unit(rehash(bh, 1)) + 20.0 * dens * unit(rehash(bh, 2))
    n = max(1, int(round(length / pw)))
    rows = 2 if depth > 36.0 else 1
    step, rdepth = length / n, depth / rows
    a_lo = max(0, int(math.floor((wa0 - la0) / step)))
    a_hi = min(n - 1, int(math.floor((wa1 - la0) / step)))
    r_lo = max(0, int(math.floor((wc0 - lc0) / rdepth)))
    r_hi = min(rows - 1, int(math.floor((wc1 - lc0) / rdepth)))
    loose = 1.0 - dens
    roof_area = 0.0
    for r in range(r_lo, r_hi + 1):
        c0, c1 = lc0 + r * rdepth, lc0 + (r + 1) * rdepth
        for a in range(a_lo, a_hi + 1):
            ph = rehash(bh, 100 + r * 4096 + a)
            a0, a1 = la0 + a * step, la0 + (a + 1) * step
            side = 0.6 + (0.5 + 2.5 * unit(rehash(ph, 1))) * loose
            front = 1.2 + (1.0 + 6.0 * unit(rehash(ph, 2))) * loose
            back = 1.5 + (2.0 + 0.5 * rdepth * unit(rehash(ph, 3))) * loose
            if r == 0:
                b0, b1 = c0 + front, c1 - (back if rows > 1 else front)
            else:
                b0, b1 = c0 + back, c1 - front
            q0, q1 = a0 + side, a1 - side
            if unit(rehash(ph, 4)) < 0.95 * built and b1 - b0 > 4.0 and q1 - q0 > 4.0:
                floors = min(floors_of(ph, dens, 1.0, 8.0), 40.0)
                height = 3.1 * floors + 0.8
                # the parts and their shadows lie in the box [q0, q1] x [b0, b1] drawn out along the sun by
                # at most height + half the tallest gable (0.3 of the short side): skip what misses the pixel
                o = min(height + 0.15 * min(q1 - q0, b1 - b0) + 0.01, SHADOW_MAX)
                if along_u:
                    near = _touches(px0, px1, py0, py1, q0, q1, b0, b1, sx * o, sy * o)
                else:
                    near = _touches(px0, px1, py0, py1, b0, b1, q0, q1, sx * o, sy * o)
            else:
                near = False
            if near:
                gable = floors <= 3.0 and unit(rehash(ph, 6)) < 0.75
                lshape = unit(rehash(ph, 13)) < 0.35 and b1 - b0 > 9.0 and q1 - q0 > 9.0
                # street side first: row 0 faces lc0, the last row faces lc1
                bm = b0 + (0.45 + 0.2 * unit(rehash(ph, 14))) * (b1 - b0) if lshape else b1
                qm = q0 + (0.4 + 0.2 * unit(rehash(ph, 15))) * (q1 - q0)
                if r > 0 and lshape:
                    bm = b1 - (bm - b0)
                    parts = 2
                else:
                    parts = 2 if lshape else 1
                for part in range(parts):
                    if part == 0:
                        e0, e1 = (b0, bm) if (r == 0 or not lshape) else (bm, b1)
                        f0, f1 = q0, q1
                    else:
                        e0, e1 = (bm, b1) if r == 0 else (b0, bm)
                        f0, f1 = q0, qm
                    if along_u:
                        roof_area += building(px0, px1, py0, py1, f0, f1, e0, e1, height, gable, ph, dh, region,
                                              sx, sy, out)
                    else:
                        roof_area += building(px0, px1, py0, py1, e0, e1, f0, f1, height, gable, ph, dh, region,
                                              sx, sy, out)
            # crowns (3 sigma under 7 m) and their shadows (under 14 m long) stay near the parcel
            if along_u:
                near = _touches(px0, px1, py0, py1, a0 - 7.5, a1 + 7.5, c0 - 7.5, c1 + 7.5, sx * 14.5, sy * 14.5)
            else:
                near = _touches(px0, px1, py0, py1, c0 - 7.5, c1 + 7.5, a0 - 7.5, a1 + 7.5, sx * 14.5, sy * 14.5)
            ntree = int(unit(rehash(ph, 9)) * 3.0 * loose) if near else 0
            for t in range(ntree):
                th_ = rehash(ph, 20 + t)
                sig = 1.0 + 1.3 * unit(rehash(th_, 1))
                tu_a = a0 + (0.2 + 0.6 * unit(rehash(th_, 2))) * step
                frac = 0.1 + 0.2 * unit(rehash(th_, 3))
                if rows == 1:
                    tc = c1 - 0.5 * frac * rdepth
                elif r == 0:
                    tc = c1 - frac * rdepth
                else:
                    tc = c0 + frac * rdepth
                tree_h = 5.0 + 9.0 * unit(rehash(th_, 4))
                if along_u:
                    tree(px0, px1, py0, py1, tu_a, tc, sig, tree_h, sx, sy, th_, out)
                else:
                    tree(px0, px1, py0, py1, tc, tu_a, sig, tree_h, sx, sy, th_, out)
    return roof_area


@njit(cache=True)
def perimeter_block(px0, px1, py0, py1, ia, ib, ic, idd, bh, dh, dens, region, sx, sy, out):
    """A perimeter block: one ring of mid-rise buildings along the block edge around a courtyard."""
    d = 11.0 + 5.0 * unit(rehash(bh, 40))
    if ib - ia < 2.0 * d + 8.0 or idd - ic < 2.0 * d + 8.0:
        return building(px0, px1, py0, py1, ia, ib, ic, idd, 3.1 * floors_of(bh, dens, 3.0, 3.0) + 0.8, False,
                        bh, dh, region, sx, sy, out)
    height = 3.1 * min(floors_of(bh, dens, 3.0, 3.0), 9.0) + 0.8
    roof = building(px0, px1, py0, py1, ia, ib, ic, idd, height, False, bh, dh, region, sx, sy, out,
                    ia + d, ib - d, ic + d, idd - d)
    # one or two courtyard trees
    cu, cv = 0.5 * (ia + ib), 0.5 * (ic + idd)
    for t in range(1 + int(2.0 * unit(rehash(bh, 41)))):
        th_ = rehash(bh, 42 + t)
        tu = cu + (unit(rehash(th_, 1)) - 0.5) * (ib - ia - 2.0 * d - 6.0)
        tv = cv + (unit(rehash(th_, 2)) - 0.5) * (idd - ic - 2.0 * d - 6.0)
        tree(px0, px1, py0, py1, tu, tv, 1.5 + 1.5 * unit(rehash(th_, 3)), 8.0 + 6.0 * unit(rehash(th_, 4)),
             sx, sy, th_, out)
    return roof


@njit(cache=True)
def park_trees(px0, px1, py0, py1, wx0, wx1, wy0, wy1, ia, ib, ic, idd, bh, sx, sy, density, out):
    """Trees on a 9 m jittered lattice inside a park block, `density` of the lattice sites planted."""
    spacing = 9.0
    i0 = int(math.floor((max(ia, wx0) - ia) / spacing))
    i1 = int(math.floor((min(ib, wx1) - ia) / spacing))
    j0 = int(math.floor((max(ic, wy0) - ic) / spacing))
    j1 = int(math.floor((min(idd, wy1) - ic) / spacing))
    # groves: planted where a coarse hash field is high, open lawn elsewhere
    for i in range(max(i0, 0), i1 + 1):
        for j in range(max(j0, 0), j1 + 1):
            h = rehash(bh, 5000 + i * 1021 + j)
            g = unit(rehash(bh, 6000 + (i // 3) * 1021 + j // 3))
            if unit(h) > density * (0.3 + 1.2 * g):
                continue
            tu = ia + (i + 0.2 + 0.6 * unit(rehash(h, 1))) * spacing
            tv = ic + (j + 0.2 + 0.6 * unit(rehash(h, 2))) * spacing
            if tu > ib - 2.0 or tv > idd - 2.0:
                continue
            tree(px0, px1, py0, py1, tu, tv, 1.2 + 2.0 * unit(rehash(h, 3)), 6.0 + 12.0 * unit(rehash(h, 4)),
                 sx, sy, h, out)


@njit(cache=True)
def periodic(la, lb, s0, period, length):
    """Length of [la, lb] covered by stripes `length` long every `period` starting at s0."""
    ta, tb = la - s0, lb - s0
    fa = math.floor(ta / period) * length + min(ta % period, length)
    fb = math.floor(tb / period) * length + min(tb % period, length)
    return fb - fa


@njit(cache=True)
def street(px0, px1, py0, py1, c, hw, s0, s1, runs_v, sh, dens, out):  # noqa: C901
    """Markings and cars of one street segment: centreline at c, half-width hw, from s0 to s1 along it."""
    a0, a1, l0, l1 = (px0, px1, py0, py1) if runs_v else (py0, py1, px0, px1)
    if a1 <= c - hw or a0 >= c + hw or l1 <= s0 or l0 >= s1:
        return
    la, lb = max(l0, s0), min(l1, s1)
    wide = hw > 6.0
    if wide:
        out[MARK_Y] += (ov(a0, a1, c - 0.3, c - 0.15) + ov(a0, a1, c + 0.15, c + 0.3)) * (lb - la)
        e = hw - 3.4
        out[MARK] += (ov(a0, a1, c - e - 0.15, c - e) + ov(a0, a1, c + e, c + e + 0.15)) * (lb - la)
    else:
        out[MARK] += ov(a0, a1, c - 0.08, c + 0.08) * periodic(la, lb, s0, DASH_PERIOD, DASH_LEN)
    zebra = ov(la, lb, s0 + 0.8, s0 + 3.8) + ov(la, lb, s1 - 3.8, s1 - 0.8)
    z0, z1 = max(a0, c - hw + 0.5), min(a1, c + hw - 0.5)
    if zebra > 0.0 and z1 > z0:
        out[MARK] += zebra * periodic(z0, z1, c - hw, 1.0, 0.5)
    n_slots = int((s1 - s0) / SLOT)
    k0 = max(1, int(math.floor((la - s0) / SLOT)))
    k1 = min(n_slots - 2, int(math.floor((lb - s0) / SLOT)))
    p_car = 0.12 + 0.3 * dens
    for lane in range(4):
        if wide:
            off = (-(hw - 1.7), -1.8, 1.8, hw - 1.7)[lane]
        elif lane < 2:
            off = (-(hw - 1.4), hw - 1.4)[lane]
        else:
            break
        if ov(a0, a1, c + off - 0.5 * CAR_W, c + off + 0.5 * CAR_W) <= 0.0:
            continue
        for k in range(k0, k1 + 1):
            h = rehash(sh, 1000 + lane * 100003 + k)
            if unit(h) > p_car:
                continue
            start = s0 + k * SLOT + 0.5 + 1.2 * unit(rehash(h, 1))
            car(a0, a1, c + off - 0.5 * CAR_W, la, lb, start, off > 0.0, h, out)  # each side faces its way


@njit(cache=True)
def car(a0, a1, w0, l0, l1, s0, nose_first, h, out):
    """Add the part of the pixel [a0, a1] across x [l0, l1] along that the car of hash h covers: its
    footprint [w0, w0 + CAR_W] x [s0, s0 + CAR_L], nose at s0 when `nose_first` (else at the other
    end), a CAR_COLOURS body with dark windows (CAR_PARTS), heights box-averaged over the pixel.
    """
    if a1 <= w0 or a0 >= w0 + CAR_W or l1 <= s0 or l0 >= s0 + CAR_L:
        return
    # the pixel in the car's own frame: along from the nose, across from its side
    u0, u1 = (l0 - s0, l1 - s0) if nose_first else (s0 + CAR_L - l1, s0 + CAR_L - l0)
    v0, v1 = a0 - w0, a1 - w0
    ci = int(rehash(h, 2) % np.uint64(CAR_COLOURS.shape[0]))
    area, glass, height = 0.0, 0.0, 0.0
    for k in range(CAR_PARTS.shape[0]):
        pa0, pa1, pc0, pc1, z0, z1, is_glass = CAR_PARTS[k]
        across = ov(v0, v1, pc0, pc1)
        if across <= 0.0:
            continue
        b0, b1 = max(u0, pa0), min(u1, pa1)
        if b1 <= b0:
            continue
        part = across * (b1 - b0)
        area += part
        glass += part * is_glass
        height += part * (z0 + (z1 - z0) * (0.5 * (b0 + b1) - pa0) / (pa1 - pa0))  # linear: its mean at the middle
    if area <= 0.0:
        return
    body = area - glass
    out[CAR_A] += area
    out[CAR_R] += body * CAR_COLOURS[ci, 0] + glass * CAR_GLASS[0]
    out[CAR_G] += body * CAR_COLOURS[ci, 1] + glass * CAR_GLASS[1]
    out[CAR_B] += body * CAR_COLOURS[ci, 2] + glass * CAR_GLASS[2]
    out[HEIGHT] += height
    out[RISE] += height
    if area > out[BEST_C]:
        out[BEST_C], out[INST_CAR] = area, float(h >> np.uint64(12))

"""City layout as exact box-filtered area fractions (numba).

A city lives in a local metric frame (u east, v north, metres). Streets form a
jittered two-level grid per axis: arterials about every 500 m, local streets
splitting each arterial interval into blocks of 70-140 m. Blocks split into
parcels along their long side (one or two rows facing the streets); parcels
hold one building (rectangle, flat or gabled roof) and yard trees. Every
feature is a rectangle or a Gaussian crown, so the area average of any
quantity over a pixel footprint is computed exactly (rectangle overlaps, erf
integrals). A pixel value is that average: averaging a fine tile down gives
the coarse tile, and neighbouring tiles agree on their border.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .noise import hash2, hash3, rehash, unit

ARTERIAL_SPACING = 500.0
ARTERIAL_HALF_WIDTH = 11.0
LOCAL_HALF_WIDTH = 5.0
SIDEWALK = 2.5
SHADOW_MAX = 30.0  # metres, cap of the cast-shadow offset along each axis
TREE_MARGIN = 8.0  # metres, reach of a crown (3 sigma) beyond its centre
SUN_OFFSET = 0.70710678  # shadow offset per metre of height along +u and -v (sun 45 deg high in the north-west)
MAX_FOOTPRINT = 48.0  # metres: wider pixels average the city over this footprint at their centre

# Output slots of city_pixel: area fractions and weighted sums (the first N_AREA), then the
# instance ids (float64 holding an integer < 2**52, 0 if none) of the building, car and tree
# covering most of the pixel, and the areas that chose them.
(ROAD, SIDEWALK_A, ROOF_A, ROOF_R, ROOF_G, ROOF_B, HEIGHT, YARD_RES, YARD_COM, PARK, CANOPY, CANOPY_H, SHADOW, RISE,
 MARK, MARK_Y, CAR_A, CAR_R, CAR_G, CAR_B, INST_BUILDING, INST_CAR, INST_TREE, BEST_BUILDING, BEST_CAR,
 BEST_TREE) = range(26)
N_AREA = 20
N_OUT = 26
CAR_COLOURS = np.array(
    [[0.85, 0.85, 0.86], [0.10, 0.10, 0.11], [0.55, 0.56, 0.58], [0.60, 0.08, 0.07], [0.12, 0.20, 0.45],
     [0.75, 0.76, 0.78], [0.30, 0.31, 0.33], [0.20, 0.30, 0.22]], dtype=np.float64)
SLOT = 6.5  # metres of street per parking or traffic slot
DASH_PERIOD, DASH_LEN = 9.0, 3.0

ROOF_COLOURS = np.array(
    [[0.56, 0.54, 0.51], [0.36, 0.36, 0.38], [0.60, 0.35, 0.27], [0.74, 0.73, 0.70], [0.46, 0.40, 0.34],
     [0.42, 0.46, 0.50], [0.52, 0.30, 0.24], [0.66, 0.64, 0.60]], dtype=np.float64)


@njit(cache=True)
def instance_id(h):
    """An object's instance id from its 64-bit hash: an odd integer < 2**52, exact in a float64."""
    return float((h >> np.uint64(12)) | np.uint64(1))


@njit(cache=True)
def _claim(out, slot, best, area, h):
    """Make the object of hash `h` the pixel's `slot` instance if it covers more than the best so far."""
    if area > out[best]:
        out[best] = area
        out[slot] = instance_id(h)


@njit(cache=True)
def _ov(a0, a1, b0, b1):
    """Length of the overlap of [a0, a1] and [b0, b1]."""
    return max(0.0, min(a1, b1) - max(a0, b0))


@njit(cache=True)
def _arterial(k, axis, cs):
    return k * ARTERIAL_SPACING + (unit(hash2(k, axis, cs)) - 0.5) * 150.0


@njit(cache=True)
def _n_local(k, axis, cs):
    a0, a1 = _arterial(k, axis, cs), _arterial(k + 1, axis, cs)
    spacing = 70.0 + 70.0 * unit(hash2(k, axis + 2, cs))
    return max(1, int(round((a1 - a0) / spacing)))


@njit(cache=True)
def _street_block(x, axis, cs):
    """Index (k, j) of the street block containing coordinate x along one axis."""
    k = int(math.floor(x / ARTERIAL_SPACING))
    if x < _arterial(k, axis, cs):
        k -= 1
    elif x >= _arterial(k + 1, axis, cs):
        k += 1
    a0, a1 = _arterial(k, axis, cs), _arterial(k + 1, axis, cs)
    n = _n_local(k, axis, cs)
    j = min(n - 1, max(0, int(math.floor((x - a0) / (a1 - a0) * n))))
    return k, j


@njit(cache=True)
def _block_edges(k, j, axis, cs):
    """Centrelines (x0, x1) of the streets bounding block (k, j) and their half-widths."""
    a0, a1 = _arterial(k, axis, cs), _arterial(k + 1, axis, cs)
    n = _n_local(k, axis, cs)
    step = (a1 - a0) / n
    x0, x1 = a0 + j * step, a0 + (j + 1) * step
    h0 = ARTERIAL_HALF_WIDTH if j == 0 else LOCAL_HALF_WIDTH
    h1 = ARTERIAL_HALF_WIDTH if j == n - 1 else LOCAL_HALF_WIDTH
    return x0, x1, h0, h1, n


@njit(cache=True)
def _next_block(k, j, n):
    return (k + 1, 0) if j + 1 >= n else (k, j + 1)


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
    # antiderivative of 1 - |x - m| / hw
    t0, t1 = lo - m, hi - m
    f0 = t0 - t0 * abs(t0) / (2.0 * hw)
    f1 = t1 - t1 * abs(t1) / (2.0 * hw)
    return f1 - f0


@njit(cache=True)
def _tree(px0, px1, py0, py1, tu, tv, sig, th, out, tid):
    """Add one crown (Gaussian, peak 1; hash `tid`) and its cast shadow over the pixel [px0, px1] x [py0, py1]."""
    reach = 3.0 * sig
    if tu + reach > px0 and tu - reach < px1 and tv + reach > py0 and tv - reach < py1:
        g = _gauss_int(px0, px1, tu, sig) * _gauss_int(py0, py1, tv, sig)
        _claim(out, INST_TREE, BEST_TREE, g, tid)
        out[CANOPY] += g
        out[CANOPY_H] += g * th
    o = min(th * SUN_OFFSET, SHADOW_MAX)
    su, sv = tu + o, tv - o
    if su + reach > px0 and su - reach < px1 and sv + reach > py0 and sv - reach < py1:
        out[SHADOW] += 0.8 * _gauss_int(px0, px1, su, sig) * _gauss_int(py0, py1, sv, sig)


@njit(cache=True)
def _parcels(px0, px1, py0, py1, ia, ib, ic, idd, bh, dens, built, out):  # noqa: C901  (one numba pixel kernel)
    """Buildings and yard trees of the parcels of one block's inner rectangle [ia, ib] x [ic, idd]."""
    along_u = (ib - ia) >= (idd - ic)
    la0, la1 = (ia, ib) if along_u else (ic, idd)
    lc0, lc1 = (ic, idd) if along_u else (ia, ib)
    # pixel window (with shadow and crown reach) in (along, across) coordinates
    if along_u:
        wa0, wa1 = px0 - SHADOW_MAX - TREE_MARGIN, px1 + TREE_MARGIN
        wc0, wc1 = py0 - TREE_MARGIN, py1 + SHADOW_MAX + TREE_MARGIN
    else:
        wa0, wa1 = py0 - TREE_MARGIN, py1 + SHADOW_MAX + TREE_MARGIN
        wc0, wc1 = px0 - SHADOW_MAX - TREE_MARGIN, px1 + TREE_MARGIN
    length, depth = la1 - la0, lc1 - lc0
    if length <= 1.0 or depth <= 1.0:
        return 0.0
    pw = 12.0 + 18.0 * unit(rehash(bh, 1)) + 25.0 * dens * unit(rehash(bh, 2))
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
            # row 0 faces the street at lc0, the last row faces lc1
            if r == 0:
                b0, b1 = c0 + front, c1 - (back if rows > 1 else front)
            else:
                b0, b1 = c0 + back, c1 - front
            q0, q1 = a0 + side, a1 - side
            if unit(rehash(ph, 4)) < 0.15 + 0.8 * built and b1 - b0 > 4.0 and q1 - q0 > 4.0:
                floors = 1.0 + math.floor(-math.log(1.0 - unit(rehash(ph, 5))) * (0.6 + 12.0 * dens * dens))
                height = 3.1 * min(floors, 70.0) + 0.8
                gable = floors <= 3.0 and unit(rehash(ph, 6)) < 0.75
                rise = 0.3 * min(q1 - q0, b1 - b0) if gable else 0.0
                if along_u:
                    x0, x1, y0, y1 = q0, q1, b0, b1
                else:
                    x0, x1, y0, y1 = b0, b1, q0, q1
                ou, ov = _ov(px0, px1, x0, x1), _ov(py0, py1, y0, y1)
                area = ou * ov
                if area > 0.0:
                    ci = int(rehash(ph, 7) % np.uint64(ROOF_COLOURS.shape[0]))
                    shade = 0.85 + 0.3 * unit(rehash(ph, 8))
                    # flat roofs: a lighter parapet rim 0.6 m wide and one plant box on larger roofs
                    rim = 0.0
                    unit_a = 0.0
                    if not gable:
                        rim = area - _ov(px0, px1, x0 + 0.6, x1 - 0.6) * _ov(py0, py1, y0 + 0.6, y1 - 0.6)
                        if (x1 - x0) > 12.0 and (y1 - y0) > 12.0:
                            bu = x0 + 3.0 + (x1 - x0 - 9.0) * unit(rehash(ph, 10))
                            bv = y0 + 3.0 + (y1 - y0 - 9.0) * unit(rehash(ph, 11))
                            unit_a = _ov(px0, px1, bu, bu + 3.0) * _ov(py0, py1, bv, bv + 2.2)
                            out[HEIGHT] += 2.0 * unit_a
                            out[RISE] += 2.0 * unit_a
                    plain = area - rim - unit_a
                    _claim(out, INST_BUILDING, BEST_BUILDING, area, ph)
                    out[ROOF_A] += area
                    for c in range(3):
                        out[ROOF_R + c] += (plain * ROOF_COLOURS[ci, c] * shade
                                            + rim * min(1.0, ROOF_COLOURS[ci, c] * shade * 1.25)
                                            + unit_a * 0.72)
                    out[HEIGHT] += area * height
                    if gable:  # ridge along the parcel's long side: tent across the short side
                        if ((q1 - q0) >= (b1 - b0)) == along_u:
                            pitch = rise * ou * _tent_int(py0, py1, y0, y1)
                        else:
                            pitch = rise * ov * _tent_int(px0, px1, x0, x1)
                        out[HEIGHT] += pitch
                        out[RISE] += pitch
                    roof_area += area
                o = min((height + 0.5 * rise) * SUN_OFFSET, SHADOW_MAX)
                shadow = _ov(px0, px1, x0, x1 + o) * _ov(py0, py1, y0 - o, y1) - area
                out[SHADOW] += shadow
            # yard trees: one or two in the back part of the parcel, fewer in dense areas
            ntree = int(unit(rehash(ph, 9)) * 3.0 * loose)
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
                    _tree(px0, px1, py0, py1, tu_a, tc, sig, tree_h, out, th_)
                else:
                    _tree(px0, px1, py0, py1, tc, tu_a, sig, tree_h, out, th_)
    return roof_area


@njit(cache=True)
def _park_trees(px0, px1, py0, py1, ia, ib, ic, idd, bh, out):
    """Trees on a 9 m jittered lattice inside a park block."""
    spacing = 9.0
    i0 = int(math.floor((max(ia, px0 - SHADOW_MAX - TREE_MARGIN) - ia) / spacing))
    i1 = int(math.floor((min(ib, px1 + TREE_MARGIN) - ia) / spacing))
    j0 = int(math.floor((max(ic, py0 - TREE_MARGIN) - ic) / spacing))
    j1 = int(math.floor((min(idd, py1 + SHADOW_MAX + TREE_MARGIN) - ic) / spacing))
    for i in range(max(i0, 0), i1 + 1):
        for j in range(max(j0, 0), j1 + 1):
            h = rehash(bh, 5000 + i * 1021 + j)
            if unit(h) > 0.55:
                continue
            tu = ia + (i + 0.2 + 0.6 * unit(rehash(h, 1))) * spacing
            tv = ic + (j + 0.2 + 0.6 * unit(rehash(h, 2))) * spacing
            if tu > ib - 2.0 or tv > idd - 2.0:
                continue
            _tree(px0, px1, py0, py1, tu, tv, 1.2 + 1.8 * unit(rehash(h, 3)), 6.0 + 12.0 * unit(rehash(h, 4)), out, h)


@njit(cache=True)
def _periodic(la, lb, s0, period, length):
    """Length of [la, lb] covered by stripes `length` long every `period` starting at s0."""
    ta, tb = la - s0, lb - s0
    fa = math.floor(ta / period) * length + min(ta % period, length)
    fb = math.floor(tb / period) * length + min(tb % period, length)
    return fb - fa


@njit(cache=True)
def _dashes(la, lb, s0):
    """Length of lane dashes (DASH_LEN every DASH_PERIOD from s0) inside [la, lb]."""
    return _periodic(la, lb, s0, DASH_PERIOD, DASH_LEN)


@njit(cache=True)
def _street(px0, px1, py0, py1, c, hw, s0, s1, runs_v, sh, dens, out):
    """Markings and cars of one street segment: centreline at c, half-width hw, from s0 to s1 along it."""
    a0, a1, l0, l1 = (px0, px1, py0, py1) if runs_v else (py0, py1, px0, px1)
    if a1 <= c - hw or a0 >= c + hw or l1 <= s0 or l0 >= s1:
        return
    la, lb = max(l0, s0), min(l1, s1)
    if hw > 8.0:
        out[MARK_Y] += (_ov(a0, a1, c - 0.3, c - 0.15) + _ov(a0, a1, c + 0.15, c + 0.3)) * (lb - la)
        out[MARK] += (_ov(a0, a1, c - 5.6, c - 5.45) + _ov(a0, a1, c + 5.45, c + 5.6)) * _dashes(la, lb, s0)
    else:
        out[MARK] += _ov(a0, a1, c - 0.08, c + 0.08) * _dashes(la, lb, s0)
    # zebra crossings at both ends of the segment: 0.5 m stripes across the carriageway
    zebra = _ov(la, lb, s0 + 0.8, s0 + 3.8) + _ov(la, lb, s1 - 3.8, s1 - 0.8)
    z0, z1 = max(a0, c - hw + 0.5), min(a1, c + hw - 0.5)
    if zebra > 0.0 and z1 > z0:
        out[MARK] += zebra * _periodic(z0, z1, c - hw, 1.0, 0.5)
    n_slots = int((s1 - s0) / SLOT)
    k0 = max(1, int(math.floor((la - s0) / SLOT)))
    k1 = min(n_slots - 2, int(math.floor((lb - s0) / SLOT)))
    p_car = 0.15 + 0.35 * dens
    for lane in range(4):
        off = (-8.2, -2.8, 2.8, 8.2)[lane] if hw > 8.0 else (-(hw - 1.4), hw - 1.4, 0.0, 0.0)[lane]
        if hw <= 8.0 and lane > 1:
            break
        ca0, ca1 = c + off - 0.9, c + off + 0.9
        oa = _ov(a0, a1, ca0, ca1)
        if oa <= 0.0:
            continue
        for k in range(k0, k1 + 1):
            h = rehash(sh, 1000 + lane * 100003 + k)
            if unit(h) > p_car:
                continue
            start = s0 + k * SLOT + 0.5 + 1.2 * unit(rehash(h, 1))
            area = oa * _ov(la, lb, start, start + 4.5)
            if area > 0.0:
                ci = int(rehash(h, 2) % np.uint64(CAR_COLOURS.shape[0]))
                _claim(out, INST_CAR, BEST_CAR, area, h)
                out[CAR_A] += area
                out[CAR_R] += area * CAR_COLOURS[ci, 0]
                out[CAR_G] += area * CAR_COLOURS[ci, 1]
                out[CAR_B] += area * CAR_COLOURS[ci, 2]
                out[HEIGHT] += area * 1.5
                out[RISE] += area * 1.5


@njit(cache=True)
def city_pixel(u, v, du, dv, dens, built, cs, out):
    """Area fractions (and area-weighted colours/heights) of city features over one pixel footprint.

    (u, v): pixel centre in the city frame (m); (du, dv): footprint size (m);
    dens: density in [0, 1] (taller, tighter buildings towards 1); built: share
    of parcels that hold a building. `out` (N_OUT,) is overwritten with
    fractions of the footprint area (colour and height slots are weighted sums
    divided by the area); INST_BUILDING, INST_CAR and INST_TREE hold the instance ids of
    the building, car and crown covering most of the footprint (0 if none).
    """
    for i in range(N_OUT):
        out[i] = 0.0
    du = min(du, MAX_FOOTPRINT)
    dv = min(dv, MAX_FOOTPRINT)
    px0, px1, py0, py1 = u - 0.5 * du, u + 0.5 * du, v - 0.5 * dv, v + 0.5 * dv
    area_px = du * dv
    outer_sum = 0.0
    ku, ju = _street_block(px0 - SHADOW_MAX - TREE_MARGIN, 0, cs)
    while True:
        x0, x1, hx0, hx1, nu = _block_edges(ku, ju, 0, cs)
        if x0 > px1 + TREE_MARGIN:
            break
        kv, jv = _street_block(py0 - TREE_MARGIN, 1, cs)
        while True:
            y0, y1, hy0, hy1, nv = _block_edges(kv, jv, 1, cs)
            if y0 > py1 + SHADOW_MAX + TREE_MARGIN:
                break
            oa, ob, oc, od = x0 + hx0, x1 - hx1, y0 + hy0, y1 - hy1
            ia, ib, ic, idd = oa + SIDEWALK, ob - SIDEWALK, oc + SIDEWALK, od - SIDEWALK
            a_outer = _ov(px0, px1, oa, ob) * _ov(py0, py1, oc, od)
            a_inner = _ov(px0, px1, ia, ib) * _ov(py0, py1, ic, idd)
            outer_sum += a_outer
            out[SIDEWALK_A] += a_outer - a_inner
            bh = hash3(ku * 64 + ju, kv * 64 + jv, 0, cs)
            # the block owns the street segments along its west and south sides
            _street(px0, px1, py0, py1, x0, hx0, oc, od, True, rehash(bh, 77), dens, out)
            _street(px0, px1, py0, py1, y0, hy0, oa, ob, False, rehash(bh, 78), dens, out)
            kind = unit(rehash(bh, 0))
            if kind < 0.06 + 0.04 * (1.0 - dens):
                out[PARK] += a_inner
                _park_trees(px0, px1, py0, py1, ia, ib, ic, idd, bh, out)
            else:
                roofs = _parcels(px0, px1, py0, py1, ia, ib, ic, idd, bh, dens, built, out)
                if kind < 0.2 + 0.7 * dens * dens:
                    out[YARD_COM] += a_inner - roofs
                else:
                    out[YARD_RES] += a_inner - roofs
            kv, jv = _next_block(kv, jv, nv)
        ku, ju = _next_block(ku, ju, nu)
    out[ROAD] = area_px - outer_sum
    inv = 1.0 / area_px
    for i in range(N_AREA):
        out[i] *= inv
    if out[ROOF_A] > 0.0:
        out[ROOF_R] /= out[ROOF_A]
        out[ROOF_G] /= out[ROOF_A]
        out[ROOF_B] /= out[ROOF_A]
    if out[CAR_A] > 0.0:
        out[CAR_R] /= out[CAR_A]
        out[CAR_G] /= out[CAR_A]
        out[CAR_B] /= out[CAR_A]

"""Commercial plots as exact box-filtered area fractions (numba): towers on plazas, industrial sheds, car parks.

Same frame and conventions as city_blocks.py: a district frame (x, y metres), rectangles axis-aligned
in it, area-weighted quantities added over the pixel box [px0, px1] x [py0, py1] to `out`.

Around towers and sheds, real plots are car parks as much as plazas and loading yards: seen from
above, the dark asphalt of a surface car park with its white stall lines and rows of cars is
one of the commonest sights of a city's business and industrial districts. A plot's largest free
strip beside its building (or a whole plot without one) becomes a car park when it is deep
enough for a row of stalls and its aisle.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .city_blocks import (
    BEST_B,
    CAR_L,
    CAR_W,
    HEIGHT,
    INST_BUILDING,
    LOT,
    MARK,
    ROOF_A,
    ROOF_B,
    ROOF_G,
    ROOF_H,
    ROOF_R,
    SHADOW,
    building,
    car,
    floors_of,
    ov,
    periodic,
)
from .noise import rehash, unit

STALL_W, STALL_D, AISLE = 2.5, 5.0, 6.0  # metres: a stall's width and depth, an aisle's width
LINE_W = 0.12  # metres, the white line between stalls
LOT_MIN = STALL_D + AISLE  # the shallowest car park: one row of stalls on its aisle
EDGE = 1.5  # metres kept between a car park and its plot's edge (kerb, planting)
GAP = 2.0  # metres kept between a car park and its building (walkway, loading)


@njit(cache=True)
def parking(px0, px1, py0, py1, x0, x1, y0, y1, lh, out):
    """A surface car park on [x0, x1] x [y0, y1]; returns its area inside the pixel.

    Rows of stalls run along its long side, back to back in pairs between aisles (stall, aisle,
    stall, stall, aisle, stall, ...; a single row on its aisle where the depth left allows), the
    rows centred across it, white lines between stalls, and a share of the stalls (from the
    car park's hash `lh`, 35-90 %) holding a car parked nose in.
    """
    area = ov(px0, px1, x0, x1) * ov(py0, py1, y0, y1)
    if area <= 0.0:
        return 0.0
    out[LOT] += area
    along_x = (x1 - x0) >= (y1 - y0)
    a0, a1, l0, l1 = (py0, py1, px0, px1) if along_x else (px0, px1, py0, py1)  # across the rows, along them
    c0, c1, s0, s1 = (y0, y1, x0, x1) if along_x else (x0, x1, y0, y1)
    n_pairs = int((c1 - c0) // (2.0 * STALL_D + AISLE))
    single = (c1 - c0) - n_pairs * (2.0 * STALL_D + AISLE) >= LOT_MIN
    used = n_pairs * (2.0 * STALL_D + AISLE) + (LOT_MIN if single else 0.0)
    first = c0 + 0.5 * (c1 - c0 - used)
    n_stalls = int((s1 - s0 - 2.0) / STALL_W)
    start = s0 + 0.5 * (s1 - s0 - n_stalls * STALL_W)
    la, lb = max(l0, start), min(l1, start + n_stalls * STALL_W + LINE_W)
    occupied = 0.35 + 0.55 * unit(rehash(lh, 1))
    for row in range(2 * n_pairs + int(single)):
        r0 = first + (row // 2) * (2.0 * STALL_D + AISLE) + (row % 2) * (STALL_D + AISLE)
        oa = ov(a0, a1, r0, r0 + STALL_D)
        if oa <= 0.0 or lb <= la:
            continue
        out[MARK] += oa * periodic(la, lb, start, STALL_W, LINE_W)
        # cars nose in, 0.3 m short of the stall's back (the side away from the aisle)
        lo = r0 + 0.3 if row % 2 == 0 else r0 + STALL_D - 0.3 - CAR_L  # the car's lower edge across the rows
        for k in range(max(int((la - start) // STALL_W), 0), min(int((lb - start) // STALL_W), n_stalls - 1) + 1):
            h = rehash(lh, 100 + row * 4099 + k)
            if unit(h) < occupied:
                c = start + k * STALL_W + 0.5 * (STALL_W - CAR_W)
                car(l0, l1, c, a0, a1, lo, row % 2 == 0, h, out)  # nose to the stall's back
    return area


@njit(cache=True)
def _beside(px0, px1, py0, py1, pa, pb, pc, pd, x0, x1, y0, y1, lh, out):
    """A car park on the largest free strip of the plot [pa, pb] x [pc, pd] beside its building
    [x0, x1] x [y0, y1] (none when no strip is deep enough); returns its area inside the pixel.
    """
    best, ba, bb, bc, bd = 0.0, 0.0, 0.0, 0.0, 0.0
    for side in range(4):
        qa, qb, qc, qd = pa + EDGE, pb - EDGE, pc + EDGE, pd - EDGE
        if side == 0:
            qb = x0 - GAP
        elif side == 1:
            qa = x1 + GAP
        elif side == 2:
            qd = y0 - GAP
        else:
            qc = y1 + GAP
        if min(qb - qa, qd - qc) >= LOT_MIN and (qb - qa) * (qd - qc) > best:
            best, ba, bb, bc, bd = (qb - qa) * (qd - qc), qa, qb, qc, qd
    if best <= 0.0:
        return 0.0
    return parking(px0, px1, py0, py1, ba, bb, bc, bd, lh, out)


@njit(cache=True)
def towers(px0, px1, py0, py1, ia, ib, ic, idd, bh, dh, dens, region, sx, sy, out):
    """Up to four high-rise towers or slabs on a plaza, most with a car park beside them; a plot
    without a tower is a car park. Returns the area of roofs and car parks inside the pixel.
    """
    taken = 0.0
    nu = 1 + int((ib - ia) > 70.0)
    nv = 1 + int((idd - ic) > 70.0)
    su, sv = (ib - ia) / nu, (idd - ic) / nv
    for i in range(nu):
        for j in range(nv):
            ph = rehash(bh, 200 + i * 8 + j)
            pa, pc = ia + i * su, ic + j * sv
            lh = rehash(ph, 40)
            if unit(rehash(ph, 1)) < 0.2:
                if min(su, sv) - 2.0 * EDGE >= LOT_MIN:
                    taken += parking(px0, px1, py0, py1, pa + EDGE, pa + su - EDGE, pc + EDGE, pc + sv - EDGE, lh,
                                     out)
                continue
            w = su * (0.45 + 0.4 * unit(rehash(ph, 2)))
            h = sv * (0.45 + 0.4 * unit(rehash(ph, 3)))
            x0 = pa + (su - w) * unit(rehash(ph, 4))
            y0 = pc + (sv - h) * unit(rehash(ph, 6))
            height = 3.4 * min(floors_of(ph, dens, 6.0, 14.0), 60.0) + 1.0
            taken += building(px0, px1, py0, py1, x0, x0 + w, y0, y0 + h, height, False, ph, dh, region, sx, sy,
                              out)
            if unit(lh) < 0.6:
                taken += _beside(px0, px1, py0, py1, pa, pa + su, pc, pc + sv, x0, x0 + w, y0, y0 + h, lh, out)
    return taken


@njit(cache=True)
def shed_colour(ph):
    """Roof colour of industrial shed ph: pale membrane or concrete, grey, blue-grey or rusty metal."""
    k = unit(rehash(ph, 5))
    t = unit(rehash(ph, 7))
    if k < 0.45:
        g = 0.46 + 0.14 * t
        return g, g, g + 0.02
    if k < 0.80:
        g = 0.30 + 0.12 * t
        return g, g + 0.005, g + 0.015
    if k < 0.92:
        return 0.27 + 0.06 * t, 0.34 + 0.06 * t, 0.43 + 0.06 * t
    return 0.42 + 0.08 * t, 0.29 + 0.05 * t, 0.24 + 0.04 * t


@njit(cache=True)
def industrial(px0, px1, py0, py1, ia, ib, ic, idd, bh, sx, sy, out):
    """Low sheds on a paved lot: one to three along the block, each covering a varying share of its
    plot, with roofs of the usual industrial kinds (shed_colour), and a car park on the widest
    yard beside some of them; some lots are open yards. Returns the area of roofs and car parks
    inside the pixel.
    """
    taken = 0.0
    if unit(rehash(bh, 51)) < 0.15:
        return taken  # an open yard: storage, trucks, containers (the block's paved colour)
    n = 1
    if ib - ia > 70.0 and unit(rehash(bh, 50)) < 0.6:
        n = 3 if ib - ia > 140.0 and unit(rehash(bh, 52)) < 0.5 else 2
    step = (ib - ia) / n
    for i in range(n):
        ph = rehash(bh, 300 + i)
        # insets up to a quarter of the plot on each side: loading yards and car parks around the shed
        x0 = ia + i * step + 3.0 + 0.25 * step * unit(rehash(ph, 1)) ** 2
        x1 = ia + (i + 1) * step - 3.0 - 0.25 * step * unit(rehash(ph, 2)) ** 2
        y0 = ic + 4.0 + 0.25 * (idd - ic) * unit(rehash(ph, 3)) ** 2
        y1 = idd - 4.0 - 0.25 * (idd - ic) * unit(rehash(ph, 4)) ** 2
        if x1 - x0 < 8.0 or y1 - y0 < 8.0:
            continue
        r, g, b = shed_colour(ph)
        ou, ovv = ov(px0, px1, x0, x1), ov(py0, py1, y0, y1)
        area = ou * ovv
        height = 7.0 + 6.0 * unit(rehash(ph, 6))
        if area > 0.0:
            out[ROOF_A] += area
            out[ROOF_R] += area * r
            out[ROOF_G] += area * g
            out[ROOF_B] += area * b
            out[HEIGHT] += area * height
            out[ROOF_H] += area * height
            if area > out[BEST_B]:
                out[BEST_B], out[INST_BUILDING] = area, float(ph >> np.uint64(12))
        o = height
        ox, oy = sx * o, sy * o
        sh = ov(px0, px1, x0 + min(ox, 0.0), x1 + max(ox, 0.0)) * ov(py0, py1, y0 + min(oy, 0.0), y1 + max(oy, 0.0))
        out[SHADOW] += max(sh - area, 0.0)
        taken += area
        lh = rehash(ph, 40)
        if unit(lh) < 0.6:
            taken += _beside(px0, px1, py0, py1, ia + i * step, ia + (i + 1) * step, ic, idd, x0, x1, y0, y1, lh, out)
    return taken



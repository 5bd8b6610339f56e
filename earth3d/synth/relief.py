"""Relief of the procedural world: an eroded multifractal plus fluvial dissection (numba).

The tectonic octaves (150 km down to one cell) carry the large landforms; the
dissection octaves add the valley-ridge relief that rivers cut below the valley
spacing, sized per landform (plains, hills, plateaus, mountains) so that slope
distributions and spectral exponents match real DEMs of each (tests/test_synth.py).
Every octave is band-limited to the cell size so coarse cells approximate the
average of fine ones.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .grid import EARTH_RADIUS_M
from .noise import lerp, noise, noised, smoothstep, unit

RELIEF_TOP_M = 150_000.0
HURST = 0.75
EROSION = 6.0  # damping of an octave per squared slope of the coarser ones
MOUNTAIN_EROSION = 40.0  # stronger in mountains: hillslopes stay near a threshold angle, not steeper
# Fluvial dissection: valley-ridge relief (m, noise amplitude at 1 km wavelength, growing with
# wavelength like the rest of the relief) of plains, hilly lowland, plateaus and mountain belts,
# sized so that slope distributions match real DEMs of each (see tests/test_synth.py).
DISSECT_PLAINS, DISSECT_HILLS, DISSECT_PLATEAU, DISSECT_MOUNTAINS = 10.0, 150.0, 130.0, 200.0
VALLEY_SPACING_M = 20000.0  # dissection fades above this wavelength (drainage basins, not tectonics)
MOUNTAIN_VALLEY_SPACING_M = 2000.0  # steep ranges: first-order valleys every 1-2 km
HILLSLOPE_M = 20.0  # and below this wavelength: soil creep smooths hillslopes, streets stay smooth
V_VALLEYS = 0.5  # share of V-valley shaped octaves (|n|: sharp valleys, rounded interfluves) where dissected
PLATEAU_FRONT_M = 10000.0  # plateaus: patches of intact surface and deeply cut country ...
PLATEAU_FRONT_SPREAD = 1.2  # ... with the dissection amplitude log-normal over them


@njit(cache=True)
def dissection(d, land, mtn, plat, hill, x, y, z, seed):
    """(amplitude m at 1 km wavelength, V-valley share) of the fluvial dissection at unit vector (x, y, z).

    Valleys cut hills, plateaus and mountains (little on coastal plains, which are
    young sediment); on plateaus the cut varies over ~10 km, leaving intact surface
    next to deeply dissected country, as on real uplifted plateaus. `d` is the
    continent field above the coast threshold, the weights those of kernel.landform.
    """
    hilly = hill * (1.0 - mtn) * (1.0 - plat)
    dis = land * (DISSECT_PLAINS * smoothstep(0.0, 0.05, d) + DISSECT_HILLS * hilly + DISSECT_MOUNTAINS * mtn)
    if plat > 0.0:
        f = EARTH_RADIUS_M / PLATEAU_FRONT_M
        s = seed ^ np.uint64(0xD155EC7)
        nd = noise(x * f, y * f, z * f, s) + 0.5 * noise(2.1 * x * f, 2.1 * y * f, 2.1 * z * f, s ^ np.uint64(1))
        dis += land * DISSECT_PLATEAU * plat * math.exp(PLATEAU_FRONT_SPREAD * nd)
    return dis, V_VALLEYS * min(1.0, hilly + plat)


@njit(cache=True)
def octave_table(res):
    """Per-octave constants of the relief for cells of `res` metres.

    (count, count down to 60 m, weight, gain^o, taper, dissection weight, dissection
    weight in mountains, squared rounding of the V-valley crease, mean of the rounded |n|).
    Octaves past the first count are finer than the cells: only their expected slope is used.
    """
    wgt = np.zeros(40)
    gains = np.zeros(40)
    taper = np.zeros(40)
    dis = np.zeros(40)
    dis_mtn = np.zeros(40)
    crease = np.zeros(40)
    vmean = np.zeros(40)
    lam, a, n, n_all = RELIEF_TOP_M, 1.0, 0, 0
    gain = 2.0 ** -HURST
    for o in range(40):
        t = lam / res
        if t <= 0.6 and lam < 60.0:
            break
        # mean attenuation of a wave of this length by a res x res box: a coarse cell is
        # then close to the average of the finer cells inside it
        wgt[o] = math.exp(-0.5 / (t * t)) * smoothstep(0.6, 1.1, t)
        gains[o] = a
        taper[o] = min(1.0, (40000.0 / lam) ** 0.8)
        # dissection: the same power law from 1 km, rolled off above the valley spacing and
        # below the hillslope scale
        short = (lam / 1000.0) ** HURST / (1.0 + (HILLSLOPE_M / lam) ** 2)
        dis[o] = short / (1.0 + (lam / VALLEY_SPACING_M) ** 2)
        dis_mtn[o] = short / (1.0 + (lam / MOUNTAIN_VALLEY_SPACING_M) ** 2)
        # V valleys: |n| rounded over about the range n spans within a cell, so that a
        # coarse cell holds about the mean of the finer cells' |n| (a crease has power
        # far above its octave's frequency), minus the mean of that rounded |n| (a fit to the
        # value distribution of the gradient noise: E|n| = 0.22, 0.0479 = 0.219^2)
        crease[o] = 0.0016 + (0.35 / t) ** 2
        vmean[o] = math.sqrt(0.0479 + crease[o]) + 0.137 * math.sqrt(crease[o]) / (1.0 + 11.2 * crease[o])
        if t > 0.6:
            n += 1
        n_all += 1
        a *= gain
        lam *= 0.5
    return n, n_all, wgt, gains, taper, dis, dis_mtn, crease, vmean


@njit(cache=True)
def relief(x, y, z, table, amp, dis, vee, mtn, urban, seed):
    """Eroded multifractal relief at unit vector (x, y, z); `table` = octave_table(cell size).

    `amp` scales the tectonic octaves (from 150 km), `dis` the dissection octaves
    (m at 1 km, see dissection()), of which a share `vee` is V-valley shaped.

    Octaves from RELIEF_TOP_M down to one cell, weighted by their mean attenuation
    over a cell (band limit: coarse cells approximate averages of fine ones); each
    octave is damped by the slope accumulated from the coarser ones (smooth
    valley sides, rough crests and floors), ridged where mountains are, tapered
    above 40 km outside mountains and flattened in cities below 3 km.
    Returns (relief m, slope of the resolved octaves >= 60 m, expected slope of all
    octaves >= 60 m: the resolved one plus the mean square of the unresolved ones, so
    that land cover keyed to slope is about the same at every cell size; texture
    signal about [-1, 1], relief of the octaves >= 20 km: the smooth surface that
    lake levels follow).
    """
    n_oct, n_all, wgts, gains, tapers, dis_w, dis_mtn_w, creases, vmeans = table
    erosion = lerp(EROSION, MOUNTAIN_EROSION, mtn)
    # domain warp (about 4 km at 25 km wavelength) bends valleys and ridges into flowing shapes
    fw = EARTH_RADIUS_M / 25000.0
    wsc = 4000.0 / EARTH_RADIUS_M
    x, y, z = (x + wsc * noise(x * fw, y * fw, z * fw, seed ^ np.uint64(1)),
               y + wsc * noise(x * fw + 5.2, y * fw, z * fw, seed ^ np.uint64(2)),
               z + wsc * noise(x * fw, y * fw + 1.3, z * fw, seed ^ np.uint64(3)))
    lam = RELIEF_TOP_M
    rel = 0.0
    gx = gy = gz = 0.0
    slope_coarse = 0.0
    sub2 = 0.0  # expected squared slope that the cells do not resolve
    # mean squared gradient of an octave's shape (tangent gradient of noise: about 1 per lattice unit)
    shape2 = (1.0 - mtn) ** 2 + 4.0 * mtn * mtn + 3.0 * vee * vee
    tex = 0.0
    tex_amp = 1.0
    rel_smooth = 0.0
    for o in range(n_oct):
        wgt = wgts[o]
        f = EARTH_RADIUS_M / lam
        so = seed + np.uint64(o) * np.uint64(0x9E3779B97F4A7C15)
        off = unit(so) * 131.0
        n, nx, ny, nz = noised(x * f + off, y * f - off, z * f + 0.7 * off, so)
        # ridged octave: 0.218 - |n| (zero mean), with |n| rounded over 0.04 so crests are not creases
        sa = math.sqrt(n * n + 0.0016)
        rn = 0.218 + 0.04 - sa
        rx, ry, rz = -n / sa * nx, -n / sa * ny, -n / sa * nz
        val = lerp(n, 2.0 * rn, mtn)
        vx, vy, vz = lerp(nx, 2.0 * rx, mtn), lerp(ny, 2.0 * ry, mtn), lerp(nz, 2.0 * rz, mtn)
        # V-shaped valleys where dissected: |n| (zero mean), sharp at the valley line, round on the interfluves
        if vee > 0.0:
            sv = math.sqrt(n * n + creases[o])
            dv = 2.0 * n / sv
            val = lerp(val, 2.0 * (sv - vmeans[o]), vee)
            vx, vy, vz = lerp(vx, dv * nx, vee), lerp(vy, dv * ny, vee), lerp(vz, dv * nz, vee)
        radial = gx * x + gy * y + gz * z
        slope2 = gx * gx + gy * gy + gz * gz - radial * radial
        damp = 1.0 / (1.0 + erosion * slope2)
        taper = lerp(tapers[o], 1.0, mtn)
        flat = 1.0 - 0.9 * urban if lam < 3000.0 else 1.0
        k0 = (amp * gains[o] * taper + dis * lerp(dis_w[o], dis_mtn_w[o], mtn)) * damp * flat
        k = k0 * wgt
        rel += k * val
        if lam >= 20000.0:
            rel_smooth = rel
        kg = k / lam
        gx += kg * vx
        gy += kg * vy
        gz += kg * vz
        if lam >= 60.0:
            radial = gx * x + gy * y + gz * z
            slope_coarse = math.sqrt(max(gx * gx + gy * gy + gz * gz - radial * radial, 0.0))
            sub2 += (1.0 - wgt * wgt) * shape2 * (k0 / lam) ** 2
        if lam < 5000.0:
            tex += tex_amp * wgt * n * (1.0 if (o & 1) == 0 else -1.0)
            tex_amp *= 0.8
        lam *= 0.5
    # octaves down to 60 m finer than the cells: expected slope only, damped by the slope above them
    for o in range(n_oct, n_all):
        damp = 1.0 / (1.0 + erosion * (slope_coarse * slope_coarse + sub2))
        flat = 1.0 - 0.9 * urban if lam < 3000.0 else 1.0
        k0 = (amp * gains[o] * lerp(tapers[o], 1.0, mtn) + dis * lerp(dis_w[o], dis_mtn_w[o], mtn)) * damp * flat
        sub2 += shape2 * (k0 / lam) ** 2
        lam *= 0.5
    return rel, slope_coarse, math.sqrt(slope_coarse * slope_coarse + sub2), tex, rel_smooth


@njit(cache=True)
def relief_texture(x, y, z, table, seed):
    """The texture signal of relief() alone (its 4th output), for cells whose height comes from elsewhere.

    On land the drained relief of earth3d.synth.hydrology replaces the noise relief's height and
    slopes; only this signal is left to compute: the octaves under 5 km, without their gradients
    or the erosion damping (which the signal does not use).
    """
    n_oct, wgts = table[0], table[2]
    fw = EARTH_RADIUS_M / 25000.0
    wsc = 4000.0 / EARTH_RADIUS_M
    x, y, z = (x + wsc * noise(x * fw, y * fw, z * fw, seed ^ np.uint64(1)),
               y + wsc * noise(x * fw + 5.2, y * fw, z * fw, seed ^ np.uint64(2)),
               z + wsc * noise(x * fw, y * fw + 1.3, z * fw, seed ^ np.uint64(3)))
    lam = RELIEF_TOP_M
    tex = 0.0
    tex_amp = 1.0
    for o in range(n_oct):
        if lam < 5000.0:
            f = EARTH_RADIUS_M / lam
            so = seed + np.uint64(o) * np.uint64(0x9E3779B97F4A7C15)
            off = unit(so) * 131.0
            n = noise(x * f + off, y * f - off, z * f + 0.7 * off, so)
            tex += tex_amp * wgts[o] * n * (1.0 if (o & 1) == 0 else -1.0)
            tex_amp *= 0.8
        lam *= 0.5
    return tex

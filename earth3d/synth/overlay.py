"""Roads, towns, villages and farmsteads drawn over a rendered tile as exact area fractions (numba).

Roads: a road segment with a half width is a stripe; its share of a pixel footprint is the
probability that a uniform point of the footprint lies within the half width of the centre
line (the footprint's projection on the normal is the sum of two uniform laws: a trapezoid, so
the share is a difference of its piecewise quadratic distribution function) times the share of
the footprint's projection on the tangent that lies along the segment. Exact for a straight
road across an axis-aligned pixel or along an axis, close for oblique ones; a coarse pixel is
the mean of the finer pixels inside it. The shares of the segments of one road add up, those of
different roads combine as independent covers. A road over a river pixel is a bridge deck:
its share of the pixel is road, not water, and stands a few metres above the water.
Beside the carriageway each class keeps a cleared verge (VERGE_M a side: shoulders, ditches, mown
grass), drawn the same way as a wider stripe: through forest and dark crops it is the bright line
that shows a road from far above, wider than the road itself (a motorway's 54 m corridor is
visible at 30 m cells, its carriageways alone hardly); over land as bright as the verge it changes
nothing.

Settlements: a lattice of plots around the centre (PLOT_M per kind), each built with a
probability falling with the distance (Gaussian in radius / settlement radius), holding one
rectangular building (roof colour and height from hashes) in a fenced yard; towns and villages
have lanes every LANE_EVERY plots. Pixels much wider than a plot take the expected shares.
Inside cities (kernel.city_pixel draws their streets) both fade out with the city density.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .grid import EARTH_RADIUS_M, M_PER_DEG
from .kernel import S_PATCH
from .landcover import band_weight
from .noise import hash2, noise, rehash, smoothstep, unit
from .roads import HALF_WIDTH_M, MEDIAN_HALF_M, MOTORWAY
from .settlements import F_KIND, F_LAT, F_LON, F_RADIUS, F_SEED

ROAD_RGB = np.array([[0.29, 0.29, 0.30], [0.35, 0.345, 0.34], [0.52, 0.47, 0.39], [0.55, 0.50, 0.42]])
ROOF_RGB = np.array([[0.62, 0.33, 0.25], [0.38, 0.37, 0.38], [0.50, 0.42, 0.35], [0.70, 0.69, 0.66],
                     [0.47, 0.25, 0.21], [0.30, 0.33, 0.36]])
YARD = np.array([0.43, 0.43, 0.31])  # gardens, lawns, drives and bare ground
LANE = np.array([0.45, 0.43, 0.40])
PLOT_M = np.array([0.0, 24.0, 30.0, 16.0])  # per settlement kind (cities are kernel.city_pixel's)
PEAK = np.array([0.0, 0.95, 0.85, 1.0])  # share of built plots at the centre
LANE_EVERY = 5
DECK_M = 6.0  # a bridge deck stands this high above the water
# Cleared verge beyond each edge of the carriageway, per road class (m): a motorway's corridor
# through forest is about 54 m wide, a regional road's 18 m, a dirt track's 7 m.
VERGE_M = np.array([15.0, 5.0, 1.5, 0.5])
VERGE_RGB = np.array([0.42, 0.43, 0.31])  # mown grass, gravel and dry ditches
_LUM = np.array([0.3, 0.59, 0.11])
VERGE_LUM = float(VERGE_RGB @ _LUM)
VERGE_TEX = ((9.0, 0.18), (2.5, 0.12))  # wavelength m and amplitude of the verge's texture octaves
VERGE_SALT = np.uint64(0x7E26E)
NOISE_STD = 0.27  # about the standard deviation of noise.noise
BIN_PX = 16


@njit(cache=True)
def _g(y, w1):
    if y < -w1:
        return 0.0
    if y <= w1:
        return (y + w1) * (y + w1) / (4.0 * w1)
    return y


@njit(cache=True)
def _cdf(x, w1, w2):
    """Distribution function of U[-w1, w1] + U[-w2, w2] at x."""
    if w1 < w2:
        w1, w2 = w2, w1
    w1 = max(w1, 1e-9)
    if w2 < 1e-6 * w1:
        return min(max((x + w1) / (2.0 * w1), 0.0), 1.0)
    return (_g(x + w2, w1) - _g(x - w2, w1)) / (2.0 * w2)


@njit(cache=True)
def segment_shares(ax, ay, bx, by, hw, med, cw, hx, hy):
    """Shares of the footprint [-hx, hx] x [-hy, hy] covered by segment a-b (m, pixel-centred): (the stripe of
    half width hw less a median of half width med, the stripe of half width cw >= hw).
    """
    tx, ty = bx - ax, by - ay
    ln = math.hypot(tx, ty)
    if ln <= 0.0:
        return 0.0, 0.0
    tx, ty = tx / ln, ty / ln
    nx, ny = -ty, tx
    dn = nx * ax + ny * ay
    w1, w2 = hx * abs(nx), hy * abs(ny)
    if abs(dn) > cw + w1 + w2:
        return 0.0, 0.0
    u1, u2 = hx * abs(tx), hy * abs(ty)
    ta = tx * ax + ty * ay
    along = max(_cdf(ta + ln, u1, u2) - _cdf(ta, u1, u2), 0.0)
    wide = max(_cdf(dn + cw, w1, w2) - _cdf(dn - cw, w1, w2), 0.0) * along
    if abs(dn) > hw + w1 + w2:
        return 0.0, wide
    across = _cdf(dn + hw, w1, w2) - _cdf(dn - hw, w1, w2)
    if med > 0.0:
        across -= _cdf(dn + med, w1, w2) - _cdf(dn - med, w1, w2)
    return max(across, 0.0) * along, wide


@njit(cache=True)
def verge_colour(lon, lat, res, seed, out):
    """The verge's colour at (lon, lat) for cells of `res` m into out (3,): VERGE_RGB with a band-limited
    texture (3D noise on the sphere, so it runs on across the antimeridian).
    """
    la, lo = math.radians(lat), math.radians(lon)
    x, y, z = math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)
    g = 1.0
    for k in range(len(VERGE_TEX)):
        lam, amp = VERGE_TEX[k]
        wk = band_weight(lam, res)
        if wk > 1e-4:
            f = EARTH_RADIUS_M / lam
            g += amp * wk * noise(x * f, y * f, z * f, seed ^ np.uint64(k + 1)) / NOISE_STD
    for ch in range(3):
        out[ch] = VERGE_RGB[ch] * g


@njit(cache=True)
def settle_pixel(dx, dy, du, dv, radius, kind, seed, out):  # noqa: C901
    """Shares of roofs, yards and lanes of a settlement over the footprint du x dv centred (dx, dy) m from it.

    out: [roof, roof r, g, b (share-weighted), yard, lane, roof height x share].
    """
    for k in range(7):
        out[k] = 0.0
    # plots run along a direction of the settlement's own (the footprint, turned with them, is taken
    # as the axis-aligned square of the same area)
    th = 1.5707963 * unit(rehash(seed, 9))
    ct, st = math.cos(th), math.sin(th)
    dx, dy = ct * dx + st * dy, -st * dx + ct * dy
    if kind != 3:
        side = math.sqrt(du * dv)
        du, dv = side, side
    s = PLOT_M[kind]
    reach = 2.0 * radius + s
    if abs(dx) - 0.5 * du > reach or abs(dy) - 0.5 * dv > reach:
        return
    lanes = kind != 3
    if du > 3.0 * s or dv > 3.0 * s:
        r = math.hypot(dx, dy) / radius
        occ = PEAK[kind] * math.exp(-1.5 * r * r) if r < 2.0 else 0.0
        keep = (1.0 - 1.0 / LANE_EVERY) ** 2 if lanes else 1.0
        out[0] = keep * occ * 0.25
        for c in range(3):
            out[1 + c] = out[0] * 0.5 * (ROOF_RGB[0, c] + ROOF_RGB[1, c])
        out[4] = keep * occ * ((s - 2.0) ** 2 / (s * s) - 0.25)
        if lanes:
            out[5] = (1.0 - keep) * 0.3 * smoothstep(0.1, 0.2, occ)
        out[6] = out[0] * 5.5
        return
    x0, x1, y0, y1 = dx - 0.5 * du, dx + 0.5 * du, dy - 0.5 * dv, dy + 0.5 * dv
    area = du * dv
    for pj in range(int(math.floor(y0 / s)), int(math.floor(y1 / s)) + 1):
        for pi in range(int(math.floor(x0 / s)), int(math.floor(x1 / s)) + 1):
            cx, cy = (pi + 0.5) * s, (pj + 0.5) * s
            r = math.hypot(cx, cy) / radius
            if r >= 2.0:
                continue
            occ = PEAK[kind] * math.exp(-1.5 * r * r)
            px0, px1, py0, py1 = pi * s, pi * s + s, pj * s, pj * s + s
            if lanes and (pi % LANE_EVERY == 2 or pj % LANE_EVERY == 2):
                if occ > 0.15:
                    lx0, lx1 = (cx - 0.15 * s, cx + 0.15 * s) if pi % LANE_EVERY == 2 else (px0, px1)
                    ly0, ly1 = (cy - 0.15 * s, cy + 0.15 * s) if pj % LANE_EVERY == 2 else (py0, py1)
                    a = _ov(x0, x1, lx0, lx1) * _ov(y0, y1, ly0, ly1)
                    if pi % LANE_EVERY == 2 and pj % LANE_EVERY == 2:
                        a = (_ov(x0, x1, lx0, lx1) * _ov(y0, y1, py0, py1)
                             + _ov(x0, x1, px0, px1) * _ov(y0, y1, ly0, ly1) - a)
                    out[5] += a / area
                continue
            h = hash2(np.int64(pi), np.int64(pj), seed)
            if unit(h) >= occ:
                continue
            bw = s * (0.35 + 0.3 * unit(rehash(h, 1)))
            bh = s * (0.35 + 0.3 * unit(rehash(h, 2)))
            if kind == 3 and pi == 0 and pj == 0:  # the farmhouse's barn
                bw, bh = s - 2.5, s * 0.7
            ox = px0 + 1.0 + (s - 2.0 - bw) * unit(rehash(h, 3))
            oy = py0 + 1.0 + (s - 2.0 - bh) * unit(rehash(h, 4))
            yard = _ov(x0, x1, px0 + 1.0, px1 - 1.0) * _ov(y0, y1, py0 + 1.0, py1 - 1.0) / area
            roof = _ov(x0, x1, ox, ox + bw) * _ov(y0, y1, oy, oy + bh) / area
            if roof > 0.0:
                nc = ROOF_RGB.shape[0]
                col = int(unit(rehash(h, 5)) * 2.0 + unit(rehash(seed, 6)) * (nc - 1)) % nc
                shade = 0.85 + 0.3 * unit(rehash(h, 7))
                for c in range(3):
                    out[1 + c] += roof * ROOF_RGB[col, c] * shade
                out[6] += roof * (4.0 + 4.0 * unit(rehash(h, 8)))
            out[0] += roof
            out[4] += yard - roof


@njit(cache=True)
def _ov(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


@njit(cache=True)
def pixel_bins(lons, lats, dlon, dlat, X0, X1, Y0, Y1):
    """CSR lists of the items whose lon/lat boxes [X0, X1] x [Y0, Y1] touch each BIN_PX block of pixels."""
    nbx = (lons.shape[0] + BIN_PX - 1) // BIN_PX
    nby = (lats.shape[0] + BIN_PX - 1) // BIN_PX
    cnt = np.zeros(nbx * nby + 1, dtype=np.int64)
    rng = np.empty((X0.shape[0], 4), dtype=np.int64)
    for e in range(X0.shape[0]):
        a0 = max(int(math.floor((X0[e] - lons[0]) / dlon + 0.5)) // BIN_PX, 0)
        a1 = min(int(math.floor((X1[e] - lons[0]) / dlon + 0.5)) // BIN_PX, nbx - 1)
        b0 = max(int(math.floor((lats[0] - Y1[e]) / dlat + 0.5)) // BIN_PX, 0)
        b1 = min(int(math.floor((lats[0] - Y0[e]) / dlat + 0.5)) // BIN_PX, nby - 1)
        rng[e, 0], rng[e, 1], rng[e, 2], rng[e, 3] = a0, a1, b0, b1
        for b in range(b0, b1 + 1):
            for a in range(a0, a1 + 1):
                cnt[b * nbx + a + 1] += 1
    for k in range(nbx * nby):
        cnt[k + 1] += cnt[k]
    idx = np.empty(cnt[-1], dtype=np.int64)
    fill = cnt[:-1].copy()
    for e in range(X0.shape[0]):
        for b in range(rng[e, 2], rng[e, 3] + 1):
            for a in range(rng[e, 0], rng[e, 1] + 1):
                idx[fill[b * nbx + a]] = e
                fill[b * nbx + a] += 1
    return cnt, idx, nbx


@njit(parallel=True, cache=True)
def draw(lons, lats, dlon, dlat, V, SEGP, CLS, SITES, CITIES,  # noqa: C901
         seed, out_h, out_s, out_rgb, out_w, road_frac, built_frac, verge_frac):
    """Draw the road segments (V[e] -> V[e + 1] for e with SEGP[e] >= 0, of polyline SEGP[e], class CLS[...])
    and the settlements SITES (rows settlements.F_*) over a rendered tile, in place.

    CITIES (n, 3): lon, lat, radius of the cities whose streets kernel.render draws (roads and
    settlements fade out inside them). road_frac, built_frac and verge_frac receive the shares drawn
    (verge_frac: the share the verges turn to open ground; `seed` seeds their texture).
    """
    nrow, ncol = lats.shape[0], lons.shape[0]
    coslo = 1.0
    for j in range(nrow):
        coslo = min(coslo, math.cos(math.radians(lats[j])))
    coslo = max(coslo, 1e-6)
    pad_m = math.hypot(dlon * M_PER_DEG, dlat * M_PER_DEG)
    ns = SEGP.shape[0]
    X0, X1, Y0, Y1 = np.empty(ns), np.empty(ns), np.empty(ns), np.empty(ns)
    for e in range(ns):
        if SEGP[e] < 0:
            X0[e], X1[e], Y0[e], Y1[e] = 1e9, -1e9, 1e9, -1e9
            continue
        r = (HALF_WIDTH_M[CLS[SEGP[e]]] + VERGE_M[CLS[SEGP[e]]] + pad_m) / M_PER_DEG
        X0[e] = min(V[e, 0], V[e + 1, 0]) - r / coslo
        X1[e] = max(V[e, 0], V[e + 1, 0]) + r / coslo
        Y0[e], Y1[e] = min(V[e, 1], V[e + 1, 1]) - r, max(V[e, 1], V[e + 1, 1]) + r
    rcnt, ridx, nbx = pixel_bins(lons, lats, dlon, dlat, X0, X1, Y0, Y1)
    nst = SITES.shape[0]
    X0, X1, Y0, Y1 = np.empty(nst), np.empty(nst), np.empty(nst), np.empty(nst)
    for e in range(nst):
        r = (2.0 * SITES[e, F_RADIUS] + PLOT_M[int(SITES[e, F_KIND])] + pad_m) / M_PER_DEG
        X0[e], X1[e] = SITES[e, F_LON] - r / coslo, SITES[e, F_LON] + r / coslo
        Y0[e], Y1[e] = SITES[e, F_LAT] - r, SITES[e, F_LAT] + r
    scnt, sidx, _ = pixel_bins(lons, lats, dlon, dlat, X0, X1, Y0, Y1)
    nc = CITIES.shape[0]
    X0, X1, Y0, Y1 = np.empty(nc), np.empty(nc), np.empty(nc), np.empty(nc)
    for e in range(nc):
        r = (CITIES[e, 2] + pad_m) / M_PER_DEG  # a city fades roads out to 0.92 radii (density 0.15)
        X0[e], X1[e] = CITIES[e, 0] - r / coslo, CITIES[e, 0] + r / coslo
        Y0[e], Y1[e] = CITIES[e, 1] - r, CITIES[e, 1] + r
    ccnt, cidx, _ = pixel_bins(lons, lats, dlon, dlat, X0, X1, Y0, Y1)
    for j in prange(nrow):
        lat = lats[j]
        c = math.cos(math.radians(lat))
        du, dv = dlon * M_PER_DEG * c, dlat * M_PER_DEG
        so = np.empty(7)
        vc = np.empty(3)
        for i in range(ncol):
            lon = lons[i]
            fade = 1.0
            b = (j // BIN_PX) * nbx + i // BIN_PX
            for q in range(ccnt[b], ccnt[b + 1]):
                k = cidx[q]
                dl = (CITIES[k, 0] - lon + 180.0) % 360.0 - 180.0
                r = math.hypot(dl * c, CITIES[k, 1] - lat) * M_PER_DEG / CITIES[k, 2]
                if r < 2.0:
                    dens = math.exp(-(1.5 * r) ** 2)
                    fade *= 1.0 - smoothstep(0.15, 0.5, dens)
            if fade <= 0.0:
                road_frac[j, i] = 0.0
                built_frac[j, i] = 0.0
                verge_frac[j, i] = 0.0
                continue
            water = out_w[j, i]
            # settlements
            fr = fy = fl = hr = 0.0
            rfade = 1.0
            rr = rg = rb = 0.0
            for q in range(scnt[b], scnt[b + 1]):
                e = sidx[q]
                dl = (lon - SITES[e, F_LON] + 180.0) % 360.0 - 180.0
                settle_pixel(dl * M_PER_DEG * c, (lat - SITES[e, F_LAT]) * M_PER_DEG, du, dv, SITES[e, F_RADIUS],
                             int(SITES[e, F_KIND]), np.uint64(SITES[e, F_SEED]), so)
                if SITES[e, F_KIND] < 3.0:  # roads give way to the lanes of towns and villages
                    dd = math.hypot(dl * M_PER_DEG * c, (lat - SITES[e, F_LAT]) * M_PER_DEG) / SITES[e, F_RADIUS]
                    rfade *= smoothstep(0.55, 0.85, dd)
                fr += so[0]
                rr, rg, rb = rr + so[1], rg + so[2], rb + so[3]
                fy += so[4]
                fl += so[5]
                hr += so[6]
            tot = fr + fy + fl
            if tot > 0.0:
                k = fade * (1.0 - water) / max(tot, 1.0)
                fr, fy, fl, hr = fr * k, fy * k, fl * k, hr * k
                rr, rg, rb = rr * k, rg * k, rb * k
                for ch in range(3):
                    base = out_rgb[j, i, ch]
                    roof = rr if ch == 0 else (rg if ch == 1 else rb)
                    out_rgb[j, i, ch] = (base * (1.0 - fr - fy - fl) + roof + fy * (0.15 * base + 0.85 * YARD[ch])
                                         + fl * LANE[ch])
                out_h[j, i] += hr
                out_s[j, i] += hr
            built_frac[j, i] = fr
            # roads
            keep = keep_v = 1.0
            acc = 0.0
            cr = cg = cb = 0.0
            cur, s_cur, v_cur = -1, 0.0, 0.0
            for q in range(rcnt[b], rcnt[b + 1] + 1):
                e = ridx[q] if q < rcnt[b + 1] else -1
                p = SEGP[e] if e >= 0 else -2
                if p != cur:
                    keep_v *= 1.0 - min(v_cur, 1.0)
                    if cur >= 0 and s_cur > 0.0:
                        sh = min(s_cur, 1.0)
                        keep *= 1.0 - sh
                        cls = CLS[cur]
                        cr += sh * ROAD_RGB[cls, 0]
                        cg += sh * ROAD_RGB[cls, 1]
                        cb += sh * ROAD_RGB[cls, 2]
                        acc += sh
                    cur, s_cur, v_cur = p, 0.0, 0.0
                if e < 0:
                    break
                cls = CLS[p]
                ax = ((V[e, 0] - lon + 180.0) % 360.0 - 180.0) * M_PER_DEG * c
                bx = ((V[e + 1, 0] - lon + 180.0) % 360.0 - 180.0) * M_PER_DEG * c
                ay, by = (V[e, 1] - lat) * M_PER_DEG, (V[e + 1, 1] - lat) * M_PER_DEG
                sr, sv = segment_shares(ax, ay, bx, by, HALF_WIDTH_M[cls], MEDIAN_HALF_M if cls == MOTORWAY else 0.0,
                                        HALF_WIDTH_M[cls] + VERGE_M[cls], 0.5 * du, 0.5 * dv)
                s_cur += sr
                v_cur += sv
            cov = (1.0 - keep) * fade * rfade
            road_frac[j, i] = cov
            # the verge: the corridor less the carriageway, open ground where the land is darker than it
            ve = 0.0
            if keep_v < 1.0:
                lum = _LUM[0] * out_rgb[j, i, 0] + _LUM[1] * out_rgb[j, i, 1] + _LUM[2] * out_rgb[j, i, 2]
                ve = (max((1.0 - keep_v) * fade * rfade - cov, 0.0) * (1.0 - water)
                      * smoothstep(0.02, 0.12, VERGE_LUM - lum))
            verge_frac[j, i] = ve
            if ve > 0.0:
                verge_colour(lon, lat, dv, seed, vc)
                for ch in range(3):
                    out_rgb[j, i, ch] += (vc[ch] - out_rgb[j, i, ch]) * ve / max(1.0 - cov, 1e-9)
            if cov > 0.0:
                for ch in range(3):
                    col = (cr if ch == 0 else (cg if ch == 1 else cb)) / acc
                    out_rgb[j, i, ch] += (col - out_rgb[j, i, ch]) * cov
                out_h[j, i] += cov * DECK_M * water
                out_s[j, i] += cov * DECK_M * water
                out_w[j, i] = water * (1.0 - cov)


def draw_tile(seeds: np.ndarray, lons: np.ndarray, lats: np.ndarray, dlon: float, dlat: float,
              out_h: np.ndarray, out_s: np.ndarray, out_rgb: np.ndarray, out_w: np.ndarray):
    """Draw the roads and settlements that reach cells lats x lons (centres, degrees) over rendered fields, in place.

    Road classes and settlement kinds narrower than about 1/40 of the cell are left out
    (roads.MAX_RES_M). Returns (road share, roof share, verge share: overlay.draw) per cell.
    """
    from . import roads as R
    from . import settlements as ST

    res = dlat * M_PER_DEG
    road_frac = np.zeros(out_h.shape)
    built_frac = np.zeros(out_h.shape)
    verge_frac = np.zeros(out_h.shape)
    finest = max([k for k in range(4) if res <= R.MAX_RES_M[k]], default=-1)
    if finest < 0 or lons.size == 0 or lats.size == 0:
        return road_frac, built_frac, verge_frac
    west, east = float(lons.min() - dlon), float(lons.max() + dlon)
    south, north = float(lats.min() - dlat), float(lats.max() + dlat)
    V, OFF, CLS = R.network(seeds, west, max(south, -90.0), east, min(north, 90.0), finest)
    segp = np.full(max(len(V) - 1, 0), -1, dtype=np.int64)
    for k in range(len(CLS)):
        segp[OFF[k]:OFF[k + 1] - 1] = k
    kind = {R.MOTORWAY: ST.CITY, R.REGIONAL: ST.VILLAGE}.get(finest, ST.FARM)
    # settlements reach 2 radii (towns: under 4 km); cities fade the roads out to about their radius (under 16 km)
    coslat = max(math.cos(math.radians(max(abs(south), abs(north)))), 0.05)
    m = 0.05
    rows = ST.sites(seeds, west - m / coslat, max(south - m, -90.0), east + m / coslat, min(north + m, 90.0), kind)
    sites = np.ascontiguousarray(rows[rows[:, ST.F_KIND] != ST.CITY])
    m = 0.2
    cities = ST.sites(seeds, west - m / coslat, max(south - m, -90.0), east + m / coslat, min(north + m, 90.0),
                      ST.CITY)
    cities = np.ascontiguousarray(cities[:, [ST.F_LON, ST.F_LAT, ST.F_RADIUS]])
    V = np.ascontiguousarray(V) if len(V) else np.zeros((1, 2))
    draw(lons, lats, float(dlon), float(dlat), V, segp, CLS, sites, cities,
         np.uint64(seeds[S_PATCH]) ^ VERGE_SALT, out_h, out_s, out_rgb, out_w, road_frac, built_frac, verge_frac)
    return road_frac, built_frac, verge_frac

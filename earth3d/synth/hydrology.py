"""Relief that drains: a hierarchical river network and the terrain carved around it (numba).

The land surface is the lower envelope of valleys cut around a tree of channels,
in the spirit of Génevaux et al. 2013 and of Dendry (Gaillard et al. 2019):

- level 0: a jittered node per cell of a global 1/32 degree lattice (about 3.5 km).
  Node elevations come from the smooth macro relief (wavelengths >= ~10 km); per
  block of 32 x 32 nodes (with a margin of 24 nodes all round) a priority flood
  (Barnes et al. 2014) fills its depressions and routes every node to a neighbour
  (the flood tree: downstream elevations strictly decrease); drainage area
  accumulates over the block's neighbourhood plus what a global 1/4 degree
  drainage graph brings in (basins.py), so big rivers keep their basins; a channel
  carries water where the runoff area above it (the wet share of that area) is
  large enough, so rivers fed upstream cross dry land. Blocks
  are pure functions of their index, cached (lru_cache), so a node's receiver
  never depends on which tile asked. Filled nodes are lakes: level water around
  the node that floods the relief below it (its shore follows the valleys and spurs
  there) and ends at the outlet, where the valley's channel drops below the node's;
  nodes under the sea are the outlets, so rivers reach the sea.
- levels 1..6 (1.7 km down to 54 m): a jittered node per cell connects to the nearest
  point of the coarser channels (tributaries); its elevation is the junction's plus
  a share of the hillslope rise, so it cuts a side valley into the coarser hillslope.
- the surface at a point is min over nearby channel segments of
  (channel elevation at the nearest point + hillslope gradient x distance), with a
  valley floor about a cell wide. Channel elevations fall monotonically downstream and
  every term rises away from its channel, so the only minima are river mouths:
  no closed depressions by construction.

Levels finer than the cell size fade out (their tributaries rise to the coarser
hillslope), so coarse tiles approximate averages of fine ones; river geometry
(level 0 with midpoint displacement) does not depend on the cell size, so a river
seen at 1 km/px is the same river in the same place at 1 m/px.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit, prange

from . import kernel as K
from .basins import NS, Q0_DEG, level0_window, node_pos, register_seeds
from .channels import (
    CONCAVE,
    GAMMA,
    RIVER_MIN_M2,
    SMOOTH_RES_M,
    SUPER,
    SUPER_RES_M,
    TOPO_LEVEL,
    _block_lists,
    _closest,
    _is_river,
    _lookup,
    _nseg,
    water_width_m,
    width_m,
)
from .grid import M_PER_DEG
from .lakes import lake_climate, lake_nodes, lake_share
from .meanders import M_AMP, M_SKEW, M_WAVE, MEANDER_FADE, N_MEANDER, bank_factor, meander_offset, meander_params
from .noise import hash2, noise, rehash, smoothstep, unit

N_LEVELS = 7  # 3.5 km down to 54 m
BETA = 0.35  # a tributary's channel rises at this share of the hillslope gradient
FADE_CELLS = (2.0, 6.0)  # tributary levels fade in between these spacings in cells
LOWER = 0.07  # mean share of the valley-side height that one level of tributaries cuts away
LAKE_MIN_M = 15.0  # a node flooded deeper than this is a lake ...
LAKE_MAX_M = 8.0  # ... whose water stands at most this high above its channel
CITY_LAKE_M = 4000.0  # no lake at a level-0 node this close to a city's built-up edge (a node spacing or so)
LAKE_SLOPE = (0.3, 0.5)  # hillslope gradients (basins.hillslope_gradient) from which lakes thin out, and end
BLOCK_PX = (8, 4)  # cells per side of the blocks sharing candidate channel lists: fine cells, from SUPER_RES_M
MAX_RES_M = 4000.0  # coarser cells use the noise relief alone (the level-0 channels are not resolved)
N_FIELDS = K.N_HYDRO
F_CHANNEL, F_HILL, F_WATER, F_RIVER_DIST, F_AREA, F_LAKE, F_SLOPE, F_TOPO = (
    K.H_CHANNEL, K.H_HILL, K.H_WATER, K.H_RIVER_DIST, K.H_AREA, K.H_LAKE, K.H_SLOPE, K.H_TOPO)
TOPO_SPAN_M = 300.0  # topographic position: from valley floor (+1) to divide (-1) over the height that the
# hillslope gradient rises over this many metres, above the floor of the valleys of levels 0 to TOPO_LEVEL
TOPO_SLOPE = (0.05, 0.25)  # hillslope gradients over which it comes in (flat land has no valley floors)


@njit(cache=True)
def span_share(d: float, half: float, res: float) -> float:
    """Share of a cell of size `res` whose centre lies `d` from a line that a band [-half, half]
    across it covers (1D: the overlap of [-half, half] with [d - res / 2, d + res / 2], over res).
    """
    return min(max((min(d + 0.5 * res, half) - max(d - 0.5 * res, -half)) / res, 0.0), 1.0)


# ----------------------------------------------------------------------------- the network of a window
@njit(cache=True)
def _level0_polylines(w0, seed, S, VX, VY, VE, AREA, LAKE, RUNOFF, MEA):
    """Level-0 channels of window w0 (level0_window) as polylines with midpoint displacement, and
    the meanders of those that carry rivers (MEA rows, meanders.meander_offset; zeros for none).
    S: the world's seeds (kernel.make_seeds), for the cities that lakes keep clear of.
    """
    nj, ni = w0.shape[0], w0.shape[1]
    mbuf = np.empty(K.N_MACRO)
    last_ci, last_cj, c_rad, c_lon, c_lat = -1, -1, 0.0, 0.0, 0.0
    for a in range(nj):
        for b in range(ni):
            o = w0[a, b]
            c = a * ni + b
            if math.isnan(o[0]):
                VX[c, :] = np.nan
                continue
            AREA[c] = o[4]
            RUNOFF[c] = o[10]
            # lakes where the macro relief holds a closed basin deeper than LAKE_MIN_M, on gentle land (steep
            # rivers cut through a basin's rim: its depth counts less the steeper the hillslopes, none from
            # LAKE_SLOPE[1] up), in humid climates where ice scoured the land or in lake districts (lake_climate)
            flat = smoothstep(LAKE_SLOPE[1], LAKE_SLOPE[0], o[7])
            flood = (o[2] - o[3]) * flat - LAKE_MIN_M
            ax, ay = o[0], o[1]
            LAKE[c] = min(flood, LAKE_MAX_M) * lake_climate(ax, ay, o[3], S, mbuf) if flood > 0.0 else 0.0
            if LAKE[c] > 0.0:
                # no lake where a city stands (kernel.city_site: it knows nothing of lakes); cities lie beside them
                ci = int(math.floor((ax + 180.0) / K.CELL_DEG)) % int(360.0 / K.CELL_DEG)
                cj = int(math.floor((ay + 90.0) / K.CELL_DEG))
                if ci != last_ci or cj != last_cj:
                    c_rad, c_lon, c_lat, _ = K.city_site(ci, cj, S, mbuf)
                    last_ci, last_cj = ci, cj
                dl = ((ax - c_lon + 180.0) % 360.0 - 180.0) * math.cos(math.radians(ay))
                if c_rad > 0.0 and math.hypot(dl, ay - c_lat) * M_PER_DEG < c_rad + CITY_LAKE_M:
                    LAKE[c] = 0.0
            if o[5] < 0:
                bx, by, ez = ax, ay, o[3]
            else:
                bx, by = node_pos(np.int64(o[5]), np.int64(o[6]), 0, seed)
                ez = o[9]
            e0 = o[2] if o[5] >= 0 else o[3]
            # displacement perpendicular to the chord, tapered to zero at both ends
            coslat = math.cos(math.radians(ay))
            nx, ny = -(by - ay), (bx - ax) * coslat * coslat
            h = hash2(np.int64(round(ax * 4096.0)), np.int64(round(ay * 4096.0)), seed ^ np.uint64(77))
            m1 = 0.32 * (unit(rehash(h, 1)) - 0.5)
            for s in range(NS + 1):
                t = s / NS
                wiggle = 0.12 * (unit(rehash(h, 2 + s)) - 0.5) * math.sin(2.0 * math.pi * t) ** 2
                disp = m1 * math.sin(math.pi * t) + wiggle
                VX[c, s] = ax + (bx - ax) * t + disp * nx / coslat
                VY[c, s] = ay + (by - ay) * t + disp * ny / coslat
                VE[c, s] = e0 + (ez - e0) * t
            MEA[c, :] = 0.0
            if RUNOFF[c] >= RIVER_MIN_M2:  # as channels._is_river
                meander_params(VX[c], VY[c], e0 - ez, water_width_m(AREA[c], RUNOFF[c]), h, MEA[c])


@njit(cache=True)
def _linked(a, b, REC):
    """Whether level-0 nodes a and b share a channel end (one drains into the other, or both into one)."""
    return REC[a] == b or REC[b] == a or (REC[a] >= 0 and REC[a] == REC[b])


@njit(cache=True)
def _s_at(lon, lat, w0, i0, j0):
    """Hillslope gradient bilinear over the level-0 lattice (unjittered cell centres)."""
    fi = (lon + 180.0) / Q0_DEG - 0.5 - i0
    fj = (lat + 90.0) / Q0_DEG - 0.5 - j0
    b = min(max(int(math.floor(fi)), 0), w0.shape[1] - 2)
    a = min(max(int(math.floor(fj)), 0), w0.shape[0] - 2)
    tx, ty = min(max(fi - b, 0.0), 1.0), min(max(fj - a, 0.0), 1.0)
    s00, s01, s10, s11 = w0[a, b, 7], w0[a, b + 1, 7], w0[a + 1, b, 7], w0[a + 1, b + 1, 7]
    s00 = 0.0 if math.isnan(s00) else s00
    s01 = 0.0 if math.isnan(s01) else s01
    s10 = 0.0 if math.isnan(s10) else s10
    s11 = 0.0 if math.isnan(s11) else s11
    return (s00 + (s01 - s00) * tx) + ((s10 + (s11 - s10) * tx) - (s00 + (s01 - s00) * tx)) * ty


@njit(cache=True)
def _s_noise_at(x, y, z, seed):
    """The hillslope gradient's noise factor at the unit vector (x, y, z)."""
    f = 6371008.8 / 6000.0
    return math.exp(0.45 * noise(x * f, y * f, z * f, seed ^ np.uint64(0x51))
                    + 0.25 * noise(2.3 * x * f, 2.3 * y * f, 2.3 * z * f, seed ^ np.uint64(0x52)))


@njit(cache=True)
def fade(k, res):
    """Weight of level k's tributaries at cell size res: 1 when resolved by >= 3 cells, 0 under 1 cell."""
    return smoothstep(FADE_CELLS[0], FADE_CELLS[1], Q0_DEG / (1 << k) * M_PER_DEG / res)


@njit(parallel=True, cache=True)
def _fine_level(k, res, seed, w0, I0, J0, NI, NJ, OFF, VX, VY, VE, AREA):
    """Nodes of level k >= 1: each joins the nearest point of the coarser channels."""
    nl = np.int64(360 * 32) << np.int64(k)
    beta = BETA + (1.0 - BETA) * (1.0 - fade(k, res))
    for a in prange(NJ[k]):
        for b in range(NI[k]):
            c = OFF[k] + a * NI[k] + b
            i, j = I0[k] + b, J0[k] + a
            if j < 0 or j >= nl // 2:
                VX[c, :] = np.nan
                continue
            lon, lat = node_pos(i, j, k, seed)
            coslat = math.cos(math.radians(lat))
            best, bx, by, be, ba, blv = math.inf, lon, lat, 0.0, 0.0, 0
            # an upper bound of the distance first (the nearest node of the next coarser level), so
            # that level-0 channels whose box lies farther are skipped (the nearest point is unchanged)
            q = Q0_DEG / (1 << (k - 1))
            p = _lookup(k - 1, int(math.floor((lon + 180.0) / q)), int(math.floor((lat + 90.0) / q)),
                        I0, J0, NI, NJ, OFF)
            bound = math.inf
            if p >= 0 and not math.isnan(VX[p, 0]):
                for s in range(_nseg(k - 1)):
                    bound = min(bound, _closest(lon, lat, VX[p, s], VY[p, s], VX[p, s + 1], VY[p, s + 1], coslat)[0])
            for lv in range(k):
                q = Q0_DEG / (1 << lv)
                ci, cj = int(math.floor((lon + 180.0) / q)), int(math.floor((lat + 90.0) / q))
                for jj in range(cj - 2, cj + 3):
                    for ii in range(ci - 2, ci + 3):
                        p = _lookup(lv, ii, jj, I0, J0, NI, NJ, OFF)
                        if p < 0 or math.isnan(VX[p, 0]):
                            continue
                        if lv == 0:
                            x0, x1, y0, y1 = VX[p, 0], VX[p, 0], VY[p, 0], VY[p, 0]
                            for s in range(1, NS + 1):
                                x0, x1 = min(x0, VX[p, s]), max(x1, VX[p, s])
                                y0, y1 = min(y0, VY[p, s]), max(y1, VY[p, s])
                            dx = max(x0 - lon, 0.0, lon - x1) * coslat
                            dy = max(y0 - lat, 0.0, lat - y1)
                            if math.sqrt(dx * dx + dy * dy) * M_PER_DEG > min(bound, best) * (1.0 + 1e-9):
                                continue
                        for s in range(_nseg(lv)):
                            d, t = _closest(lon, lat, VX[p, s], VY[p, s], VX[p, s + 1], VY[p, s + 1], coslat)
                            if d < best:
                                best = d
                                bx = VX[p, s] + t * (VX[p, s + 1] - VX[p, s])
                                by = VY[p, s] + t * (VY[p, s + 1] - VY[p, s])
                                be = VE[p, s] + t * (VE[p, s + 1] - VE[p, s])
                                ba = AREA[p]
                                blv = lv
            # the tributary's head lies at a share beta of the parent valley's side at that distance
            ux, uy, uz = K.unit_vector(lon, lat)
            sg = _s_at(lon, lat, w0, I0[0], J0[0]) * _s_noise_at(ux, uy, uz, seed) * GAMMA ** blv
            lp = CONCAVE * Q0_DEG / (1 << blv) * M_PER_DEG
            VX[c, 0], VY[c, 0], VX[c, 1], VY[c, 1] = lon, lat, bx, by
            VE[c, 0] = be + beta * sg * best * best / (best + lp)
            VE[c, 1] = be
            AREA[c] = 2.0 * (Q0_DEG / (1 << k) * M_PER_DEG) ** 2 * coslat
            _ = ba


@njit(parallel=True, cache=True)
def surface(lons, lats, res, kmax, seed, w0, I0, J0, NI, NJ, OFF, VX, VY, VE, AREA, LAKE, RUNOFF, REC, MEA,  # noqa: C901
            need, out):
    """Hydrology fields at every cell centre (lats[j], lons[i]) into out[j, i, 0:N_FIELDS].

    F_CHANNEL: elevation of the channel whose valley the cell lies in (m); F_HILL: height above it (the
    lake's share of a cell raised to the lake's level: a lake's surface lies flat);
    F_WATER: river or lake water fraction of the cell; F_RIVER_DIST: distance (m) to the nearest
    river bank (negative inside); F_AREA: that river's drainage area (m^2); F_LAKE: lake fraction;
    F_SLOPE: hillslope gradient at the cell; F_TOPO: topographic position, +1 on the floor of the
    valleys of levels up to TOPO_LEVEL, -1 on their divides (0 on flat land): it does not depend on
    the cell size.

    Cells go in blocks of BLOCK_PX x BLOCK_PX that share one list of candidate channel segments
    per coarse cell (_block_lists): the result is that of visiting every segment of the 5 x 5
    nodes around the cell at every level, but most never need a look. Cells where `need` (H, W)
    is False get zeros.
    """
    h, w = lats.shape[0], lons.shape[0]
    SP = np.empty((h, w))
    # unit vectors cos(lat) (cos(lon), sin(lon)), sin(lat) (K.unit_vector): the longitude terms once per column
    cos_lon, sin_lon = np.empty(w), np.empty(w)
    for col in range(w):
        lo = math.radians(lons[col])
        cos_lon[col], sin_lon[col] = math.cos(lo), math.sin(lo)
    for r in prange(h):
        la = math.radians(lats[r])
        cos_lat, sin_lat = math.cos(la), math.sin(la)
        for col in range(w):
            SP[r, col] = 0.0 if not need[r, col] else _s_at(lons[col], lats[r], w0, I0[0], J0[0]) * _s_noise_at(
                cos_lat * cos_lon[col], cos_lat * sin_lon[col], sin_lat, seed)
    # tributaries finer than the cells are not drawn: lower the valley sides by their mean cut
    lower = 1.0
    for k in range(1, N_LEVELS):
        lower *= 1.0 - LOWER * (1.0 - fade(k, res))
    r0 = res / math.sqrt(12.0)
    # level-0 valley-floor and water half widths and whether they carry rivers, once per node
    n0 = NI[0] * NJ[0]
    HALF = np.empty(n0)
    WHALF = np.empty(n0)
    RIV = np.empty(n0, dtype=np.bool_)
    MFADE = np.zeros(n0)  # meanders (and bank undulations) shown at this cell size, 0..1
    AM = np.zeros(n0)  # the most a river's course lies off its chord here (m)
    for p in range(n0):
        HALF[p] = 0.5 * width_m(AREA[p])
        WHALF[p] = 0.5 * water_width_m(AREA[p], RUNOFF[p])
        RIV[p] = _is_river(p, RUNOFF)
        if RIV[p] and MEA[p, M_WAVE] > 0.0:
            MFADE[p] = smoothstep(MEANDER_FADE[0], MEANDER_FADE[1], MEA[p, M_WAVE] / res)
            AM[p] = MFADE[p] * MEA[p, M_AMP] * (1.0 + abs(MEA[p, M_SKEW]))
    bs = BLOCK_PX[1] if res >= SUPER_RES_M / SUPER else BLOCK_PX[0]
    nbi = (w + bs - 1) // bs
    for bj in prange((h + bs - 1) // bs):
        for bi in range(nbi):
            ra, rb, ca, cb = bj * bs, min(bj * bs + bs, h), bi * bs, min(bi * bs + bs, w)
            out[ra:rb, ca:cb] = 0.0
            if not need[ra:rb, ca:cb].any():
                continue
            GEO, START, P, S = _block_lists(lons, lats, ra, rb, ca, cb, SP, res, kmax, I0, J0, NI, NJ, OFF,
                                            VX, VY, VE, AREA, RUNOFF, AM)
            LN = lake_nodes(lons, lats, ra, rb, ca, cb, GEO, I0, J0, NI, NJ, OFF, VX, VY, LAKE)
            for r in range(ra, rb):
                lat = lats[r]
                coslat = math.cos(math.radians(lat))
                for col in range(ca, cb):
                    if not need[r, col]:
                        continue
                    lon = lons[col]
                    sp = SP[r, col]
                    best, fmin, bch, bslope = math.inf, math.inf, 0.0, 0.0
                    ks = sp * res * smoothstep(0.5 * SMOOTH_RES_M, SMOOTH_RES_M, res) + 1e-9
                    f1, f2, n1, n2 = math.inf, math.inf, -1, -1
                    redge, rarea, rhalf = math.inf, 0.0, 0.0
                    ftop, htop = math.inf, 0.0
                    for k in range(kmax + 1):
                        q = Q0_DEG / (1 << k)
                        sk = sp * GAMMA ** k
                        lk = CONCAVE * q * M_PER_DEG
                        ci, cj = int(math.floor((lon + 180.0) / q)), int(math.floor((lat + 90.0) / q))
                        cell = GEO[k, 4] + (cj - GEO[k, 1]) * GEO[k, 2] + (ci - GEO[k, 0])
                        for e in range(START[cell], START[cell + 1]):
                            p, s = P[e], S[e]
                            half = HALF[p] if k == 0 else 0.0
                            d, t = _closest(lon, lat, VX[p, s], VY[p, s], VX[p, s + 1], VY[p, s + 1], coslat)
                            e_ = VE[p, s] + t * (VE[p, s + 1] - VE[p, s])
                            if k == 0 and d < 6.0 * AM[p]:
                                # the meandering course: the signed distance to the chord less the
                                # course's offset there, so the valley floor and the water follow
                                # it; tapered off from 2 to 6 amplitudes away (the valley sides
                                # beyond follow the chord; the slope of the offset stays under 0.4,
                                # so the distance still grows away from the course: no new pits)
                                side = ((VX[p, s + 1] - VX[p, s]) * (lat - VY[p, s])
                                        - (VY[p, s + 1] - VY[p, s]) * (lon - VX[p, s]))
                                shift = (smoothstep(6.0 * AM[p], 2.0 * AM[p], d) * MFADE[p]
                                         * meander_offset((s + t) / NS, MEA[p]))
                                d = abs((d if side >= 0.0 else -d) - shift)
                            if k == 0 and RIV[p]:
                                est = WHALF[p] * (1.0 + 4.0 * smoothstep(8.0, 0.0, e_))
                                if MFADE[p] > 0.0 and d - 1.2 * est < redge:  # reaches widen and narrow
                                    est *= 1.0 + MFADE[p] * (bank_factor((s + t) / NS, MEA[p]) - 1.0)
                                if d - est < redge:
                                    redge, rarea, rhalf = d - est, AREA[p], est
                            # concave valley side: gradient from 0 at the floor to sk on the upper
                            # slopes, over a share of the level's spacing; the distance is rounded
                            # over the cell (a box-averaged V) so coarse cells average fine ones
                            x = max(d - half, 0.0)
                            xe = math.sqrt(x * x + r0 * r0)
                            hill = sk * xe * xe / (xe + lk)
                            dh = sk * (xe * xe + 2.0 * xe * lk) / (xe + lk) ** 2 * x / xe
                            f = e_ + hill
                            if k <= TOPO_LEVEL and f < ftop:  # the valley the cell lies in: the height
                                ftop, htop = f, hill  # above its floor
                            if f < fmin:
                                fmin, bch, bslope = f, e_, dh
                            best = min(best, f)
                            if k == 0:
                                if f < f1:
                                    if n1 >= 0 and n1 != p and not _linked(n1, p, REC):
                                        f2, n2 = f1, n1
                                    f1, n1 = f, p
                                elif f < f2 and p != n1 and not _linked(n1, p, REC):
                                    f2, n2 = f, p
                        if k == 0 and n2 >= 0 and not _linked(n1, n2, REC) and f2 < f1 + ks:
                            # a crest between two valleys: lowered to the box average over the cell
                            # (the smooth minimum of the two valley sides; cells finer than SMOOTH_RES_M
                            # keep sharp crests)
                            hh = (ks - (f2 - f1)) / ks
                            crest = 0.25 * hh * hh * ks
                            if best > f1 - crest:
                                best = f1 - crest
                    o = out[r, col]
                    o[F_CHANNEL] = bch
                    # (unresolved tributaries cut deeper where the valley sides are high)
                    hv = best - bch
                    o[F_HILL] = hv * lower ** (0.5 + hv / (sp * Q0_DEG * M_PER_DEG * 0.25 + 1e-9))
                    lake_f = 0.0
                    if LN.shape[0] > 0:
                        # the shore against the valley sides before the unresolved tributaries' mean cut:
                        # a lake floods the land around it, not the mean depth of valleys too narrow to
                        # show (that way the lake share of coarse cells is the mean of finer cells')
                        lake_f, level = lake_share(lon, lat, coslat, bch, bch + hv, bslope, res, seed, LN, VX, VY,
                                                   VE, LAKE)
                        if lake_f > 0.0:  # the water's share of the cell lies flat at its level
                            o[F_HILL] += lake_f * max(level - bch - o[F_HILL], 0.0)
                            bslope *= 1.0 - lake_f
                    # the share of the cell the river's width spans (a stream narrower than the
                    # cell covers no more of it than its width does)
                    river_f = span_share(redge + rhalf, rhalf, res) if redge < math.inf else 0.0
                    o[F_WATER] = max(lake_f, river_f)
                    o[F_RIVER_DIST] = redge
                    o[F_AREA] = rarea
                    o[F_LAKE] = lake_f
                    o[F_SLOPE] = bslope
                    o[F_TOPO] = ((1.0 - 2.0 * smoothstep(0.0, sp * TOPO_SPAN_M + 1e-9, htop))
                                 * smoothstep(TOPO_SLOPE[0], TOPO_SLOPE[1], sp))


class Network:
    """The channel network of one window of the world: packed node arrays for every level."""

    def __init__(self, seeds: np.ndarray, west: float, south: float, east: float, north: float,
                 res: float, kmax: int):
        self.seed = seeds[K.S_RIVER]
        key = register_seeds(seeds)
        self.kmax = kmax
        margins = [0.0] * (kmax + 2)
        for k in range(kmax, -1, -1):
            margins[k] = 3.0 * Q0_DEG / (1 << k) + margins[k + 1]
        I0, J0, NI, NJ, OFF = (np.zeros(kmax + 1, dtype=np.int64) for _ in range(5))
        total = 0
        for k in range(kmax + 1):
            q = Q0_DEG / (1 << k)
            m = margins[k]
            I0[k] = math.floor((west - m + 180.0) / q)
            J0[k] = math.floor((south - m + 90.0) / q)
            NI[k] = math.floor((east + m + 180.0) / q) + 1 - I0[k]
            NJ[k] = math.floor((north + m + 90.0) / q) + 1 - J0[k]
            OFF[k] = total
            total += NI[k] * NJ[k]
        self.I0, self.J0, self.NI, self.NJ, self.OFF = I0, J0, NI, NJ, OFF
        self.w0 = level0_window(key, int(I0[0]), int(I0[0] + NI[0]), int(J0[0]), int(J0[0] + NJ[0]))
        self.VX = np.full((total, NS + 1), np.nan)
        self.VY = np.full((total, NS + 1), np.nan)
        self.VE = np.full((total, NS + 1), np.nan)
        self.AREA = np.zeros(total)
        self.LAKE = np.zeros(total)
        self.RUNOFF = np.zeros(total)
        self.MEA = np.zeros((total, N_MEANDER))
        rec_i, rec_j = self.w0[..., 5].ravel(), self.w0[..., 6].ravel()
        ok = np.isfinite(rec_i) & (rec_i >= 0)
        ri = np.where(ok, rec_i, 0).astype(np.int64) - I0[0]
        rj = np.where(ok, rec_j, 0).astype(np.int64) - J0[0]
        inside = ok & (ri >= 0) & (ri < NI[0]) & (rj >= 0) & (rj < NJ[0])
        self.REC = np.where(inside, rj * NI[0] + ri, -1).astype(np.int64)
        n0 = int(NI[0] * NJ[0])
        _level0_polylines(self.w0, self.seed, seeds, self.VX[:n0], self.VY[:n0], self.VE[:n0], self.AREA[:n0],
                          self.LAKE[:n0], self.RUNOFF[:n0], self.MEA[:n0])
        for k in range(1, kmax + 1):
            _fine_level(k, res, self.seed, self.w0, I0, J0, NI, NJ, OFF, self.VX, self.VY, self.VE, self.AREA)

    def fields(self, lons: np.ndarray, lats: np.ndarray, res: float, need: np.ndarray | None = None) -> np.ndarray:
        """Hydrology fields (H, W, N_FIELDS) at the cell centres lats x lons (surface; zeros where not `need`)."""
        out = np.empty((lats.size, lons.size, N_FIELDS))
        need = np.ones((lats.size, lons.size), dtype=np.bool_) if need is None else need
        surface(lons, lats, float(res), self.kmax, self.seed, self.w0, self.I0, self.J0, self.NI, self.NJ,
                self.OFF, self.VX, self.VY, self.VE, self.AREA, self.LAKE, self.RUNOFF, self.REC, self.MEA, need, out)
        return out


def levels_for(res: float) -> int:
    """Finest level resolved at cell size `res` (tributaries spaced at least a cell apart)."""
    k = 0
    while k + 1 < N_LEVELS and fade(k + 1, res) > 0.0:
        k += 1
    return k


def hydrology_fields(seeds: np.ndarray, lons: np.ndarray, lats: np.ndarray, dlat: float,
                     timings: dict | None = None, need: np.ndarray | None = None) -> np.ndarray:
    """Hydrology fields (H, W, N_FIELDS) at the cell centres lats x lons of cell size dlat degrees.

    `need` (H, W), when given, says which cells' fields are used (zeros elsewhere: open sea).
    `timings`, when given, gets the CPU seconds of the network ("hydrology network") and of the
    per-cell surface ("hydrology surface") added.
    """
    res = dlat * M_PER_DEG
    if res > MAX_RES_M:
        return np.empty((0, 0, N_FIELDS))
    # coarse cells: the mean of SUPER x SUPER sub-cells (a valley network is not linear in its
    # height, so a point sample at a coarse cell would not be the average of the finer cells)
    sub = SUPER if res >= SUPER_RES_M else 1
    if sub > 1:
        off = (np.arange(sub) + 0.5) / sub - 0.5
        dlon = float(lons[1] - lons[0]) if lons.size > 1 else dlat
        lons = (lons[:, None] + off[None, :] * dlon).ravel()
        lats = (lats[:, None] - off[None, :] * dlat).ravel()
        need = None if need is None else np.repeat(np.repeat(need, sub, axis=0), sub, axis=1)
    r = res / sub
    c0 = time.process_time()
    net = Network(seeds, float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max()),
                  r, levels_for(r))
    c1 = time.process_time()
    f = net.fields(lons, lats, r, need)
    if timings is not None:
        timings["hydrology network"] = timings.get("hydrology network", 0.0) + c1 - c0
        timings["hydrology surface"] = timings.get("hydrology surface", 0.0) + time.process_time() - c1
    if sub > 1:
        h, w = f.shape[0] // sub, f.shape[1] // sub
        g = f.reshape(h, sub, w, sub, N_FIELDS)
        f = g.mean(axis=(1, 3))
        f[..., F_RIVER_DIST] = g[..., F_RIVER_DIST].min(axis=(1, 3))
        f[..., F_AREA] = g[..., F_AREA].max(axis=(1, 3))
    return f

"""The road network of the procedural world: motorways, regional roads, tracks and farm drives (numba).

Per road class a graph over the settlements (settlements.py) and least-cost routes over the relief:

- motorways join cities, regional roads join towns to towns and cities, tracks join villages to
  their neighbours (each a relative-neighbourhood graph over the sites of that class and larger,
  edges longer than MAX_EDGE_DEG dropped); farm drives run straight from a farmstead to the
  nearest point of a track or regional road (motorways have no field access), failing one within
  reach to the nearest village, unless that line crosses a lake;
- each edge is routed by A* on a cost lattice aligned to a global grid of GRID_DEG (height from
  the macro fields and the noise relief, cost per metre growing with the squared grade over the
  class's design grade, crossings of level-0 rivers at a fixed bridge cost, the lakes the
  hydrology draws and the sea much dearer), then smoothed (Chaikin corner cutting); its ends stay
  on the sites.

The edges whose midpoint falls in a block of BLOCK_DEG are computed together, from the sites
within MAX_EDGE_DEG of the block (the relative-neighbourhood test of such an edge sees every
site that decides it), on the lattice within 0.75 MAX_EDGE_DEG: a block is a pure function of
its index (cached), so a tile needs no neighbour and tiles agree. Routes stay in their block's
lattice window, which bounds how far from its block an edge can reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from . import kernel as K
from . import settlements as ST
from .channels import _is_river
from .grid import M_PER_DEG
from .heap import heapq_pop, heapq_push
from .meanders import course
from .relief import dissection, octave_table, relief
from .road_lakes import mark_lakes, over_lake

CLASSES = ("motorway", "regional", "track", "drive")
MOTORWAY, REGIONAL, TRACK, DRIVE = range(4)
BLOCK_DEG = (1.0, 0.5, 0.125)
MAX_EDGE_DEG = (1.3, 0.45, 0.12)
GRID_DEG = (1.0 / 32.0, 1.0 / 64.0, 1.0 / 256.0)
FINEST_SITE = (ST.CITY, ST.TOWN, ST.VILLAGE)
DESIGN_GRADE = (0.04, 0.07, 0.12)
BRIDGE_COST_M = (4000.0, 2000.0, 800.0)
HALF_WIDTH_M = np.array([12.0, 4.0, 2.0, 1.5])  # per class (motorways: two carriageways around a median)
MEDIAN_HALF_M = 1.5
DRIVE_REACH_M = 1500.0
# Coarsest cell (m) at which each class (and the settlements it serves) is computed and drawn:
# a feature under about 1/40 of a cell changes it by under 2.5 %.
MAX_RES_M = (1000.0, 400.0, 160.0, 160.0)


# ----------------------------------------------------------------------------- cost lattice
@njit(parallel=True, cache=True)
def _cost_lattice(i0, j0, nx, ny, step, S):
    """Heights (m) and water flags (3 sea) at lattice nodes (i0 + a, j0 + b) of step `step` degrees."""
    H = np.empty((ny, nx))
    W = np.zeros((ny, nx), dtype=np.int8)
    table = octave_table(step * M_PER_DEG)
    for b in prange(ny):
        m = np.empty(K.N_MACRO)
        lat = -90.0 + (j0 + b + 0.5) * step
        for a in range(nx):
            lon = -180.0 + (i0 + a + 0.5) * step
            x, y, z = K.unit_vector(lon, lat)
            K.macro_at(x, y, z, S, m)
            land, mtn, plat, hill, base, amp = K.landform(m)
            dis, vee = dissection(m[0] - K.SEA, land, mtn, plat, hill, x, y, z, S[K.S_REL])
            rel, _, _, _, _ = relief(x, y, z, table, amp, dis, vee, mtn, 0.0, S[K.S_REL])
            h = base + rel + 0.45 * amp * land * (1.0 - mtn)
            H[b, a] = h
            if h < 0.5 or land < 0.5:
                W[b, a] = 3
    return H, W


@njit(cache=True)
def _mark_water(W, i0, j0, step, VX, VY, RUNOFF, MEA):
    """Flag lattice nodes crossed by level-0 rivers (1, along their meandering course)."""
    ny, nx = W.shape
    for p in range(VX.shape[0]):
        if math.isnan(VX[p, 0]) or not _is_river(p, RUNOFF):
            continue
        lons, lats = course(VX[p], VY[p], MEA[p], 8)
        for q in range(-1, lons.shape[0]):
            lon, lat = (VX[p, 0], VY[p, 0]) if q < 0 else (lons[q], lats[q])
            a = int(math.floor((lon + 180.0) / step)) - i0
            b = int(math.floor((lat + 90.0) / step)) - j0
            if 0 <= a < nx and 0 <= b < ny and W[b, a] == 0:
                W[b, a] = 1


_MOVES = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1],
                   [2, 1], [1, 2], [-1, 2], [-2, 1], [-2, -1], [-1, -2], [1, -2], [2, -1]], dtype=np.int64)


@njit(cache=True)
def _route(H, W, sa, sb, ta, tb, a0, a1, b0, b1, mx, my, grade, bridge):  # noqa: C901
    """A* least-cost path on lattice nodes [a0, a1) x [b0, b1) from (sa, sb) to (ta, tb): (K, 2) node indices."""
    nx = a1 - a0
    n = nx * (b1 - b0)
    dist = np.full(n, np.inf)
    prev = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    s = (sb - b0) * nx + (sa - a0)
    t = (tb - b0) * nx + (ta - a0)
    dist[s] = 0.0
    heap = [(0.0, 0, s)]
    cnt = 1
    while len(heap) > 0:
        _, _, c = heapq_pop(heap)
        if done[c]:
            continue
        done[c] = True
        if c == t:
            break
        ca, cb = c % nx + a0, c // nx + b0
        for m in range(_MOVES.shape[0]):
            na, nb = ca + _MOVES[m, 0], cb + _MOVES[m, 1]
            if na < a0 or nb < b0 or na >= a1 or nb >= b1:
                continue
            e = (nb - b0) * nx + (na - a0)
            if done[e]:
                continue
            d = math.hypot(_MOVES[m, 0] * mx, _MOVES[m, 1] * my)
            g = abs(H[nb, na] - H[cb, ca]) / d
            cost = d * (1.0 + (g / grade) ** 2)
            w = W[nb, na]
            if w == 1:
                cost += bridge
            elif w == 2:
                cost += 20.0 * d
            elif w == 3:
                cost += 40.0 * d + (bridge if W[cb, ca] != 3 else 0.0)
            nd = dist[c] + cost
            if nd < dist[e]:
                dist[e] = nd
                prev[e] = c
                heur = math.hypot((ta - na) * mx, (tb - nb) * my)
                heapq_push(heap, (nd + heur, cnt, e))
                cnt += 1
    k = 0
    c = t
    while c >= 0:
        k += 1
        c = prev[c]
    out = np.empty((k, 2), dtype=np.int64)
    c = t
    for i in range(k - 1, -1, -1):
        out[i, 0], out[i, 1] = c % nx + a0, c // nx + b0
        c = prev[c]
    return out


@njit(cache=True)
def _rng_edges(P, maxlen):
    """Relative-neighbourhood graph of points P (n, 2) (lon, lat degrees), edges up to maxlen degrees of latitude."""
    n = P.shape[0]
    out = np.empty((max(n * 4, 1), 2), dtype=np.int64)
    m = 0
    for i in range(n):
        ci = math.cos(math.radians(P[i, 1]))
        for j in range(i + 1, n):
            dx, dy = (P[j, 0] - P[i, 0]) * ci, P[j, 1] - P[i, 1]
            dij = dx * dx + dy * dy
            if dij > maxlen * maxlen or dij <= 0.0:
                continue
            ok = True
            for k in range(n):
                if k == i or k == j:
                    continue
                ax, ay = (P[k, 0] - P[i, 0]) * ci, P[k, 1] - P[i, 1]
                bx, by = (P[k, 0] - P[j, 0]) * ci, P[k, 1] - P[j, 1]
                if max(ax * ax + ay * ay, bx * bx + by * by) < dij:
                    ok = False
                    break
            if ok:
                if m >= out.shape[0]:
                    bigger = np.empty((out.shape[0] * 2, 2), dtype=np.int64)
                    bigger[:m] = out[:m]
                    out = bigger
                out[m, 0], out[m, 1] = i, j
                m += 1
    return out[:m]


def _chaikin(pts: np.ndarray, rounds: int = 3) -> np.ndarray:
    for _ in range(rounds):
        if len(pts) < 3:
            return pts
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.concatenate([pts[:1], mid[1:-1], pts[-1:]])
    return pts


# ----------------------------------------------------------------------------- blocks
def _pack(lines: list[np.ndarray], classes: list[int]):
    if not lines:
        return np.empty((0, 2)), np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int8)
    off = np.zeros(len(lines) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(v) for v in lines])
    return np.concatenate(lines), off, np.asarray(classes, dtype=np.int8)


@lru_cache(maxsize=2048)
def road_block(key: int, level: int, bi: int, bj: int):
    """Roads of class `level` whose edge midpoints lie in block (bi, bj): (vertices (V, 2) lon/lat, offsets, classes).

    `bi` is taken modulo the globe (longitudes of the block's own turn).
    """
    S = ST._SEEDS[key]
    bsz, emax, g = BLOCK_DEG[level], MAX_EDGE_DEG[level], GRID_DEG[level]
    west, south = -180.0 + bi * bsz, -90.0 + bj * bsz
    east, north = west + bsz, south + bsz
    pts = ST.sites(S, west - emax, max(south - emax, -90.0), east + emax, min(north + emax, 90.0),
                   FINEST_SITE[level])
    lines: list[np.ndarray] = []
    if len(pts) < 2:
        return _pack(lines, [])
    edges = _rng_edges(np.ascontiguousarray(pts[:, :2]), emax)
    kinds = pts[:, ST.F_KIND]
    mids = 0.5 * (pts[edges[:, 0], :2] + pts[edges[:, 1], :2])
    own = (mids[:, 0] >= west) & (mids[:, 0] < east) & (mids[:, 1] >= south) & (mids[:, 1] < north)
    own &= np.maximum(kinds[edges[:, 0]], kinds[edges[:, 1]]) == FINEST_SITE[level]
    edges = edges[own]
    if len(edges) == 0:
        return _pack(lines, [])
    pad = 0.75 * emax
    i0 = math.floor((west - pad + 180.0) / g)
    j0 = max(math.floor((south - pad + 90.0) / g), 0)
    i1 = math.floor((east + pad + 180.0) / g) + 1
    j1 = min(math.floor((north + pad + 90.0) / g) + 1, int(round(180.0 / g)))
    H, W = _cost_lattice(i0, j0, i1 - i0, j1 - j0, g, S)
    riv = ST._rivers_window(S, -180.0 + i0 * g, -90.0 + j0 * g, -180.0 + i1 * g, -90.0 + j1 * g)
    _mark_water(W, i0, j0, g, riv.vx, riv.vy, riv.runoff, riv.mea)
    mark_lakes(W, i0, j0, g, key)
    coslat = math.cos(math.radians(0.5 * (south + north)))
    mx, my = g * M_PER_DEG * coslat, g * M_PER_DEG
    for a, b in edges:
        pa, pb = pts[a, :2], pts[b, :2]
        sa = int(math.floor((pa[0] + 180.0) / g)) - i0
        sb = int(math.floor((pa[1] + 90.0) / g)) - j0
        ta = int(math.floor((pb[0] + 180.0) / g)) - i0
        tb = int(math.floor((pb[1] + 90.0) / g)) - j0
        length = max(abs(ta - sa), abs(tb - sb))
        m = max(3, int(0.3 * length))
        a0, a1 = max(min(sa, ta) - m, 0), min(max(sa, ta) + m + 1, i1 - i0)
        b0, b1 = max(min(sb, tb) - m, 0), min(max(sb, tb) + m + 1, j1 - j0)
        path = _route(H, W, sa, sb, ta, tb, a0, a1, b0, b1, mx, my, DESIGN_GRADE[level], BRIDGE_COST_M[level])
        ll = np.empty((len(path), 2))
        ll[:, 0] = -180.0 + (path[:, 0] + i0 + 0.5) * g
        ll[:, 1] = -90.0 + (path[:, 1] + j0 + 0.5) * g
        ll[0], ll[-1] = pa, pb
        lines.append(_chaikin(ll))
    out = _pack(lines, [level] * len(lines))
    for arr in out:
        arr.setflags(write=False)
    return out


@njit(cache=True)
def _drives(F, V, OFF, CLS, TOWNS, reach):
    """Farm drives: from each farm F[i] to the nearest point of the polylines (V, OFF) within reach (m),
    else to the nearest site of TOWNS within 2 reach. Returns (n, 4) lon0, lat0, lon1, lat1 (NaN: none).
    """
    out = np.full((F.shape[0], 4), np.nan)
    for i in range(F.shape[0]):
        lon, lat = F[i, 0], F[i, 1]
        c = math.cos(math.radians(lat))
        best, bx, by = reach, 0.0, 0.0
        for p in range(OFF.shape[0] - 1):
            if CLS[p] == MOTORWAY:  # no access from the fields
                continue
            for v in range(OFF[p], OFF[p + 1] - 1):
                ux, uy = (V[v + 1, 0] - V[v, 0]) * c, V[v + 1, 1] - V[v, 1]
                wx, wy = (lon - V[v, 0]) * c, lat - V[v, 1]
                ll = ux * ux + uy * uy
                t = 0.0 if ll <= 0.0 else min(max((wx * ux + wy * uy) / ll, 0.0), 1.0)
                d = math.hypot(wx - t * ux, wy - t * uy) * M_PER_DEG
                if d < best:
                    best, bx, by = d, V[v, 0] + t * (V[v + 1, 0] - V[v, 0]), V[v, 1] + t * (V[v + 1, 1] - V[v, 1])
        if best >= reach:
            for k in range(TOWNS.shape[0]):
                d = math.hypot((TOWNS[k, 0] - lon) * c, TOWNS[k, 1] - lat) * M_PER_DEG
                if d < best + reach:
                    best, bx, by = d - reach, TOWNS[k, 0], TOWNS[k, 1]
            if best >= reach:
                continue
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = lon, lat, bx, by
    return out


DRIVE_BLOCK_DEG = 1.0 / 8.0


@lru_cache(maxsize=4096)
def drive_block(key: int, bi: int, bj: int):
    """Farm drives of the farms in block (bi, bj) of DRIVE_BLOCK_DEG (bi unwrapped): packed polylines."""
    S = ST._SEEDS[key]
    c, b = ST.K.CELL_DEG, DRIVE_BLOCK_DEG
    west, south = -180.0 + bi * b, -90.0 + bj * b
    farms = ST.farms_cell(key, math.floor((west + 1e-9 + 180.0) / c), math.floor((south + 1e-9 + 90.0) / c))
    farms = farms[(farms[:, 0] >= west) & (farms[:, 0] < west + b) & (farms[:, 1] >= south) & (farms[:, 1] < south + b)]
    if len(farms) == 0:
        return _pack([], [])
    r = 0.02  # beyond DRIVE_REACH_M, and twice it for villages
    V, OFF, CLS = network(S, west - r, south - r, west + b + r, south + b + r, TRACK)
    towns = ST.sites(S, west - 2 * r, south - 2 * r, west + b + 2 * r, south + b + 2 * r, ST.VILLAGE)
    d = _drives(np.ascontiguousarray(farms[:, :2]), V, OFF, CLS, np.ascontiguousarray(towns[:, :2]).reshape(-1, 2),
                DRIVE_REACH_M)
    ok = np.isfinite(d[:, 0])
    ok[ok] = ~over_lake(S, d[ok], west - 2 * r, south - 2 * r, west + b + 2 * r, south + b + 2 * r)
    lines = [row.reshape(2, 2) for row in d[ok]]
    out = _pack(lines, [DRIVE] * len(lines))
    for arr in out:
        arr.setflags(write=False)
    return out


def network(seeds: np.ndarray, west: float, south: float, east: float, north: float, finest: int = DRIVE):
    """Road polylines of classes MOTORWAY..finest that can reach into the box: (vertices (V, 2), offsets, classes).

    Longitudes are continuous with the box's (east may exceed 180 across the antimeridian).
    """
    key = ST._key(seeds)
    parts = []
    for level in range(min(finest, TRACK) + 1):
        bsz, pad = BLOCK_DEG[level], 0.75 * MAX_EDGE_DEG[level] + GRID_DEG[level]
        nb = int(round(360.0 / bsz))
        for bj in range(max(math.floor((south - pad + 90.0) / bsz), 0),
                        min(math.floor((north + pad + 90.0) / bsz), int(round(180.0 / bsz)) - 1) + 1):
            for bi in range(math.floor((west - pad + 180.0) / bsz), math.floor((east + pad + 180.0) / bsz) + 1):
                V, OFF, CLS = road_block(key, level, bi % nb, bj)
                parts.append((V + np.array([(bi - bi % nb) * bsz, 0.0]), OFF, CLS))
    if finest >= DRIVE:
        coslat = max(math.cos(math.radians(max(abs(south), abs(north)))), 0.05)
        b, pad = DRIVE_BLOCK_DEG, 2.0 * DRIVE_REACH_M / M_PER_DEG / coslat
        for bj in range(max(math.floor((south - pad + 90.0) / b), 0),
                        min(math.floor((north + pad + 90.0) / b), int(round(180.0 / b)) - 1) + 1):
            for bi in range(math.floor((west - pad + 180.0) / b), math.floor((east + pad + 180.0) / b) + 1):
                parts.append(drive_block(key, bi, bj))
    return _select(parts, west, south, east, north)


def _select(parts, west, south, east, north, margin_deg: float = 0.01):
    lines, classes = [], []
    for V, OFF, CLS in parts:
        for k in range(len(CLS)):
            v = V[OFF[k]:OFF[k + 1]]
            if (v[:, 0].max() >= west - margin_deg and v[:, 0].min() <= east + margin_deg
                    and v[:, 1].max() >= south - margin_deg and v[:, 1].min() <= north + margin_deg):
                lines.append(v)
                classes.append(int(CLS[k]))
    return _pack(lines, classes)


# ----------------------------------------------------------------------------- vector output
@dataclass(frozen=True)
class Street:
    """A road or street centreline: lon/lat vertices (K, 2) in degrees, its class and whether it is a bridge.

    kind: "motorway", "regional", "track" (roads between settlements and farm drives) or, inside
    cities, "arterial", "local", "path". A road is cut where it crosses a river: the piece over
    the water (the river's width and 10 m either side) has bridge=True.
    """

    lonlat: np.ndarray
    kind: str
    bridge: bool = False


@njit(cache=True)
def _crossings(V, OFF, RV, ROFF):
    """(road, arc position along it in segments, river) for every crossing of a road polyline and a river polyline."""
    out = np.empty((0, 3))
    res = []
    for k in range(OFF.shape[0] - 1):
        for e in range(OFF[k], OFF[k + 1] - 1):
            ax, ay, bx, by = V[e, 0], V[e, 1], V[e + 1, 0], V[e + 1, 1]
            for r in range(ROFF.shape[0] - 1):
                for f in range(ROFF[r], ROFF[r + 1] - 1):
                    cx, cy, dx, dy = RV[f, 0], RV[f, 1], RV[f + 1, 0], RV[f + 1, 1]
                    if max(cx, dx) < min(ax, bx) or min(cx, dx) > max(ax, bx):
                        continue
                    if max(cy, dy) < min(ay, by) or min(cy, dy) > max(ay, by):
                        continue
                    den = (bx - ax) * (dy - cy) - (by - ay) * (dx - cx)
                    if den == 0.0:
                        continue
                    t = ((cx - ax) * (dy - cy) - (cy - ay) * (dx - cx)) / den
                    u = ((cx - ax) * (by - ay) - (cy - ay) * (bx - ax)) / den
                    if 0.0 <= t <= 1.0 and 0.0 <= u <= 1.0:
                        res.append((float(k), float(e - OFF[k]) + t, float(f)))
    if len(res) == 0:
        return out
    out = np.empty((len(res), 3))
    for i in range(len(res)):
        out[i, 0], out[i, 1], out[i, 2] = res[i]
    return out


def _cut(v: np.ndarray, spans: list[tuple[float, float]]) -> list[tuple[np.ndarray, bool]]:
    """Cut polyline v at arc positions (segment index + fraction) into pieces, flagging those inside spans."""
    n = len(v) - 1
    cuts = sorted({0.0, float(n)} | {min(max(x, 0.0), n) for s in spans for x in s})

    def at(x: float) -> np.ndarray:
        e = min(int(x), n - 1)
        return v[e] + (x - e) * (v[e + 1] - v[e])

    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        if b <= a:
            continue
        inner = [v[e] for e in range(int(math.floor(a)) + 1, int(math.ceil(b))) if a < e < b]
        pts = np.array([at(a), *inner, at(b)])
        mid = 0.5 * (a + b)
        out.append((pts, any(s0 <= mid <= s1 for s0, s1 in spans)))
    return out


def streets_from(V, OFF, CLS, rivers) -> list[Street]:
    """Streets of packed road polylines, cut into bridges where they cross the rivers (rivers.River list)."""
    names = ("motorway", "regional", "track", "track")
    if rivers:
        RV = np.concatenate([np.stack([r.lon, r.lat], axis=1) for r in rivers])
        ROFF = np.zeros(len(rivers) + 1, dtype=np.int64)
        ROFF[1:] = np.cumsum([r.lon.size for r in rivers])
        RW = np.concatenate([r.width_m for r in rivers])
        cross = _crossings(np.ascontiguousarray(V, dtype=np.float64), OFF, RV, ROFF)
    else:
        cross, RW = np.empty((0, 3)), np.empty(0)
    spans: dict[int, list[tuple[float, float]]] = {}
    for k, x, f in cross:
        k, f = int(k), int(f)
        v = V[OFF[k]:OFF[k + 1]]
        e = min(int(x), len(v) - 2)
        seg_m = max(float(np.hypot((v[e + 1, 0] - v[e, 0]) * math.cos(math.radians(v[e, 1])),
                                   v[e + 1, 1] - v[e, 1])) * M_PER_DEG, 1e-6)
        half = (0.5 * RW[f] + 10.0) / seg_m
        spans.setdefault(k, []).append((x - half, x + half))
    out = []
    for k in range(len(CLS)):
        v = np.array(V[OFF[k]:OFF[k + 1]])
        if k not in spans:
            out.append(Street(v, names[CLS[k]], False))
            continue
        for pts, bridge in _cut(v, spans[k]):
            out.append(Street(pts, names[CLS[k]], bridge))
    return out

"""Level-0 drainage basins of the procedural world: flooded blocks of jittered nodes (numba).

A node per cell of a global 1/32 degree lattice (about 3.5 km) takes its elevation from the
smooth macro relief. Big rivers need the whole planet, so a global drainage graph comes first:
a cell per 1/4 degree (about 28 km; 1440 x 720 cells, about 1 s per world, computed once) with
elevations from the relief resolved at that size, flooded from the sea over the whole globe
(priority flood, Barnes et al. 2014) and accumulated. Then per block of BLOCK x BLOCK nodes,
with MARGIN nodes all round, a priority flood from the sea and from the stretches of the
window's edge where the global graph leaves it fills the depressions and gives every node a
receiver (the flood tree: elevations strictly fall downstream). Drainage areas accumulate down
those receivers over the block and AREA_RINGS rings of blocks around it, plus the global
graph's area where it enters that region, so a river keeps its basin across block borders and
grows past any window (8 x 8 degrees of plains: rivers of 0.4-2.3 million km^2, where one
window's flood capped them near 30,000). Runoff areas (a node's area times the share of it
whose water reaches a channel, from its moisture) accumulate the same way: they decide where a
channel carries water, so a river that rises in wet hills flows on across a desert. Blocks
are pure functions of their index, cached with lru_cache, so no result depends on which tile
asked.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit, prange

from . import kernel as K
from .grid import M_PER_DEG
from .heap import heapq_pop, heapq_push
from .noise import hash2, rehash, smoothstep, unit
from .relief import dissection, octave_table, relief

Q0_DEG = 1.0 / 32.0  # level-0 node spacing (about 3.5 km)
BLOCK = 32  # level-0 nodes per block side (1 degree)
MARGIN = 24  # nodes of margin around a block in its flood
JITTER = 0.8  # nodes lie within this share of their cell, centred
CONTROL_RES_M = 8000.0  # node elevations: the relief octaves resolved at this cell size
EPS_SLOPE = 2e-4  # least channel gradient through filled depressions (lakes)
NS = 4  # sub-segments of a level-0 channel (midpoint displacement); finer levels use 1
COARSE = 8  # level-0 nodes per side of a cell of the global drainage graph (1/4 degree, about 28 km)
COARSE_RES_M = 28000.0  # its node elevations: the relief octaves resolved at this cell size
NI1, NJ1 = 360 * 32 // COARSE, 180 * 32 // COARSE  # its cells around the globe and pole to pole
AREA_RINGS = 2  # a block's drainage areas accumulate over this many rings of blocks around it
NODE_FIELDS = 11  # values per level-0 node (see _route)


# ----------------------------------------------------------------------------- per-node helpers
@njit(cache=True)
def node_pos(i, j, k, seed):
    """(lon, lat) of node (i, j) of level k; i may lie outside [0, N) (unwrapped longitude)."""
    q = Q0_DEG / (1 << k)
    nl = np.int64(360 * 32) << np.int64(k)
    h = hash2(np.int64(i % nl), np.int64(j), seed + np.uint64(k))
    return (-180.0 + (i + 0.5 + JITTER * (unit(h) - 0.5)) * q,
            -90.0 + (j + 0.5 + JITTER * (unit(rehash(h, 1)) - 0.5)) * q)


@njit(cache=True)
def hillslope_gradient(m, x, y, z, S):
    """Hillslope gradient (rise per run) of the landform at unit vector (x, y, z) with macro fields m."""
    land, mtn, plat, hill, base, amp = K.landform(m)
    dis, vee = dissection(m[0] - K.SEA, land, mtn, plat, hill, x, y, z, S[K.S_REL])
    return land * ((0.01 + (0.0034 - 0.0011 * plat) * max(dis - 200.0 * mtn, 0.0)) * (1.0 - mtn) + 0.64 * mtn)


@njit(cache=True)
def _control(lon, lat, S, table, out):
    """Node control elevation (m), hillslope gradient, moisture into out[0:3]."""
    m = np.empty(K.N_MACRO)
    x, y, z = K.unit_vector(lon, lat)
    K.macro_at(x, y, z, S, m)
    land, mtn, plat, hill, base, amp = K.landform(m)
    d = m[0] - K.SEA
    dis, vee = dissection(d, land, mtn, plat, hill, x, y, z, S[K.S_REL])
    rel, _, _, _, _ = relief(x, y, z, table, amp, dis, vee, mtn, 0.0, S[K.S_REL])
    h = base + 0.45 * amp * land * (1.0 - mtn) + rel
    t, w = K.climate(m, lat, h, d)
    # only the sea drains the land: inland ground below sea level is a basin to fill, not an outlet
    out[0] = h if land < 0.5 else max(h, 1.0)
    out[1] = hillslope_gradient(m, x, y, z, S)
    out[2] = w * smoothstep(-2.0, 2.0, t)


@njit(cache=True)
def runoff_share(moisture):
    """Share of a node's area whose runoff reaches its channel (0 in deserts, 1 in humid land)."""
    return smoothstep(0.15, 0.45, moisture)


# ----------------------------------------------------------------------------- the global drainage graph
@njit(parallel=True, cache=True)
def _coarse_elevations(S):
    """Control elevations (m) and runoff shares (`runoff_share`) at the centres of the global
    graph's cells, two (NJ1, NI1) arrays.
    """
    table = octave_table(COARSE_RES_M)
    z = np.empty((NJ1, NI1))
    share = np.empty((NJ1, NI1))
    q = COARSE * Q0_DEG
    for jj in prange(NJ1):
        buf = np.empty(3)
        for ii in range(NI1):
            _control(-180.0 + (ii + 0.5) * q, -90.0 + (jj + 0.5) * q, S, table, buf)
            z[jj, ii] = buf[0]
            share[jj, ii] = runoff_share(buf[2])
    return z, share


@njit(cache=True)
def _coarse_flood(z, share):  # noqa: C901
    """Receivers (flat index jj * NI1 + ii, -1 at the sea), drainage areas and runoff areas (m^2)
    of the global graph: a priority flood from the sea over the whole globe (longitude wraps), then
    accumulation of the cells' areas and of their areas times their runoff shares `share`.
    Land that no sea reaches (none on a generated planet, in practice) drains to its lowest cell.
    """
    nj, ni = z.shape
    q = COARSE * Q0_DEG
    rec = np.full(nj * ni, -1, dtype=np.int64)
    seen = np.zeros(nj * ni, dtype=np.bool_)
    order = np.empty(nj * ni, dtype=np.int64)
    heap = [(0.0, 0, 0)]
    heap.pop()
    cnt = 0
    for c in range(nj * ni):
        if z[c // ni, c % ni] < 0.0:
            seen[c] = True
            heapq_push(heap, (z[c // ni, c % ni], cnt, c))
            cnt += 1
    m = 0
    while m < nj * ni:
        if len(heap) == 0:  # a basin no sea reaches: flood on from its lowest cell
            low, best = np.inf, -1
            for c in range(nj * ni):
                if not seen[c] and z[c // ni, c % ni] < low:
                    low, best = z[c // ni, c % ni], c
            seen[best] = True
            heapq_push(heap, (low, cnt, best))
            cnt += 1
        level, _, c = heapq_pop(heap)
        order[m] = c
        m += 1
        jj, ii = c // ni, c % ni
        for dj in range(-1, 2):
            for di in range(-1, 2):
                nj_ = jj + dj
                if nj_ < 0 or nj_ >= nj:
                    continue
                nc = nj_ * ni + (ii + di) % ni
                if seen[nc]:
                    continue
                seen[nc] = True
                dist = q * math.hypot(di * math.cos(math.radians(-90.0 + (jj + 0.5) * q)), dj) * M_PER_DEG
                rec[nc] = c
                heapq_push(heap, (max(z[nj_, (ii + di) % ni], level + EPS_SLOPE * dist), cnt, nc))
                cnt += 1
    area = np.empty(nj * ni)
    for c in range(nj * ni):
        area[c] = (q * M_PER_DEG) ** 2 * math.cos(math.radians(-90.0 + (c // ni + 0.5) * q))
    runoff = area * share.ravel()
    for t in range(m - 1, -1, -1):
        c = order[t]
        if rec[c] >= 0:
            area[rec[c]] += area[c]
            runoff[rec[c]] += runoff[c]
    return rec.reshape(nj, ni), area.reshape(nj, ni), runoff.reshape(nj, ni)


@lru_cache(maxsize=8)
def coarse_graph(seed_key: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The global drainage graph of a world (receivers, areas, runoff areas; see `_coarse_flood`;
    24 MB), cached.
    """
    graph = _coarse_flood(*_coarse_elevations(_BLOCK_CACHE_SEEDS[seed_key]))
    for a in graph:
        a.setflags(write=False)
    return graph


# ----------------------------------------------------------------------------- level 0: flooded blocks
@njit(cache=True)
def _route(bi, bj, S, seed, crec):  # noqa: C901
    """Flood of level-0 block (bi, bj) in its window (the block and MARGIN nodes all round): per
    core node (lon, lat, filled z, raw z, the node's own area m^2, receiver i, receiver j,
    hillslope gradient, moisture, receiver filled z, the node's own runoff area m^2: its area
    times its `runoff_share`).

    The window drains to the sea and through the stretches of its edge where the global graph
    (`crec`) leaves it, so a river that crosses the window keeps its course through it.
    """
    table = octave_table(CONTROL_RES_M)
    nlat = 180 * 32
    i0 = bi * BLOCK - MARGIN
    j0 = bj * BLOCK - MARGIN
    n = BLOCK + 2 * MARGIN
    z = np.empty((n, n))
    lon = np.empty((n, n))
    lat = np.empty((n, n))
    sg = np.empty((n, n))
    wet = np.empty((n, n))
    ok = np.zeros((n, n), dtype=np.bool_)
    buf = np.empty(3)
    for a in range(n):
        j = j0 + a
        if j < 0 or j >= nlat:
            continue
        for b in range(n):
            lo, la = node_pos(i0 + b, j, 0, seed)
            lon[a, b], lat[a, b] = lo, la
            _control(lo, la, S, table, buf)
            z[a, b], sg[a, b], wet[a, b] = buf[0], buf[1], buf[2]
            ok[a, b] = True
    # priority flood from the sea and the window's exits; the flood tree gives the receivers
    exits = _window_exits(i0, j0, n, crec)
    any_exit = exits.any()  # else (no graph cell leaves the window) the whole edge drains, as without the graph
    filled = z.copy()
    seen = ~ok
    rec = np.full(n * n, -1, dtype=np.int64)
    heap = [(0.0, 0, 0)]
    heap.pop()
    cnt = 0
    for a in range(n):
        for b in range(n):
            if not ok[a, b]:
                continue
            edge = (a == 0 or b == 0 or a == n - 1 or b == n - 1
                    or not ok[max(a - 1, 0), b] or not ok[min(a + 1, n - 1), b])
            if (edge and (exits[a, b] or not any_exit)) or z[a, b] < 0.0:
                seen[a, b] = True
                heapq_push(heap, (z[a, b], cnt, a * n + b))
                cnt += 1
    while len(heap) > 0:
        level, _, c = heapq_pop(heap)
        a, b = c // n, c % n
        for da in range(-1, 2):
            for db in range(-1, 2):
                na, nb = a + da, b + db
                if na < 0 or nb < 0 or na >= n or nb >= n or seen[na, nb]:
                    continue
                seen[na, nb] = True
                dist = math.hypot((lon[na, nb] - lon[a, b]) * math.cos(math.radians(lat[a, b])),
                                  lat[na, nb] - lat[a, b])
                filled[na, nb] = max(z[na, nb], level + EPS_SLOPE * dist * M_PER_DEG)
                rec[na * n + nb] = c
                heapq_push(heap, (filled[na, nb], cnt, na * n + nb))
                cnt += 1
    out = np.full((BLOCK, BLOCK, NODE_FIELDS), np.nan)
    for a in range(MARGIN, MARGIN + BLOCK):
        for b in range(MARGIN, MARGIN + BLOCK):
            if not ok[a, b]:
                continue
            c = a * n + b
            o = out[a - MARGIN, b - MARGIN]
            o[0], o[1], o[2], o[3] = lon[a, b], lat[a, b], filled[a, b], z[a, b]
            o[4] = (Q0_DEG * M_PER_DEG) ** 2 * math.cos(math.radians(lat[a, b]))
            r = rec[c]
            if r >= 0:
                o[5], o[6], o[9] = i0 + r % n, j0 + r // n, filled[r // n, r % n]
            else:
                o[5], o[6], o[9] = -1.0, -1.0, z[a, b]
            o[7], o[8] = sg[a, b], wet[a, b]
            o[10] = o[4] * runoff_share(wet[a, b])
    return out


@njit(cache=True)
def _beyond(t, nc):
    """-1, 0 or 1: graph cell index `t` lies before, inside or after a window of `nc` cells."""
    return -1 if t < 0 else (1 if t >= nc else 0)


@njit(cache=True)
def _stretch(a0, b0, da, db, n):
    """The window-edge nodes of the edge cell of the graph whose first node is (a0, b0), on the
    window's side (da, db) (each -1, 0 or 1): (first a, first b, step a, step b, count); the
    window's corner node where both are non-zero.
    """
    if da != 0 and db != 0:
        return (0 if da < 0 else n - 1), (0 if db < 0 else n - 1), 0, 0, 1
    if da != 0:
        return (0 if da < 0 else n - 1), b0, 0, 1, COARSE
    return a0, (0 if db < 0 else n - 1), 1, 0, COARSE


@njit(cache=True)
def _window_exits(i0, j0, n, crec):
    """The window-edge nodes (bool (n, n)) through which the global graph leaves a level-0 window:
    those of each graph cell inside whose receiver lies outside, on the sides it lies beyond.
    """
    exits = np.zeros((n, n), dtype=np.bool_)
    nc = n // COARSE
    I0, J0 = i0 // COARSE, j0 // COARSE
    for gj in range(nc):
        jj = J0 + gj
        if jj < 0 or jj >= NJ1:
            continue
        for gi in range(nc):
            if 0 < gj < nc - 1 and 0 < gi < nc - 1:
                continue
            tj, ti = _receiver_cell(crec, jj, I0 + gi, J0, I0)
            if tj == -(1 << 30) or (0 <= tj < nc and 0 <= ti < nc):
                continue
            a, b, sa, sb, k = _stretch(gj * COARSE, gi * COARSE, _beyond(tj, nc), _beyond(ti, nc), n)
            for t in range(k):
                exits[a + t * sa, b + t * sb] = True
    return exits


@njit(cache=True)
def _receiver_cell(crec, jj, ii, J0, I0):
    """The receiver of graph cell (jj, ii) (ii unwrapped) relative to cell (J0, I0): (row, column),
    or (-2^30, 0) at the sea.
    """
    r = crec[jj, ii % NI1]
    if r < 0:
        return -(1 << 30), 0
    rj, ri = r // NI1, r % NI1
    di = (ri - ii % NI1 + NI1 // 2) % NI1 - NI1 // 2  # -1, 0 or 1 across the antimeridian too
    return rj - J0, ii + di - I0


@njit(cache=True)
def _areas(region, i0, j0, crec, carea, crunoff):  # noqa: C901
    """Drainage areas and runoff areas (m^2, two (m, m) arrays) of the nodes of a region of level-0
    nodes (node data as `_route`'s: region[..., 4] and [..., 10] the nodes' own) whose first node
    is (i0, j0), i0 unwrapped.

    Both accumulate down the nodes' receivers inside the region. Where the global graph enters
    the region, the graph cell's areas flow in at a node of the stretch it enters by that drains
    into the region: the one whose course, within two graph cells, joins the largest stream of
    the region (its valley), the lowest of those on a tie. Nodes in a cycle of receivers (blocks
    that disagree) keep what reached them.
    """
    m = region.shape[0]
    nl = 360 * 32
    n = m * m
    loc = np.full(n, -1, dtype=np.int64)
    area = np.zeros(n)
    runoff = np.zeros(n)
    for a in range(m):
        for b in range(m):
            o = region[a, b]
            if math.isnan(o[0]):
                continue
            c = a * m + b
            area[c], runoff[c] = o[4], o[10]
            if o[5] >= 0:
                ri = (np.int64(o[5]) - i0) % nl
                rj = np.int64(o[6]) - j0
                if ri < m and 0 <= rj < m and not math.isnan(region[rj, ri, 0]):
                    loc[c] = rj * m + ri
    order = _downstream_order(loc)
    _accumulate(area, loc, order)
    _accumulate(runoff, loc, order)
    inflow = np.zeros(n)
    runoff_in = np.zeros(n)
    nc = m // COARSE
    I0, J0 = i0 // COARSE, j0 // COARSE
    for gj in range(-1, nc + 1):
        jj = J0 + gj
        if jj < 0 or jj >= NJ1:
            continue
        for gi in range(-1, nc + 1):
            if 0 <= gj < nc and 0 <= gi < nc:
                continue
            tj, ti = _receiver_cell(crec, jj, I0 + gi, J0, I0)
            if not (0 <= tj < nc and 0 <= ti < nc):
                continue
            a, b, sa, sb, k = _stretch(tj * COARSE, ti * COARSE, _beyond(gj, nc), _beyond(gi, nc), m)
            best, low, at = -1.0, np.inf, -1
            for t in range(k):
                c = (a + t * sa) * m + b + t * sb
                if loc[c] < 0:
                    continue
                joins, p = area[c], c
                for _ in range(2 * COARSE):
                    p = loc[p]
                    if p < 0:
                        break
                    joins = max(joins, area[p])
                z = region[a + t * sa, b + t * sb, 3]
                if joins > best or (joins == best and z < low):
                    best, low, at = joins, z, c
            if at >= 0:
                inflow[at] += carea[jj, (I0 + gi) % NI1]
                runoff_in[at] += crunoff[jj, (I0 + gi) % NI1]
    _accumulate(inflow, loc, order)
    _accumulate(runoff_in, loc, order)
    return (area + inflow).reshape(m, m), (runoff + runoff_in).reshape(m, m)


@njit(cache=True)
def _downstream_order(loc):
    """Nodes in an order where each comes before its receiver `loc` (-1: none); nodes in a cycle left out."""
    n = loc.shape[0]
    indeg = np.zeros(n, dtype=np.int64)
    for c in range(n):
        if loc[c] >= 0:
            indeg[loc[c]] += 1
    order = np.empty(n, dtype=np.int64)
    stack = [c for c in range(n) if indeg[c] == 0]
    m = 0
    while len(stack) > 0:
        c = stack.pop()
        order[m] = c
        m += 1
        r = loc[c]
        if r >= 0:
            indeg[r] -= 1
            if indeg[r] == 0:
                stack.append(r)
    return order[:m]


@njit(cache=True)
def _accumulate(values, loc, order):
    """Add every node's value to its receiver's, downstream in `order` (in place)."""
    for c in order:
        if loc[c] >= 0:
            values[loc[c]] += values[c]


_BLOCK_CACHE_SEEDS: dict[int, np.ndarray] = {}


@lru_cache(maxsize=4096)
def route0(seed_key: int, bi: int, bj: int) -> np.ndarray:
    """`_route` of block (bi, bj) (0 <= bi < 360), cached."""
    S = _BLOCK_CACHE_SEEDS[seed_key]
    out = _route(bi, bj, S, S[K.S_RIVER], coarse_graph(seed_key)[0])
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4096)
def block0(seed_key: int, bi: int, bj: int) -> np.ndarray:
    """Level-0 node data of block (bi, bj) (longitude block index taken modulo the globe), cached:
    its routing (`route0`) with drainage and runoff areas accumulated over it and AREA_RINGS rings
    of blocks around it, and the global graph's inflow beyond them (`_areas`).
    """
    nb = 360 * 32 // BLOCK
    bi %= nb
    k = 2 * AREA_RINGS + 1
    region = np.full((k * BLOCK, k * BLOCK, NODE_FIELDS), np.nan)
    for dj in range(-AREA_RINGS, AREA_RINGS + 1):
        if not 0 <= bj + dj < 180 * 32 // BLOCK:
            continue
        a = (dj + AREA_RINGS) * BLOCK
        for di in range(-AREA_RINGS, AREA_RINGS + 1):
            b = (di + AREA_RINGS) * BLOCK
            region[a:a + BLOCK, b:b + BLOCK] = route0(seed_key, (bi + di) % nb, bj + dj)
    area, runoff = _areas(region, (bi - AREA_RINGS) * BLOCK, (bj - AREA_RINGS) * BLOCK, *coarse_graph(seed_key))
    out = route0(seed_key, bi, bj).copy()
    c = AREA_RINGS * BLOCK
    out[..., 4] = area[c:c + BLOCK, c:c + BLOCK]
    out[..., 10] = runoff[c:c + BLOCK, c:c + BLOCK]
    out.setflags(write=False)
    return out


def register_seeds(S: np.ndarray) -> int:
    """Key of a world's sub-seeds for the block cache (lru_cache needs hashable arguments)."""
    key = hash(S[:K.S_NO_CITIES].tobytes())  # the blocks do not depend on whether cities are drawn
    _BLOCK_CACHE_SEEDS[key] = S
    return key


def level0_window(seed_key: int, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
    """Level-0 node data for node indices [i0, i1) x [j0, j1) (i unwrapped), longitudes continuous with i."""
    nb = 360 * 32 // BLOCK
    out = np.full((j1 - j0, i1 - i0, NODE_FIELDS), np.nan)
    for bj in range(j0 // BLOCK, (j1 - 1) // BLOCK + 1):
        if bj < 0 or bj >= 180 * 32 // BLOCK:
            continue
        for bi in range(i0 // BLOCK, (i1 - 1) // BLOCK + 1):
            blk = block0(seed_key, bi % nb, bj)
            a0, a1 = max(j0, bj * BLOCK), min(j1, (bj + 1) * BLOCK)
            b0, b1 = max(i0, bi * BLOCK), min(i1, (bi + 1) * BLOCK)
            part = blk[a0 - bj * BLOCK:a1 - bj * BLOCK, b0 - bi * BLOCK:b1 - bi * BLOCK].copy()
            shift = (bi - bi % nb) * BLOCK  # unwrapped longitude: whole turns of the globe
            part[..., 0] += shift * Q0_DEG
            part[..., 5] = np.where(part[..., 5] >= 0, part[..., 5] + shift, -1.0)
            out[a0 - j0:a1 - j0, b0 - i0:b1 - i0] = part
    return out

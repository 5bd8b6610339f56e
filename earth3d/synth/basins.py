"""Level-0 drainage basins of the procedural world: flooded blocks of jittered nodes (numba).

A node per cell of a global 1/32 degree lattice (about 3.5 km) takes its elevation from the
smooth macro relief. Per block of BLOCK x BLOCK nodes, with MARGIN nodes all round, a priority
flood (Barnes et al. 2014) fills the depressions, gives every node a receiver (the flood tree:
elevations strictly fall downstream) and accumulates drainage area. A block is a pure function
of its index, cached with lru_cache, so no result depends on which tile asked.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from . import kernel as K
from .grid import M_PER_DEG
from .noise import hash2, rehash, smoothstep, unit
from .relief import dissection, octave_table, relief

Q0_DEG = 1.0 / 32.0  # level-0 node spacing (about 3.5 km)
BLOCK = 32  # level-0 nodes per block side (1 degree)
MARGIN = 24  # nodes of margin around a block in its flood
JITTER = 0.8  # nodes lie within this share of their cell, centred
CONTROL_RES_M = 8000.0  # node elevations: the relief octaves resolved at this cell size
EPS_SLOPE = 2e-4  # least channel gradient through filled depressions (lakes)
NS = 4  # sub-segments of a level-0 channel (midpoint displacement); finer levels use 1


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


# ----------------------------------------------------------------------------- level 0: flooded blocks
@njit(cache=True)
def _block(bi, bj, S, seed):  # noqa: C901
    """Flood of level-0 block (bi, bj): per core node (lon, lat, filled z, raw z, area m^2,
    receiver i, receiver j, hillslope gradient, moisture, receiver filled z).
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
    # priority flood from the margin's edge and the sea; the flood tree gives the receivers
    filled = z.copy()
    seen = ~ok
    rec = np.full(n * n, -1, dtype=np.int64)
    order = np.empty(n * n, dtype=np.int64)
    heap = [(0.0, 0, 0)]
    heap.pop()
    cnt = 0
    for a in range(n):
        for b in range(n):
            if not ok[a, b]:
                continue
            edge = (a == 0 or b == 0 or a == n - 1 or b == n - 1
                    or not ok[max(a - 1, 0), b] or not ok[min(a + 1, n - 1), b])
            if edge or z[a, b] < 0.0:
                seen[a, b] = True
                heapq_push(heap, (z[a, b], cnt, a * n + b))
                cnt += 1
    m = 0
    while len(heap) > 0:
        level, _, c = heapq_pop(heap)
        order[m] = c
        m += 1
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
    area = np.zeros(n * n)
    for c in range(n * n):
        a, b = c // n, c % n
        if ok[a, b]:
            area[c] = (Q0_DEG * M_PER_DEG) ** 2 * math.cos(math.radians(lat[a, b]))
    for t in range(m - 1, -1, -1):
        c = order[t]
        if rec[c] >= 0:
            area[rec[c]] += area[c]
    out = np.full((BLOCK, BLOCK, 10), np.nan)
    for a in range(MARGIN, MARGIN + BLOCK):
        for b in range(MARGIN, MARGIN + BLOCK):
            if not ok[a, b]:
                continue
            c = a * n + b
            o = out[a - MARGIN, b - MARGIN]
            o[0], o[1], o[2], o[3], o[4] = lon[a, b], lat[a, b], filled[a, b], z[a, b], area[c]
            r = rec[c]
            if r >= 0:
                o[5], o[6], o[9] = i0 + r % n, j0 + r // n, filled[r // n, r % n]
            else:
                o[5], o[6], o[9] = -1.0, -1.0, z[a, b]
            o[7], o[8] = sg[a, b], wet[a, b]
    return out


@njit(cache=True)
def heapq_push(heap, item):
    """Push onto a binary min-heap kept in a list."""
    heap.append(item)
    k = len(heap) - 1
    while k > 0:
        p = (k - 1) // 2
        if heap[p] <= heap[k]:
            break
        heap[p], heap[k] = heap[k], heap[p]
        k = p


@njit(cache=True)
def heapq_pop(heap):
    """Pop the smallest item of a binary min-heap kept in a list."""
    top = heap[0]
    last = heap.pop()
    if len(heap) > 0:
        heap[0] = last
        k = 0
        size = len(heap)
        while True:
            c1, c2, s = 2 * k + 1, 2 * k + 2, k
            if c1 < size and heap[c1] < heap[s]:
                s = c1
            if c2 < size and heap[c2] < heap[s]:
                s = c2
            if s == k:
                break
            heap[s], heap[k] = heap[k], heap[s]
            k = s
    return top


_BLOCK_CACHE_SEEDS: dict[int, np.ndarray] = {}


@lru_cache(maxsize=4096)
def block0(seed_key: int, bi: int, bj: int) -> np.ndarray:
    """Level-0 node data of block (bi, bj) (longitude block index taken modulo the globe), cached."""
    nb = 360 * 32 // BLOCK
    S = _BLOCK_CACHE_SEEDS[seed_key]
    out = _block(bi % nb, bj, S, S[K.S_RIVER])
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
    out = np.full((j1 - j0, i1 - i0, 10), np.nan)
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

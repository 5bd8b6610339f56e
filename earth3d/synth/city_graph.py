"""The street centrelines a city draws, as a graph (nodes, edges, class) in the city frame."""

from __future__ import annotations

import bisect
import math

import numpy as np
from numba import njit

from ..errors import InputError
from .city_layout import (
    block_edges,
    city_style,
    cut_fraction,
    district_at,
    district_centre,
    district_params,
    green_seed,
    green_space,
    next_block,
    ring_count,
    row_offset,
    street_block,
)

STEP_M = 12.0  # metres between the vertices of a curved street


@njit(cache=True)
def _nearest(xs, ys, cs, g, polar, theta0, spacing):
    """District indices (i, j) nearest each point."""
    n = xs.shape[0]
    oi = np.empty(n, np.int64)
    oj = np.empty(n, np.int64)
    for k in range(n):
        i, j = district_at(xs[k], ys[k], cs, g, polar, theta0, spacing)[0:2]
        oi[k], oj[k] = i, j
    return oi, oj


class _Graph:
    """Nodes keyed by a hashable name (or anonymous), edges with a class."""

    def __init__(self) -> None:
        self.xy: list[tuple[float, float]] = []
        self.key: dict[object, int] = {}
        self.edges: list[tuple[int, int, int]] = []

    def node(self, x: float, y: float, key: object = None) -> int:
        if key is not None and key in self.key:
            return self.key[key]
        self.xy.append((float(x), float(y)))
        if key is not None:
            self.key[key] = len(self.xy) - 1
        return len(self.xy) - 1

    def chain(self, ids: list[int], cls: int) -> None:
        for a, b in zip(ids[:-1], ids[1:], strict=True):
            if a != b:
                self.edges.append((a, b, cls))


def _district_edges(cs: np.uint64, style: tuple, d: tuple[int, int], cx: float, cy: float, half: float):
    """Street edges of district d in its frame: (start q, end q, class, start key, end key) lists."""
    dp = district_params(d[0], d[1], cx, cy, cs, *style)
    dh = np.uint64(dp[0])
    coll, lo_a, hi_a, lo_b, hi_b, stagger, cds = dp[8], dp[9], dp[10], dp[11], dp[12], dp[13], dp[14]
    origin = (cx, cy, math.cos(dp[1]), math.sin(dp[1]))
    gseed = np.uint64(green_seed(cs))  # (numba returns it as a Python int)
    m = half + abs(dp[2]) + abs(dp[5]) + 50.0
    rows = []
    kv, jv = street_block(-m, 1, dh, coll, lo_b, hi_b)
    while True:
        y0, y1, hy0, hy1, nv = block_edges(kv, jv, 1, dh, coll, lo_b, hi_b)
        if y0 > m:
            break
        off = row_offset(kv, jv, dh, stagger, lo_a)
        cols = []
        ku, ju = street_block(-m - off, 0, dh, coll, lo_a, hi_a)
        while True:
            x0, x1, hx0, hx1, nu = block_edges(ku, ju, 0, dh, coll, lo_a, hi_a)
            if x0 + off > m:
                break
            # a park deep in the green space takes in its west and south streets (city._blocks)
            _, west, south = green_space(0.5 * (x0 + hx0 + x1 - hx1) + off, 0.5 * (y0 + hy0 + y1 - hy1), x1 - x0,
                                         y1 - y0, origin, gseed)
            cf = 1.0 if west else cut_fraction(ku, ju, kv, jv, dh, cds, nu)
            cols.append((x0 + off, ju == 0, cf, west, south))
            ku, ju = next_block(ku, ju, nu)
        rows.append((y0, y1, jv == 0, cols, hy1))
        kv, jv = next_block(kv, jv, nv)
    out = []
    hy0 = 4.5
    for r, (y0, y1, coll_row, cols, hy1) in enumerate(rows):
        for x, is_coll, cf, west, _ in cols:  # streets along the second axis, one per block side
            if west:
                continue
            top = y1 if cf >= 1.0 else (y0 + hy0) + cf * ((y1 - hy1) - (y0 + hy0))
            out.append(((x, y0), (x, top), 0 if is_coll else 1, (x, y0), (x, y1) if cf >= 1.0 else None))
        # the street along y0: crossings with this row's streets and the last row's uncut ones, in
        # pieces each along the south side of one block of this row
        xs = {x for x, *_ in cols}
        if r > 0:
            xs |= {x for x, _, cf, west, _ in rows[r - 1][3] if cf >= 1.0 and not west}
        xs_sorted = sorted(xs)
        lefts = [x for x, *_ in cols]
        for a, b in zip(xs_sorted[:-1], xs_sorted[1:], strict=True):
            k = bisect.bisect_right(lefts, 0.5 * (a + b)) - 1
            if k >= 0 and cols[k][4]:
                continue
            out.append(((a, y0), (b, y0), 0 if coll_row else 1, (a, y0), (b, y0)))
    return dp, out


def _districts(cs: np.uint64, style: tuple, reach: float) -> list[tuple[int, int, float, float]]:
    g, polar, theta0, spacing = style
    out = []
    if polar > 0.5:
        for k in range(int(reach / spacing) + 3):
            for m in range(ring_count(k)):
                cx, cy = district_centre(k, m, cs, *style)
                out.append((k, m, cx, cy))
        return out
    n = int(reach / spacing) + 3
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            cx, cy = district_centre(i, j, cs, *style)
            if math.hypot(cx, cy) < reach + 2.5 * spacing:
                out.append((i, j, cx, cy))
    return out


def city_street_graph(cs: int | np.uint64, radius_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The street centrelines that city_pixel draws for city seed `cs`, within radius_m of the centre.

    Args:
        cs: the city seed (kernel.city_site's fourth value).
        radius_m: radius of the disc to return, metres (> 0).

    Returns:
        (nodes (N, 2) float64 metres in the city frame (u east, v north, from the centre),
        edges (E, 2) int64 node indices, edge_class (E,) int8: 0 arterial, 1 local, 2 path).
        Curved streets come as chains of short edges (vertices every STEP_M metres).

    Raises:
        InputError: when radius_m is not positive.

    Example:
        >>> nodes, edges, cls = city_street_graph(12345, 1500.0)
        >>> nodes.shape[1], edges.shape[1], bool((cls == 0).any())
        (2, 2, True)
    """
    from scipy.spatial import Voronoi

    if not radius_m > 0.0:
        raise InputError(f"radius_m must be positive, got {radius_m}")
    seed = np.uint64(int(cs) & 0xFFFFFFFFFFFFFFFF)
    style = tuple(float(x) for x in city_style(seed))
    spacing = style[3]
    R = float(radius_m)
    dists = _districts(seed, style, R)
    index = {(i, j): n for n, (i, j, _, _) in enumerate(dists)}
    centres = np.array([(x, y) for _, _, x, y in dists])
    G = _Graph()
    border: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
    for n, (i, j, cx, cy) in enumerate(dists):
        if math.hypot(cx, cy) > R + 1.5 * spacing:
            continue
        dp, es = _district_edges(seed, style, (i, j), cx, cy, 1.6 * spacing)
        th = dp[1]
        c, s = math.cos(th), math.sin(th)
        q0s = np.array([e[0] for e in es])
        q1s = np.array([e[1] for e in es])
        nss = np.maximum(2, np.ceil(np.hypot(*(q1s - q0s).T) / STEP_M).astype(np.int64) + 1)
        first = np.concatenate([[0], np.cumsum(nss)])
        tt = np.arange(first[-1]) - np.repeat(first[:-1], nss)
        tt = tt / np.repeat(nss - 1, nss)
        qa = np.repeat(q0s[:, 0], nss) + tt * np.repeat(q1s[:, 0] - q0s[:, 0], nss)
        qb = np.repeat(q0s[:, 1], nss) + tt * np.repeat(q1s[:, 1] - q0s[:, 1], nss)
        pa = qa + dp[2] * np.sin(dp[3] * qb + dp[4])
        pb = qb + dp[5] * np.sin(dp[6] * qa + dp[7])
        xa, ya = cx + c * pa - s * pb, cy + s * pa + c * pb
        dia, dja = _nearest(xa, ya, seed, *style)
        ins = (dia == i) & (dja == j) & (np.hypot(xa, ya) <= R)
        for e_i, (_, _, cls, k0, k1) in enumerate(es):
            lo_, hi_ = first[e_i], first[e_i + 1]
            if not ins[lo_:hi_].any():
                continue
            inside = ins[lo_:hi_].tolist()
            x, y, di, dj = xa[lo_:hi_].tolist(), ya[lo_:hi_].tolist(), dia[lo_:hi_].tolist(), dja[lo_:hi_].tolist()
            ns = hi_ - lo_
            k = 0
            while k < ns:
                if not inside[k]:
                    k += 1
                    continue
                start = k
                while k < ns and inside[k]:
                    k += 1
                stop = k  # run is [start, stop)
                ids = []
                if start == 0:
                    ids.append(G.node(x[0], y[0], (n, round(k0[0], 3), round(k0[1], 3))))
                else:
                    ids.append(_exit(G, border, index, centres, n, x, y, di, dj, start, start - 1))
                ids += [G.node(x[m], y[m]) for m in range(start + (start == 0), stop - (stop == ns))]
                if stop == ns:
                    key = None if k1 is None else (n, round(k1[0], 3), round(k1[1], 3))
                    ids.append(G.node(x[-1], y[-1], key))
                else:
                    ids.append(_exit(G, border, index, centres, n, x, y, di, dj, stop - 1, stop))
                G.chain(ids, cls)
    _borders(G, border, centres, dists, R, Voronoi)
    nodes = np.array(G.xy, dtype=np.float64).reshape(-1, 2)
    e = np.array([(a, b) for a, b, _ in G.edges], dtype=np.int64).reshape(-1, 2)
    cl = np.array([c for _, _, c in G.edges], dtype=np.int8)
    return nodes, e, cl


def _exit(G: _Graph, border: dict, index: dict, centres: np.ndarray, n: int, x: list, y: list,
          di: list, dj: list, k_in: int, k_out: int) -> int:
    """Node where a street of district n leaves it between samples k_in and k_out (border or city edge)."""
    other = index.get((int(di[k_out]), int(dj[k_out])))
    if other is None or other == n:
        return G.node(x[k_in], y[k_in])
    ca, cb = centres[n], centres[other]
    f0 = (x[k_in] - ca[0]) ** 2 + (y[k_in] - ca[1]) ** 2 - (x[k_in] - cb[0]) ** 2 - (y[k_in] - cb[1]) ** 2
    f1 = (x[k_out] - ca[0]) ** 2 + (y[k_out] - ca[1]) ** 2 - (x[k_out] - cb[0]) ** 2 - (y[k_out] - cb[1]) ** 2
    if f1 <= 0.0:  # left the disc, not the district
        return G.node(x[k_in], y[k_in])
    t = f0 / (f0 - f1)
    px, py = x[k_in] + t * (x[k_out] - x[k_in]), y[k_in] + t * (y[k_out] - y[k_in])
    nid = G.node(px, py)
    border.setdefault((min(n, other), max(n, other)), []).append((px, py, nid))
    return nid


def _clip(p: np.ndarray, q: np.ndarray, R: float) -> tuple[float, float] | None:
    """Parameters [t0, t1] of segment p -> q inside the disc of radius R, or None."""
    d = q - p
    a, b, c = d @ d, 2.0 * (p @ d), p @ p - R * R
    disc = b * b - 4.0 * a * c
    if a <= 0.0 or disc <= 0.0:
        return None
    r = math.sqrt(disc)
    t0, t1 = max((-b - r) / (2.0 * a), 0.0), min((-b + r) / (2.0 * a), 1.0)
    return (t0, t1) if t1 > t0 else None


def _borders(G: _Graph, border: dict, centres: np.ndarray, dists: list, R: float, voronoi_cls) -> None:
    """Arterials along the district borders (Voronoi ridges), split where streets meet them."""
    vor = voronoi_cls(centres)
    for (pa, pb), (va, vb) in zip(vor.ridge_points, vor.ridge_vertices, strict=True):
        if va < 0 or vb < 0:
            continue
        p, q = vor.vertices[va], vor.vertices[vb]
        span = _clip(p, q, R)
        if span is None:
            continue
        t0, t1 = span
        d = q - p
        a = p + t0 * d
        ids = [G.node(float(a[0]), float(a[1]), key=("v", va) if t0 == 0.0 else None)]
        dd = float(d @ d)
        on = sorted((((e[0] - p[0]) * d[0] + (e[1] - p[1]) * d[1]) / dd, e[2])
                    for e in border.get((min(pa, pb), max(pa, pb)), []))
        ids += [nid for t, nid in on if t0 < t < t1]
        b = p + t1 * d
        ids.append(G.node(float(b[0]), float(b[1]), key=("v", vb) if t1 == 1.0 else None))
        G.chain(ids, 0)


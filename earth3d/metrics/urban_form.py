"""Street-network form after Boeing (2019), "Urban spatial order: street network orientation,
configuration, and entropy" (Applied Network Science 4:67).

On an undirected street graph (nodes in metres, edges as index pairs) simplified
like OSMnx's `simplify_graph` (chains through degree-2 nodes become one street
segment between intersections or dead ends):

- orientation entropy H: Shannon entropy (natural log) of the segment bearings
  (each segment counted in both directions, weighted by length) over 36 bins
  of 10 degrees centred on 0, 10, ..., 350 degrees (OSMnx `orientation_entropy`:
  72 half-bins merged in pairs);
- orientation order phi = 1 - ((H - H_g) / (H_max - H_g))^2 with H_g = ln 4
  (a perfect grid) and H_max = ln 36 (uniform bearings);
- median segment length (m), mean node degree, share of 4-way intersections
  and share of dead ends (of all nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["UrbanForm", "urban_form", "orientation_entropy", "orientation_order", "simplify_graph", "BOEING_RANGES"]

H_GRID = math.log(4.0)
H_MAX = math.log(36.0)
#: Ranges of the 100 cities of Boeing (2019) used as bars (median segment length m, mean degree,
#: share of 4-way intersections, share of dead ends, orientation order).
BOEING_RANGES = {"median_length_m": (50.0, 250.0), "mean_degree": (2.2, 3.6), "four_way": (0.02, 0.6),
                 "dead_end": (0.0, 0.4), "phi": (0.0, 0.9)}


@dataclass(frozen=True)
class UrbanForm:
    """The Boeing (2019) figures of one street graph."""

    entropy: float
    phi: float
    median_length_m: float
    mean_degree: float
    four_way: float
    dead_end: float
    n_nodes: int
    n_segments: int


def simplify_graph(nodes: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge chains through degree-2 nodes: (segment end nodes (S, 2), lengths (S,), kept node ids).

    Duplicate and self-loop edges are dropped first. Closed loops of degree-2 nodes are dropped.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    e = e[e[:, 0] != e[:, 1]]
    e = np.unique(np.sort(e, axis=1), axis=0)
    n = nodes.shape[0]
    deg = np.bincount(e.ravel(), minlength=n)
    seg_len = np.hypot(*(nodes[e[:, 0]] - nodes[e[:, 1]]).T)
    # adjacency lists in CSR form
    order = np.argsort(np.concatenate([e[:, 0], e[:, 1]]), kind="stable")
    nbr = np.concatenate([e[:, 1], e[:, 0]])[order]
    eid = np.concatenate([np.arange(len(e)), np.arange(len(e))])[order]
    start = np.concatenate([[0], np.cumsum(deg)])
    used = np.zeros(len(e), bool)
    ends, lengths = [], []
    for a in np.flatnonzero((deg != 2) & (deg > 0)):
        for k in range(start[a], start[a + 1]):
            if used[eid[k]]:
                continue
            used[eid[k]] = True
            cur, e_in, length = nbr[k], eid[k], seg_len[eid[k]]
            while deg[cur] == 2:
                k0 = start[cur]
                nk = k0 + 1 if eid[k0] == e_in else k0
                if used[eid[nk]]:
                    break
                used[eid[nk]] = True
                cur, e_in, length = nbr[nk], eid[nk], length + seg_len[eid[nk]]
            ends.append((a, cur))
            lengths.append(length)
    kept = np.flatnonzero((deg != 2) & (deg > 0))
    return np.array(ends, dtype=np.int64).reshape(-1, 2), np.array(lengths, dtype=np.float64), kept


def orientation_entropy(nodes: np.ndarray, segments: np.ndarray, lengths: np.ndarray, bins: int = 36) -> float:
    """Entropy (nats) of length-weighted segment bearings, both directions, `bins` bins centred on 0 deg."""
    d = nodes[segments[:, 1]] - nodes[segments[:, 0]]
    bearing = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0  # clockwise from north (x east, y north)
    b = np.concatenate([bearing, (bearing + 180.0) % 360.0])
    w = np.concatenate([lengths, lengths])
    count, _ = np.histogram(b, bins=np.arange(2 * bins + 1) * 360.0 / (2 * bins), weights=w)
    count = np.roll(count, 1)
    p = count[::2] + count[1::2]
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


def orientation_order(entropy: float) -> float:
    """Boeing's orientation order phi from an orientation entropy (nats, 36 bins)."""
    return 1.0 - ((entropy - H_GRID) / (H_MAX - H_GRID)) ** 2


def urban_form(nodes: np.ndarray, edges: np.ndarray, within: float | None = None) -> UrbanForm:
    """The Boeing (2019) figures of a street graph.

    Args:
        nodes: (N, 2) node positions in metres (x east, y north).
        edges: (E, 2) node index pairs (undirected; chains of degree-2 nodes are merged).
        within: if given, node figures count only nodes within this distance of the origin
            (to leave out the dead ends made by cutting the graph at a boundary).

    Returns:
        An UrbanForm.

    Raises:
        InputError: when the graph has no street segment.

    Example:
        >>> import numpy as np
        >>> xs, ys = np.meshgrid(np.arange(5) * 100.0, np.arange(5) * 100.0)
        >>> nodes = np.stack([xs.ravel(), ys.ravel()], 1)
        >>> idx = np.arange(25).reshape(5, 5)
        >>> edges = np.concatenate([np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
        ...                         np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1)])
        >>> round(urban_form(nodes, edges).phi, 3)
        1.0
    """
    nodes = np.asarray(nodes, dtype=np.float64).reshape(-1, 2)
    segs, lengths, kept = simplify_graph(nodes, edges)
    if len(segs) == 0:
        raise InputError("urban_form: the street graph has no segment")
    deg = np.bincount(segs.ravel(), minlength=nodes.shape[0])
    sel = kept if within is None else kept[np.hypot(*nodes[kept].T) <= within]
    if len(sel) == 0:
        raise InputError(f"urban_form: no node within {within} m of the origin")
    d = deg[sel]
    h = orientation_entropy(nodes, segs, lengths)
    return UrbanForm(entropy=h, phi=orientation_order(h), median_length_m=float(np.median(lengths)),
                     mean_degree=float(d.mean()), four_way=float((d == 4).mean()), dead_end=float((d == 1).mean()),
                     n_nodes=int(len(sel)), n_segments=int(len(segs)))

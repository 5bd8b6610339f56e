"""Level-of-detail merging: many splats into fewer, by moment matching in voxel clusters.

Following Kerbl et al. 2024 ("A Hierarchical 3D Gaussian Representation for
Real-Time Rendering of Very Large Datasets"), each splat is weighted by
opacity x footprint (pi times the product of its two largest std-devs), the
splats of a voxel cluster are replaced by one Gaussian with the weighted mean
and the weighted covariance (members' covariances plus the spread of their
means), colour is the weighted mean of the SH coefficients, and the merged splat
conserves coverage: opacity x footprint equals the members' summed weight
(its two largest axes are widened, at most MAX_WIDEN times, when the
moment-matched footprint is smaller than that sum; otherwise its opacity is
the sum over the footprint, at most 1), so a surface covered by the members
stays covered by the merged splat. A merged splat's class (labels) is the class holding the
most weight among its members, and its instance that of the heaviest member of that class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry.gaussian_math import covariance_nb, decompose_covariance_nb
from .chunk import Splats
from .merge_kernels import box_extents, factorize

TARGET_RATIO = 6.0  # children's splats per merged splat; accepted range [4, 8]
MAX_GRID = 1 << 20
MAX_WIDEN = 2.0  # largest factor on a merged splat's in-plane std-devs


@dataclass(frozen=True)
class Bounds:
    """A node's bounding volumes: the ECEF AABB (bmin, bmax) and an oriented box (center,
    half_axes: columns are the box axes scaled by their half-lengths), both enclosing the
    splats' 3-std-dev ellipsoids. The oriented box follows the principal axes of the
    splat means, so a terrain patch gets a thin box: distances and culling stay tight.
    """

    bmin: np.ndarray
    bmax: np.ndarray
    center: np.ndarray
    half_axes: np.ndarray


def splat_bounds(splats: Splats, sigmas: float = 3.0) -> Bounds:
    """AABB and oriented box of the splats' `sigmas`-std-dev ellipsoids (float64)."""
    if len(splats) == 0:
        raise ValueError("cannot bound an empty splat set")
    cov = covariance_nb(splats.quats, splats.scales)
    ref = splats.pos[0].copy()
    rel = splats.pos - ref
    lo, hi = box_extents(rel, cov, np.eye(3), sigmas)
    centroid = rel.mean(axis=0)
    d = rel - centroid
    _, axes = np.linalg.eigh(d.T @ d)
    axes = np.ascontiguousarray(axes)
    olo, ohi = box_extents(rel, cov, axes, sigmas)
    return Bounds(ref + lo, ref + hi, ref + axes @ ((olo + ohi) / 2), axes * ((ohi - olo) / 2)[None, :])


def footprint(scales: np.ndarray) -> np.ndarray:
    """Area pi * s_a * s_b of the two largest std-devs of each splat."""
    s = scales.astype(np.float64)
    a, b, c = s[:, 0], s[:, 1], s[:, 2]
    return math.pi * np.maximum(np.maximum(a * b, a * c), b * c)


def _voxel_keys(rel: np.ndarray, side: float, res: int) -> np.ndarray:
    ijk = np.clip((rel * (res / side)).astype(np.int64), 0, res - 1)
    return (ijk[:, 0] * res + ijk[:, 1]) * res + ijk[:, 2]


def choose_grid(rel: np.ndarray, side: float, ratio: float = TARGET_RATIO) -> int:
    """Voxels per axis of the node cube so that the occupied voxel count is about n / ratio.

    The occupied count grows like res**d with d the data's dimension (2 for
    terrain); a few secant steps in log space find the resolution.
    """
    n = len(rel)
    target = max(n / ratio, 1.0)
    res = max(1, int(round(math.sqrt(target))))
    tried: list[tuple[float, int, int]] = []
    prev = None
    for _ in range(8):
        m = factorize(_voxel_keys(rel, side, res))[1]
        tried.append((abs(math.log(m / target)), res, m))
        if abs(math.log(m / target)) < math.log(1.3) or (m >= n and res >= MAX_GRID):
            break
        dim = 2.0
        if prev is not None and prev[0] != res and prev[1] != m:
            dim = min(max(math.log(m / prev[1]) / math.log(res / prev[0]), 0.5), 3.0)
        prev = (res, m)
        new = int(round(res * (target / m) ** (1.0 / dim)))
        new = min(max(new, 1), MAX_GRID)
        if new == res:
            new = res + (1 if m < target else -1)
        if new < 1 or any(new == t[1] for t in tried):
            break
        res = new
    return min(tried)[1]


def merge_splats(splats: Splats, cell_min: np.ndarray, side: float,
                 ratio: float = TARGET_RATIO) -> tuple[Splats, float, int]:
    """Merge splats inside one node cube into ~len/ratio splats.

    Returns (merged splats, geometric error, voxels per axis). The geometric
    error is the voxel side: the spacing of the merged splats, so detail finer
    than it is lost when this node is drawn instead of its children (a member's
    mean moves at most sqrt(3) voxel sides). The largest member distance would
    be set by a few outliers (walls, steep slopes) and refine whole nodes early.
    """
    n = len(splats)
    rel = splats.pos - cell_min
    res = choose_grid(rel, side, ratio)
    labels, m = factorize(_voxel_keys(rel, side, res))
    w = splats.opacities.astype(np.float64) * footprint(splats.scales)
    w = np.maximum(w, 1e-30)
    wsum = np.bincount(labels, w, m)

    def wmean(values: np.ndarray) -> np.ndarray:  # weighted mean per cluster of (n,) values
        return np.bincount(labels, w * values, m) / wsum

    mu = np.stack([wmean(rel[:, i]) for i in range(3)], axis=1)
    d = rel - mu[labels]
    cov = covariance_nb(splats.quats, splats.scales)
    merged_cov = np.empty((m, 6))
    for c, (i, j) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
        merged_cov[:, c] = wmean(cov[:, c] + d[:, i] * d[:, j])
    sh = splats.sh.reshape(n, -1).astype(np.float64)
    merged_sh = np.stack([wmean(sh[:, c]) for c in range(sh.shape[1])], axis=1).reshape(m, *splats.sh.shape[1:])
    # A floor on the variance keeps single flat splats invertible after decomposition.
    floor = (1e-4 * side / res) ** 2
    merged_cov[:, [0, 3, 5]] += floor
    quats, scales = decompose_covariance_nb(merged_cov)  # scales ascending
    # Moment matching shrinks coverage when members overlap (a voxel of splats at spacing d
    # gets std-dev ~0.3 voxel); widen the two largest axes so opacity x footprint keeps the
    # members' summed opacity x footprint, then the opacity is that sum over the footprint.
    area = np.maximum(footprint(scales), 1e-30)
    widen = np.clip(np.sqrt(wsum / area), 1.0, MAX_WIDEN)
    scales[:, 1:] *= widen[:, None]
    opac = np.minimum(wsum / (area * widen**2), 1.0)
    error = side / res
    sem: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
    if splats.labels is not None and splats.instances is not None:
        sem = merge_labels(labels, m, w, splats.labels, splats.instances)
    merged = Splats(mu + cell_min, quats, scales,
                    opac.astype(np.float32), merged_sh.astype(np.float32), *sem)
    return merged, error, res


def merge_labels(cluster: np.ndarray, m: int, w: np.ndarray, labels: np.ndarray,
                 instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class and instance of each of `m` clusters: the class holding the most weight `w` among the
    cluster's members (ties: the lower id), and the instance of that class's heaviest member.

    Args:
        cluster: (n,) cluster index of each member in [0, m).
        m: number of clusters.
        w: (n,) member weights (opacity x footprint).
        labels: (n,) uint8 member classes.
        instances: (n,) int64 member instances.

    Returns:
        (labels (m,) uint8, instances (m,) int64).
    """
    pair = cluster.astype(np.int64) * 256 + labels.astype(np.int64)
    keys, inverse = np.unique(pair, return_inverse=True)
    wsum = np.bincount(inverse, w, len(keys))
    # per cluster, the pair of largest summed weight: sort by (cluster, -weight, class) and take the first
    kc, kl = keys // 256, keys % 256
    order = np.lexsort((kl, -wsum, kc))
    first = np.ones(len(order), dtype=bool)
    first[1:] = kc[order][1:] != kc[order][:-1]
    win = np.zeros(m, dtype=np.int64)
    win[kc[order][first]] = kl[order][first]
    # the heaviest member of the winning class in each cluster
    member = np.flatnonzero(labels.astype(np.int64) == win[cluster])
    order = member[np.lexsort((-w[member], cluster[member]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = cluster[order][1:] != cluster[order][:-1]
    inst = np.zeros(m, dtype=np.int64)
    inst[cluster[order][first]] = instances[order][first]
    return win.astype(np.uint8), inst

"""numba kernels of level-of-detail merging: bounding boxes of splat ellipsoids and voxel labels.

One fused loop per splat instead of whole-array passes. Covariances and their decomposition
come from the Gaussian-maths core (`earth3d.geometry.gaussian_math.covariance_nb`,
`decompose_covariance_nb`).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def box_extents(pos: np.ndarray, cov: np.ndarray, axes: np.ndarray, sigmas: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis (min, max) of the splats' `sigmas`-std-dev ellipsoids projected on the unit
    columns of `axes` (identity: the AABB), positions taken relative to the first point.
    """
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for i in range(pos.shape[0]):
        for j in range(3):
            a0, a1, a2 = axes[0, j], axes[1, j], axes[2, j]
            center = pos[i, 0] * a0 + pos[i, 1] * a1 + pos[i, 2] * a2
            var = (cov[i, 0] * a0 * a0 + cov[i, 3] * a1 * a1 + cov[i, 5] * a2 * a2
                   + 2.0 * (cov[i, 1] * a0 * a1 + cov[i, 2] * a0 * a2 + cov[i, 4] * a1 * a2))
            half = sigmas * math.sqrt(max(var, 0.0))
            lo[j] = min(lo[j], center - half)
            hi[j] = max(hi[j], center + half)
    return lo, hi


@numba.njit(cache=True)
def factorize(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels 0..m-1 of int64 `keys` in order of first appearance, with an open-addressing
    hash table: O(n), deterministic, no sort.
    """
    n = keys.shape[0]
    size = 1
    while size < 2 * n:
        size *= 2
    mask = size - 1
    table_keys = np.empty(size, np.int64)
    table_labels = np.full(size, -1, np.int64)
    labels = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        k = keys[i]
        h = (k * -7046029254386353131) & mask  # multiplicative hash (2^64 / golden ratio)
        while True:
            if table_labels[h] < 0:
                table_keys[h] = k
                table_labels[h] = m
                labels[i] = m
                m += 1
                break
            if table_keys[h] == k:
                labels[i] = table_labels[h]
                break
            h = (h + 1) & mask
    return labels, m

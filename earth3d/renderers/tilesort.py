"""Per-tile depth sorting of (splat, tile) pairs, done by the compositor a bucket at a time.

A tile's pairs arrive in splat order with each splat's depth key. `bucket_pairs` splits them
by the top 8 bits in which their keys differ (a stable counting sort), then `sort_pairs` sorts
one bucket fully (stable) just before the compositor reaches it: a tile whose pixels all
finish behind its first buckets never sorts the rest. Both are stable, so equal depths keep
splat order, as gsplat's sorted (tile, depth) intersection keys do.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SHORT = 32  # runs this short are insertion sorted


@njit(cache=True)
def _insertion(keys, ids, lo, hi):
    for j in range(lo + 1, hi):
        k, v = keys[j], ids[j]
        m = j - 1
        while m >= lo and keys[m] > k:
            keys[m + 1] = keys[m]
            ids[m + 1] = ids[m]
            m -= 1
        keys[m + 1] = k
        ids[m + 1] = v


@njit(cache=True)
def sort_pairs(keys, ids, lo, hi):
    """Sort keys[lo:hi] and ids[lo:hi] by key in place, stably: insertion sort for short runs,
    else buckets on the top 8 bits in which the keys differ, each bucket sorted the same way.
    """
    if hi - lo <= SHORT:
        _insertion(keys, ids, lo, hi)
        return
    bounds = bucket_pairs(keys, ids, lo, hi)
    if bounds[1] == hi:  # all keys equal
        return
    for d in range(256):
        if bounds[d + 1] - bounds[d] > 1:
            sort_pairs(keys, ids, bounds[d], bounds[d + 1])


@njit(cache=True)
def bucket_pairs(keys, ids, lo, hi):
    """Stable counting sort of keys[lo:hi] (and ids) on the top 8 bits in which the keys
    differ; returns the bucket bounds (257,). Sorting each bucket in turn then sorts the
    run, and a tile whose pixels all finish early never sorts its far buckets.
    """
    bounds = np.full(257, hi, dtype=np.int64)
    bounds[0] = lo
    n = hi - lo
    differ = np.uint32(0)
    for j in range(lo + 1, hi):
        differ |= keys[j] ^ keys[lo]
    if differ == 0:  # one key: already sorted
        return bounds
    top = 0
    while differ >> np.uint32(top + 1):
        top += 1
    shift = np.uint32(max(top - 7, 0))
    hist = np.zeros(257, dtype=np.int64)
    for j in range(lo, hi):
        hist[((keys[j] >> shift) & np.uint32(255)) + 1] += 1
    for d in range(256):
        hist[d + 1] += hist[d]
    tmp_k, tmp_i = keys[lo:hi].copy(), ids[lo:hi].copy()
    for d in range(257):
        bounds[d] = lo + hist[d]
    for j in range(n):
        d = (tmp_k[j] >> shift) & np.uint32(255)
        pos = lo + hist[d]
        hist[d] += 1
        keys[pos] = tmp_k[j]
        ids[pos] = tmp_i[j]
    return bounds

"""Content of splat tilesets: one GLB per octree node with its ENU bounds, written by a pool of threads.

A tile's splats are moved into the tileset frame once (`to_local`), and those arrays give both the GLB
and the tile's bounds. The work per tile is numpy on arrays of thousands of splats and zlib (SPZ), both
of which release the GIL, so threads overlap well without copying chunks between processes.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from ..atomic import write_bytes_atomic
from ..gaussians import Gaussians
from .enu import LocalFrame, to_local
from .gltf import ENU_TO_GLTF, local_splats_glb

T = TypeVar("T")
R = TypeVar("R")


def node_content(gaussians: Gaussians, frame: LocalFrame, compression: str | None,
                 extras: dict | None = None) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(GLB bytes, ENU lo, ENU hi) of one tile: the splats' 3-sigma bounds and the GLB centered on them."""
    means, quats, scales, opacities, sh = to_local(gaussians, frame, axes=ENU_TO_GLTF)
    lo, hi = _bounds(means, quats, scales)
    glb = local_splats_glb(means, quats, scales, opacities, sh, frame, compression, extras, center_enu=(lo + hi) / 2,
                           semantics=gaussians.label_arrays())
    return glb, lo, hi


def splat_bounds(gaussians: Gaussians, frame: LocalFrame) -> tuple[np.ndarray, np.ndarray]:
    """ENU axis-aligned bounds of the splats' 3-sigma ellipsoids (float64 (3,), (3,))."""
    means, quats, scales, _, _ = to_local(gaussians, frame, axes=ENU_TO_GLTF)
    return _bounds(means, quats, scales)


def _bounds(means: np.ndarray, quats: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ENU bounds of splats given in glTF axes. Along axis i a splat reaches 3 * sqrt(sum_j (R_ij s_j)^2),
    R its rotation matrix (written out per element: numpy reduces a length-3 axis slowly).
    """
    w, x, y, z = quats.T
    sx, sy, sz = scales.T
    rows = ((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
            (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
            (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)))
    lo, hi = np.empty(3), np.empty(3)
    for i, (a, b, c) in enumerate(rows):
        reach = 3.0 * np.sqrt((a * sx) ** 2 + (b * sy) ** 2 + (c * sz) ** 2)
        lo[i], hi[i] = (means[:, i] - reach).min(), (means[:, i] + reach).max()
    # glTF (x, y, z) = (east, up, -north): back to ENU, swapping the ends of the flipped axis.
    return np.array([lo[0], -hi[2], lo[1]]), np.array([hi[0], -lo[2], hi[1]])


def write_node(store, key: tuple, path: Path, frame: LocalFrame,
               compression: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Write node `key`'s content GLB at `path`; its ENU bounds, or None (no file) when it holds no splats."""
    gaussians = store.read(key)
    if not len(gaussians):
        return None
    glb, lo, hi = node_content(gaussians, frame, compression, extras={"octree_key": [int(v) for v in key]})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, glb)
    return lo, hi


def default_workers() -> int:
    """Threads for tile writing: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`map(fn, items)` in order on `workers` threads, with a bounded number of tasks in flight
    (so that a million tiles do not become a million pending futures).
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

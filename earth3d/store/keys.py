"""Deterministic octree keys on a fixed global cube around the earth.

The cube has side 2**24 m (about 16,777 km), centered at the earth's center, in
ECEF axes. A node key is (level, x, y, z): level L cells have side 2**(24 - L) m
and integer coordinates in [0, 2**L). Every build places the same point in the
same cell, so parts of the world built apart share one key space.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

CUBE_LOG2 = 24
CUBE_SIDE_M = float(2**CUBE_LOG2)
CUBE_MIN_M = -CUBE_SIDE_M / 2
MAX_LEVEL = 30  # 1.6 cm cells; coordinates still fit in uint32
SUBTREE_LEVELS = 5  # an index file holds levels L0 .. L0 + 4 below a root at L0 % 5 == 0

Key = tuple[int, int, int, int]


def as_key(values) -> Key:
    """A node key (level, x, y, z) of Python ints from any four integers (a tuple, a numpy row).

    Args:
        values: Four integers: level, x, y, z.

    Returns:
        The key as a tuple of four Python ints.
    """
    level, x, y, z = (int(v) for v in values)
    return level, x, y, z


def cell_size(level: int) -> float:
    """Side of a level's cells in metres."""
    return CUBE_SIDE_M / (1 << level)


def cell_min(key: Key) -> np.ndarray:
    """The float64 ECEF corner of a cell with the smallest coordinates."""
    level, x, y, z = key
    return CUBE_MIN_M + np.array([x, y, z], dtype=np.float64) * cell_size(level)


def cell_center(key: Key) -> np.ndarray:
    """The float64 ECEF center of a cell: the origin its chunk's offsets are relative to."""
    return cell_min(key) + cell_size(key[0]) / 2


def cell_coords(points: np.ndarray, level: int) -> np.ndarray:
    """Integer cell coordinates (N, 3) int64 of ECEF points (N, 3) at `level`."""
    points = np.asarray(points, dtype=np.float64)
    coords = np.floor((points - CUBE_MIN_M) / cell_size(level)).astype(np.int64)
    if coords.size and (coords.min() < 0 or coords.max() >= (1 << level)):
        bad = np.abs(points).max()
        raise InputError(f"splat position {bad:.0f} m from the earth's center is outside the store cube "
                         f"(|coordinate| < {CUBE_SIDE_M / 2:.0f} m)")
    return coords


def pack(level: int, coords: np.ndarray) -> np.ndarray:
    """Pack (N, 3) coordinates of one level (<= 21) into sortable int64 Morton-free keys."""
    coords = np.asarray(coords, dtype=np.int64)
    return (coords[:, 0] << (2 * level)) | (coords[:, 1] << level) | coords[:, 2]


def unpack(level: int, packed: np.ndarray) -> np.ndarray:
    """Inverse of `pack`: (N, 3) coordinates of packed keys of one level."""
    packed = np.asarray(packed, dtype=np.int64)
    mask = (1 << level) - 1
    return np.stack([packed >> (2 * level), (packed >> level) & mask, packed & mask], axis=1)


def parent(key: Key) -> Key:
    """The node one level up that contains `key`."""
    level, x, y, z = key
    if level == 0:
        raise InputError("the level-0 root has no parent")
    return (level - 1, x >> 1, y >> 1, z >> 1)


def ancestor(key: Key, level: int) -> Key:
    """The node at `level` (not deeper than the key's) that contains `key`."""
    shift = key[0] - level
    if shift < 0:
        raise InputError(f"node {key} has no ancestor at deeper level {level}")
    return (level, key[1] >> shift, key[2] >> shift, key[3] >> shift)


def child(key: Key, octant: int) -> Key:
    """Child `octant` (bit 2: x, bit 1: y, bit 0: z) of a node."""
    level, x, y, z = key
    return (level + 1, 2 * x + ((octant >> 2) & 1), 2 * y + ((octant >> 1) & 1), 2 * z + (octant & 1))


def octant_of(key: Key) -> int:
    """Which octant of its parent a node is."""
    return ((key[1] & 1) << 2) | ((key[2] & 1) << 1) | (key[3] & 1)


def subtree_root(key: Key) -> Key:
    """The root of the index subtree that holds a node's entry."""
    return ancestor(key, key[0] - key[0] % SUBTREE_LEVELS)


def key_name(key: Key) -> str:
    """A node key as level/x/y/z, for messages and file names."""
    return f"{key[0]}/{key[1]}/{key[2]}/{key[3]}"

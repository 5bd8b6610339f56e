"""Facades for the walls that lifting raises under roofs: a material per building and rows of windows.

A DSM or a generated world gives a building's roof, not its walls: `lifting` fills the height
jump under a roof with vertical splats, which used to take the roof's colour. From the street
and from oblique views those walls are most of what a city shows, and a wall the colour of its
roof tiles, without a window, reads as a block of clay. Here a building's walls take a facade
material chosen from its instance id (plaster, render, brick, concrete; glass and concrete
for towers, whose walls are tall) and windows in rows, one row per storey: each storey
`FLOOR_M` high holds a window from SILL_M above its floor to LINTEL_M, and along the wall a
window of a building's width every bay (2.6-3.6 m); no window in the parapet (the top
PARAPET_M of the wall). The pattern is fixed to the ground in metres (along the grid axis the
wall runs on, and up from its foot), so the windows of neighbouring splats line up and stay in
place whatever the raster's resolution or extent. A building turned against the raster's grid
has stair-stepped walls, whose steps along the two axes each keep their own rows of windows.

Each splat takes the mean colour of the facade over its footprint (its width along the wall and
its layer's height): the share of that rectangle that is glass is the product of two exact
1-D shares (the pattern is a product of a periodic pattern along and one up), so a coarse
lift's wall is the average of a fine one's, as the renders of coarser levels of detail are.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLOOR_M", "GLASS", "LINTEL_M", "MATERIALS", "PARAPET_M", "SILL_M", "TOWER_M", "TOWER_MATERIALS",
           "WINDOWLESS", "facade_colours", "glass_share"]

FLOOR_M = 3.2  # storey height, metres
SILL_M = 0.9  # window sill above the storey's floor
LINTEL_M = 2.4  # window top above the storey's floor
PARAPET_M = 0.8  # the top of the wall without windows
TOWER_M = 24.0  # walls at least this tall take the tower materials
WINDOWLESS = 0.08  # share of buildings (sheds, warehouses) without windows

#: Facade materials of low buildings (RGB, the generator's colour space before the wall shade).
MATERIALS = np.array([
    [0.80, 0.78, 0.72],  # white plaster
    [0.84, 0.76, 0.60],  # cream render
    [0.78, 0.66, 0.46],  # ochre render
    [0.66, 0.65, 0.62],  # grey concrete
    [0.58, 0.33, 0.24],  # red brick
    [0.47, 0.35, 0.27],  # brown brick
    [0.74, 0.70, 0.64],  # stone
    [0.86, 0.84, 0.80],  # painted white
])
#: Facade materials of towers: concrete, stone and curtain walls.
TOWER_MATERIALS = np.array([
    [0.66, 0.65, 0.62],  # concrete
    [0.74, 0.70, 0.64],  # stone
    [0.42, 0.48, 0.52],  # blue-grey curtain wall
    [0.55, 0.56, 0.55],  # steel and glass
])
GLASS = np.array([0.16, 0.19, 0.23])  # window glass (dark, a little sky in it)
_ALL_MATERIALS = np.concatenate([MATERIALS, TOWER_MATERIALS])


def _units(instance: np.ndarray, n: int) -> list[np.ndarray]:
    """`n` (at most 5) uniform numbers in [0, 1) per instance id, 12 bits each from one 64-bit hash
    (splitmix64's finalizer) of the id.
    """
    x = instance.astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return [((x >> np.uint64(12 * k)) & np.uint64(0xFFF)).astype(np.float64) / 4096.0 for k in range(n)]


def _covered(x: np.ndarray, period: np.ndarray | float, start: np.ndarray | float, stop: np.ndarray | float):
    """Length of [0, x] covered by the intervals [k period + start, k period + stop] (0 <= start <= stop <= period)."""
    k = np.floor(x / period)
    return k * (stop - start) + np.clip(x - k * period - start, 0.0, stop - start)


def glass_share(lo: np.ndarray, hi: np.ndarray, period: np.ndarray | float, start: np.ndarray | float,
                stop: np.ndarray | float) -> np.ndarray:
    """The share of each interval [lo, hi] covered by the periodic intervals of `_covered` (exact)."""
    span = np.maximum(hi - lo, 1e-9)
    return (_covered(hi, period, start, stop) - _covered(lo, period, start, stop)) / span


def facade_colours(instance: np.ndarray, along: np.ndarray, width: np.ndarray, z0: np.ndarray, z1: np.ndarray,
                   rise: np.ndarray) -> np.ndarray:
    """The mean facade colour over wall splats' footprints.

    Args:
        instance: (N,) int64 building instance ids (the material, bay and window sizes follow them).
        along: (N,) metres along the wall (its grid axis) at the splat's centre, from any fixed origin.
        width: (N,) the splat's width along the wall, metres.
        z0: (N,) the bottom of the splat's layer, metres above the wall's foot.
        z1: (N,) the top of the layer.
        rise: (N,) the wall's height, metres (no window in its top PARAPET_M).

    Returns:
        (N, 3) float64 colours (before the wall shade).

    Example:
        >>> c = facade_colours(np.array([7, 7]), np.array([0.0, 1.5]), np.array([1.0, 1.0]),
        ...                    np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([10.0, 10.0]))
        >>> c.shape
        (2, 3)
    """
    tall = rise >= TOWER_M
    pick, bay, size, offset, shed = _units(instance, 5)
    low = np.minimum((pick * len(MATERIALS)).astype(np.int64), len(MATERIALS) - 1)
    high = len(MATERIALS) + np.minimum((pick * len(TOWER_MATERIALS)).astype(np.int64), len(TOWER_MATERIALS) - 1)
    wall = _ALL_MATERIALS[np.where(tall, high, low)]
    bay = 2.6 + 1.0 * bay
    window = bay * np.where(tall, 0.55 + 0.3 * size, 0.35 + 0.2 * size)
    offset *= bay  # where the bays begin along the wall
    half = 0.5 * width
    across = glass_share(along - half + offset, along + half + offset, bay, 0.5 * (bay - window),
                         0.5 * (bay + window))
    top = np.maximum(rise - PARAPET_M, 0.0)  # windows only below the parapet
    lo, hi = np.minimum(z0, top), np.minimum(z1, top)
    up = glass_share(lo, hi, FLOOR_M, SILL_M, LINTEL_M) * ((hi - lo) / np.maximum(z1 - z0, 1e-9))
    glass = across * up * (shed >= WINDOWLESS)  # the others are sheds and warehouses
    return wall + glass[:, None] * (GLASS - wall)

"""Facades for the walls that lifting raises under roofs: a material per building and rows of windows.

A DSM or a generated world gives a building's roof, not its walls: `lifting` fills the height
jump under a roof with vertical splats, which used to take the roof's colour. From the street
and from oblique views those walls are most of what a city shows, and a wall the colour of its
roof tiles, without a window, reads as a block of clay. Here a building's walls take a facade
material chosen from its instance id (plaster, render, brick, concrete; glass and concrete
for towers, whose walls are tall) and windows in rows, one row per storey: each storey
`FLOOR_M` high holds a window from SILL_M above its floor to LINTEL_M, and along the wall a
window of a building's width every bay (2.6-3.6 m); no window in the parapet (the top
PARAPET_M of the wall), measured up from the wall's foot. Buildings of three storeys and more
(walls of SHOP_M standing on the ground) have shops on their ground floor: a shop window over
SHOP_SHARE of each bay, from SHOP_SILL_M to SHOP_TOP_M.

Along the wall the pattern is measured in metres on the ground: for a building aligned with the
raster's grid, along the grid axis the wall runs on, in CRS coordinates, so the windows stay in
place whatever the raster's resolution or extent (seamless across tiles). A building turned
against the grid has stair-stepped walls, pieces along the grid's rows and columns in turn; their
windows are measured along the wall's true direction from the building's centroid
(`building_axes`, `wall_positions`), so both kinds of piece draw the same columns of windows. The
centroid is the raster's: a turned building cut by a tile border changes phase there.

Each splat takes the mean colour of the facade over its footprint (its width along the wall and
its layer's height): the share of that rectangle that is glass is the product of two exact
1-D shares (the pattern is a product of a periodic pattern along and one up), so a coarse
lift's wall is the average of a fine one's, as the renders of coarser levels of detail are.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import ndimage

__all__ = ["FLOOR_M", "GLASS", "LINTEL_M", "MATERIALS", "PARAPET_M", "SHOP_M", "SHOP_SHARE", "SHOP_SILL_M",
           "SHOP_TOP_M", "SILL_M", "TOWER_M", "TOWER_MATERIALS", "WINDOWLESS", "BuildingAxes", "building_axes",
           "facade_colours", "glass_share", "wall_positions"]

FLOOR_M = 3.2  # storey height, metres
SILL_M = 0.9  # window sill above the storey's floor
LINTEL_M = 2.4  # window top above the storey's floor
PARAPET_M = 0.8  # the top of the wall without windows
TOWER_M = 24.0  # walls at least this tall take the tower materials
SHOP_M = 9.0  # walls at least this tall (three storeys) have shop windows on their ground floor
SHOP_SILL_M, SHOP_TOP_M = 0.4, 2.9  # a shop window's bottom and top above the wall's foot
SHOP_SHARE = 0.8  # the share of a bay that is shop window
WINDOWLESS = 0.08  # share of buildings (sheds, warehouses) without windows
OUTLINE_M = 2.0  # smoothing of the roof outline whose gradient gives a wall's direction, metres
ALIGNED_RAD = math.radians(0.5)  # buildings turned less than this against the grid count as aligned

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
                   rise: np.ndarray, grounded: np.ndarray | bool = True) -> np.ndarray:
    """The mean facade colour over wall splats' footprints.

    Args:
        instance: (N,) int64 building instance ids (the material, bay and window sizes follow them).
        along: (N,) metres along the wall (its grid axis) at the splat's centre, from any fixed origin.
        width: (N,) the splat's width along the wall, metres.
        z0: (N,) the bottom of the splat's layer, metres above the wall's foot.
        z1: (N,) the top of the layer.
        rise: (N,) the wall's height, metres (no window in its top PARAPET_M).
        grounded: (N,) the wall stands on the ground (not on a lower roof or a crown): only
            those have shop windows.

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
    layer = np.maximum(z1 - z0, 1e-9)
    top = np.maximum(rise - PARAPET_M, 0.0)  # windows only below the parapet
    shop = (rise >= SHOP_M) & grounded
    first = np.where(shop, FLOOR_M, 0.0)  # the storeys with rows of windows begin here
    lo, hi = np.clip(z0, first, top), np.clip(z1, first, top)
    up = glass_share(lo, hi, FLOOR_M, SILL_M, LINTEL_M) * ((hi - lo) / layer)
    shop_across = glass_share(along - half + offset, along + half + offset, bay, 0.5 * (1.0 - SHOP_SHARE) * bay,
                              0.5 * (1.0 + SHOP_SHARE) * bay)
    shop_up = np.where(shop, np.maximum(np.minimum(z1, SHOP_TOP_M) - np.maximum(z0, SHOP_SILL_M), 0.0) / layer, 0.0)
    glass = (across * up + shop_across * shop_up) * (shed >= WINDOWLESS)  # the others are sheds and warehouses
    return wall + glass[:, None] * (GLASS - wall)


class BuildingAxes(NamedTuple):
    """The wall directions and roof centroids of a raster's buildings (`building_axes`)."""

    ids: np.ndarray  # (B,) sorted instance ids
    theta: np.ndarray  # (B,) the bearing of one of the building's wall directions, radians from east
    east: np.ndarray  # (B,) its roof's centroid, metres east in the raster's local frame
    north: np.ndarray  # (B,) metres north
    g_east: np.ndarray  # (H, W) gradient of the smoothed roof outline, per metre east
    g_north: np.ndarray  # (H, W) per metre north


def building_axes(roof: np.ndarray, instances: np.ndarray, east: np.ndarray, north: np.ndarray, cell_e: float,
                  cell_n: float) -> BuildingAxes:
    """The wall directions and roof centroids of a raster's buildings.

    Measured along each stair step's own grid axis, the windows of the two kinds of step of a
    turned building would interleave out of step; `wall_positions` measures them along the wall's
    true direction instead. That direction comes from the roof outline smoothed over OUTLINE_M:
    the mean of its gradient's angle taken four times (so that the four sides of a rectangle
    agree), weighted by the gradient's size, over the building's cells.

    Args:
        roof: (H, W) bool, roof cells.
        instances: (H, W) int64 building ids.
        east: (H, W) cell centres, metres east in a local frame of the raster.
        north: (H, W) metres north.
        cell_e: metres east from one column to the next.
        cell_n: metres north from one row to the next (negative for north-up rasters).

    Returns:
        The BuildingAxes of every building in the raster (aligned ones included; `wall_positions`
        tells them apart).
    """
    sigma = (OUTLINE_M / abs(cell_n), OUTLINE_M / abs(cell_e))
    smooth = ndimage.gaussian_filter(roof.astype(np.float32), sigma, mode="nearest")
    g_row, g_col = np.gradient(smooth)
    g_east, g_north = g_col / cell_e, g_row / cell_n
    ids, idx = np.unique(instances[roof], return_inverse=True)
    count = np.maximum(np.bincount(idx, minlength=len(ids)), 1)
    ge, gn = g_east[roof], g_north[roof]
    quad = 4.0 * np.arctan2(gn, ge)
    weight = np.hypot(ge, gn)
    theta = 0.25 * np.arctan2(np.bincount(idx, weight * np.sin(quad), len(ids)),
                              np.bincount(idx, weight * np.cos(quad), len(ids)))
    return BuildingAxes(ids, theta, np.bincount(idx, east[roof], len(ids)) / count,
                        np.bincount(idx, north[roof], len(ids)) / count, g_east, g_north)


def _turn(a: np.ndarray) -> np.ndarray:
    """Angles to [-pi/2, pi/2) modulo pi (directions without a sign)."""
    return np.mod(a + 0.5 * math.pi, math.pi) - 0.5 * math.pi


def wall_positions(axes: BuildingAxes, instance: np.ndarray, rows: np.ndarray, cols: np.ndarray, east: np.ndarray,
                   north: np.ndarray, axis: int, width: np.ndarray, along: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where wall splats stand along their building's wall, and their width along it.

    For buildings aligned with the grid (within ALIGNED_RAD), `along` (metres along the piece's grid
    axis, fixed to the ground: seamless across tiles) and `width`. For turned buildings, the position
    along the true wall direction (the building's axis or its perpendicular, whichever lies nearer
    the piece's outline), from the building's centroid, and the piece's width projected on it.

    Args:
        axes: `building_axes` of the raster.
        instance: (N,) each splat's building.
        rows: (N,) the roof cell each splat hangs from.
        cols: (N,) its column.
        east: (N,) the wall's position at the splat, metres east in the local frame of `axes`.
        north: (N,) metres north.
        axis: 0 for walls between rows (pieces running east-west), 1 between columns.
        width: (N,) each splat's width along its piece, metres.
        along: (N,) metres along the piece's grid axis, fixed to the ground.

    Returns:
        (position, run): (N,) metres along the wall and the splats' widths along it.
    """
    if len(axes.ids) == 0:  # no roof in the raster
        return along, width
    j = np.clip(np.searchsorted(axes.ids, instance), 0, len(axes.ids) - 1)
    theta = axes.theta[j]
    aligned = np.abs(np.mod(theta + 0.25 * math.pi, 0.5 * math.pi) - 0.25 * math.pi) < ALIGNED_RAD
    outline = np.arctan2(axes.g_north[rows, cols], axes.g_east[rows, cols]) + 0.5 * math.pi  # along the outline
    d = np.where(np.abs(_turn(outline - theta)) <= 0.25 * math.pi, theta, theta + 0.5 * math.pi)
    position = (east - axes.east[j]) * np.cos(d) + (north - axes.north[j]) * np.sin(d)
    run = width * np.abs(np.cos(d - (0.5 * math.pi if axis == 1 else 0.0)))
    return np.where(aligned, along, position), np.where(aligned, width, run)

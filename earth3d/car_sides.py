"""The sides of cars that lifting raises: tyres, body and windows in bands up from the car's foot.

A car in a raster is its top: bonnet, windscreen, roof and boot (a generated world draws them with
dark windows). Lifting fills the height jump at its edge with vertical splats, which would take the
colour of the edge cell, so from the street a car read as a painted box. Here a car's walls take,
up from the ground the car stands on, dark tyres and shadow (to TYRE_M), the car's body colour (to
SILL_M: doors, bumpers), its windows (to ROOF_M) and the body again above (the roof's edge). The body
colour of a car is that of its highest cell (the middle of its roof, which no window covers); a car
without an instance id (a class raster without instances) takes each wall's upper cell's colour.

Each splat takes the mean over its layer's height of the bands it spans, so a coarse lift's wall is
the average of a fine one's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CAR_GLASS", "ROOF_M", "SILL_M", "TYRE", "TYRE_M", "car_bodies", "car_side_colours"]

TYRE_M = 0.32  # tyres and the shadow under the body, metres above the ground
SILL_M = 0.95  # the windows' lower edge
ROOF_M = 1.36  # the windows' upper edge
TYRE = np.array([0.035, 0.035, 0.04])
CAR_GLASS = np.array([0.07, 0.08, 0.10])  # side windows: darker than from above (less sky in them)


def car_side_colours(z0: np.ndarray, z1: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Mean colour (N, 3) of car sides over the heights [z0, z1] above the car's foot.

    Args:
        z0: (N,) lower ends of the splats' layers, metres above the ground the car stands on.
        z1: (N,) upper ends (> z0).
        body: (N, 3) the body colour of each splat's car.

    Returns:
        (N, 3) colours: tyres, body, windows and body again, each weighted by its share of [z0, z1].

    Example:
        >>> car_side_colours(np.array([0.5]), np.array([0.9]), np.array([[0.6, 0.1, 0.1]]))
        array([[0.6, 0.1, 0.1]])
    """
    span = np.maximum(z1 - z0, 1e-9)

    def share(lo: float, hi: float) -> np.ndarray:
        return (np.clip(z1, lo, hi) - np.clip(z0, lo, hi)) / span

    tyre, glass = share(-np.inf, TYRE_M), share(SILL_M, ROOF_M)
    return tyre[:, None] * TYRE + glass[:, None] * CAR_GLASS + (1.0 - tyre - glass)[:, None] * body


def car_bodies(cars: np.ndarray, instances: np.ndarray, heights: np.ndarray,
               colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, colours): each car instance and the colour of its highest cell (its roof).

    Args:
        cars: (H, W) bool, the cells of class car.
        instances: (H, W) instance ids.
        heights: (H, W) heights.
        colours: (H, W, 3) cell colours.

    Returns:
        Sorted instance ids (K,) and their body colours (K, 3).
    """
    ids, h, rgb = instances[cars], heights[cars], colours[cars]
    if not len(ids):
        return np.zeros(0, np.int64), np.zeros((0, 3))
    order = np.lexsort((h, ids))  # by id, then height: the last of each id is its highest cell
    ids, rgb = ids[order], rgb[order]
    last = np.r_[ids[1:] != ids[:-1], True]
    return ids[last], rgb[last]

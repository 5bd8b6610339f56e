"""Planning the descent: cameras from orbit down to a street found in the finest level, then along it."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from ..geometry import Camera, paths
from ..raster import GeoRaster
from .levels import GroundFn, raster_ground
from .street import find_street

#: The demo's poster is the frame nearest this height over the ground.
POSTER_ALTITUDE_M = 300.0


def street_descent(rasters: Sequence[GeoRaster], lon: float, lat: float, frames: int, street_m: float = 40.0,
                   **camera) -> tuple[list[Camera], tuple[float, float, float], GroundFn]:
    """Cameras from 2,000 km down to 2 m over the clear street nearest (lon, lat), then along it.

    The street is looked for in the finest raster (`find_street`); when there is none, the
    descent ends at (lon, lat) heading north, with a warning.

    Args:
        rasters: the nested rasters, coarse to fine (as `nested_rasters` returns them).
        lon: target longitude, degrees.
        lat: target latitude, degrees.
        frames: number of cameras.
        street_m: metres flown along the street at the end.
        **camera: passed on to `earth3d.geometry.paths.descent` (width, height, fov_y_deg,
            start_altitude_m, ...).

    Returns:
        (cameras, (street start lon, lat, heading degrees), ground function over lon/lat arrays).

    Raises:
        ValueError: from `paths.descent`, for a bad frame count or camera option.

    Example:
        >>> cameras, street, ground = street_descent(rasters, lon, lat, 120)   # doctest: +SKIP
    """
    street = find_street(rasters[-1], lon, lat, street_m)
    if street is None:
        warnings.warn(f"no clear street found near lon={lon:.6f}, lat={lat:.6f}; flying north from there",
                      stacklevel=2)
        street = (lon, lat, 0.0)
    ground = raster_ground(*rasters[::-1])
    cameras = paths.descent(street[0], street[1], frames, ground_m=ground, heading_deg=street[2],
                            street_distance_m=street_m, **camera)
    return cameras, street, ground


def frame_near_altitude(cameras: Sequence[Camera], ground: GroundFn, altitude_m: float = POSTER_ALTITUDE_M) -> int:
    """Index of the camera whose height above the ground is nearest `altitude_m` (on a log scale)."""
    geo = np.array([c.geodetic() for c in cameras])
    above = np.maximum(geo[:, 2] - ground(geo[:, 0], geo[:, 1]), 0.1)
    return int(np.argmin(np.abs(np.log(above / altitude_m))))

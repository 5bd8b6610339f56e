"""Planning the descent: the nested levels it needs (`descent_levels`), and cameras from orbit down to a
street found in the finest level, then along it (`street_descent`).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from pyproj import Geod

from ..errors import InputError
from ..geometry import Camera, paths
from ..geometry.frames import ecef_to_geodetic, geodetic_to_ecef
from ..raster import GeoRaster
from .levels import FEATHER_CELLS, STREET_DETAIL_M, GroundFn, Level, raster_ground
from .street import find_street

#: The demo's poster is the frame nearest this height over the ground.
POSTER_ALTITUDE_M = 300.0


def street_descent(rasters: Sequence[GeoRaster], lon: float, lat: float, frames: int, street_m: float = 40.0,
                   street: tuple[float, float, float] | None = None,
                   **camera) -> tuple[list[Camera], tuple[float, float, float], GroundFn]:
    """Cameras from 2,000 km down to 2 m over the clear street nearest (lon, lat), then along it.

    Unless `street` is given, the street is looked for in the finest raster (`find_street`); when
    there is none, the descent ends at (lon, lat) heading north, with a warning.

    Args:
        rasters: the nested rasters, coarse to fine (as `nested_rasters` returns them).
        lon: target longitude, degrees.
        lat: target latitude, degrees.
        frames: number of cameras.
        street_m: metres flown along the street at the end.
        street: (lon, lat, heading degrees) of the street's start, when already found (the demo
            finds it before it adds the `street_detail` raster around it).
        **camera: passed on to `earth3d.geometry.paths.descent` (width, height, fov_y_deg,
            start_altitude_m, ...).

    Returns:
        (cameras, (street start lon, lat, heading degrees), ground function over lon/lat arrays).

    Raises:
        ValueError: from `paths.descent`, for a bad frame count or camera option.

    Example:
        >>> cameras, street, ground = street_descent(rasters, lon, lat, 120)   # doctest: +SKIP
    """
    if street is None:
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


#: A coarser level is drawn until its cells are this many pixels wide; nearer, a finer level covers it.
BLUR_PX = 8.0
#: Most cells across one level (its splat budget: about this squared, plus walls).
MAX_CELLS = 640
#: The same for the demo's quick preview. Not much less: at 160 a city level 60 m a cell is no wider
#: than the city itself, so its border runs along the town's edge and sharpens it into a visible square.
QUICK_MAX_CELLS = 200
#: Margin on the ground each level must cover, beyond the farthest point that needs it.
COVER_MARGIN = 1.15
#: Share of a level's half size its fade-in band takes, at least (see `descent_levels`).
BAND_FRACTION = 0.5


def street_detail_level(finest: Level, street_m: float = 40.0, *, width: int = 640, height: int = 360,
                        fov_y_deg: float = 60.0, blur_px: float = BLUR_PX, max_cells: int = MAX_CELLS,
                        resolution_m: float = STREET_DETAIL_M) -> Level:
    """The extent of the street detail (`levels.street_detail`) a street flight needs.

    By the rule of `descent_levels`, the finest level's cells are too wide within
    `finest.resolution_m * fy / blur_px` of the camera: the detail covers that much ground around
    every camera of the flight (half the flight and that distance around its middle), at most
    `max_cells` across, and fades in over `FEATHER_CELLS` cells of the finest level.

    Example:
        >>> round(street_detail_level(Level("street", 160.0, 0.5)).half_size_m, 1)
        39.5
    """
    fy = 0.5 * height / math.tan(math.radians(0.5 * fov_y_deg))
    near = finest.resolution_m * fy / blur_px
    half = min(0.5 * street_m + near, 0.5 * max_cells * resolution_m)
    return Level("street detail", half, resolution_m, min(FEATHER_CELLS * finest.resolution_m, half / 3.0))


def descent_levels(levels: Sequence[Level], lon: float, lat: float, *, width: int = 640, height: int = 360,
                   fov_y_deg: float = 60.0, blur_px: float = BLUR_PX, max_cells: int = MAX_CELLS,
                   street_m: float = 40.0, feather: float = FEATHER_CELLS, samples: int = 160,
                   **camera) -> tuple[Level, ...]:
    """The nested extents a descent onto (lon, lat) needs: `levels`' cell sizes, half sizes from the path.

    The rule (the screen-space error of the level-of-detail cut, DESIGN.md): a place at distance
    `d` from the camera is drawn with detail down to `d / fy` metres per pixel (`fy` the focal
    length in pixels), so a level of cell size `r` is as sharp as the screen wherever
    `r <= d / fy` and blurred where the camera comes nearer. Each level is therefore drawn only
    where its cells are at most `blur_px` pixels wide: the next finer level must cover every piece
    of ground the camera sees nearer than `r * fy / blur_px` at any frame of the descent (the first
    level covers all the ground seen). That core is the farthest such point from (lon, lat), along
    a parallel or a meridian, times `COVER_MARGIN`, plus the room the street flight needs (the
    street is looked for up to 80 m from the target, flown `street_m` and seen 15 m behind). Around
    the core, the level fades in from the coarser one over a band (`Level.feather_m`, see
    `nested_rasters`) `BAND_FRACTION` of the core wide, at least `feather` cells of the coarser
    level; within the core, the extent never reaches past the view where the level matters.

    The cost is capped: a level is at most `max_cells` cells across (so about `max_cells**2`
    splats, plus walls) and no larger than the level above it. Where the cap binds, the finer
    level's border may come into view while the coarser level is more than `blur_px` pixels per
    cell: then the band takes the outer half of the level (never the street flight's room), so
    the detail comes in gradually rather than at an edge.

    The path is the one `street_descent` flies (`earth3d.geometry.paths.descent`, over flat ground
    at the target, sampled at `samples` frames whatever the video's frame count).

    Args:
        levels: the nesting, coarse to fine; their names and cell sizes are kept, their half sizes
            are replaced.
        lon: target longitude, degrees.
        lat: target latitude, degrees.
        width: image width, pixels.
        height: image height, pixels.
        fov_y_deg: vertical field of view, degrees.
        blur_px: widest a coarser level's cells may be drawn, pixels, before a finer level must
            take over.
        max_cells: most cells across one level.
        street_m: metres flown along the street at the end.
        feather: width of each finer level's fade-in band, in cells of the coarser level.
        samples: frames of the path sampled.
        **camera: passed on to `paths.descent` (start_altitude_m, end_altitude_m, tilt_below_m, ...).

    Returns:
        The levels with their half sizes chosen.

    Raises:
        InputError: no levels, levels not coarse to fine, or a bad option.

    Example:
        >>> from earth3d.scenarios import DEMO_LEVELS
        >>> levels = descent_levels(DEMO_LEVELS, 9.72, 0.34)
        >>> [round(lv.half_size_m) for lv in levels][-1] >= 135
        True
    """
    if not levels:
        raise InputError("descent_levels needs at least one level")
    res = [lv.resolution_m for lv in levels]
    if any(b >= a for a, b in zip(res, res[1:], strict=False)) or min(res) <= 0:
        raise InputError(f"level cell sizes {res} must be positive and decrease from coarse to fine")
    if not blur_px > 0 or max_cells < 2 or feather < 0:
        raise InputError(f"blur_px={blur_px}, max_cells={max_cells} and feather={feather} must be positive")
    cams = paths.descent(lon, lat, max(int(samples), 2), ground_m=0.0, width=width, height=height,
                         fov_y_deg=fov_y_deg, street_distance_m=street_m, **camera)
    offset, distance = _seen_ground(cams, lon, lat)
    street_room = 80.0 + street_m + 15.0
    out: list[Level] = []
    for i, level in enumerate(levels):
        near = np.inf if i == 0 else res[i - 1] * cams[0].fy / blur_px
        seen = offset[distance < near]
        core = (float(seen.max()) if len(seen) else 0.0) * COVER_MARGIN + street_room
        narrow = 0.0 if i == 0 else feather * res[i - 1]
        wanted = core + max(narrow, BAND_FRACTION * core)
        half = min(wanted, 0.5 * max_cells * level.resolution_m, out[-1].half_size_m if out else np.inf)
        band = half - core if half >= wanted else \
            min(max(half - core, BAND_FRACTION * half), half / 2.0, max(half - street_room, narrow))
        out.append(Level(level.name, half, level.resolution_m, None if i == 0 else min(max(band, narrow), half / 2.0)))
    return tuple(out)


def _seen_ground(cams: Sequence[Camera], lon: float, lat: float, grid: tuple[int, int] = (41, 25)
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Ground points seen along a path (rays through a grid of pixels of each camera, met with the sphere
    through the target): their offset from (lon, lat) along a parallel or meridian, whichever is larger
    (m), and their distance from the camera (m).
    """
    radius = float(np.linalg.norm(geodetic_to_ecef(lon, lat, 0.0)))
    offsets, distances = [], []
    for cam in cams:
        u, v = np.meshgrid(np.linspace(0.0, cam.width, grid[0]), np.linspace(0.0, cam.height, grid[1]))
        ray = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1).reshape(-1, 3)
        ray = ray @ cam.rotation.T
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        b = ray @ cam.position
        disc = b * b - (cam.position @ cam.position - radius * radius)
        t = -b - np.sqrt(np.maximum(disc, 0.0))
        hit = (disc >= 0) & (t > 0)
        if hit.any():
            geo = ecef_to_geodetic(cam.position + t[hit, None] * ray[hit])
            offsets.append(np.maximum(_along(lon, lat, geo[:, 0], lat), _along(lon, lat, lon, geo[:, 1])))
            distances.append(t[hit])
    if not offsets:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(offsets), np.concatenate(distances)


_GEOD = Geod(ellps="WGS84")


def _along(lon0: float, lat0: float, lon, lat) -> np.ndarray:
    lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return np.asarray(_GEOD.inv(np.full(lon.shape, lon0), np.full(lon.shape, lat0), lon, lat)[2])

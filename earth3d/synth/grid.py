"""The global lon/lat tile quadtree and the pixel lattice of a request.

Tiles: level z has 2^z columns by 2^(z-1) rows (z >= 1; level 0 is one
tile over the whole globe), each tile square in degrees, key (z, x, y) with
x from the antimeridian eastwards and y from the north pole southwards.

Pixel lattice: output rasters are in EPSG:4326 (lon/lat degrees). The cell
size in degrees is `resolution_m` converted at the centre latitude of the
request (metres per degree of latitude and of longitude on a sphere of radius
`EARTH_RADIUS_M`), then stretched so a whole number of cells covers the box
exactly. Cells are therefore `resolution_m` wide at the centre of the box and
narrower in longitude towards the pole. Every value is a function of the
cell-centre position and the cell size only, so tiles abut without seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6371008.8
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0
MIN_RESOLUTION_M = 0.05
MAX_PIXELS = 64 * 1024 * 1024

BBox = tuple[float, float, float, float]


def tile_bbox(z: int, x: int, y: int) -> BBox:
    """(west, south, east, north) in degrees of tile (z, x, y)."""
    if not isinstance(z, (int, np.integer)) or z < 0 or z > 40:
        raise ValueError(f"tile level z={z!r} must be an integer in 0..40")
    nx, ny = (1, 1) if z == 0 else (2 ** z, 2 ** (z - 1))
    if not (0 <= x < nx and 0 <= y < ny):
        raise ValueError(f"tile ({z}, {x}, {y}) is outside the level-{z} grid of {nx} x {ny} tiles")
    if z == 0:
        return (-180.0, -90.0, 180.0, 90.0)
    size = 360.0 / nx
    west = -180.0 + x * size
    north = 90.0 - y * size
    return (west, north - size, west + size, north)


def tile_for_lonlat(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """Key of the level-z tile that contains (lon, lat)."""
    if z == 0:
        return (0, 0, 0)
    nx, ny = 2 ** z, 2 ** (z - 1)
    size = 360.0 / nx
    x = int(math.floor(((lon + 180.0) % 360.0) / size)) % nx
    y = min(ny - 1, max(0, int(math.floor((90.0 - lat) / size))))
    return (z, x, y)


@dataclass(frozen=True)
class Lattice:
    """The pixel grid of one request: cell-centre longitudes (W,) and latitudes (H,), north row first."""

    west: float
    north: float
    dlon: float
    dlat: float
    width: int
    height: int
    res_x_m: float
    res_y_m: float

    def lons(self, pad: int = 0) -> np.ndarray:
        return self.west + (np.arange(-pad, self.width + pad) + 0.5) * self.dlon

    def lats(self, pad: int = 0) -> np.ndarray:
        return self.north - (np.arange(-pad, self.height + pad) + 0.5) * self.dlat


def check_bbox(bbox) -> BBox:
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ValueError(f"bbox {bbox!r} has a non-finite value")
    if not (-90.0 <= south <= 90.0 and -90.0 <= north <= 90.0):
        raise ValueError(f"bbox latitudes south={south}, north={north} must lie within [-90, 90]")
    if north <= south or east <= west:
        raise ValueError(f"bbox {bbox!r} has zero or negative size (need east > west and north > south; "
                         "a box across the antimeridian is written with east > 180)")
    if east - west > 360.0:
        raise ValueError(f"bbox {bbox!r} spans more than 360 degrees of longitude")
    return west, south, east, north


def lattice_for(bbox, resolution_m: float, max_pixels: int = MAX_PIXELS) -> Lattice:
    """Pixel lattice covering `bbox` at about `resolution_m` metres per cell (see module docstring)."""
    west, south, east, north = check_bbox(bbox)
    res = float(resolution_m)
    if not math.isfinite(res) or res < MIN_RESOLUTION_M:
        raise ValueError(f"resolution_m={resolution_m!r} must be a finite number >= {MIN_RESOLUTION_M} m")
    lat_c = 0.5 * (south + north)
    coslat = max(math.cos(math.radians(lat_c)), 1e-6)
    h = max(1, round((north - south) * M_PER_DEG / res))
    w = max(1, round((east - west) * M_PER_DEG * coslat / res))
    if w * h > max_pixels:
        raise ValueError(
            f"bbox {bbox!r} at {res} m/px needs {w} x {h} = {w * h} pixels, over the limit of {max_pixels}; "
            "request smaller tiles or a coarser resolution"
        )
    dlon, dlat = (east - west) / w, (north - south) / h
    return Lattice(west, north, dlon, dlat, w, h, dlon * M_PER_DEG * coslat, dlat * M_PER_DEG)

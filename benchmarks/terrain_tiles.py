"""Large worlds for the store benchmarks: a real SRTM DEM tiled over a square of T x T tiles.

Every tile is the 1000 x 1000 eastern-Anatolia SRTM grid (3", about 90 m), mirrored on
alternate rows and columns so heights join across seams, and subsampled by `stride`
so the same area can hold 1e5 or 1e8 splats. One row of tiles is lifted per
latitude and mirror parity; the other tiles of the row are exact copies rotated
about the earth's axis (a rotation about z keeps the ellipsoid), which is much
faster than lifting each tile.
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
from affine import Affine

import earth3d
from earth3d import Gaussians, GeoRaster

DEM = Path(__file__).resolve().parents[2] / "shared" / "data" / "dem" / "eastern_turkey_srtm_3arcsec.tif"
TILE_DEG = 1000 * (3.0 / 3600.0)  # 0.8333 degrees
LON0, LAT0 = 30.0, 35.0  # south-west corner of the tiled square


def read_dem(path: Path = DEM) -> GeoRaster:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # geoid vs ellipsoid heights do not matter here
        return earth3d.read_raster(path)


def stride_for(total_splats: float, tiles: int, dem: GeoRaster) -> int:
    """Subsampling stride so that tiles x tiles tiles hold about `total_splats` splats."""
    per_tile = total_splats / tiles**2
    return max(1, int(round(math.sqrt(dem.shape[0] * dem.shape[1] / per_tile))))


def tile_raster(dem: GeoRaster, row: int, col: int, stride: int) -> GeoRaster:
    """Tile (row, col) of the square: the DEM mirrored by parity and subsampled, placed in lon/lat."""
    sl = (slice(None, None, -1) if row % 2 else slice(None)), (slice(None, None, -1) if col % 2 else slice(None))
    rgb, height, valid = (a[sl][::stride, ::stride] for a in (dem.rgb, dem.height, dem.valid))
    res = TILE_DEG / dem.shape[1] * stride
    west, north = LON0 + col * TILE_DEG, LAT0 + (row + 1) * TILE_DEG
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    return GeoRaster(np.ascontiguousarray(rgb), np.ascontiguousarray(height), np.ascontiguousarray(valid),
                     transform, dem.crs, dem.vertical_datum, f"{dem.source}#r{row}c{col}s{stride}")


def rotate_z(g: Gaussians, angle_rad: float) -> Gaussians:
    """The same splats rotated about the earth's axis (ECEF z)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    means = g.means @ torch.as_tensor(rot.T, dtype=torch.float32)
    qr = torch.tensor([math.cos(angle_rad / 2), 0.0, 0.0, math.sin(angle_rad / 2)])
    w, x, y, z = g.quats.unbind(1)  # Hamilton product qr * q
    quats = torch.stack([qr[0] * w - qr[3] * z, qr[0] * x - qr[3] * y, qr[0] * y + qr[3] * x, qr[0] * z + qr[3] * w], 1)
    return Gaussians(rot @ g.origin, means, quats, g.scales, g.opacities, g.sh)


class TiledWorld:
    """Sources for `earth3d.store.build_store`: one callable per tile, row-major."""

    def __init__(self, total_splats: float, tiles: int):
        self.dem = read_dem()
        self.total_splats, self.tiles = total_splats, tiles
        self.stride = stride_for(total_splats, tiles, self.dem)
        self._row: dict[tuple[int, int], Gaussians] = {}
        self.lift_seconds = 0.0

    def _base(self, row: int, parity: int) -> Gaussians:
        key = (row, parity)
        if key not in self._row:
            import time

            t = time.perf_counter()
            self._row = {k: v for k, v in self._row.items() if k[0] == row}
            self._row[key] = earth3d.lift(tile_raster(self.dem, row, parity, self.stride))
            self.lift_seconds += time.perf_counter() - t
        return self._row[key]

    def tile(self, row: int, col: int) -> Gaussians:
        base = self._base(row, col % 2)
        return rotate_z(base, math.radians((col - col % 2) * TILE_DEG))

    def sources(self) -> list:
        """Picklable callables: on Dask workers each process lifts with its own copy of the world."""
        _WORLDS.setdefault((self.total_splats, self.tiles), self)
        return [partial(world_tile, self.total_splats, self.tiles, r, c)
                for r in range(self.tiles) for c in range(self.tiles)]

    def center(self) -> tuple[float, float]:
        """lon, lat of the middle of the central tile."""
        mid = self.tiles // 2
        return LON0 + (mid + 0.5) * TILE_DEG, LAT0 + (mid + 0.5) * TILE_DEG

    def ground_height(self, window_deg: float = 0.01) -> float:
        """The highest DEM height within `window_deg` of the center (cameras stay above ground)."""
        r = self.dem
        n = max(1, int(window_deg / (TILE_DEG / r.shape[1])))
        cy, cx = r.shape[0] // 2, r.shape[1] // 2  # the tile center is its own mirror image
        return float(np.nanmax(r.height[cy - n:cy + n + 1, cx - n:cx + n + 1]))


_WORLDS: dict[tuple[float, int], TiledWorld] = {}


def world_tile(total_splats: float, tiles: int, row: int, col: int) -> Gaussians:
    """Tile (row, col) of the world of `total_splats` over tiles x tiles, from this process's copy."""
    key = (total_splats, tiles)
    if key not in _WORLDS:
        _WORLDS[key] = TiledWorld(total_splats, tiles)
    return _WORLDS[key].tile(row, col)

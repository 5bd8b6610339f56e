"""RasterSource: real DEM + orthophoto files behind the TileGenerator protocol.

The files are read once with `earth3d.read_raster` (onto the DEM's grid); each
request is cropped and resampled with rasterio onto the same EPSG:4326 lattice
that the procedural generators use, so real and generated tiles are
interchangeable downstream.
"""

from __future__ import annotations

import os

import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from ..raster.georaster import GeoRaster
from .base import resolve_region
from .grid import MAX_PIXELS, lattice_for

_WGS84 = CRS.from_epsg(4326)


class RasterSource:
    """A TileGenerator over a real DEM (and optional orthophoto): real rasters through the same interface.

    Args:
        dem_path: the DEM GeoTIFF (any CRS).
        ortho_path: an orthophoto draped on it (None: colours from a hypsometric ramp).
        max_pixels: the largest tile `generate` returns.
        classes_path: an optional class raster (any land-cover GeoTIFF, any CRS): each tile gets
            `classes`, warped nearest-neighbour onto its grid (earth3d.raster.classes.read_classes).
        class_map: source value -> class id of earth3d.classes for `classes_path` (None: the values
            are class ids; earth3d.classes.WORLDCOVER for ESA WorldCover).
        **read_options: passed to `earth3d.read_raster` (e.g. `stretch`, `vertical_datum`).

    Example:
        >>> source = RasterSource("srtm.tif", "rgb.tif")                     # doctest: +SKIP
        >>> raster = source.generate(bbox=(-49.93, -3.79, -49.90, -3.76), resolution_m=30)  # doctest: +SKIP
    """

    def __init__(self, dem_path: str | os.PathLike, ortho_path: str | os.PathLike | None = None,
                 max_pixels: int = MAX_PIXELS, classes_path: str | os.PathLike | None = None,
                 class_map: dict[int, int] | None = None, **read_options):
        from ..raster.classes import check_mapping
        from ..raster.read import read_raster

        self.dem_path, self.ortho_path = str(dem_path), None if ortho_path is None else str(ortho_path)
        self.raster = read_raster(dem_path, ortho_path, **read_options)
        self.classes_path = None if classes_path is None else str(classes_path)
        self.class_map = None if class_map is None else {int(k): int(v) for k, v in class_map.items()}
        if self.class_map is not None:
            check_mapping(self.class_map)
        self.max_pixels = int(max_pixels)
        left, bottom, right, top = self.raster.bounds()
        self.bounds_lonlat = transform_bounds(self.raster.crs, _WGS84, left, bottom, right, top, densify_pts=21)

    def __repr__(self) -> str:
        return f"RasterSource({self.dem_path!r}, {self.ortho_path!r})"

    def generate(self, region=None, resolution_m: float = 30.0, *, bbox=None, tile=None) -> GeoRaster:
        """The real rasters over a bbox or tile key, resampled to `resolution_m` cells in EPSG:4326.

        Cells outside the source footprint are marked invalid (valid=False, height NaN).
        Raises ValueError when the region does not overlap the source at all.
        """
        box = resolve_region(region, bbox, tile)
        lat = lattice_for(box, resolution_m, self.max_pixels)
        west, south, east, north = box
        w0, s0, e0, n0 = self.bounds_lonlat
        if east <= w0 or west >= e0 or north <= s0 or south >= n0:
            raise ValueError(
                f"region {tuple(box)} does not overlap {self.dem_path} (covers lon {w0:.5f}..{e0:.5f}, "
                f"lat {s0:.5f}..{n0:.5f})"
            )
        dst = Affine(lat.dlon, 0.0, lat.west, 0.0, -lat.dlat, lat.north)
        shape = (lat.height, lat.width)
        src = self.raster
        coarser = lat.res_y_m > 1.5 * min(src.resolution) * (111_195.0 if src.crs.is_geographic else 1.0)
        method = Resampling.average if coarser else Resampling.bilinear
        height = np.full(shape, np.nan, dtype=np.float32)
        src_h = np.where(src.valid, src.height, np.nan).astype(np.float32)
        reproject(src_h, height, src_transform=src.transform, src_crs=src.crs, dst_transform=dst, dst_crs=_WGS84,
                  resampling=method, src_nodata=np.nan, dst_nodata=np.nan)
        rgb = np.zeros((3,) + shape, dtype=np.float32)
        reproject(np.moveaxis(src.rgb.astype(np.float32), -1, 0), rgb, src_transform=src.transform,
                  src_crs=src.crs, dst_transform=dst, dst_crs=_WGS84, resampling=method)
        valid = np.isfinite(height)
        if not valid.any():
            raise ValueError(f"region {tuple(box)} holds no valid cell of {self.dem_path}")
        classes = None
        if self.classes_path is not None:
            from ..raster.classes import read_classes

            classes = read_classes(self.classes_path, dst, _WGS84, shape, self.class_map)
        return GeoRaster(rgb=np.clip(np.moveaxis(rgb, 0, -1), 0.0, 1.0), height=height, valid=valid,
                         transform=dst, crs=_WGS84, vertical_datum=src.vertical_datum,
                         source=f"{src.source} resampled to {resolution_m} m/px", classes=classes)

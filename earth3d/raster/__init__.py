"""Geo-referenced rasters: the GeoRaster type and reading GeoTIFF DEM + orthophoto pairs."""

from .georaster import GeoRaster
from .read import read_raster

__all__ = ["GeoRaster", "read_raster"]

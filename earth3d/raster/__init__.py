"""Geo-referenced rasters: the GeoRaster type and reading GeoTIFF DEM + orthophoto pairs."""

from .georaster import GeoRaster

__all__ = ["GeoRaster"]

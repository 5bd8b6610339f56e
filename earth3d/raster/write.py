"""Write a GeoRaster as a GeoTIFF orthophoto (RGB uint8) and a GeoTIFF DEM (float32), atomically.

The pair reads back with `read_raster(dem, ortho)` onto the same grid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio

from ..atomic import check_output, replacing
from .georaster import GeoRaster

DEM_NODATA = -9999.0


def _write(path: Path, data: np.ndarray, profile: dict, overwrite: bool) -> None:
    check_output(path, overwrite, flag="overwrite=True")
    with replacing(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(data)


def write_raster(raster: GeoRaster, dem_path: str | os.PathLike, ortho_path: str | os.PathLike | None = None,
                 *, overwrite: bool = False) -> tuple[Path, Path | None]:
    """Write `raster`'s heights as a float32 DEM (nodata -9999 where invalid) and, when `ortho_path` is
    given, its colours as an RGB uint8 orthophoto with an alpha band for invalid cells. Deflate-compressed,
    tiled GeoTIFFs in the raster's CRS; each is written under a temporary name and renamed.

    Args:
        raster: The raster to write.
        dem_path: The DEM GeoTIFF to write.
        ortho_path: The orthophoto GeoTIFF to write, if any.
        overwrite: Replace existing files.

    Returns:
        The paths written: (DEM, orthophoto or None).

    Raises:
        OutputExistsError: A file exists and `overwrite` is False.

    Example:
        >>> write_raster(world.generate(bbox=(7.4, 46.9, 7.5, 47.0)), "dem.tif", "ortho.tif")  # doctest: +SKIP
    """
    dem_path = Path(dem_path)
    h, w = raster.shape
    # Ellipsoidal heights are declared with a 3D CRS, so readers need not assume a geoid.
    crs = raster.crs.to_3d() if raster.vertical_datum == "ellipsoid" else raster.crs
    base = dict(driver="GTiff", width=w, height=h, crs=crs.to_wkt(), transform=raster.transform,
                compress="deflate", tiled=w >= 256 and h >= 256)
    heights = np.where(raster.valid, raster.height, DEM_NODATA).astype(np.float32)[None]
    _write(dem_path, heights, {**base, "count": 1, "dtype": "float32", "nodata": DEM_NODATA}, overwrite)
    if ortho_path is None:
        return dem_path, None
    ortho_path = Path(ortho_path)
    rgb = (np.clip(np.nan_to_num(raster.rgb), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    alpha = np.where(raster.valid, 255, 0).astype(np.uint8)
    bands = np.concatenate([np.moveaxis(rgb, -1, 0), alpha[None]], axis=0)
    # ALPHA=YES marks band 4 as alpha, so readers mask the invalid cells.
    profile = {**base, "count": 4, "dtype": "uint8", "photometric": "RGB", "alpha": "YES"}
    _write(ortho_path, bands, profile, overwrite)
    return dem_path, ortho_path

"""Class rasters: any land-cover GeoTIFF, mapped to the class table and warped onto a grid.

`read_classes` reads band 1 of a GeoTIFF (any CRS, any integer codes), maps its values to
class ids of `earth3d.classes` with a `mapping` (source value -> class id; values missing
from it become 0, unlabelled), and warps the result nearest-neighbour onto a target grid
(classes are categories: no averaging). `parse_class_map` reads the command line's form.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject

from ..classes import N_CLASSES, WORLDCOVER
from ..errors import InputError, InputFileError

NODATA = 65535  # outside the source: unlabelled


def parse_class_map(text: str | None) -> dict[int, int] | None:
    """A class mapping from its text form: None or "identity" (source values are class ids),
    "worldcover" (ESA WorldCover codes, `earth3d.classes.WORLDCOVER`), or "VALUE:ID,VALUE:ID,...".

    Raises:
        InputError: the text is not one of these forms, or names a class id outside the table.
    """
    if text is None or text == "identity":
        return None
    if text == "worldcover":
        return dict(WORLDCOVER)
    mapping = {}
    for item in text.split(","):
        try:
            value, cls = (int(x) for x in item.split(":"))
        except ValueError:
            raise InputError(f"--class-map {text!r}: expected 'worldcover', 'identity' or VALUE:ID pairs "
                             f"separated by commas, got {item!r}") from None
        mapping[value] = cls
    check_mapping(mapping)
    return mapping


def check_mapping(mapping: dict[int, int]) -> None:
    """Raise InputError when a mapping names a class id outside the table."""
    bad = [c for c in mapping.values() if not 0 <= int(c) < N_CLASSES]
    if bad:
        raise InputError(f"class mapping names class ids {bad} outside the table 0..{N_CLASSES - 1}")


def map_values(values: np.ndarray, mapping: dict[int, int] | None) -> np.ndarray:
    """Class ids (uint8) of integer source values: through `mapping` (others: 0), or the values
    themselves when `mapping` is None (those outside the table: 0).
    """
    values = np.asarray(values).astype(np.int64)
    if mapping is None:
        return np.where((values >= 0) & (values < N_CLASSES), values, 0).astype(np.uint8)
    keys = np.array(sorted(mapping), dtype=np.int64)
    ids = np.array([mapping[k] for k in keys.tolist()], dtype=np.uint8)
    if len(keys) == 0:
        return np.zeros(values.shape, np.uint8)
    at = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
    return np.where(keys[at] == values, ids[at], 0).astype(np.uint8)


def read_classes(path: str | os.PathLike, transform: Affine, crs, shape: tuple[int, int],
                 mapping: dict[int, int] | None = None) -> np.ndarray:
    """Class ids (H, W) uint8 of a land-cover GeoTIFF on the grid (`transform`, `crs`, `shape`).

    Args:
        path: The GeoTIFF (band 1 holds integer codes; its nodata becomes 0).
        transform: Target grid's affine transform (cell corners, as rasterio).
        crs: Target grid's CRS.
        shape: Target grid's (rows, columns).
        mapping: Source value -> class id (None: the values are class ids).

    Returns:
        The class raster, nearest-neighbour, 0 outside the source.

    Raises:
        InputFileError: the file is missing or not a raster.
        InputError: the mapping names an unknown class.

    Example:
        >>> r = raster  # doctest: +SKIP
        >>> cls = read_classes("worldcover.tif", r.transform, r.crs, r.shape, WORLDCOVER)  # doctest: +SKIP
    """
    path = Path(path)
    if mapping is not None:
        check_mapping(mapping)
    if not path.is_file():
        raise InputFileError(f"{path}: no such class raster")
    try:
        with rasterio.open(path) as ds:
            raw = ds.read(1)
            src_t, src_crs, nodata = ds.transform, ds.crs, ds.nodata
    except rasterio.errors.RasterioIOError as exc:
        raise InputFileError(f"{path}: not a readable class raster ({exc})") from exc
    if not np.issubdtype(raw.dtype, np.integer):
        raw = np.where(np.isfinite(raw), raw, NODATA)
    ids = map_values(raw, mapping).astype(np.uint16)
    if nodata is not None:
        ids[raw == nodata] = 0
    out = np.zeros(shape, dtype=np.uint16)
    reproject(ids, out, src_transform=src_t, src_crs=src_crs, dst_transform=transform,
              dst_crs=CRS.from_user_input(crs), resampling=Resampling.nearest, src_nodata=NODATA, dst_nodata=0)
    return out.astype(np.uint8)

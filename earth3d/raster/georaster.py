"""GeoRaster: an orthophoto and a height field on one geo-referenced grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS

from ..errors import InputError

#: Heights beyond this (metres, either sign) are a nodata value nobody declared, or a unit mistake.
MAX_ABS_HEIGHT_M = 100_000.0


@dataclass
class GeoRaster:
    """RGB (H, W, 3) float32 in [0, 1] and heights (H, W) float32 metres on one grid.

    `valid` masks cells that carry data (nodata and NaN heights are False).
    `transform` maps (col, row) of a cell's corner to CRS coordinates, as in rasterio.
    `vertical_datum` says what the heights are measured from: "ellipsoid" when
    they are ellipsoidal heights, otherwise a description such as
    "geoid (EGM96), not corrected" so that consumers know the offset is there.
    `classes` (H, W) uint8 holds semantic class ids of `earth3d.classes` (0 = unlabelled) and
    `instances` (H, W) int64 object ids (buildings, cars, trees, field parcels; 0 = none),
    both optional (None when the source has none).
    """

    rgb: np.ndarray
    height: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS
    vertical_datum: str = "ellipsoid"
    source: str = ""
    classes: np.ndarray | None = None
    instances: np.ndarray | None = None

    def __post_init__(self) -> None:
        h, w = self.height.shape
        if self.rgb.shape != (h, w, 3):
            raise InputError(f"GeoRaster rgb has shape {self.rgb.shape}, expected {(h, w, 3)}")
        if self.valid.shape != (h, w):
            raise InputError(f"GeoRaster valid mask has shape {self.valid.shape}, expected {(h, w)}")
        for name, dtype in (("classes", np.uint8), ("instances", np.int64)):
            a = getattr(self, name)
            if a is None:
                continue
            a = np.asarray(a)
            if a.shape != (h, w):
                raise InputError(f"GeoRaster {name} has shape {a.shape}, expected {(h, w)}")
            setattr(self, name, a.astype(dtype, copy=False))
        self._check_values()
        self.crs = CRS.from_user_input(self.crs)

    def _check_values(self) -> None:
        """Refuse valid cells whose height or colour no stage downstream could use (NaN, inf, 1e20)."""
        valid = np.asarray(self.valid, bool)
        height = np.where(valid, self.height, 0.0)
        bad = ~np.isfinite(height) | (np.abs(np.nan_to_num(height)) > MAX_ABS_HEIGHT_M)
        what = f"non-finite heights or heights beyond +-{MAX_ABS_HEIGHT_M:g} m"
        if not bad.any():
            bad = valid & ~np.isfinite(self.rgb).all(axis=-1)
            what = "non-finite colours"
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            raise InputError(f"GeoRaster {self.source or '(in memory)'}: {int(bad.sum())} valid cell(s) hold {what} "
                             f"(e.g. height {self.height[row, col]:g} at row {row}, column {col}); mark them "
                             "invalid (valid=False) or fill them")

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the grid."""
        return tuple(self.height.shape)

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell size (x, y) in CRS units, both positive."""
        return abs(self.transform.a), abs(self.transform.e)

    def cell_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """CRS coordinates (x, y) of every cell center, each (H, W)."""
        h, w = self.shape
        cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        t = self.transform
        return t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        h, w = self.shape
        xs, ys = zip(*(self.transform * (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))), strict=False)
        return min(xs), min(ys), max(xs), max(ys)

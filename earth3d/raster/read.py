"""Read a DEM (and optionally an orthophoto) into one GeoRaster on a common lifting grid.

The lifting grid is the DEM's CRS over the intersection of the two footprints,
at the finer of the two resolutions (per axis): the DEM is interpolated
bilinearly onto it, the orthophoto resampled bilinearly (or averaged where it
is finer than the grid). Grids that already line up are cut, not resampled.
All reprojection goes through rasterio.warp; all CRS work through pyproj.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Geod
from pyproj.transformer import TransformerGroup
from rasterio._err import CPLE_BaseError
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import CRSError, RasterioError, RasterioIOError
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from ..errors import InputError, InputFileError
from .georaster import MAX_ABS_HEIGHT_M, GeoRaster

# A lifting grid beyond this many cells is almost certainly a resolution mistake.
MAX_CELLS = 100_000_000
# A file read whole (a DEM) beyond this many cells would not fit in memory.
MAX_READ_CELLS = 4 * MAX_CELLS
AUTO_STRETCH = (2.0, 98.0)
ASSUMED_GEOID = "geoid (assumed EGM96), not corrected"

_geoid_warned = False

Stretch = tuple[float, float] | None | Literal["auto"]


@dataclass(frozen=True)
class _Grid:
    transform: Affine
    width: int
    height: int
    crs: CRS


def read_raster(
    dem_path: str | os.PathLike,
    ortho_path: str | os.PathLike | None = None,
    *,
    stretch: Stretch = "auto",
    dem_band: int = 1,
    rgb_bands: tuple[int, int, int] | None = None,
    vertical_datum: Literal["ellipsoid"] | None = None,
    resolution: float | tuple[float, float] | None = None,
) -> GeoRaster:
    """A DEM (any CRS, int or float) and an optional orthophoto as one GeoRaster.

    Nodata and NaN heights, orthophoto nodata and transparent (alpha 0) pixels
    are masked (`valid` False). Without an orthophoto, colour is a hypsometric ramp (green
    lowlands, brown hills, white peaks, over the raster's own height range; blues below sea
    level) shaded by a hillshade lit from the north-west.

    Heights: a DEM whose CRS has a vertical component that pyproj can turn into
    ellipsoidal heights is converted. Otherwise (a 2D CRS, or no geoid grid
    installed) heights are used as ellipsoidal heights, `vertical_datum` records
    "geoid (assumed EGM96), not corrected" and one warning per process says so.

    Args:
        dem_path: The DEM file (a GeoTIFF or anything rasterio reads, with a CRS).
        ortho_path: An orthophoto over the DEM, in any CRS (reprojected onto the DEM's grid).
        stretch: How colours are scaled: a (low, high) pair stretches each band between those
            percentiles of its valid values over the DEM; None scales by the data type's range
            (uint8 /255, uint16 /65535, float taken as [0, 1]); "auto" applies a (2, 98) stretch
            to dark raw-DN imagery (99.9th percentile under 75% of the type's range, or floats
            outside [0, 1]) and scales by the type's range otherwise.
        dem_band: The DEM band holding the heights (1-based).
        rgb_bands: The orthophoto's red, green and blue bands (1-based); default: the file's
            colour interpretation, else bands 1, 2, 3. A 4th band is used as alpha only when the
            file marks it as alpha (an NIR band is ignored).
        vertical_datum: "ellipsoid" declares the heights ellipsoidal (no conversion, no warning).
        resolution: The lifting cell size in CRS units, x or (x, y) (default: the DEM's own).

    Returns:
        The GeoRaster: heights, colours in [0, 1], validity mask, CRS and transform.

    Raises:
        InputFileError: A file is missing, unreadable, has no CRS or lacks the requested band.
        InputError: An option is invalid (stretch, rgb_bands, vertical_datum, resolution), or the
            orthophoto does not overlap the DEM.

    Example:
        >>> r = earth3d.read_raster("dem.tif", "ortho.tif")  # doctest: +SKIP
        >>> r.shape, r.crs  # doctest: +SKIP
    """
    if vertical_datum not in (None, "ellipsoid"):
        raise InputError(f"vertical_datum={vertical_datum!r}: expected None (infer) or 'ellipsoid'")
    stretch = _check_stretch(stretch)
    dem_path = Path(dem_path)
    with _open(dem_path, "DEM") as dem:
        if not 1 <= dem_band <= dem.count:
            raise InputFileError(f"DEM {dem_path}: band {dem_band} requested, the file has {dem.count} band(s)")
        dem_crs = CRS.from_user_input(dem.crs)
        _check_geographic_bounds(dem_crs, tuple(dem.bounds), f"DEM {dem_path}")
        heights = _read_heights(dem, dem_band, dem_path)
        dem_grid = _Grid(dem.transform, dem.width, dem.height, dem_crs)
        dem_bounds = tuple(dem.bounds)

    heights, horizontal_crs, datum = _vertical_datum(heights, dem_grid, vertical_datum, dem_path)
    dem_grid = _Grid(dem_grid.transform, dem_grid.width, dem_grid.height, horizontal_crs)

    if ortho_path is None:
        grid = dem_grid if resolution is None else _grid_over(dem_bounds, _as_res(resolution), dem_grid, None)
        height = _onto(heights[None], dem_grid, grid, Resampling.bilinear)[0]
        valid = np.isfinite(height)
        _require_valid(valid, f"DEM {dem_path}")
        rgb = _terrain_colours(height, valid, grid)
        source = str(dem_path)
    else:
        ortho_path = Path(ortho_path)
        with _open(ortho_path, "orthophoto") as ortho:
            bands, alpha_band = _ortho_bands(ortho, ortho_path, rgb_bands)
            try:
                ortho_res = _resolution_in(ortho, horizontal_crs)
                ortho_bounds = _bounds_in(ortho, horizontal_crs)
            except (RasterioError, CPLE_BaseError, CRSError, ValueError) as exc:
                raise InputError(f"orthophoto {ortho_path}: its footprint in its CRS ({_crs_name(ortho.crs)}) cannot "
                                 f"be placed in the DEM's CRS ({_crs_name(horizontal_crs)}): is its CRS right? "
                                 f"({_cause(exc)})") from None
            overlap = _intersect(dem_bounds, ortho_bounds)
            if overlap is None:
                raise InputError(
                    f"DEM {dem_path} (bounds {_fmt(dem_bounds)}) and orthophoto {ortho_path} "
                    f"(bounds {_fmt(ortho_bounds)} in the DEM's CRS) do not overlap"
                )
            dem_res = (abs(dem_grid.transform.a), abs(dem_grid.transform.e))
            res = _as_res(resolution) or (min(dem_res[0], ortho_res[0]), min(dem_res[1], ortho_res[1]))
            same_crs = CRS.from_user_input(ortho.crs) == horizontal_crs
            full = _Grid(ortho.transform, ortho.width, ortho.height, CRS.from_user_input(ortho.crs))
            grid = _grid_over(overlap, res, dem_grid, full if same_crs else None)
            colours, ortho_grid = _read_ortho(ortho, ortho_path, bands, alpha_band, stretch, grid)
        height = _onto(heights[None], dem_grid, grid, Resampling.bilinear)[0]
        _require_valid(np.isfinite(height), f"DEM {dem_path} over its overlap with {ortho_path}")
        downsample = ortho_res[0] < res[0] * 0.999 or ortho_res[1] < res[1] * 0.999
        ortho_resampling = Resampling.average if downsample else Resampling.bilinear
        rgb = np.moveaxis(_onto(colours, ortho_grid, grid, ortho_resampling), 0, -1)
        valid = np.isfinite(height) & np.isfinite(rgb).all(axis=-1)
        _require_valid(valid, f"DEM {dem_path} with orthophoto {ortho_path}")
        source = f"{dem_path} + {ortho_path}"

    height = np.where(valid, height, np.nan).astype(np.float32)
    rgb = np.where(valid[..., None], np.clip(rgb, 0.0, 1.0), 0.0).astype(np.float32)
    return GeoRaster(rgb, height, valid, grid.transform, grid.crs, datum, source)


# ---------------------------------------------------------------------- files
def _open(path: Path, role: str) -> rasterio.io.DatasetReader:
    if not path.exists():
        raise InputFileError(f"{role} {path}: no such file")
    try:
        ds = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputFileError(f"{role} {path} is not a readable raster: {exc}") from exc
    if ds.crs is None:
        ds.close()
        raise InputFileError(f"{role} {path} has no CRS: a geo-referenced raster (e.g. a GeoTIFF with a CRS) is needed")
    return ds


def _cause(exc: BaseException) -> str:
    """The innermost message of an exception chain (GDAL's own reason, not "see previous exception")."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return " ".join(str(exc).split()) or type(exc).__name__


def _crs_name(crs) -> str:
    try:
        return CRS.from_user_input(crs).to_string()
    except (CRSError, ValueError, TypeError):
        return str(crs)


def _read_band(ds, bands, path: Path, role: str, **kw):
    """`ds.read(bands, **kw)`, with a truncated or corrupt file reported as such."""
    try:
        return ds.read(bands, **kw)
    except (RasterioError, CPLE_BaseError) as exc:
        raise InputFileError(f"{role} {path}: its pixels cannot be read (a truncated or corrupt file?): "
                             f"{_cause(exc)}") from None


def _check_geographic_bounds(crs: CRS, bounds, what: str) -> None:
    """A raster in longitude/latitude must lie on the globe: latitudes within [-90, 90] and
    longitudes within [-180, 360] (a raster across the antimeridian may run past 180).
    """
    if not crs.is_geographic:
        return
    west, south, east, north = bounds
    eps = 1e-9
    if south < -90 - eps or north > 90 + eps:
        raise InputFileError(f"{what}: its bounds reach latitude {south if south < -90 else north:g}, beyond the "
                             "pole (latitudes lie within -90..90); is its geotransform right?")
    if west < -180 - eps or east > 360 + eps:
        raise InputFileError(f"{what}: its bounds reach longitude {west if west < -180 else east:g}, outside "
                             "-180..360; is its geotransform right?")


def _read_heights(dem, band: int, path: Path) -> np.ndarray:
    if dem.width * dem.height > MAX_READ_CELLS:
        gib = dem.width * dem.height * 8 / 2**30
        raise InputFileError(f"DEM {path}: {dem.width} x {dem.height} cells ({gib:.3g} GiB as heights) is too large "
                             f"to read at once (at most {MAX_READ_CELLS} cells); crop or tile it")
    kind = np.dtype(dem.dtypes[band - 1])
    if kind.kind not in "iuf":
        raise InputFileError(f"DEM {path}: band {band} holds {kind.name} values, not heights (integers or floats)")
    data = _read_band(dem, band, path, "DEM", masked=True)
    heights = np.ma.filled(np.ma.asarray(data).astype(np.float64), np.nan)
    heights[~np.isfinite(heights)] = np.nan
    _require_valid(np.isfinite(heights), f"DEM {path}")
    wild = np.abs(np.nan_to_num(heights)) > MAX_ABS_HEIGHT_M
    if wild.any():
        row, col = (int(v[0]) for v in np.nonzero(wild))
        raise InputFileError(f"DEM {path}: {int(wild.sum())} cell(s) hold heights beyond +-{MAX_ABS_HEIGHT_M:g} m "
                             f"(e.g. {heights[row, col]:g} at row {row}, column {col}): a nodata value the file "
                             "does not declare, or heights not in metres")
    return heights


def _ortho_bands(ortho, path: Path, rgb_bands) -> tuple[tuple[int, int, int], int | None]:
    """The red, green and blue band numbers and the alpha band's (None without one)."""
    interp = list(ortho.colorinterp)
    alpha_band = interp.index(ColorInterp.alpha) + 1 if ColorInterp.alpha in interp else None
    if rgb_bands is None:
        if ortho.count not in (3, 4):
            raise InputFileError(
                f"orthophoto {path} has {ortho.count} band(s): expected 3 (RGB) or 4 (RGB + alpha or NIR); "
                "pick three bands (rgb_bands=(r, g, b) in Python, or gdal_translate -b R -b G -b B)"
            )
        named = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
        rgb_bands = tuple(interp.index(c) + 1 for c in named) if all(c in interp for c in named) else (1, 2, 3)
    if len(rgb_bands) != 3 or not all(1 <= b <= ortho.count for b in rgb_bands):
        raise InputError(f"orthophoto {path}: rgb_bands={rgb_bands} must be 3 band numbers in 1..{ortho.count}")
    kinds = {np.dtype(ortho.dtypes[b - 1]).name for b in rgb_bands if np.dtype(ortho.dtypes[b - 1]).kind not in "iuf"}
    if kinds:
        raise InputFileError(f"orthophoto {path}: its colour bands hold {', '.join(sorted(kinds))} values, not "
                             "colours (integers or floats)")
    return tuple(rgb_bands), alpha_band


def _read_ortho(ortho, path: Path, rgb_bands, alpha_band, stretch, grid: _Grid) -> tuple[np.ndarray, _Grid]:
    """Colour bands (3, h, w) float64 in [0, 1], NaN where masked, over the part of the file that
    covers `grid` (a window, so a large orthophoto over a small DEM is not read whole), and their grid.
    """
    left, top = grid.transform @ (0, 0)
    right, bottom = grid.transform @ (grid.width, grid.height)
    bounds = transform_bounds(grid.crs, ortho.crs, min(left, right), min(top, bottom), max(left, right),
                              max(top, bottom), densify_pts=21)
    window = from_bounds(*bounds, transform=ortho.transform)
    window = Window(math.floor(window.col_off) - 2, math.floor(window.row_off) - 2,
                    math.ceil(window.width) + 5, math.ceil(window.height) + 5)
    window = window.intersection(Window(0, 0, ortho.width, ortho.height))
    if window.width * window.height > MAX_READ_CELLS:
        raise InputFileError(f"orthophoto {path}: the part over the DEM is {int(window.width)} x {int(window.height)} "
                             f"pixels, too large to read at once (at most {MAX_READ_CELLS}); pass a coarser "
                             "resolution or crop it")
    raw = _read_band(ortho, list(rgb_bands), path, "orthophoto", window=window).astype(np.float64)
    valid = np.isfinite(raw).all(axis=0)
    if ortho.nodata is not None and not np.isnan(ortho.nodata):
        valid &= ~(raw == ortho.nodata).all(axis=0)
    if alpha_band is not None:
        valid &= _read_band(ortho, alpha_band, path, "orthophoto", window=window) > 0
    _require_valid(valid, f"orthophoto {path} over the DEM")
    colours = _scale_colours(raw, valid, np.dtype(ortho.dtypes[rgb_bands[0] - 1]), stretch)
    colours[:, ~valid] = np.nan
    return colours, _Grid(ortho.window_transform(window), int(window.width), int(window.height),
                          CRS.from_user_input(ortho.crs))


def _check_stretch(stretch) -> Stretch:
    if stretch is None:
        return None
    if isinstance(stretch, str) and stretch == "auto":
        return "auto"
    try:
        lo, hi = (float(v) for v in stretch)
    except (TypeError, ValueError):
        raise InputError(f"stretch={stretch!r}: expected (low, high) percentiles, None or 'auto'") from None
    if not 0.0 <= lo < hi <= 100.0:
        raise InputError(f"stretch={stretch!r}: percentiles must satisfy 0 <= low < high <= 100")
    return lo, hi


def _scale_colours(raw: np.ndarray, valid: np.ndarray, dtype: np.dtype, stretch: Stretch) -> np.ndarray:
    values = raw[:, valid]
    if np.issubdtype(dtype, np.integer):
        full = float(np.iinfo(dtype).max)
        dark = np.percentile(values, 99.9) < 0.75 * full
    else:
        full = 1.0
        dark = values.min() < 0.0 or values.max() > 1.0
    if stretch == "auto":
        stretch = AUTO_STRETCH if dark else None
    if stretch is None:
        return raw / full
    lo, hi = np.percentile(values, stretch, axis=1)
    span = np.maximum(hi - lo, np.finfo(np.float64).tiny)
    return (raw - lo[:, None, None]) / span[:, None, None]


# ---------------------------------------------------------------------- heights
def _vertical_datum(heights: np.ndarray, grid: _Grid, declared: str | None, path: Path):
    """Heights as ellipsoidal heights where pyproj can convert them; the horizontal CRS; the datum label."""
    crs = grid.crs
    horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
    if declared == "ellipsoid":
        return heights, horizontal, "ellipsoid"
    if not crs.is_compound and len(crs.axis_info) >= 3:  # e.g. EPSG:4979: already ellipsoidal
        return heights, horizontal, "ellipsoid"
    if crs.is_compound:
        vertical = crs.sub_crs_list[-1]
        geodetic = crs.geodetic_crs
        if geodetic is None:
            raise InputFileError(f"DEM {path}: its CRS {crs.name!r} has no geodetic datum to take heights to")
        with warnings.catch_warnings():  # a missing grid is reported below, in one warning
            warnings.simplefilter("ignore")
            group = TransformerGroup(crs, geodetic.to_3d(), always_xy=True)
        if group.best_available and group.transformers:
            rows, cols = np.indices(heights.shape)
            x, y = grid.transform @ (cols + 0.5, rows + 0.5)
            _, _, h = group.transformers[0].transform(x, y, heights)
            h = np.where(np.isfinite(heights), h, np.nan)
            if np.isfinite(h).any():
                return h, horizontal, f"ellipsoid (converted from {vertical.name})"
        label = f"{vertical.name}, not corrected"
        reason = f"PROJ has no grid to convert {vertical.name} to ellipsoidal heights"
    else:
        label = ASSUMED_GEOID
        reason = "its CRS has no vertical component; most DEMs are heights above a geoid (e.g. EGM96)"
    _warn_geoid_once(path, reason)
    return heights, horizontal, label


def _warn_geoid_once(path: Path, reason: str) -> None:
    global _geoid_warned
    if _geoid_warned:
        return
    _geoid_warned = True
    warnings.warn(
        f"DEM {path}: {reason}; heights are used as ellipsoidal heights and may be off by up to ~100 m "
        "(pass vertical_datum='ellipsoid' if they are ellipsoidal). This warning is shown once.",
        UserWarning,
        stacklevel=4,
    )


# ---------------------------------------------------------------------- grids
def _resolution_in(ds, crs: CRS) -> tuple[float, float]:
    if CRS.from_user_input(ds.crs) == crs:
        return abs(ds.transform.a), abs(ds.transform.e)
    transform, _, _ = calculate_default_transform(ds.crs, crs, ds.width, ds.height, *ds.bounds)
    return abs(transform.a), abs(transform.e)


def _bounds_in(ds, crs: CRS) -> tuple[float, float, float, float]:
    if CRS.from_user_input(ds.crs) == crs:
        return tuple(ds.bounds)
    return transform_bounds(ds.crs, crs, *ds.bounds, densify_pts=21)


def _intersect(a, b):
    left, bottom = max(a[0], b[0]), max(a[1], b[1])
    right, top = min(a[2], b[2]), min(a[3], b[3])
    return (left, bottom, right, top) if right > left and top > bottom else None


def _as_res(resolution) -> tuple[float, float] | None:
    if resolution is None:
        return None
    try:
        rx, ry = (float(v) for v in ((resolution, resolution) if isinstance(resolution, numbers.Real) else resolution))
    except (TypeError, ValueError):
        raise InputError(f"resolution={resolution!r} must be a number or an (x, y) pair of numbers") from None
    if not (math.isfinite(rx) and math.isfinite(ry) and rx > 0 and ry > 0):
        raise InputError(f"resolution={resolution!r} must be positive and finite")
    return float(rx), float(ry)


def _grid_over(bounds, res, dem: _Grid, ortho: _Grid | None) -> _Grid:
    """A north-up grid of cell size `res` inside `bounds`, on the DEM's (or same-CRS ortho's) grid lines
    when they match.
    """
    left, bottom, right, top = bounds
    anchors_x = [g.transform.c for g in (dem, ortho) if g is not None and math.isclose(abs(g.transform.a), res[0])]
    anchors_y = [g.transform.f for g in (dem, ortho) if g is not None and math.isclose(abs(g.transform.e), res[1])]
    x0, width = _snap(left, right, anchors_x[0] if anchors_x else left, res[0])
    i0, height = _snap(-top, -bottom, -(anchors_y[0] if anchors_y else top), res[1])
    if width < 1 or height < 1:
        raise InputError(f"the overlap {_fmt(bounds)} is smaller than one {res[0]:g} x {res[1]:g} cell")
    if width * height > MAX_CELLS:
        raise InputError(
            f"lifting grid of {width} x {height} cells at {res[0]:g} x {res[1]:g} CRS units is too large "
            f"(over {MAX_CELLS} cells); pass a coarser resolution="
        )
    return _Grid(Affine(res[0], 0.0, x0, 0.0, -res[1], -i0), width, height, dem.crs)


def _snap(lo: float, hi: float, anchor: float, step: float) -> tuple[float, int]:
    """The first grid line at or after `lo` on the lattice anchor + k*step, and the whole cells up to `hi`."""
    first = math.ceil((lo - anchor) / step - 1e-6)
    last = math.floor((hi - anchor) / step + 1e-6)
    return anchor + first * step, last - first


def _onto(bands: np.ndarray, src: _Grid, dst: _Grid, resampling: Resampling) -> np.ndarray:
    """Bands (B, H, W) with NaN for no data, on `dst`: cut out when the grids line up, else reprojected."""
    s, d = src.transform, dst.transform
    aligned = (s.b, s.d, d.b, d.d) == (0, 0, 0, 0) and math.isclose(s.a, d.a) and math.isclose(s.e, d.e)
    if src.crs == dst.crs and aligned:
        col, row = (d.c - s.c) / s.a, (d.f - s.f) / s.e
        c0, r0 = round(col), round(row)
        aligned = abs(col - c0) < 1e-6 and abs(row - r0) < 1e-6
        if aligned and c0 >= 0 and r0 >= 0 and c0 + dst.width <= src.width and r0 + dst.height <= src.height:
            return bands[:, r0:r0 + dst.height, c0:c0 + dst.width].copy()
    out = np.full((bands.shape[0], dst.height, dst.width), np.nan, dtype=np.float32)
    reproject(
        source=bands.astype(np.float32), destination=out,
        src_transform=src.transform, src_crs=src.crs, src_nodata=np.nan,
        dst_transform=dst.transform, dst_crs=dst.crs, dst_nodata=np.nan,
        resampling=resampling,
    )
    return out.astype(np.float64)


def _require_valid(valid: np.ndarray, what: str) -> None:
    if not valid.any():
        raise InputFileError(f"{what} has no valid cells (all nodata, NaN or transparent)")


def _fmt(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


# ---------------------------------------------------------------------- colour without an orthophoto
_RAMP_STOPS = np.array([0.0, 0.25, 0.55, 0.8, 1.0])
_RAMP_RGB = np.array([[0.20, 0.45, 0.25], [0.45, 0.60, 0.30], [0.62, 0.52, 0.36], [0.55, 0.45, 0.40],
                      [0.95, 0.95, 0.95]])


def _cell_size_m(grid_crs: CRS, transform: Affine, height: int) -> tuple[np.ndarray, float]:
    """Cell width per row (H,) and cell height in metres, via pyproj.Geod for geographic CRSs."""
    rx, ry = abs(transform.a), abs(transform.e)
    if grid_crs.is_geographic:
        geod = grid_crs.get_geod() or Geod(ellps="WGS84")
        lats = transform.f + transform.e * (np.arange(height) + 0.5)
        lon0 = transform.c
        _, _, dx = geod.inv(np.full(height, lon0), lats, np.full(height, lon0 + rx), lats)
        _, _, dy = geod.inv(lon0, float(lats.mean()) - ry / 2, lon0, float(lats.mean()) + ry / 2)
        return np.asarray(dx), float(dy)
    unit = grid_crs.axis_info[0].unit_conversion_factor or 1.0
    return np.full(height, rx * unit), ry * unit


_SEA_RGB = np.array([[0.55, 0.75, 0.85], [0.05, 0.15, 0.35]])  # shallow to deep


def _terrain_colours(height: np.ndarray, valid: np.ndarray, grid: _Grid) -> np.ndarray:
    """Hypsometric ramp shaded by a north-west hillshade (H, W, 3): land from green through brown
    to white over its height range, and, where heights are below 0, sea from light to dark blue.
    """
    filled = np.where(valid, height, np.nanmedian(height[valid]))
    lo, hi = np.percentile(filled[valid], [1, 99])
    lo = max(lo, 0.0) if hi > 0 else lo  # the land ramp starts at sea level when there is sea
    t = np.clip((filled - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    ramp = np.stack([np.interp(t, _RAMP_STOPS, _RAMP_RGB[:, c]) for c in range(3)], axis=-1)
    sea = (filled < 0.0) & (hi > 0)
    if sea.any():
        depth = np.clip(filled[sea] / min(float(np.percentile(filled[valid & sea], 1)), -1e-6), 0.0, 1.0)
        ramp[sea] = _SEA_RGB[0] + depth[:, None] * (_SEA_RGB[1] - _SEA_RGB[0])
    dx, dy = _cell_size_m(grid.crs, grid.transform, grid.height)
    dz_dy, dz_dx = np.gradient(filled) if min(filled.shape) > 1 else (np.zeros_like(filled),) * 2
    gx, gy = dz_dx / dx[:, None], -dz_dy / dy  # east and north slopes
    az, alt = np.radians(315.0), np.radians(45.0)
    light = np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])
    normal = np.stack([-gx, -gy, np.ones_like(gx)], axis=-1)
    shade = np.clip(normal @ light / np.linalg.norm(normal, axis=-1), 0.0, 1.0)
    return ramp * (0.35 + 0.65 * shade[..., None])

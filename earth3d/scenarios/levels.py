"""Nested levels of a multi-level world: squares around one place, each finer and smaller than the last.

A world seen from orbit down to the street is drawn from a few nested rasters (`Level`s): each
covers a square around the target at its own cell size, and where a finer level covers a place,
the coarser ones leave it out, so every place is drawn by one level only.

A finer level begins without a visible edge: its colours are scaled to average to the coarser
level's, and over a band along its border its colours and heights fade from the coarser level's,
interpolated at its cells, to its own, so at the border both levels show the same thing and the
finer detail comes in gradually. `border_contrast` measures what is left of the edge in a rendered frame.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..geometry import GEODETIC_CRS, transformer
from ..raster import GeoRaster
from .report import Report

GroundFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Level:
    """One nested raster of a multi-level world: a square of `half_size_m` around the target at `resolution_m`.

    `feather_m`: width of the band along its border over which it fades in from the coarser level
    (None: `nested_rasters`' `feather` cells of the coarser level, at most a third of the half size).
    """

    name: str
    half_size_m: float
    resolution_m: float
    feather_m: float | None = None


#: From a continent seen from 2,000 km down to the street, each level 4-7 times finer and smaller. Not
#: finer steps: along the demo's descent at 640x360 a level must reach about 90 cells of the coarser
#: level around the target, so the step times 90 must fit `descent.MAX_CELLS` (640) cells across.
DEMO_LEVELS = (
    Level("continental", 2_600_000.0, 12_000.0),
    Level("regional", 400_000.0, 2_000.0),
    Level("landscape", 80_000.0, 300.0),
    Level("district", 16_000.0, 60.0),
    Level("city", 2_600.0, 10.0),
    Level("blocks", 640.0, 2.0),
    Level("street", 160.0, 0.5),
)
#: The same nesting at coarser cells (a few tens of thousands of splats): a quick preview.
QUICK_LEVELS = (
    Level("continental", 2_600_000.0, 60_000.0),
    Level("regional", 260_000.0, 6_000.0),
    Level("district", 26_000.0, 600.0),
    Level("city", 2_600.0, 60.0),
    Level("blocks", 640.0, 12.0),
    Level("street", 160.0, 4.0),
)


def level_bbox(lon: float, lat: float, half_size_m: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a square `2 * half_size_m` on a side centered on (lon, lat).

    Across the antimeridian east is written above 180 (east > west), as `earth3d.synth.grid.check_bbox`
    expects; latitudes are clamped to +-89.9.
    """
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    lons, lats, _ = geod.fwd([lon] * 4, [lat] * 4, [270.0, 180.0, 90.0, 0.0], [half_size_m] * 4)
    west, east = float(lons[0]), float(lons[2])
    if east <= west:
        east += 360.0
    return west, max(float(lats[1]), -89.9), east, min(float(lats[3]), 89.9)


#: Cells of the coarser level over which a finer level fades in along its border.
FEATHER_CELLS = 4.0
#: Cells of the coarser level over which the colour gain that makes a finer level average to it is smoothed.
GAIN_SIGMA_CELLS = 1.5


def nested_rasters(generator, lon: float, lat: float, levels: Sequence[Level] = DEMO_LEVELS,
                   report: Report | None = None, *, feather: float = FEATHER_CELLS) -> list[GeoRaster]:
    """One raster per level around (lon, lat), coarse to fine, each cut out where the next level lies.

    Each raster's cells that lie wholly inside the next finer level are masked out (made invalid),
    so every place is drawn by one level only (the finest that covers it). Each finer raster's
    colours are first scaled so that, averaged over the coarser cells, they are the coarser
    level's (a gain per coarser cell, smoothed over `GAIN_SIGMA_CELLS` of them): its content
    already shows, averaged, at the coarser level. It then fades in over a band along its border,
    its `Level.feather_m` wide, else `feather` cells of the coarser level (at most a third of its
    half size): there its colours and heights are
    `w * own + (1 - w) * coarser` with the coarser raster interpolated bilinearly at its cell
    centres and `w = t**2`, `t` going from 0 at the border to 1 at the band's inner edge. At the border
    the finer level shows what the coarser one shows, so no edge appears where it begins.

    Args:
        generator: any world source with `generate(bbox=(w, s, e, n), resolution_m=...) -> GeoRaster`
            (the `earth3d.synth.TileGenerator` protocol).
        lon: target longitude, degrees.
        lat: target latitude, degrees.
        levels: the nesting, coarse to fine.
        report: progress (one stage per level); silent by default.
        feather: width of the fade-in band, in cells of the coarser level, where a level does not
            set its own (0: no fade-in and no gain, the levels as generated).

    Returns:
        The rasters, in the order of `levels`.

    Example:
        >>> from earth3d.synth import ProceduralWorld                     # doctest: +SKIP
        >>> rasters = nested_rasters(ProceduralWorld(0), 9.16, 0.71, QUICK_LEVELS)  # doctest: +SKIP
    """
    rasters = []
    for level in levels:
        it = contextlib.nullcontext() if report is None else report.stage(
            f"synthesize {level.name} ({level.resolution_m:g} m)")
        with it:
            rasters.append(generator.generate(bbox=level_bbox(lon, lat, level.half_size_m),
                                              resolution_m=level.resolution_m))
    for i in range(1, len(rasters)) if feather > 0 else ():
        _match_average(rasters[i], rasters[i - 1])
        band = levels[i].feather_m
        if band is None:
            band = min(feather * levels[i - 1].resolution_m, levels[i].half_size_m / 3.0)
        _fade_in(rasters[i], rasters[i - 1], band, levels[i].resolution_m)
    for outer, level in zip(rasters[:-1], levels[1:], strict=True):
        _cut_out(outer, level_bbox(lon, lat, level.half_size_m), lat)
    return rasters


#: Cell size of the demo's street detail (`street_detail`): a quarter of the street level's.
STREET_DETAIL_M = 0.125


def street_detail(generator, finest: GeoRaster, street: tuple[float, float, float], street_m: float,
                  level: Level) -> GeoRaster:
    """A finer raster around the street flight, cut out of the finest nested level.

    The nested levels are squares around the target; the street the descent ends on lies up to
    80 m from it, and from a camera 2 m over the street the finest level's cells (0.5 m in
    `DEMO_LEVELS`) are tens of pixels wide: lane markings, kerbs and windows are blurs. This
    level is a square of `level.half_size_m` around the middle of the flight (half of `street_m`
    from the street's start along its heading), at `level.resolution_m`; as a nested level it averages to the
    finest level's colours, fades in over its border (`level.feather_m`, else a third of its half
    size) and is cut out of it (`finest.valid` is changed in place).

    Args:
        generator: the world (`generate(bbox=, resolution_m=) -> GeoRaster`).
        finest: the finest nested raster (the last of `nested_rasters`).
        street: (lon, lat, heading degrees) where the flight starts (`find_street`).
        street_m: metres flown along the street.
        level: the detail level's half size, cell size and fade-in band (`descent.street_detail_level`).

    Returns:
        The detail raster.

    Example:
        >>> street = find_street(rasters[-1], lon, lat, 40.0)  # doctest: +SKIP
        >>> rasters.append(street_detail(world, rasters[-1], street, 40.0, level))  # doctest: +SKIP
    """
    from pyproj import Geod

    s_lon, s_lat, heading = street
    m_lon, m_lat, _ = Geod(ellps="WGS84").fwd(s_lon, s_lat, heading, 0.5 * street_m)
    box = level_bbox(float(m_lon), float(m_lat), level.half_size_m)
    raster = generator.generate(bbox=box, resolution_m=level.resolution_m)
    _match_average(raster, finest)
    band = level.feather_m if level.feather_m is not None else level.half_size_m / 3.0
    _fade_in(raster, finest, band, level.resolution_m)
    _cut_out(finest, box, float(m_lat))
    return raster


def _cut_out(outer: GeoRaster, box: tuple[float, float, float, float], lat: float) -> None:
    """Mark invalid the cells of `outer` that lie wholly inside the (west, south, east, north) box."""
    w, s, e, n = box
    x, y = outer.cell_centers()
    clon, clat = transformer(outer.crs, GEODETIC_CRS.to_2d()).transform(x, y)
    clon = np.where(clon < w, clon + 360.0, clon)  # boxes across the antimeridian have east > 180
    deg_lat = 0.5 * max(outer.resolution) if outer.crs.is_geographic else 0.5 * max(outer.resolution) / 111_000
    deg_lon = deg_lat / max(math.cos(math.radians(lat)), 1e-6) if not outer.crs.is_geographic else \
        0.5 * outer.resolution[0]
    covered = (clon - deg_lon >= w) & (clon + deg_lon <= e) & (clat - deg_lat >= s) & (clat + deg_lat <= n)
    outer.valid = outer.valid & ~covered


def _fade_in(inner: GeoRaster, outer: GeoRaster, band_m: float, cell_m: float) -> None:
    """Blend `inner`'s colours and heights towards `outer`'s over a band `band_m` wide along its border."""
    rows_n, cols_n = inner.shape
    edge_x = np.minimum(np.arange(cols_n) + 0.5, cols_n - np.arange(cols_n) - 0.5) * cell_m
    edge_y = np.minimum(np.arange(rows_n) + 0.5, rows_n - np.arange(rows_n) - 0.5) * cell_m
    t = np.clip(np.minimum(edge_y[:, None], edge_x[None, :]) / max(band_m, 1e-9), 0.0, 1.0)
    weight = t * t  # eases in: the detail grows slowly from the border
    rows, cols = np.nonzero(weight < 1.0)
    if not len(rows):
        return
    col, row = _outer_coords(inner, outer, rows, cols)
    rgb, height, found = _bilinear(outer, col - 0.5, row - 0.5)
    w = np.where(found, weight[rows, cols], 1.0)
    inner.rgb[rows, cols] = (w[:, None] * inner.rgb[rows, cols] + (1.0 - w[:, None]) * rgb).astype(inner.rgb.dtype)
    inner.height[rows, cols] = (w * inner.height[rows, cols] + (1.0 - w) * height).astype(inner.height.dtype)


def _outer_coords(inner: GeoRaster, outer: GeoRaster, rows: np.ndarray, cols: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (col, row) in `outer`'s grid of the centres of `inner`'s cells (rows, cols)."""
    t_in = inner.transform
    x = t_in.a * (cols + 0.5) + t_in.b * (rows + 0.5) + t_in.c
    y = t_in.d * (cols + 0.5) + t_in.e * (rows + 0.5) + t_in.f
    if inner.crs != outer.crs:
        x, y = transformer(inner.crs, outer.crs).transform(x, y)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if outer.crs.is_geographic:  # boxes across the antimeridian may write longitudes above 180
        left, _, right, _ = outer.bounds()
        x = np.where(x < left, x + 360.0, np.where(x > right, x - 360.0, x))
    col, row = ~outer.transform @ (x, y)
    return np.asarray(col, np.float64), np.asarray(row, np.float64)


def _match_average(inner: GeoRaster, outer: GeoRaster, sigma_cells: float = GAIN_SIGMA_CELLS) -> None:
    """Scale `inner`'s colours so that, averaged over `outer`'s cells, they are `outer`'s colours.

    Per outer cell, the gain is outer / (mean of the inner cells in it), per channel; its logarithm
    is smoothed over `sigma_cells` outer cells (weighted by the inner cells each holds), clipped to a
    factor of 2, and interpolated bilinearly at the inner cells.
    """
    from scipy.ndimage import gaussian_filter

    rows, cols = np.nonzero(inner.valid)
    if not len(rows):
        return
    col, row = _outer_coords(inner, outer, rows, cols)
    rows_n, cols_n = outer.shape
    oc, orow = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    keep = (oc >= 0) & (oc < cols_n) & (orow >= 0) & (orow < rows_n)
    flat = orow[keep] * cols_n + oc[keep]
    count = np.bincount(flat, minlength=rows_n * cols_n).astype(np.float64)
    own = inner.rgb[rows[keep], cols[keep]].astype(np.float64)
    eps = 0.02
    weight = count * outer.valid.reshape(-1)
    log_gain = np.zeros((rows_n * cols_n, 3))
    for c in range(3):
        mean = np.bincount(flat, own[:, c], rows_n * cols_n) / np.maximum(count, 1.0)
        log_gain[:, c] = np.log((outer.rgb[..., c].reshape(-1) + eps) / (mean + eps))
    log_gain = np.where(weight[:, None] > 0, log_gain, 0.0)
    w_grid = weight.reshape(rows_n, cols_n)
    norm = gaussian_filter(w_grid, sigma_cells, mode="constant")
    smooth = np.stack([gaussian_filter((log_gain[:, c] * weight).reshape(rows_n, cols_n), sigma_cells,
                                       mode="constant") for c in range(3)], -1)
    smooth = np.clip(smooth / np.maximum(norm, 1e-9)[..., None], -math.log(2.0), math.log(2.0))
    smooth = np.where((norm > 1e-6)[..., None], smooth, 0.0)
    c0, r0 = np.floor(col - 0.5).astype(np.int64), np.floor(row - 0.5).astype(np.int64)
    fc, fr = col - 0.5 - c0, row - 0.5 - r0
    gain = np.zeros((len(rows), 3))
    for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        gain += wgt[:, None] * smooth[np.clip(r0 + dr, 0, rows_n - 1), np.clip(c0 + dc, 0, cols_n - 1)]
    inner.rgb[rows, cols] = np.clip(inner.rgb[rows, cols] * np.exp(gain), 0.0, 1.0).astype(inner.rgb.dtype)


def _bilinear(raster: GeoRaster, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colours (N, 3) and heights (N,) of `raster` at fractional cell-centre coordinates, from its valid
    cells only, and whether any valid cell was near (where none is, the values are 0).
    """
    rows_n, cols_n = raster.shape
    c0, r0 = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    fc, fr = col - c0, row - r0
    rgb = np.zeros((len(col), 3))
    height = np.zeros(len(col))
    total = np.zeros(len(col))
    for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = np.clip(r0 + dr, 0, rows_n - 1), np.clip(c0 + dc, 0, cols_n - 1)
        wgt = wgt * raster.valid[rr, cc]
        rgb += wgt[:, None] * raster.rgb[rr, cc]
        height += wgt * raster.height[rr, cc]
        total += wgt
    found = total > 1e-6
    safe = np.where(found, total, 1.0)
    return rgb / safe[:, None], height / safe, found


def raster_ground(*rasters: GeoRaster) -> GroundFn:
    """Ground height at lon/lat from the first of `rasters` (finest first) with a valid cell there.

    Args:
        *rasters: the rasters to look in, finest first.

    Returns:
        A function `ground(lon, lat) -> heights` over arrays of degrees: the nearest cell's height
        in the first raster with a valid cell there; off every raster, the last one's median height.
    """
    fallback = float(np.nanmedian(rasters[-1].height[rasters[-1].valid]))

    def ground(lon, lat):
        lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
        out = np.full(np.shape(lon), np.nan)
        for raster in rasters:
            todo = np.isnan(out)
            if not todo.any():
                break
            x, y = transformer(GEODETIC_CRS.to_2d(), raster.crs).transform(lon[todo], lat[todo])
            col, row = ~raster.transform @ (np.asarray(x), np.asarray(y))
            col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
            rows_n, cols_n = raster.shape
            inside = (col >= 0) & (col < cols_n) & (row >= 0) & (row < rows_n)
            found = np.full(col.shape, np.nan)
            ok_rows, ok_cols = row[inside], col[inside]
            found[inside] = np.where(raster.valid[ok_rows, ok_cols], raster.height[ok_rows, ok_cols], np.nan)
            out[todo] = found
        return np.where(np.isnan(out), fallback, out)

    return ground


def raster_center(raster: GeoRaster) -> tuple[float, float]:
    """(lon, lat) in degrees of the center of `raster`."""
    h, w = raster.shape
    x, y = raster.transform @ (w / 2, h / 2)
    lon, lat = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform(x, y)
    return float(lon), float(lat)


@dataclass(frozen=True)
class BorderContrast:
    """How visible a level's border is in one frame (colour differences in 0-255 units, mean over RGB).

    `border`: mean difference between pixels `gap` apart straddling the border; `neighbours`: mean
    difference between pixels `gap` apart (horizontally and vertically) everywhere else in the frame;
    `parallel`: the same across squares 0.8 and 1.25 times the border's size around its centre
    (neighbouring pixels along lines like the border, elsewhere in the frame); `samples`: border
    points measured; `length_px`: length of the border in the frame.
    """

    border: float
    neighbours: float
    parallel: float
    samples: int
    length_px: float


def border_contrast(rgb: np.ndarray, camera, bbox: tuple[float, float, float, float], ground: GroundFn,
                    gap: int = 3, steps: int = 2000) -> BorderContrast | None:
    """Measure the edge a level's extent `bbox` leaves in a rendered frame.

    The border of `bbox` (on the ground, heights from `ground`) is projected with `camera`; at each
    border point in the frame, the pixels `gap / 2` to either side along the projected border's
    normal are compared. The same difference between pixels `gap` apart is averaged over the rest
    of the frame (pixels within `2 * gap` of the border left out), and across two squares like the
    border, 0.8 and 1.25 times its size. A border no more different than neighbouring pixels
    elsewhere does not show as an edge. `gap` (a few pixels) makes the measure blind to where
    exactly within a pixel the border falls.

    Args:
        rgb: the frame (H, W, 3), floats in [0, 1] or uint8.
        camera: the frame's camera.
        bbox: (west, south, east, north) of the level, degrees (as `level_bbox`).
        ground: ground height (m) at lon/lat arrays, e.g. `raster_ground(*rasters[::-1])`.
        gap: pixels between the two pixels compared.
        steps: points sampled along each side of the border.

    Returns:
        The contrast, or None when fewer than 16 border points fall in the frame.
    """
    from PIL import Image, ImageDraw
    from scipy.ndimage import distance_transform_edt

    img = np.asarray(rgb, np.float64) * (255.0 if np.asarray(rgb).dtype.kind == "f" else 1.0)
    h, w = img.shape[:2]
    diffs, u, v, front, inside = _across(img, camera, bbox, ground, gap, steps)
    if inside.sum() < 16:
        return None
    west, south, east, north = bbox
    cx, cy, hx, hy = (west + east) / 2, (south + north) / 2, (east - west) / 2, (north - south) / 2
    parallel = np.concatenate([_across(img, camera, (cx - f * hx, cy - f * hy, cx + f * hx, cy + f * hy), ground,
                                       gap, steps)[0] for f in (0.8, 1.25)])
    mask = Image.new("1", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    pts = np.stack([u, v], axis=1)
    for side in range(4):
        part = slice(side * steps, (side + 1) * steps)
        seg = pts[part][front[part]]
        seg = seg[np.all(np.abs(seg) < 1e6, axis=1)]
        if len(seg) > 1:
            draw.line([tuple(p) for p in seg.tolist()], fill=1, width=1)
    far = distance_transform_edt(~np.asarray(mask, bool)) > 2 * gap
    dx = np.abs(img[:, gap:] - img[:, :-gap]).mean(axis=2)[far[:, gap:] & far[:, :-gap]]
    dy = np.abs(img[gap:] - img[:-gap]).mean(axis=2)[far[gap:] & far[:-gap]]
    seen = np.hypot(np.diff(u[inside]), np.diff(v[inside]))
    return BorderContrast(float(diffs.mean()), float(np.concatenate([dx, dy]).mean()),
                          float(parallel.mean()) if len(parallel) else float("nan"), int(inside.sum()),
                          float(seen[seen < 50].sum()))


def _across(img: np.ndarray, camera, bbox, ground: GroundFn, gap: int, steps: int):
    """Differences (N,) between pixels `gap` apart straddling the projected border of `bbox`, and the
    border's pixel coordinates, which points are in front of the camera and which were measured.
    """
    from ..geometry.frames import geodetic_to_ecef

    h, w = img.shape[:2]
    west, south, east, north = bbox
    s = np.linspace(0.0, 1.0, steps)
    lon = np.concatenate([west + (east - west) * s, np.full(steps, east), east - (east - west) * s,
                          np.full(steps, west)])
    lat = np.concatenate([np.full(steps, south), south + (north - south) * s, np.full(steps, north),
                          north - (north - south) * s])
    # A point a little inside the box gives each border point its inward direction on screen.
    inset = 1e-4
    lon_in = np.clip(lon, west + inset * (east - west), east - inset * (east - west))
    lat_in = np.clip(lat, south + inset * (north - south), north - inset * (north - south))
    heights = ground(lon, lat)

    def project(lo, la):
        ecef = geodetic_to_ecef(lo, la, heights)
        cam = (ecef - camera.position) @ camera.rotation
        # Behind the camera, or beyond the horizon (the camera below the point's tangent plane): unseen.
        z = np.where(np.einsum("ij,ij->i", camera.position - ecef, ecef) > 0, cam[:, 2], -1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return camera.fx * cam[:, 0] / z + camera.cx, camera.fy * cam[:, 1] / z + camera.cy, z

    u, v, z = project(lon, lat)
    ui, vi, zi = project(lon_in, lat_in)
    front = (z > camera.near) & (zi > camera.near)
    nu, nv = ui - u, vi - v
    norm = np.hypot(nu, nv)
    ok = front & (norm > 1e-9)
    nu, nv = np.where(ok, nu / np.where(ok, norm, 1.0), 0.0), np.where(ok, nv / np.where(ok, norm, 1.0), 0.0)
    half = gap / 2.0
    pin_u, pin_v, pout_u, pout_v = u + half * nu, v + half * nv, u - half * nu, v - half * nv
    inside = ok & (np.minimum(pin_u, pout_u) >= 0) & (np.maximum(pin_u, pout_u) <= w - 1) \
        & (np.minimum(pin_v, pout_v) >= 0) & (np.maximum(pin_v, pout_v) <= h - 1)
    a = img[np.rint(pin_v[inside]).astype(int), np.rint(pin_u[inside]).astype(int)]
    b = img[np.rint(pout_v[inside]).astype(int), np.rint(pout_u[inside]).astype(int)]
    return np.abs(a - b).mean(axis=1), u, v, front, inside

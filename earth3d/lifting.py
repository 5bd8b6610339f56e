"""Lift a GeoRaster into geo-referenced Gaussians: one flat splat per valid cell, plus walls.

Every cell center is placed on the terrain in ECEF (float64 through pyproj),
and the surface tangents come from differences of neighbouring ECEF
positions, so projected and geographic CRSs are handled alike and cell sizes
are true metres. A splat's covariance spans its cell's tangent parallelogram,
`sigma` cell spacings along each tangent, and is `thickness` cell spacings
thin along the normal. Where neighbouring heights jump by more than
`wall_threshold` cell spacings (cliffs, building walls in a DSM), vertical
splats stacked about one cell apart fill the jump, so oblique views see a wall
instead of a hole. Optionally (`backing`) a second, sunk layer lets the
surface splats be sharp without leaving gaps.

Semantics: when the raster has `classes` (and `instances`), each surface splat takes its
cell's class and instance; a wall takes the instance of the upper cell it hangs from and
its class, except that a roof's wall is class `wall` (earth3d.classes.WALL): a building's
walls belong to its instance but are not roof. Walls below other classes (a cliff under
forest, the side of a crown) keep the upper cell's class. A roof's walls are painted as a facade
(`facades`, on by default): a material chosen from the building's instance and rows of windows
(`earth3d.facades`); a car's walls as its sides, tyres, body and windows (`earth3d.car_sides`);
other walls take the upper cell's colour times `wall_shade`.

Colours are solved (`solve_colours`, on by default; see `colour_solve`): a render
is linear in the splat colours, so the colours are those whose render straight
down at the raster's own resolution, with the default renderer's low-pass and
opacity compensation, reproduces the orthophoto, instead of a copy of each cell's
pixel (which that render blurs).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

from .car_sides import car_bodies, car_side_colours
from .classes import CAR, ROOF, TREE, WALL
from .colour_solve import solve_nadir_colours
from .facades import building_axes, facade_colours, wall_positions
from .gaussians import Gaussians
from .geometry import crs_to_ecef, rotmat_to_quat
from .raster import GeoRaster

M_PER_DEG = 111_195.0  # metres per degree of latitude (mean Earth radius)
SHARP_SIGMA = 0.45  # in-plane sigma (cell spacings) of the sharp surface splats of `backing`
BACKING_DEPTH = 0.5  # how far (cell spacings) the backing splats sit below the surface


def lift(
    raster: GeoRaster,
    *,
    opacity: float = 0.98,
    sigma: float = 0.8,
    thickness: float = 0.03,
    walls: bool = True,
    wall_threshold: float = 1.0,
    wall_shade: float = 0.8,
    max_wall_layers: int = 64,
    facades: bool = True,
    backing: bool = False,
    solve_colours: bool = True,
) -> Gaussians:
    """Gaussians for every valid cell of `raster` (masked cells give none), with walls at height jumps.

    Args:
        raster: The heights and colours to lift (`earth3d.read_raster`, a synthesized world).
        opacity: Splat opacity in (0, 1]; 0.98 rather than 1 because gsplat-style
            compositing stops a pixel *before* a splat that would drive its transmittance
            under 1e-4, so near-opaque splats can leave it at alpha ~0.98.
        sigma: In-plane standard deviation as a fraction of the cell spacing along
            each tangent. Gaussians trade sharpness for coverage: 0.8 keeps alpha >= 0.99
            between cell centers (at a lattice corner four splats each reach
            exp(-0.25 / sigma^2)), while ~0.45 reproduces the orthophoto pixel for pixel
            at one cell per pixel but lets the background show between cells in close
            views (`backing` gets both).
        thickness: Standard deviation along the normal, as a fraction of the mean cell spacing.
        walls: Add vertical splats where the height between 4-neighbours jumps by more than
            `wall_threshold` cell spacings, coloured as the upper cell times `wall_shade`, at most
            `max_wall_layers` per jump (taller walls get taller splats).
        wall_threshold: The height jump, in cell spacings, that gets a wall.
        wall_shade: Factor on the upper cell's colour for its wall.
        max_wall_layers: Most splat layers stacked in one wall.
        facades: Paint the walls under roofs (cells of class `roof`, with their instances) as
            facades with rows of windows (`earth3d.facades`), and those of cars (class `car`) as
            their sides (`earth3d.car_sides`), instead of the upper cell's colour.
        backing: Two splats per cell instead of one, to have both: a sharp splat
            (sigma SHARP_SIGMA) on the surface carries the orthophoto pixel for pixel, and
            the `sigma` splat, sunk BACKING_DEPTH cell spacings below it along the normal,
            sorts behind its neighbours' sharp splats and fills the gaps between them.
            Twice the splats; worth it for close views of a fine orthophoto.
        solve_colours: Colours solved so that the nadir render at one pixel per cell
            (gsplat's antialiased mode and 0.3 px^2 low-pass, as `default_renderer()`)
            reproduces `raster.rgb` (bounded least squares, tiled; see `colour_solve`);
            False copies each cell's pixel into its splat. With `backing` the colours are
            copied (the sharp layer already carries the pixels).

    Returns:
        The splats (SH degree 0) around an ECEF origin at the raster's center.

    Raises:
        ValueError: An option is out of range, or the raster is smaller than 2 x 2 cells or has
            no valid cell.

    Example:
        >>> r = earth3d.read_raster("dem.tif", "ortho.tif")  # doctest: +SKIP
        >>> g = earth3d.lift(r)  # one splat per valid cell, colours solved  # doctest: +SKIP
    """
    if not 0.0 < opacity <= 1.0:
        raise ValueError(f"opacity={opacity} must be in (0, 1]")
    for name, value in (("sigma", sigma), ("thickness", thickness), ("wall_threshold", wall_threshold)):
        if not value > 0.0:
            raise ValueError(f"{name}={value} must be positive")
    if backing and sigma <= SHARP_SIGMA:
        raise ValueError(f"sigma={sigma} with backing=True must exceed the sharp splats' {SHARP_SIGMA}")
    h, w = raster.shape
    if h < 2 or w < 2:
        raise ValueError(f"{raster.source or 'raster'}: {w} x {h} cells; lifting needs at least 2 x 2")
    valid = raster.valid & np.isfinite(raster.height)
    if not valid.any():
        raise ValueError(f"{raster.source or 'raster'}: no valid cells to lift")

    heights = _fill_invalid(raster.height.astype(np.float64), valid)
    x, y = raster.cell_centers()
    points = crs_to_ecef(raster.crs, x, y, heights)  # (H, W, 3) float64
    center = crs_to_ecef(raster.crs, *(raster.transform @ (w / 2, h / 2)), float(np.median(heights[valid])))
    origin = center.reshape(3)

    t_u = _tangent(points, heights, axis=1, threshold=wall_threshold)[valid]
    t_v = _tangent(points, heights, axis=0, threshold=wall_threshold)[valid]
    frame, scales = _surface_frames(t_u, t_v, points[valid], sigma, thickness)
    quats = rotmat_to_quat(torch.from_numpy(frame)).numpy()
    opacities = np.full(int(valid.sum()), opacity)
    means = points[valid] - origin
    parts = []
    colours = raster.rgb[valid]
    labels, instances = _cell_semantics(raster)
    sem: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
    if labels is not None and instances is not None:
        sem = (labels[valid], instances[valid])
    if backing:
        sharp = scales * np.array([SHARP_SIGMA / sigma, SHARP_SIGMA / sigma, 1.0])
        parts.append(Gaussians.from_rgb(origin, means, quats, sharp, opacities, colours, *sem))
        means = means - (BACKING_DEPTH * scales[:, 2] / thickness)[:, None] * frame[:, :, 2]
    elif solve_colours:
        colours = _solved_colours(raster, points, valid, origin, sigma, opacity)
    parts.append(Gaussians.from_rgb(origin, means, quats, scales, opacities, colours, *sem))
    if not walls:
        return Gaussians.concat(parts)
    painter, cars = None, None
    if facades and labels is not None and instances is not None and (labels == ROOF).any():
        frame_m = _metric_frame(raster)
        painter = (frame_m, building_axes(labels == ROOF, instances, (x - frame_m[0]) * frame_m[2],
                                          (y - frame_m[1]) * frame_m[3], raster.transform.a * frame_m[2],
                                          raster.transform.e * frame_m[3]),
                   _ground_bases(labels == ROOF, labels, instances, heights))
    if facades and labels is not None and instances is not None and (labels == CAR).any():
        known = (labels == CAR) & (instances != 0)  # a car without an instance is painted from its own cells
        cars = (_ground_bases(known, labels, instances, heights), car_bodies(known, instances, heights, raster.rgb))
    for axis in (0, 1):
        wall = _walls(raster, points, heights, valid, axis, origin, opacity, sigma, thickness,
                      wall_threshold, wall_shade, max_wall_layers, painter, cars)
        if wall is not None:
            parts.append(wall)
    return Gaussians.concat(parts)


def _cell_semantics(raster: GeoRaster) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(classes uint8, instances int64) per cell of the raster, or (None, None) when it has no classes."""
    if raster.classes is None and raster.instances is None:
        return None, None
    shape = raster.shape
    labels = raster.classes if raster.classes is not None else np.zeros(shape, np.uint8)
    instances = raster.instances if raster.instances is not None else np.zeros(shape, np.int64)
    return labels, instances


def _solved_colours(raster: GeoRaster, points: np.ndarray, valid: np.ndarray, origin: np.ndarray,
                    sigma: float, opacity: float) -> np.ndarray:
    """Per valid cell, the colour solved for the nadir render (compositing ordered by height
    along the vertical at `origin`, as a camera straight above sorts it).
    """
    up = origin / np.linalg.norm(origin)
    elevation = (points - origin) @ up
    rgb = np.clip(np.nan_to_num(raster.rgb.astype(np.float32)), 0.0, 1.0)
    return solve_nadir_colours(rgb, valid, elevation, sigma=sigma, opacity=opacity)[valid]


def _fill_invalid(heights: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Heights with masked cells set to their nearest valid neighbour's (keeps gradients sane at edges)."""
    if valid.all():
        return heights
    _, (rows, cols) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return heights[rows, cols]


def _neighbour_steps(points: np.ndarray, heights: np.ndarray, axis: int):
    """Between neighbours along a grid axis: ECEF step (3,), height jump and horizontal distance (metres)."""
    step = np.diff(points, axis=axis)
    dh = np.diff(heights, axis=axis)
    run = np.linalg.norm(step, axis=-1)
    return step, dh, np.sqrt(np.maximum(run**2 - dh**2, 0.0))


def _tangent(points: np.ndarray, heights: np.ndarray, axis: int, threshold: float) -> np.ndarray:
    """Surface tangent per cell along a grid axis (metres per cell): central differences,
    one-sided where one side is a height jump, level where both are (so a roof edge stays
    flat; walls fill the jump).
    """
    step, dh, flat = _neighbour_steps(points, heights, axis)
    jump = np.abs(dh) > threshold * flat
    pad = [(1, 0) if a == axis else (0, 0) for a in range(3)]
    before = np.pad(step, pad, mode="edge")  # difference to the previous cell
    jump_before = np.pad(jump, pad[:2], mode="constant", constant_values=True)
    pad = [(0, 1) if a == axis else (0, 0) for a in range(3)]
    after = np.pad(step, pad, mode="edge")  # difference to the next cell
    jump_after = np.pad(jump, pad[:2], mode="constant", constant_values=True)
    tangent = np.where((jump_after & ~jump_before)[..., None], before, 0.5 * (before + after))
    tangent = np.where((jump_before & ~jump_after)[..., None], after, tangent)
    # Jumps on both sides (a cell between a roof and the street): the mean step holds the
    # jump, so keep only its horizontal part; walls fill the jump instead.
    up = _up(points)
    level = tangent - np.sum(tangent * up, axis=-1, keepdims=True) * up
    return np.where((jump_before & jump_after)[..., None], level, tangent)


def _surface_frames(t_u, t_v, points, sigma: float, thickness: float):
    """Rotations (N, 3, 3) and scales (N, 3) of splats whose in-plane covariance is
    sigma^2 (t_u t_u^T + t_v t_v^T) and whose normal standard deviation is thickness * spacing.

    The tangents need not be orthogonal (sloped or geographic grids): the 2x2 in-plane
    covariance, written in the orthonormal basis (e1 along t_u, e2 = n x e1), is
    diagonalised in closed form.
    """
    normal = np.cross(t_u, t_v)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    normal *= np.sign(np.sum(normal * _up(points), axis=-1, keepdims=True))  # away from the ground
    len_u = np.linalg.norm(t_u, axis=-1)
    e1 = t_u / len_u[:, None]
    e2 = np.cross(normal, e1)
    b1, b2 = np.sum(t_v * e1, axis=-1), np.sum(t_v * e2, axis=-1)
    m11, m12, m22 = len_u**2 + b1**2, b1 * b2, b2**2
    theta = 0.5 * np.arctan2(2.0 * m12, m11 - m22)
    half_sum, half_diff = 0.5 * (m11 + m22), np.hypot(0.5 * (m11 - m22), m12)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    frame = np.stack([c * e1 + s * e2, c * e2 - s * e1, normal], axis=-1)  # right-handed: e1 x e2 = n
    spacing = 0.5 * (len_u + np.linalg.norm(t_v, axis=-1))
    scales = np.stack([sigma * np.sqrt(half_sum + half_diff),
                       sigma * np.sqrt(np.maximum(half_sum - half_diff, 0.0)),
                       thickness * spacing], axis=-1)
    return frame, scales


def _up(points: np.ndarray) -> np.ndarray:
    """Approximate local vertical (the geocentric direction, within 0.2 degrees of the normal)."""
    return points / np.linalg.norm(points, axis=-1, keepdims=True)


def _walls(raster: GeoRaster, points, heights, valid, axis: int, origin, opacity, sigma, thickness,
           threshold, shade, max_layers, painter, cars) -> Gaussians | None:
    """Vertical splats between 4-neighbours along `axis` whose heights jump by more than `threshold`
    cells; under roofs, painted as facades (`earth3d.facades`) when a `painter` (the raster's metric
    frame, `building_axes` and the buildings' feet) is given; under cars as their sides when `cars`
    (their feet and body colours) is.
    """
    _, dh, flat = _neighbour_steps(points, heights, axis)
    head = tuple(slice(None, -1) if a == axis else slice(None) for a in range(2))
    tail = tuple(slice(1, None) if a == axis else slice(None) for a in range(2))
    pairs = valid[head] & valid[tail] & (np.abs(dh) > threshold * flat)
    if not pairs.any():
        return None

    rows, cols = np.nonzero(pairs)
    dh, flat = dh[pairs], flat[pairs]
    upper_is_next = dh > 0
    next_rows, next_cols = rows + (axis == 0), cols + (axis == 1)
    hi_rows, hi_cols = np.where(upper_is_next, next_rows, rows), np.where(upper_is_next, next_cols, cols)
    lo_rows, lo_cols = np.where(upper_is_next, rows, next_rows), np.where(upper_is_next, cols, next_cols)
    colour = raster.rgb[hi_rows, hi_cols] * shade
    rise = np.abs(dh)

    # The wall stands on the cell boundary, from the lower height up to the upper one.
    # affine's stub types `@` for a pair of floats only; it maps arrays of coordinates just as well
    mx, my = raster.transform @ (cols + 0.5 + 0.5 * (axis == 1), rows + 0.5 + 0.5 * (axis == 0))  # type: ignore[operator]
    h_lo = heights[lo_rows, lo_cols]
    bottom = crs_to_ecef(raster.crs, mx, my, h_lo)
    top = crs_to_ecef(raster.crs, mx, my, h_lo + rise)
    vertical = (top - bottom) / rise[:, None]
    toward_low = points[lo_rows, lo_cols] - points[hi_rows, hi_cols]
    toward_low -= np.sum(toward_low * vertical, axis=-1, keepdims=True) * vertical
    toward_low /= np.linalg.norm(toward_low, axis=-1, keepdims=True)
    along = np.cross(vertical, toward_low)  # (along, vertical, toward_low) is right-handed

    # Width along the wall: the horizontal cell spacing along the other grid axis at the upper cell.
    _, _, across = _neighbour_steps(points, heights, 1 - axis)
    across = np.pad(across, [(0, 1) if a == 1 - axis else (0, 0) for a in range(2)], mode="edge")
    width = across[hi_rows, hi_cols]

    layers = np.clip(np.ceil(rise / np.maximum(flat, 1e-9)), 1, max_layers).astype(np.int64)
    pair = np.repeat(np.arange(len(layers)), layers)
    k = np.arange(len(pair)) - np.repeat(np.cumsum(layers) - layers, layers)
    means = bottom[pair] + ((k + 0.5) / layers[pair])[:, None] * (top - bottom)[pair]
    frame = np.stack([along, vertical, toward_low], axis=-1)[pair]
    scales = np.stack([sigma * width, sigma * rise / layers, thickness * flat], axis=-1)[pair]
    quats = rotmat_to_quat(torch.from_numpy(frame))
    colour = colour[pair]
    labels, instances = _cell_semantics(raster)
    sem: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
    if labels is not None and instances is not None:
        upper = labels[hi_rows, hi_cols]
        building = instances[hi_rows, hi_cols]
        sem = (np.where(upper == ROOF, WALL, upper)[pair], building[pair])
        if painter is not None:
            (x_ref, y_ref, kx, ky), axes, (base_ids, bases) = painter
            wx, wy = np.asarray(mx), np.asarray(my)
            place, run = wall_positions(axes, building, hi_rows, hi_cols, (wx - x_ref) * kx, (wy - y_ref) * ky, axis,
                                        width, _along_m(raster.crs, wx, wy, axis))
            roof = (upper == ROOF)[pair]
            at = pair[roof]  # the wall piece of each splat under a roof
            # storeys count from the building's foot, not the piece's: a piece may stand on the
            # building's own edge cell (a roof cell partly covered, so lower than the roof)
            foot = _foot(base_ids, bases, building[at], h_lo[at])
            z0 = h_lo[at] - foot + (k[roof] / layers[at]) * rise[at]
            lower = (lo_rows[at], lo_cols[at])
            grounded = ~np.isin(labels[lower], (ROOF, TREE)) | (instances[lower] == building[at])  # not on another
            painted = facade_colours(building[at], place[at], run[at], z0, z0 + rise[at] / layers[at],
                                     h_lo[at] + rise[at] - foot, grounded)
            colour[roof] = painted * shade
        if cars is not None:
            (base_ids, bases), (body_ids, bodies) = cars
            on_car = (upper == CAR)[pair]
            at = pair[on_car]  # as for roofs: the bands count from the car's foot
            z0 = h_lo[at] - _foot(base_ids, bases, building[at], h_lo[at]) + (k[on_car] / layers[at]) * rise[at]
            j = np.clip(np.searchsorted(body_ids, building[at]), 0, max(len(body_ids) - 1, 0))
            own = raster.rgb[hi_rows[at], hi_cols[at]]
            body = np.where((body_ids[j] == building[at])[:, None], bodies[j], own) if len(body_ids) else own
            colour[on_car] = car_side_colours(z0, z0 + rise[at] / layers[at], body) * shade
    return Gaussians.from_rgb(origin, means - origin, quats.numpy(), scales,
                              np.full(len(pair), opacity), colour, *sem)


def _foot(ids: np.ndarray, bases: np.ndarray, instance: np.ndarray, h_lo: np.ndarray) -> np.ndarray:
    """Height of the ground each wall piece's building or car stands on: its base (`_ground_bases`)
    where lower than the piece's own lower cell, else that cell's height.
    """
    if not len(ids):
        return h_lo
    j = np.clip(np.searchsorted(ids, instance), 0, len(ids) - 1)
    return np.where(ids[j] == instance, np.minimum(bases[j], h_lo), h_lo)


def _ground_bases(own: np.ndarray, labels: np.ndarray, instances: np.ndarray,
                  heights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, heights): per instance of the cells `own` (roofs, cars), the lowest height of the ground
    (neither roof, crown nor car) next to its cells; instances with no ground beside them are left out.
    """
    ground = ~np.isin(labels, (ROOF, TREE, CAR))
    ids, found = [], []
    for axis in (0, 1):
        for step in (1, -1):
            nb = np.roll(heights, step, axis=axis), np.roll(ground, step, axis=axis)
            edge = np.ones_like(own)  # no neighbour across the raster's border
            edge[(slice(None),) * axis + ((0 if step == 1 else -1),)] = False
            keep = own & nb[1] & edge
            ids.append(instances[keep])
            found.append(nb[0][keep])
    all_ids, all_h = np.concatenate(ids), np.concatenate(found)
    if not len(all_ids):
        return np.zeros(0, np.int64), np.zeros(0)
    uniq, idx = np.unique(all_ids, return_inverse=True)
    base = np.full(len(uniq), np.inf)
    np.minimum.at(base, idx, all_h)
    return uniq, base


def _metric_frame(raster: GeoRaster) -> tuple[float, float, float, float]:
    """A local metric frame of the raster: (x0, y0, kx, ky), metres east = (x - x0) kx and north = (y - y0) ky
    for CRS coordinates (x, y), about its centre.
    """
    h, w = raster.shape
    x0, y0 = raster.transform @ (w / 2, h / 2)
    if raster.crs.is_geographic:
        return x0, y0, M_PER_DEG * math.cos(math.radians(y0)), M_PER_DEG
    unit = raster.crs.axis_info[0].unit_conversion_factor
    return x0, y0, unit, unit


def _along_m(crs, x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
    """Metres along walls standing at CRS points (x, y) between neighbours along grid `axis`: a
    coordinate fixed to the ground (walls between rows run along x, walls between columns along y),
    the same in every raster of the place whatever its resolution or extent.
    """
    if crs.is_geographic:
        return y * M_PER_DEG if axis == 1 else x * M_PER_DEG * np.cos(np.radians(y))
    return (y if axis == 1 else x) * crs.axis_info[0].unit_conversion_factor

"""What the atmosphere does to one frame, sampled coarsely: a sky map and an aerial-perspective volume.

For a camera and a sun this evaluates, with the precomputed tables,

- the *background* of a grid of view rays (every `sky_stride` pixels): sky radiance, the sun-lit
  fill ground where a ray meets the planet and no splat covers it, or black space;
- an *aerial-perspective volume* over a coarser grid of rays and `slices` distances (Hillaire
  2020's froxels): for a surface at that distance the factor its colour is multiplied by (sun and
  sky light on it relative to the reference daylight, times the transmittance to the camera) and
  the radiance scattered into the ray in front of it.

Both vary smoothly across the image (the volume is interpolated in screen x, y and log distance),
so the per-pixel pass (`composite.py`) is a few lookups. Exposure is folded in here: radiances are
multiplied by pi / E_ref, E_ref the irradiance of a horizontal surface at sea level under a sun
60 degrees high (per channel: the image is white-balanced to that daylight), so a white
surface in that light reads 1 and the orthophoto colours of splats are kept as they are.

On the CPU the maps are assembled in numpy around numba kernels (`kernels.py`: one pass per
background ray, one per volume ray over its slices), with no torch operation per frame; fill
ground under pixels at least 99 % covered is interpolated from every fourth grid point instead of
shaded (it shows there at most 1 %). On other devices the same maths runs in torch.

Geometry: ECEF points are mapped to the atmosphere's sphere by scaling x, y by R / a and z by
R / b (a, b the WGS84 semi-axes, R the model's planet radius): the ellipsoid lands exactly on the
sphere, so the fill ground and the limb sit where the splats' planet is; lengths change by under
0.4 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..geometry import Camera
from ..geometry.frames import WGS84_A, WGS84_B
from . import kernels
from .model import Atmosphere, _vec
from .tables import Tables

REFERENCE_SUN_ELEVATION_DEG = 60.0
Array = Any  # a torch tensor, or a numpy array where the frame is assembled in numpy


@dataclass
class FrameAtmosphere:
    """The coarse maps of one frame, on the tables' device, float32.

    background: (Hs, Ws, 3) display-linear radiance of the background at grid points that sit on
    pixel centers (0.5 + j * (W - 1) / (Ws - 1)); volume: (Gy, Gx, K, 6), the surface factor (3)
    then the in-scattered light (3), at distances t_k = t0 * ((1 + t_far / t0) ** (k / (K - 1)) - 1)
    along the ray (ECEF metres); `None` when no pixel is covered.
    """

    background: torch.Tensor
    volume: torch.Tensor | None
    t0: float
    t_far: float
    exposure: torch.Tensor  # (3,) pi / E_ref times the user's exposure
    sun_camera: np.ndarray  # (3,) the sun's direction in the camera frame
    sun_colour: np.ndarray  # (3,) display-linear radiance of the sun's disc seen from the camera
    exact_map: np.ndarray | None = None  # (H, W) int32: row of exact_values for a pixel, -1 for none
    exact_values: torch.Tensor | None = None  # (M, 3) background evaluated at those pixels


def atmosphere_scale(atm: Atmosphere) -> np.ndarray:
    """Per-axis factors from ECEF to the atmosphere's sphere."""
    return np.array([atm.bottom_radius / WGS84_A, atm.bottom_radius / WGS84_A, atm.bottom_radius / WGS84_B])


_E_REF: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}


def reference_irradiance(tabs: Tables) -> torch.Tensor:
    """E_ref (3,): sun and sky irradiance on a horizontal surface at sea level, sun 60 degrees high
    (computed once per table set).
    """
    hit = _E_REF.get(id(tabs.irradiance_table))
    if hit is not None and hit[0] is tabs.irradiance_table:
        return hit[1]
    atm = tabs.atm
    dev = tabs.depth_table.device
    r = torch.tensor([atm.bottom_radius], dtype=torch.float32, device=dev)
    mu_s = torch.tensor([math.sin(math.radians(REFERENCE_SUN_ELEVATION_DEG))], dtype=torch.float32, device=dev)
    value = tabs.irradiance_at(r, mu_s)[0]
    if len(_E_REF) > 8:
        _E_REF.clear()
    _E_REF[id(tabs.irradiance_table)] = (tabs.irradiance_table, value)
    return value


def pixel_rays(camera: Camera, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit ECEF directions (..., 3) through pixel coordinates (x + 0.5 is a pixel center), and |q|,
    the length of the camera-frame ray (x', y', 1) that turns depth into distance.
    """
    q = np.stack(np.broadcast_arrays((px - camera.cx) / camera.fx, (py - camera.cy) / camera.fy, 1.0), axis=-1)
    norm = np.linalg.norm(q, axis=-1)
    return (q / norm[..., None]) @ camera.rotation.T, norm


class _Rays:
    """View rays from the camera in the atmosphere's frame, moved to the top of the atmosphere
    when the camera is above it (Bruneton's GetSkyRadiance).
    """

    def __init__(self, tabs: Tables, camera: Camera, sun: np.ndarray, dirs_ecef: np.ndarray) -> None:
        atm = tabs.atm
        dev = tabs.depth_table.device
        scale = atmosphere_scale(atm)
        c = camera.position * scale
        v = dirs_ecef * scale
        self.stretch = np.linalg.norm(v, axis=-1)  # ECEF metres to atmosphere metres along the ray
        v = v / self.stretch[..., None]
        s = sun * scale
        s = s / np.linalg.norm(s)
        r0 = float(np.linalg.norm(c))
        rmu0 = v @ c
        self.hits = np.ones(rmu0.shape, dtype=bool)
        enter = np.zeros_like(rmu0)
        if r0 > atm.top_radius:
            disc = rmu0 * rmu0 - (r0 * r0 - atm.top_radius ** 2)
            self.hits = (disc >= 0.0) & (rmu0 < 0.0)
            enter = np.where(self.hits, -rmu0 - np.sqrt(np.maximum(disc, 0.0)), 0.0)
        r = np.where(self.hits & (enter > 0), atm.top_radius, r0)
        rmu = rmu0 + enter
        self.enter = enter
        self.r_np = np.broadcast_to(r, rmu.shape).astype(np.float64)
        self.mu_np = np.clip(rmu / r, -1.0, 1.0)
        self.mu_s_np = np.clip((c @ s + enter * (v @ s)) / r, -1.0, 1.0)
        self.nu_np = np.clip(v @ s, -1.0, 1.0)
        self.ground_np = (self.mu_np < 0.0) & (self.r_np ** 2 * (self.mu_np ** 2 - 1.0) + atm.bottom_radius ** 2 >= 0.0)
        self.rmu = rmu
        self._dev = dev

    def _t(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=self._dev)

    # torch copies, made only where the torch lookups need them
    r = property(lambda self: self._t(self.r_np))
    mu = property(lambda self: self._t(self.mu_np))
    mu_s = property(lambda self: self._t(self.mu_s_np))
    nu = property(lambda self: self._t(self.nu_np))
    ground = property(lambda self: torch.as_tensor(self.ground_np, device=self._dev))


_NUMBA = [True]  # numba twins on the CPU; `frame_atmosphere(..., backend="torch")` turns them off


def _numpy_mode(tabs: Tables) -> bool:
    """Whether this frame is assembled in numpy (CPU tables, numba lookups): no torch operation
    then runs on the frame's arrays (each would start its own thread pool).
    """
    return tabs.depth_table.device.type == "cpu" and _NUMBA[0]


def _eval_sky(tabs: Tables, rays: _Rays, sel: np.ndarray) -> Array:
    """Sky radiance (M, 3) of the selected rays: numba on the CPU, torch elsewhere."""
    dev = tabs.depth_table.device
    if dev.type == "cpu" and _NUMBA[0]:
        return kernels.sky_radiance(tabs, rays.r_np[sel], rays.mu_np[sel], rays.mu_s_np[sel], rays.nu_np[sel],
                                    rays.ground_np[sel]).astype(np.float32)
    m = torch.as_tensor(sel, device=dev)
    return tabs.radiance(rays.r[m], rays.mu[m], rays.mu_s[m], rays.nu[m], rays.ground[m])


def _eval_point(tabs: Tables, r, mu, mu_s, nu, d, ground) -> tuple[Array, Array, Array]:
    """(in-scattered radiance, optical depth, irradiance at the point), each (..., 3), for segments
    of length d (numpy arrays of one shape).
    """
    dev = tabs.depth_table.device
    shape = np.shape(d)
    arrays = [np.array(np.broadcast_to(x, shape)).ravel() for x in (r, mu, mu_s, nu, d, ground)]
    if dev.type == "cpu" and _NUMBA[0]:
        out = kernels.to_point(tabs, *arrays).astype(np.float32).reshape(*shape, 9)
        return out[..., :3], out[..., 3:6], out[..., 6:]
    f = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=dev)  # noqa: E731
    ins, tau, r_p, mu_s_p = tabs.radiance_to_point(f(arrays[0]), f(arrays[1]), f(arrays[2]), f(arrays[3]),
                                                   f(arrays[4]), torch.as_tensor(arrays[5], device=dev))
    irr = tabs.irradiance_at(r_p, mu_s_p)
    return ins.reshape(*shape, 3), tau.reshape(*shape, 3), irr.reshape(*shape, 3)


def _lit(irradiance: Array, e_ref: Array, relight: bool) -> Array:
    if relight:
        return irradiance / e_ref
    return np.ones_like(irradiance) if isinstance(irradiance, np.ndarray) else torch.ones_like(irradiance)


def _background(tabs: Tables, camera: Camera, sun: np.ndarray, k: Array, e_ref: Array,
                ground_albedo, ground_height_m: float, px: np.ndarray,
                py: np.ndarray, skip: np.ndarray | None = None) -> tuple[Array, np.ndarray]:
    """Display-linear background radiance (..., 3) through pixel coordinates, and each ray's class.

    Classes: 0 misses the atmosphere, 1 sky, 2 fill ground, 3 sky grazing the planet seen from
    above 50 km. `skip` (numpy mode only): fill-ground rays left unshaded (NaN).
    """
    atm = tabs.atm
    xp = _numpy_mode(tabs)
    r_cam = float(np.linalg.norm(camera.position * atmosphere_scale(atm)))
    if xp:  # one numba pass per ray
        scale = atmosphere_scale(atm)
        s = sun * scale
        rg = (atm.bottom_radius + max(float(ground_height_m), 0.0) * atm.bottom_radius / WGS84_A
              if ground_albedo is not None else -1.0)
        geo = np.array([*(camera.position * scale), *scale, *(s / np.linalg.norm(s)), camera.fx, camera.fy,
                        camera.cx, camera.cy, rg,
                        atm.bottom_radius + 50_000.0 if r_cam > atm.bottom_radius + 50_000.0 else -1.0])
        shade = np.array([*(ground_albedo if ground_albedo is not None else (0.0, 0.0, 0.0)), *k, *(1.0 / e_ref)])
        shape = np.broadcast_shapes(np.shape(px), np.shape(py))
        values, cls = kernels.background_rays(tabs, geo, camera.rotation, np.broadcast_to(px, shape),
                                              np.broadcast_to(py, shape), shade,
                                              None if skip is None else np.broadcast_to(skip, shape))
        return values.reshape(*shape, 3), cls.reshape(shape)
    rays = _Rays(tabs, camera, sun, pixel_rays(camera, px, py)[0])
    dev = tabs.depth_table.device
    hits_g = np.zeros(rays.rmu.shape, dtype=bool)
    d_g = np.zeros(rays.rmu.shape)
    if ground_albedo is not None:
        rg = atm.bottom_radius + max(float(ground_height_m), 0.0) * atm.bottom_radius / WGS84_A
        disc = rays.rmu ** 2 - rays.r_np ** 2 + rg * rg
        hits_g = (disc >= 0.0) & (rays.rmu < 0.0) & (rays.r_np >= rg) & rays.hits
        d_g = -rays.rmu - np.sqrt(np.maximum(disc, 0.0))
    sky_rays = rays.hits & ~hits_g
    background: Array
    sky_mask: Array
    g_mask: Array
    if xp:
        background = np.zeros((*rays.rmu.shape, 3), dtype=np.float32)
        sky_mask, g_mask = sky_rays, hits_g
    else:
        background = torch.zeros(*rays.rmu.shape, 3, dtype=torch.float32, device=dev)
        sky_mask, g_mask = torch.as_tensor(sky_rays, device=dev), torch.as_tensor(hits_g, device=dev)
    if sky_rays.any():  # rays to space: the sky's radiance
        background[sky_mask] = _eval_sky(tabs, rays, sky_rays) * k
    if hits_g.any():  # rays to the fill ground: its lit albedo through the air, plus the air's light
        sel = [x[hits_g] for x in (rays.r_np, rays.mu_np, rays.mu_s_np, rays.nu_np, d_g, rays.ground_np)]
        inscatter, tau, irradiance = _eval_point(tabs, sel[0], sel[1], sel[2], sel[3], sel[4], sel[5])
        if xp:
            albedo = np.asarray(ground_albedo, dtype=np.float32)
            background[g_mask] = albedo * irradiance / e_ref * np.exp(-tau) + inscatter * k
        else:
            albedo_t = torch.tensor(ground_albedo, dtype=torch.float32, device=dev)
            background[g_mask] = albedo_t * irradiance / e_ref * torch.exp(-tau) + inscatter * k
    classes = np.where(hits_g, 2, np.where(rays.hits, 1, 0))
    if r_cam > atm.bottom_radius + 50_000.0:
        mu = np.clip(rays.rmu / rays.r_np, -1.0, 1.0)
        impact = np.where(mu < 0.0, rays.r_np * np.sqrt(1.0 - mu * mu), rays.r_np)
        classes = np.where(sky_rays & (impact < atm.bottom_radius + 50_000.0), 3, classes)
    return background, classes


_EDGE_STRIDE = 4  # along a row of edge cells, pixels evaluated every this many (then interpolated)


def _edge_values(bg_args: tuple[Tables, Camera, np.ndarray, Array, Array, Any, float], index: np.ndarray,
                 ys: np.ndarray, xs: np.ndarray, at_limb: np.ndarray) -> Array:
    """Background (M, 3) of the pixels (ys, xs) of cells across an edge (`index` (H, W): their rows).

    In numpy mode, away from the limb (`at_limb`: its glow is thin and curved), every `_EDGE_STRIDE`-th
    pixel of a row is evaluated and those between are interpolated along the row when both evaluated
    neighbours share the pixel's class (a classes-only pass of the kernel), else evaluated too.
    """
    if not _numpy_mode(bg_args[0]) or at_limb.all():
        return _background(*bg_args, xs + 0.5, ys + 0.5)[0]
    h, w = index.shape
    left = xs - xs % _EDGE_STRIDE
    right = np.minimum(left + _EDGE_STRIDE, w - 1)
    between = (xs != left) & (xs != right) & ~at_limb & (index[ys, left] >= 0) & (index[ys, right] >= 0)
    anchors = np.zeros(len(ys), dtype=bool)
    anchors[index[ys[between], left[between]]] = True
    anchors[index[ys[between], right[between]]] = True
    anchors |= ~between
    values = np.empty((len(ys), 3), dtype=np.float32)
    classes = np.empty(len(ys), dtype=np.int64)
    values[anchors], classes[anchors] = _background(*bg_args, xs[anchors] + 0.5, ys[anchors] + 0.5)
    mid = np.flatnonzero(between & ~anchors)
    if len(mid):
        _, classes[mid] = _background(*bg_args, xs[mid] + 0.5, ys[mid] + 0.5, np.full(len(mid), 2, dtype=np.uint8))
        il, ir = index[ys[mid], left[mid]], index[ys[mid], right[mid]]
        same = (classes[il] == classes[mid]) & (classes[ir] == classes[mid])
        f = ((xs[mid] - left[mid]) / (right[mid] - left[mid]))[:, None].astype(np.float32)
        values[mid] = values[il] + (values[ir] - values[il]) * f
        redo = mid[~same]
        if len(redo):
            values[redo] = _background(*bg_args, xs[redo] + 0.5, ys[redo] + 0.5)[0]
    return values


def _exact_pixels(bg_args: tuple[Tables, Camera, np.ndarray, Array, Array, Any, float], classes: np.ndarray,
                  h: int, w: int, need: np.ndarray | None) -> tuple[np.ndarray | None, Array | None]:
    """Per-pixel background where the grid's cells straddle an edge: (H, W) rows into the values, and
    the values (M, 3); (None, None) when there are none.
    """
    exact_map, exact_values = None, None
    hs, ws = classes.shape
    corners = np.stack([classes[:-1, :-1], classes[1:, :-1], classes[:-1, 1:], classes[1:, 1:]])
    # Cells across an edge (the fill ground's horizon, the planet's limb) are evaluated per pixel;
    # seen from high up (space, grazing sky) one cell more on each side, as the glow beside the
    # limb is a few pixels thick.
    edge = corners.min(axis=0) != corners.max(axis=0)
    limb = edge & ((corners == 0) | (corners == 3)).any(axis=0)
    if need is not None and need.dtype != np.bool_:
        alpha_rows = need
        need = None if edge.any() and float(alpha_rows.min()) < 1.0 else np.zeros((1, 1), dtype=bool)
    else:
        alpha_rows = None
    if edge.any() and (need is None or need.any()):
        grown = limb.copy()
        grown[1:] |= limb[:-1]
        grown[:-1] |= limb[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        grown |= edge
        cy = np.minimum((np.arange(h) * (hs - 1)) // max(h - 1, 1), hs - 2)
        cx = np.minimum((np.arange(w) * (ws - 1)) // max(w - 1, 1), ws - 2)
        rows = np.nonzero(grown.any(axis=1)[cy])[0]  # only the pixel rows that meet such cells
        mask = grown[cy[rows]][:, cx]
        if need is not None:
            mask &= need[rows]
        elif alpha_rows is not None:
            mask &= alpha_rows[rows] < 1.0
        ys, xs = np.nonzero(mask)
        ys = rows[ys]
        if len(ys):
            exact_map = np.full((h, w), -1, dtype=np.int32)
            exact_map[ys, xs] = np.arange(len(ys), dtype=np.int32)
            at_limb = (grown & ~edge | limb)[cy[ys], cx[xs]]
            exact_values = _edge_values(bg_args, exact_map, ys, xs, at_limb)
    return exact_map, exact_values


_HIDDEN_ALPHA = 0.99  # grid points only under pixels at least this opaque
_LATTICE = 4  # grid points between those always shaded


def _hidden_ground(need: np.ndarray | None, hs: int, ws: int) -> np.ndarray | None:
    """Grid points (hs, ws) whose fill ground need not be shaded: all pixels of the cells around them
    are at least 99 % covered, so the background shows there at most 1 %; they are interpolated
    from a lattice every `_LATTICE` points instead (an error of 1 % of the interpolation's).
    Needs the alpha (float `need`); None when there is none.
    """
    if need is None or need.dtype == np.bool_:
        return None
    h, w = need.shape
    cy = np.minimum((np.arange(h) * (hs - 1)) // max(h - 1, 1), hs - 2)
    cx = np.minimum((np.arange(w) * (ws - 1)) // max(w - 1, 1), ws - 2)
    need32 = np.ascontiguousarray(need, dtype=np.float32)
    opaque = kernels.cell_extreme(need32, cy, cx, hs - 1, ws - 1, False) >= _HIDDEN_ALPHA
    hidden = np.ones((hs, ws), dtype=bool)
    hidden[:-1, :-1] &= opaque
    hidden[1:, :-1] &= opaque
    hidden[:-1, 1:] &= opaque
    hidden[1:, 1:] &= opaque
    lattice_y = (np.arange(hs) % _LATTICE == 0) | (np.arange(hs) == hs - 1)
    lattice_x = (np.arange(ws) % _LATTICE == 0) | (np.arange(ws) == ws - 1)
    hidden &= ~(lattice_y[:, None] & lattice_x[None, :])
    return hidden if hidden.any() else None


def _fill_hidden(background: np.ndarray, classes: np.ndarray, skip: np.ndarray,
                 bg_args: tuple[Tables, Camera, np.ndarray, Array, Array, Any, float],
                 gx: np.ndarray, gy: np.ndarray) -> None:
    """Fills the unshaded grid points bilinearly from the lattice where its four corners are fill
    ground; shades the others.
    """
    bad = kernels.fill_from_lattice(background, classes, skip, _LATTICE)
    if bad.any():
        bad_y, bad_x = np.nonzero(bad)
        values, _ = _background(*bg_args, gx[bad_y, bad_x], gy[bad_y, bad_x])
        background[bad_y, bad_x] = values


def _covered_nodes(need: np.ndarray | None, gy: int, gx: int) -> np.ndarray | None:
    """Volume nodes (gy, gx) that a covered pixel (alpha > 0) interpolates from; None for all
    (without the alpha, a float `need`).
    """
    if need is None or need.dtype == np.bool_:
        return None
    h, w = need.shape
    cy = np.minimum((np.arange(h) * (gy - 1)) // max(h - 1, 1), gy - 2)
    cx = np.minimum((np.arange(w) * (gx - 1)) // max(w - 1, 1), gx - 2)
    covered = kernels.cell_extreme(np.ascontiguousarray(need, dtype=np.float32), cy, cx, gy - 1, gx - 1, True) > 0.0
    used = np.zeros((gy, gx), dtype=bool)
    used[:-1, :-1] |= covered
    used[1:, :-1] |= covered
    used[:-1, 1:] |= covered
    used[1:, 1:] |= covered
    return used


def frame_atmosphere(tabs: Tables, camera: Camera, sun: np.ndarray, *, t_far: float | None,
                     sky_stride: int = 8, volume_stride: int = 48, slices: int = 24, exposure: float = 1.0,
                     relight: bool = True, ground_albedo: tuple[float, float, float] | None = (0.10, 0.10, 0.08),
                     ground_height_m: float = 0.0, need: np.ndarray | None = None,
                     backend: str = "auto") -> FrameAtmosphere:
    """Coarse sky map and aerial-perspective volume of a frame (see the module's docstring).

    `t_far` is the farthest covered distance (ECEF metres) or None when nothing is covered;
    `need` (H, W) marks the pixels whose background shows (alpha < 1), None for all; a float array
    is taken as the alpha itself (tested only on the rows where it matters).
    `backend`: "auto" (numba kernels for CPU tables, torch otherwise) or "torch" (always torch).
    """
    _NUMBA[0] = backend != "torch"
    try:
        return _frame_atmosphere(tabs, camera, sun, t_far, sky_stride, volume_stride, slices, exposure, relight,
                                 ground_albedo, ground_height_m, need)
    finally:
        _NUMBA[0] = True


def _frame_atmosphere(tabs, camera, sun, t_far, sky_stride, volume_stride, slices, exposure, relight,
                      ground_albedo, ground_height_m, need) -> FrameAtmosphere:
    atm = tabs.atm
    w, h = camera.width, camera.height
    e_ref: Array = reference_irradiance(tabs)
    k: Array = exposure * math.pi / e_ref  # (3,)
    xp = _numpy_mode(tabs)
    if xp:
        e_ref, k = e_ref.numpy().astype(np.float32), k.numpy().astype(np.float32)

    # --- background on a grid of pixel centers, exact where the grid straddles an edge
    hs, ws = max(2, math.ceil(h / sky_stride) + 1), max(2, math.ceil(w / sky_stride) + 1)
    gy, gx = np.meshgrid(np.linspace(0.5, h - 0.5, hs), np.linspace(0.5, w - 0.5, ws), indexing="ij")
    bg_args = (tabs, camera, sun, k, e_ref, ground_albedo, ground_height_m)
    skip = _hidden_ground(need, hs, ws) if xp and ground_albedo is not None else None
    background, classes = _background(*bg_args, gx, gy, skip)
    if skip is not None:
        _fill_hidden(background, classes, skip, bg_args, gx, gy)
    exact_map, exact_values = _exact_pixels(bg_args, classes, h, w, need)
    sky = background

    # --- aerial perspective volume
    volume, t0 = None, 1.0
    if t_far is not None and t_far > 0.0:
        t_far = float(t_far) * 1.001 + 1e-3
        t0 = max(t_far * 1e-3, 0.05)
        gyv, gxv = (max(2, math.ceil(n / volume_stride) + 1) for n in (h, w))
        vy, vx = np.meshgrid(np.linspace(0.5, h - 0.5, gyv), np.linspace(0.5, w - 0.5, gxv), indexing="ij")
        vdirs, _ = pixel_rays(camera, vx, vy)
        vr = _Rays(tabs, camera, sun, vdirs)
        t = t0 * ((1.0 + t_far / t0) ** (np.arange(slices) / (slices - 1)) - 1.0)  # (K,) ECEF metres
        dist = np.maximum(t[None, None, :] * vr.stretch[..., None] - vr.enter[..., None], 0.0)
        inscatter: Array
        tau: Array
        irradiance: Array
        used = _covered_nodes(need, gyv, gxv) if xp else None
        if xp:  # per ray, its start's terms once; only rays next to a covered pixel
            sel = np.ones(gyv * gxv, dtype=bool) if used is None else used.ravel()
            out = np.zeros((gyv * gxv, slices, 9), dtype=np.float32)
            r_, mu_, mu_s_, nu_, g_ = (x.ravel()[sel] for x in (vr.r_np, vr.mu_np, vr.mu_s_np, vr.nu_np, vr.ground_np))
            out[sel] = kernels.along_rays(tabs, r_, mu_, mu_s_, nu_, g_, dist.reshape(-1, slices)[sel])
            out = out.reshape(*dist.shape, 9)
            inscatter, tau, irradiance = out[..., :3], out[..., 3:6], out[..., 6:]
        else:
            ex = [x[..., None] for x in (vr.r_np, vr.mu_np, vr.mu_s_np, vr.nu_np)]
            inscatter, tau, irradiance = _eval_point(tabs, ex[0], ex[1], ex[2], ex[3], dist, vr.ground_np[..., None])
        factor: Array
        if xp:
            factor = _lit(irradiance, e_ref, relight) * np.exp(-tau)
            inscatter = inscatter * k
            if not vr.hits.all():  # rays that miss the atmosphere (a point there is outside it)
                miss = (~vr.hits)[..., None, None]
                factor = np.where(miss, _lit(irradiance, e_ref, relight), factor)
                inscatter = np.where(miss, np.float32(0.0), inscatter)
            if used is not None:  # nodes no pixel reads: neutral
                factor[~used] = 1.0
                inscatter[~used] = 0.0
            volume = torch.from_numpy(np.ascontiguousarray(np.concatenate([factor, inscatter], axis=-1),
                                                           dtype=np.float32))
        else:
            factor = _lit(irradiance, e_ref, relight) * torch.exp(-tau)
            inscatter = inscatter * k
            if not vr.hits.all():  # rays that miss the atmosphere (a point there is outside it)
                miss_t = torch.as_tensor(~vr.hits, device=sky.device)[..., None, None]
                factor = torch.where(miss_t, _lit(irradiance, e_ref, relight), factor)
                inscatter = torch.where(miss_t, 0.0, inscatter)
            volume = torch.cat([factor, inscatter], dim=-1).contiguous()  # (Gy, Gx, K, 6)

    # --- the sun's disc: radiance E / (pi alpha^2) through the whole atmosphere
    sun_cam = camera.rotation.T @ sun
    cam_rays = _Rays(tabs, camera, sun, sun[None])
    if not cam_rays.hits[0]:  # from space, a sun ray that misses the atmosphere
        trans = torch.ones(3, device=tabs.depth_table.device)
    elif bool(cam_rays.ground[0]):  # the planet hides the sun
        trans = torch.zeros(3, device=tabs.depth_table.device)
    else:
        trans = torch.exp(-tabs.optical_depth_to_top(cam_rays.r, cam_rays.mu)[0])
    disc_radiance = _vec(atm.solar_irradiance, trans) / (math.pi * atm.sun_angular_radius ** 2)
    if xp:  # back to tensors (zero copy)
        k = torch.from_numpy(k)
        background = torch.from_numpy(np.ascontiguousarray(background))
        if exact_values is not None:
            exact_values = torch.from_numpy(np.ascontiguousarray(exact_values))
    sun_colour = (disc_radiance * trans * k.to(trans.device)).cpu().numpy().astype(np.float64)
    return FrameAtmosphere(background.contiguous(), volume, t0, t_far or 0.0, k, sun_cam, sun_colour,
                           exact_map, exact_values)

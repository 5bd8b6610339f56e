"""CPU tile rasterizer (numba) with gsplat's compositing rules.

The image is cut into square tiles (16 px). Every visible splat is listed in the
tiles its bounding box touches; each tile sorts its list front to back by depth
(stable, so ties keep splat order like gsplat's radix-sorted intersection keys)
and composites it. Per pixel this is exactly gsplat's forward pass:

    sigma = 0.5 * (a dx^2 + c dy^2) + b dx dy      (skip if sigma < 0)
    alpha = min(0.999, opacity * exp(-sigma))      (skip if alpha < 1/255)
    next_T = T * (1 - alpha)                       (stop before adding if next_T <= 1e-4)

with pixel centres at (x + 0.5, y + 0.5). Inside a tile the loop runs splat by
splat over the pixels of the splat's bounding box, so a pixel only visits splats
that can reach it; the box holds every pixel where alpha >= 1/255, so the result
is the same as visiting all splats of the tile in order.

Outputs: rgb = sum(w c) + T * background, alpha = 1 - T, depth = sum(w z) / alpha
(0 where alpha == 0), with w the compositing weights and z the camera-frame depth.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import numba
from numba import njit, prange

from ..gaussians import Gaussians
from ..geometry import Camera
from .base import RenderOutput
from .projection import EPS2D, RADIUS_SIGMAS, project_gaussians

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4


@njit(cache=True)
def _splat_extents(conics, opacities, radii):
    """Per-splat half extents (px) of the region where alpha can reach 1/255.

    A pixel with |dx| > k sqrt(cov_xx) has Mahalanobis distance above k, so
    alpha < opacity exp(-k^2 / 2); k = sqrt(2 ln(255 opacity)) makes that 1/255.
    Never larger than gsplat's 3.33-sigma radius.
    """
    n = conics.shape[0]
    ext = np.empty((n, 2), dtype=np.float32)
    for i in range(n):
        op = opacities[i]
        if op < ALPHA_MIN:
            ext[i, 0] = -1.0
            ext[i, 1] = -1.0
            continue
        k = min(RADIUS_SIGMAS, math.sqrt(2.0 * math.log(op / ALPHA_MIN))) * 1.001 + 1e-3
        a = np.float64(conics[i, 0])
        b = np.float64(conics[i, 1])
        c = np.float64(conics[i, 2])
        det = a * c - b * b
        if det <= 0.0:
            ext[i, 0] = radii[i, 0]
            ext[i, 1] = radii[i, 1]
            continue
        ext[i, 0] = min(k * math.sqrt(c / det) + 1e-3, radii[i, 0])
        ext[i, 1] = min(k * math.sqrt(a / det) + 1e-3, radii[i, 1])
    return ext


@njit(cache=True)
def _bin_tiles(means2d, ext, tile_size, tiles_x, tiles_y):
    """Counting sort of (splat, tile) pairs by tile; splat order is kept inside each tile."""
    n = means2d.shape[0]
    rect = np.empty((n, 4), dtype=np.int32)
    counts = np.zeros(tiles_x * tiles_y + 1, dtype=np.int64)
    for i in range(n):
        if ext[i, 0] < 0.0:
            rect[i, 0] = 0
            rect[i, 1] = 0
            rect[i, 2] = 0
            rect[i, 3] = 0
            continue
        x0 = max(int(math.floor((means2d[i, 0] - ext[i, 0]) / tile_size)), 0)
        x1 = min(int(math.floor((means2d[i, 0] + ext[i, 0]) / tile_size)) + 1, tiles_x)
        y0 = max(int(math.floor((means2d[i, 1] - ext[i, 1]) / tile_size)), 0)
        y1 = min(int(math.floor((means2d[i, 1] + ext[i, 1]) / tile_size)) + 1, tiles_y)
        if x1 <= x0 or y1 <= y0:
            x1 = x0
            y1 = y0
        rect[i, 0] = x0
        rect[i, 1] = x1
        rect[i, 2] = y0
        rect[i, 3] = y1
        for ty in range(y0, y1):
            for tx in range(x0, x1):
                counts[ty * tiles_x + tx + 1] += 1
    offsets = np.cumsum(counts)
    fill = offsets[:-1].copy()
    ids = np.empty(offsets[-1], dtype=np.int32)
    for i in range(n):
        for ty in range(rect[i, 2], rect[i, 3]):
            for tx in range(rect[i, 0], rect[i, 1]):
                t = ty * tiles_x + tx
                ids[fill[t]] = i
                fill[t] += 1
    return offsets, ids


@njit(parallel=True, cache=True)
def _rasterize(offsets, ids, means2d, ext, conics, opacities, colors, depths, width, height,
               tile_size, tiles_x, tile_order, background, out_rgb, out_depth, out_alpha):
    """Composite every tile front to back (parallel over tiles)."""
    for k in prange(tile_order.shape[0]):
        tile = tile_order[k]
        start = offsets[tile]
        end = offsets[tile + 1]
        x0 = (tile % tiles_x) * tile_size
        y0 = (tile // tiles_x) * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        tw = x1 - x0
        npix = tw * (y1 - y0)
        trans = np.ones(npix, dtype=np.float32)
        acc = np.zeros((npix, 4), dtype=np.float32)
        done = np.zeros(npix, dtype=np.bool_)
        n_done = 0
        if end > start:
            local = ids[start:end]
            order = np.argsort(depths[local], kind="mergesort")
            for j in range(end - start):
                g = local[order[j]]
                mx = means2d[g, 0]
                my = means2d[g, 1]
                # pixels whose centre p + 0.5 lies within the splat's extent
                px0 = max(int(math.ceil(mx - ext[g, 0] - 0.5)), x0)
                px1 = min(int(math.floor(mx + ext[g, 0] - 0.5)) + 1, x1)
                py0 = max(int(math.ceil(my - ext[g, 1] - 0.5)), y0)
                py1 = min(int(math.floor(my + ext[g, 1] - 0.5)) + 1, y1)
                ca = conics[g, 0]
                cb = conics[g, 1]
                cc = conics[g, 2]
                op = opacities[g]
                for py in range(py0, py1):
                    dy = my - (np.float32(py) + np.float32(0.5))
                    row = (py - y0) * tw - x0
                    for px in range(px0, px1):
                        p = row + px
                        if done[p]:
                            continue
                        dx = mx - (np.float32(px) + np.float32(0.5))
                        sigma = np.float32(0.5) * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                        if sigma < 0.0:
                            continue
                        alpha = min(np.float32(ALPHA_MAX), op * np.exp(-sigma))
                        if alpha < np.float32(ALPHA_MIN):
                            continue
                        t = trans[p]
                        next_t = t * (np.float32(1.0) - alpha)
                        if next_t <= np.float32(T_MIN):
                            done[p] = True
                            n_done += 1
                            continue
                        w = alpha * t
                        acc[p, 0] += w * colors[g, 0]
                        acc[p, 1] += w * colors[g, 1]
                        acc[p, 2] += w * colors[g, 2]
                        acc[p, 3] += w * depths[g]
                        trans[p] = next_t
                if n_done == npix:
                    break
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * tw + px - x0
                t = trans[p]
                a = np.float32(1.0) - t
                out_alpha[py, px] = a
                out_rgb[py, px, 0] = acc[p, 0] + t * background[0]
                out_rgb[py, px, 1] = acc[p, 1] + t * background[1]
                out_rgb[py, px, 2] = acc[p, 2] + t * background[2]
                out_depth[py, px] = acc[p, 3] / a if a > 0.0 else np.float32(0.0)


def _as_f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


class CpuRenderer:
    """Tile rasterizer on the CPU with gsplat's projection and compositing.

    `antialiased=True` matches gsplat's rasterize_mode="antialiased" (opacity times the
    low-pass compensation), False matches "classic".
    """

    def __init__(self, antialiased: bool = True, tile_size: int = 16, eps2d: float = EPS2D):
        if tile_size <= 0:
            raise ValueError(f"tile_size={tile_size} must be positive")
        self.antialiased = antialiased
        self.tile_size = int(tile_size)
        self.eps2d = float(eps2d)

    def render(self, gaussians: Gaussians, camera: Camera, background=(0.0, 0.0, 0.0)) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera`; tensors on the CPU."""
        bg = np.asarray(background, dtype=np.float32).reshape(-1)
        if bg.shape != (3,) or not np.all(np.isfinite(bg)):
            raise ValueError(f"background {background!r} must be 3 finite numbers")
        gaussians = gaussians.to("cpu")
        with torch.no_grad():
            proj = project_gaussians(gaussians, camera, self.antialiased, self.eps2d)
            proj = proj[proj.visible]
        means2d, conics = _as_f32(proj.means2d), _as_f32(proj.conics)
        opac, colors, depths = _as_f32(proj.opacities), _as_f32(proj.colors), _as_f32(proj.depths)
        radii = _as_f32(proj.radii)
        width, height, ts = camera.width, camera.height, self.tile_size
        tiles_x, tiles_y = -(-width // ts), -(-height // ts)
        ext = _splat_extents(conics, opac, radii)
        offsets, ids = _bin_tiles(means2d, ext, ts, tiles_x, tiles_y)
        # Busy tiles first, handed out in small chunks, so the threads finish together.
        tile_order = np.argsort(-np.diff(offsets), kind="stable").astype(np.int64)
        rgb = np.empty((height, width, 3), dtype=np.float32)
        depth = np.empty((height, width), dtype=np.float32)
        alpha = np.empty((height, width), dtype=np.float32)
        with numba.parallel_chunksize(4):
            _rasterize(offsets, ids, means2d, ext, conics, opac, colors, depths, width, height,
                       ts, tiles_x, tile_order, bg, rgb, depth, alpha)
        return RenderOutput(torch.from_numpy(rgb), torch.from_numpy(depth), torch.from_numpy(alpha), len(proj))

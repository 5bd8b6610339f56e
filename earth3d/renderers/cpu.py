"""CPU tile rasterizer (numba) with gsplat's projection and compositing rules.

Pipeline, all numba:

1. `_project_into`: gsplat's EWA projection per splat (see `projection.py`, which is the
   PyTorch reference of the same maths), with the view matrix formed in float64
   relative to the splats' origin, so precision does not depend on where on Earth
   the camera is. Each splat becomes one record, which also holds the half extents
   of the region where its alpha can reach 1/255 (never more than gsplat's
   3.33-sigma radius). The records live in a buffer the renderer keeps from frame to
   frame: a fresh one would cost a page fault per 4 KiB on every frame.
2. `_bin_tiles`: a stable counting sort of (splat, tile) pairs by 32x32 tile, in storage
   order (parallel over runs of splats), each pair with its splat's depth key.
3. `composite.rasterize`: parallel over tiles, each tile sorts its pairs by depth (stable,
   so ties stay in splat order: the order of gsplat's sorted (tile, depth) intersection
   keys), then composites front to back a pixel row at a time in SIMD lanes (see
   `composite.py`); colours are degree-0 SH evaluated there, or view-dependent colours
   from the Gaussian-maths core's `eval_sh_nb` for the visible splats.

Outputs: rgb = sum(w c) + T * background, alpha = 1 - T, depth = sum(w z) / alpha
(0 where alpha == 0), with w the compositing weights and z the camera-frame depth.
`CpuRenderer.timings` holds the seconds each stage took in the last render.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
import torch
from numba import njit, prange

from ..errors import InputError
from ..gaussians import Gaussians
from ..geometry import Camera
from ..geometry.gaussian_math import eval_sh_nb, quat_rotmat
from .base import RenderOutput, label_maps
from .composite import ALPHA_MAX, ALPHA_MIN, CA, CB, CC, DEPTH, EXT_X, EXT_Y, MX, MY, OP, RECORD, SMAX, T_MIN, rasterize  # noqa: F401 - gsplat's constants  # noqa: F401 - record columns
from .composite_maps import MAX_TILE_PAIRS, rasterize_maps, splat_normals
from .projection import EPS2D, RADIUS_SIGMAS

STAGE_CLOCK = time.perf_counter  # what `CpuRenderer.timings` measures
# Slack on the analytic "alpha >= 1/255" bounds; the exact per-pixel test still decides.
SIGMA_SLACK = 1e-3
PIXEL_SLACK = 1e-2


# Projection: fast maths, but NaN-aware (culling relies on comparisons with NaN failing).
def _project(means, quats, scales, opacities, view, fx, fy, cx, cy, width, height, eps2d, near, far, antialiased):
    """One record per splat: means2d, conic (a, b, c), opacity (compensated when
    antialiased), sigma_max = ln(255 opacity), half extents (px) of the region where
    alpha can reach 1/255 and depth (colours are added per tile). EXT_X is -1 for culled splats.
    """
    rec = np.empty((means.shape[0], RECORD), dtype=np.float32)  # culled rows: only EXT_X and DEPTH are set
    _project_into(means, quats, scales, opacities, view, fx, fy, cx, cy, width, height, eps2d, near, far,
                  antialiased, rec)
    return rec


@njit(parallel=True, cache=True, fastmath={"contract", "arcp", "afn", "reassoc", "nsz"})
def _project_into(means, quats, scales, opacities, view, fx, fy, cx, cy, width, height, eps2d, near, far,
                  antialiased, rec):
    """`_project` into `rec` (at least N rows of RECORD columns), reused from frame to frame."""
    n = means.shape[0]
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + 0.3 * tan_fovx
    lim_x_neg = cx / fx + 0.3 * tan_fovx
    lim_y_pos = (height - cy) / fy + 0.3 * tan_fovy
    lim_y_neg = cy / fy + 0.3 * tan_fovy
    for i in prange(n):
        rec[i, EXT_X] = -1.0
        # float64 view transform of the float32 offsets: relative to the camera before rounding
        mx, my, mz = np.float64(means[i, 0]), np.float64(means[i, 1]), np.float64(means[i, 2])
        tx = view[0, 0] * mx + view[0, 1] * my + view[0, 2] * mz + view[0, 3]
        ty = view[1, 0] * mx + view[1, 1] * my + view[1, 2] * mz + view[1, 3]
        tz = view[2, 0] * mx + view[2, 1] * my + view[2, 2] * mz + view[2, 3]
        rec[i, DEPTH] = tz
        if not (tz > near and tz < far):
            continue
        # camera-frame M = V R S; covariance = M M^T
        qw, qx = np.float64(quats[i, 0]), np.float64(quats[i, 1])
        qy, qz = np.float64(quats[i, 2]), np.float64(quats[i, 3])
        n2 = qw * qw + qx * qx + qy * qy + qz * qz
        if not n2 > 0.0:
            continue
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = quat_rotmat(qw, qx, qy, qz)
        sx, sy, sz = np.float64(scales[i, 0]), np.float64(scales[i, 1]), np.float64(scales[i, 2])
        # rows 0..2 of V R, columns scaled by S
        m00 = (view[0, 0] * r00 + view[0, 1] * r10 + view[0, 2] * r20) * sx
        m01 = (view[0, 0] * r01 + view[0, 1] * r11 + view[0, 2] * r21) * sy
        m02 = (view[0, 0] * r02 + view[0, 1] * r12 + view[0, 2] * r22) * sz
        m10 = (view[1, 0] * r00 + view[1, 1] * r10 + view[1, 2] * r20) * sx
        m11 = (view[1, 0] * r01 + view[1, 1] * r11 + view[1, 2] * r21) * sy
        m12 = (view[1, 0] * r02 + view[1, 1] * r12 + view[1, 2] * r22) * sz
        m20 = (view[2, 0] * r00 + view[2, 1] * r10 + view[2, 2] * r20) * sx
        m21 = (view[2, 0] * r01 + view[2, 1] * r11 + view[2, 2] * r21) * sy
        m22 = (view[2, 0] * r02 + view[2, 1] * r12 + view[2, 2] * r22) * sz
        # J M: J = [[fx/tz, 0, -fx txc/tz^2], [0, fy/tz, -fy tyc/tz^2]] with the fov clamp
        iz = 1.0 / tz
        xz, yz = tx * iz, ty * iz
        ja, jb = fx * iz, -fx * min(max(xz, -lim_x_neg), lim_x_pos) * iz
        jc, jd = fy * iz, -fy * min(max(yz, -lim_y_neg), lim_y_pos) * iz
        u0, u1, u2 = ja * m00 + jb * m20, ja * m01 + jb * m21, ja * m02 + jb * m22
        v0, v1, v2 = jc * m10 + jd * m20, jc * m11 + jd * m21, jc * m12 + jd * m22
        c00 = u0 * u0 + u1 * u1 + u2 * u2
        c01 = u0 * v0 + u1 * v1 + u2 * v2
        c11 = v0 * v0 + v1 * v1 + v2 * v2
        det_orig = c00 * c11 - c01 * c01
        c00 += eps2d
        c11 += eps2d
        det = max(c00 * c11 - c01 * c01, 1e-10)
        px = fx * xz + cx
        py = fy * yz + cy
        if not (np.isfinite(px) and np.isfinite(py) and np.isfinite(c00) and np.isfinite(c11) and np.isfinite(c01)):
            continue
        rad_x = math.ceil(RADIUS_SIGMAS * math.sqrt(c00))
        rad_y = math.ceil(RADIUS_SIGMAS * math.sqrt(c11))
        if px + rad_x <= 0 or px - rad_x >= width or py + rad_y <= 0 or py - rad_y >= height:
            continue
        rec[i, MX] = px
        rec[i, MY] = py
        idet = 1.0 / det
        rec[i, CA] = c11 * idet
        rec[i, CB] = -c01 * idet
        rec[i, CC] = c00 * idet
        op = np.float64(opacities[i])
        if antialiased:
            op *= math.sqrt(max(det_orig * idet, 0.0))
        rec[i, OP] = op
        # Visible. It can only matter where opacity exp(-sigma) >= 1/255, i.e.
        # sigma <= ln(255 opacity); per axis that is |d| <= sqrt(2 sigma_max cov_axis).
        if op < ALPHA_MIN:
            rec[i, SMAX] = 0.0
            rec[i, EXT_X] = 0.0
            rec[i, EXT_Y] = 0.0
            continue
        s = math.log(op / ALPHA_MIN) + SIGMA_SLACK
        rec[i, SMAX] = s
        rec[i, EXT_X] = min(math.sqrt(2.0 * s * c00), rad_x) + PIXEL_SLACK
        rec[i, EXT_Y] = min(math.sqrt(2.0 * s * c11), rad_y) + PIXEL_SLACK


@njit(parallel=True, cache=True)
def _bin_tiles(rec, rec_bits, visible, tile_size, tiles_x, tiles_y, n_chunks):
    """(splat, tile) pairs grouped by tile: tile offsets, depth keys and splat ids.

    Splats are read in storage order (sequential: a pass in depth order would miss the
    cache on every splat) and each tile's pairs keep that order; the compositor sorts
    each tile's pairs by depth, stably, which gives gsplat's (tile, depth) order with
    ties in splat order. `visible` is cut into `n_chunks` runs: each run counts its pairs
    per tile, then writes them after the pairs of the runs before it (parallel, stable).
    Depth keys are the depth's float bits (`rec_bits`: the records viewed as int32) made
    order-preserving as unsigned integers.
    """
    n = visible.shape[0]
    n_tiles = tiles_x * tiles_y
    rect = np.empty((n, 4), dtype=np.int32)
    keys = np.empty(n, dtype=np.uint32)
    for k in prange(n):
        i = visible[k]
        x0 = max(int(math.floor((rec[i, MX] - rec[i, EXT_X]) / tile_size)), 0)
        x1 = min(int(math.floor((rec[i, MX] + rec[i, EXT_X]) / tile_size)) + 1, tiles_x)
        y0 = max(int(math.floor((rec[i, MY] - rec[i, EXT_Y]) / tile_size)), 0)
        y1 = min(int(math.floor((rec[i, MY] + rec[i, EXT_Y]) / tile_size)) + 1, tiles_y)
        if x1 <= x0 or y1 <= y0 or rec[i, EXT_X] <= 0.0:
            x1 = x0
            y1 = y0
        rect[k, 0] = x0
        rect[k, 1] = x1
        rect[k, 2] = y0
        rect[k, 3] = y1
        b = np.uint32(rec_bits[i, DEPTH])
        keys[k] = ~b if b & np.uint32(0x80000000) else b | np.uint32(0x80000000)
    step = (n + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks, n_tiles), dtype=np.int64)
    for c in prange(n_chunks):
        for k in range(c * step, min((c + 1) * step, n)):
            for ty in range(rect[k, 2], rect[k, 3]):
                for tx in range(rect[k, 0], rect[k, 1]):
                    counts[c, ty * tiles_x + tx] += 1
    offsets = np.zeros(n_tiles + 1, dtype=np.int64)
    for t in range(n_tiles):  # runs of tile t start at offsets[t] + the counts of earlier runs
        at = offsets[t]
        for c in range(n_chunks):
            m = counts[c, t]
            counts[c, t] = at
            at += m
        offsets[t + 1] = at
    pair_keys = np.empty(offsets[-1], dtype=np.uint32)
    ids = np.empty(offsets[-1], dtype=np.int32)
    for c in prange(n_chunks):
        for k in range(c * step, min((c + 1) * step, n)):
            for ty in range(rect[k, 2], rect[k, 3]):
                for tx in range(rect[k, 0], rect[k, 1]):
                    t = ty * tiles_x + tx
                    pair_keys[counts[c, t]] = keys[k]
                    ids[counts[c, t]] = visible[k]
                    counts[c, t] += 1
    return offsets, pair_keys, ids


def balanced_tile_order(pairs: np.ndarray, n_threads: int) -> np.ndarray:
    """The order in which the compositing kernels visit the tiles: every thread's share of them
    about as busy as the others'.

    Numba's OpenMP layer gives each thread one contiguous run of a parallel loop's iterations
    (a static schedule, whatever `numba.parallel_chunksize` says), so a busiest-first order
    left one thread the busy half of the tiles and the other idle for a third of the frame. Here
    the busiest-first order is dealt out to `n_threads` runs laid end to end, back and forth
    (0, 1, ..., n-1, n-1, ..., 0, 0, 1, ...): the runs hold as many tiles each and about as much
    work, and within a run the busy tiles still come first.

    Args:
        pairs: (T,) splat-tile pairs of each tile (its work).
        n_threads: the threads of the parallel loop.

    Returns:
        (T,) int64 tile indices.

    Example:
        >>> balanced_tile_order(np.array([5, 1, 9, 3]), 2).tolist()
        [2, 1, 0, 3]
    """
    busiest_first = np.argsort(-np.asarray(pairs), kind="stable")
    n = max(int(n_threads), 1)
    turn = np.arange(len(busiest_first)) % (2 * n)
    run = np.where(turn < n, turn, 2 * n - 1 - turn)
    return busiest_first[np.argsort(run, kind="stable")]


class CpuRenderer:
    """Tile rasterizer on the CPU with gsplat's projection and compositing.

    `antialiased=True` matches gsplat's rasterize_mode="antialiased" (opacity times the
    low-pass compensation), False matches "classic". Tiles are 32 px (gsplat's are 16; the
    image is the same): fewer (splat, tile) pairs to sort, and still hundreds of tiles to share.
    """

    def __init__(self, antialiased: bool = True, tile_size: int = 32, eps2d: float = EPS2D):
        if tile_size <= 0:
            raise InputError(f"tile_size={tile_size} must be positive")
        self.antialiased = antialiased
        self.tile_size = int(tile_size)
        self.eps2d = float(eps2d)
        self._rec = np.empty((0, RECORD), dtype=np.float32)
        self.timings: dict[str, float] = {}
        self.intersections = 0

    def _records(self, n: int) -> np.ndarray:
        """The projection's record buffer for n splats, grown (never shrunk) and reused."""
        if self._rec.shape[0] < n:
            self._rec = np.empty((max(n, int(1.25 * self._rec.shape[0])), RECORD), dtype=np.float32)
        return self._rec[:n]

    def render(self, gaussians: Gaussians, camera: Camera, background=(0.0, 0.0, 0.0), *,
               maps: bool = False) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera`; tensors on the CPU. One render at a time per
        renderer (the record buffer is shared by its renders).

        Args:
            gaussians: The splats.
            camera: The view.
            background: RGB in [0, 1] where nothing is drawn.
            maps: Also return label, instance and normal maps (see RenderOutput; a separate
                compositing kernel, so maps=False renders are unchanged).

        Returns:
            The RenderOutput: rgb (H, W, 3), depth and alpha, and the number of splats drawn.

        Example:
            >>> out = CpuRenderer().render(g, Camera.from_geodetic(7.45, 46.95, 3000.0))  # doctest: +SKIP
        """
        bg = np.asarray(background, dtype=np.float32).reshape(-1)
        if bg.shape != (3,) or not np.all(np.isfinite(bg)):
            raise InputError(f"background {background!r} must be 3 finite numbers")
        clock = STAGE_CLOCK
        t0 = clock()
        a = gaussians.arrays()  # float32 numpy views of CPU tensors
        view = camera.world_to_camera(gaussians.origin)  # float64: relative to the camera before any float32
        rec = self._records(len(gaussians))
        c = np.ascontiguousarray
        _project_into(c(a.means), c(a.quats), c(a.scales), c(a.opacities), view,
                      camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height,
                      self.eps2d, camera.near, camera.far, self.antialiased, rec)
        visible = np.flatnonzero(rec[:, EXT_X] >= 0.0).astype(np.int32)
        if gaussians.sh_degree == 0:  # a view of the degree-0 coefficients: the rasterizer turns them into colours
            colors, from_sh0 = a.sh[:, 0, :], True
        else:  # view-dependent colours, evaluated for the visible splats only, along camera-relative directions
            colors, from_sh0 = np.zeros((len(gaussians), 3), dtype=np.float32), False
            dirs = a.means[visible].astype(np.float64) + (gaussians.origin - camera.position)
            colors[visible] = eval_sh_nb(a.sh[visible], dirs)
        t1 = clock()
        width, height, ts = camera.width, camera.height, self.tile_size
        tiles_x, tiles_y = -(-width // ts), -(-height // ts)
        offsets, keys, ids = _bin_tiles(rec, rec.view(np.int32), visible, ts, tiles_x, tiles_y,
                                        4 * numba.get_num_threads())
        tile_order = balanced_tile_order(np.diff(offsets), numba.get_num_threads())
        t2 = clock()
        rgb = np.empty((height, width, 3), dtype=np.float32)
        depth = np.empty((height, width), dtype=np.float32)
        alpha = np.empty((height, width), dtype=np.float32)
        if maps:
            return self._render_maps(gaussians, camera, a, view, rec, visible, offsets, keys, ids, colors, from_sh0,
                                     tile_order, bg, rgb, depth, alpha, (t0, t1, t2))
        rasterize(offsets, keys, ids, rec, colors, from_sh0, width, height, ts, tiles_x, tile_order, bg,
                  rgb, depth, alpha)
        t3 = clock()
        self.timings = {"project": t1 - t0, "bin": t2 - t1, "raster": t3 - t2}
        self.intersections = len(ids)
        return RenderOutput(torch.from_numpy(rgb), torch.from_numpy(depth), torch.from_numpy(alpha), len(visible))

    def _render_maps(self, gaussians, camera, a, view, rec, visible, offsets, keys, ids, colors, from_sh0,
                     tile_order, bg, rgb, depth, alpha, times) -> RenderOutput:
        """The compositing stage with label, instance and normal maps (composite_maps.rasterize_maps)."""
        width, height, ts = camera.width, camera.height, self.tile_size
        busiest = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
        if busiest > MAX_TILE_PAIRS:
            raise InputError(f"{busiest:,} splats overlap one {ts}x{ts} tile; label maps take at most "
                             f"{MAX_TILE_PAIRS:,} (render fewer splats: a level-of-detail cut)")
        normals = np.zeros((len(gaussians), 3), dtype=np.float32)
        splat_normals(a.means, a.quats, a.scales, view, visible, normals)
        best = np.empty((height, width), dtype=np.int32)
        normal = np.empty((height, width, 3), dtype=np.float32)
        rasterize_maps(offsets, keys, ids, rec, colors, from_sh0, normals, width, height, ts, -(-width // ts),
                       tile_order, bg, rgb, depth, alpha, best, normal)
        t0, t1, t2 = times
        self.timings = {"project": t1 - t0, "bin": t2 - t1, "raster": STAGE_CLOCK() - t2}
        self.intersections = len(ids)
        label, instance = label_maps(best, gaussians)
        return RenderOutput(torch.from_numpy(rgb), torch.from_numpy(depth), torch.from_numpy(alpha), len(visible),
                            label, instance, torch.from_numpy(normal))

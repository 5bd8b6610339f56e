"""CPU tile rasterizer (numba) with gsplat's projection and compositing rules.

Pipeline, all numba except view-dependent colours:

1. `_project`: gsplat's EWA projection per splat (see `projection.py`, which is the
   PyTorch reference of the same maths), with the view matrix formed in float64
   relative to the splats' origin, so precision does not depend on where on Earth
   the camera is. Each splat becomes one record, which also holds the half extents
   of the region where its alpha can reach 1/255 (never more than gsplat's
   3.33-sigma radius).
2. `_depth_order`: a stable LSD radix sort of the visible splats by depth.
3. `_bin_tiles`: a stable counting sort of (splat, tile) pairs by 16x16 tile, fed in
   depth order, so every tile's list is front to back with ties in splat order,
   the order of gsplat's sorted (tile, depth) intersection keys.
4. `_rasterize`: parallel over tiles (fastmath: it only sees finite, culled data).
   Each tile first copies its splats' records and colours (degree-0 SH in numba;
   higher degrees through `projection.eval_sh` for the visible splats) into a local
   list. Per pixel this is gsplat's forward pass:

       sigma = 0.5 * (a dx^2 + c dy^2) + b dx dy      (skip if sigma < 0)
       alpha = min(0.999, opacity * exp(-sigma))      (skip if alpha < 1/255)
       next_T = T * (1 - alpha)                       (stop before adding if next_T <= 1e-4)

   with pixel centres at (x + 0.5, y + 0.5). The loop runs splat by splat over the
   pixels of each row where the splat's alpha can reach 1/255 (solved from the conic),
   so a pixel visits only splats that can change it, in the same order as gsplat.

Outputs: rgb = sum(w c) + T * background, alpha = 1 - T, depth = sum(w z) / alpha
(0 where alpha == 0), with w the compositing weights and z the camera-frame depth.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import njit, prange

from ..gaussians import SH_C0, Gaussians
from ..geometry import Camera
from .base import RenderOutput
from .projection import EPS2D, RADIUS_SIGMAS, splat_colors

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
# Slack on the analytic "alpha >= 1/255" bounds; the exact per-pixel test still decides.
SIGMA_SLACK = 1e-3
PIXEL_SLACK = 1e-2


# Columns of the per-splat records: `_project` writes RECORD + 1 columns (the last is
# the x extent, used only for binning); the rasterizer's per-tile copies keep RECORD.
MX, MY, CA, CB, CC, OP, SMAX, EXT_Y, RED, GREEN, BLUE, DEPTH, EXT_X = range(13)
RECORD = 12


# Projection: fast maths, but NaN-aware (culling relies on comparisons with NaN failing).
@njit(parallel=True, cache=True, fastmath={"contract", "arcp", "afn", "reassoc", "nsz"})
def _project(means, quats, scales, opacities, view, fx, fy, cx, cy, width, height, eps2d, near, far, antialiased):
    """One record per splat: means2d, conic (a, b, c), opacity (compensated when
    antialiased), sigma_max = ln(255 opacity), half extents (px) of the region where
    alpha can reach 1/255 and depth (colours are added per tile). EXT_X is -1 for culled splats."""
    n = means.shape[0]
    rec = np.empty((n, RECORD + 1), dtype=np.float32)  # culled rows: only EXT_X and DEPTH are set
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
        qw, qx, qy, qz = np.float64(quats[i, 0]), np.float64(quats[i, 1]), np.float64(quats[i, 2]), np.float64(quats[i, 3])
        qn = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        if not qn > 0.0:
            continue
        qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
        r00, r01, r02 = 1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qw * qz), 2 * (qx * qz + qw * qy)
        r10, r11, r12 = 2 * (qx * qy + qw * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qw * qx)
        r20, r21, r22 = 2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)
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
        txc = tz * min(max(tx / tz, -lim_x_neg), lim_x_pos)
        tyc = tz * min(max(ty / tz, -lim_y_neg), lim_y_pos)
        ja, jb = fx / tz, -fx * txc / (tz * tz)
        jc, jd = fy / tz, -fy * tyc / (tz * tz)
        u0, u1, u2 = ja * m00 + jb * m20, ja * m01 + jb * m21, ja * m02 + jb * m22
        v0, v1, v2 = jc * m10 + jd * m20, jc * m11 + jd * m21, jc * m12 + jd * m22
        c00 = u0 * u0 + u1 * u1 + u2 * u2
        c01 = u0 * v0 + u1 * v1 + u2 * v2
        c11 = v0 * v0 + v1 * v1 + v2 * v2
        det_orig = c00 * c11 - c01 * c01
        c00 += eps2d
        c11 += eps2d
        det = max(c00 * c11 - c01 * c01, 1e-10)
        px = fx * tx / tz + cx
        py = fy * ty / tz + cy
        if not (np.isfinite(px) and np.isfinite(py) and np.isfinite(c00) and np.isfinite(c11) and np.isfinite(c01)):
            continue
        rad_x = math.ceil(RADIUS_SIGMAS * math.sqrt(c00))
        rad_y = math.ceil(RADIUS_SIGMAS * math.sqrt(c11))
        if px + rad_x <= 0 or px - rad_x >= width or py + rad_y <= 0 or py - rad_y >= height:
            continue
        rec[i, MX] = px
        rec[i, MY] = py
        rec[i, CA] = c11 / det
        rec[i, CB] = -c01 / det
        rec[i, CC] = c00 / det
        op = np.float64(opacities[i])
        if antialiased:
            op *= math.sqrt(max(det_orig / det, 0.0))
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
    return rec


@njit(cache=True)
def _depth_order(rec, ids):
    """`ids` stably sorted by the records' depth (LSD radix sort on order-preserving float bits)."""
    n = ids.shape[0]
    keys = np.empty(n, dtype=np.uint32)
    depth = np.empty(1, dtype=np.float32)
    bits = depth.view(np.uint32)
    for i in range(n):
        depth[0] = rec[ids[i], DEPTH]
        b = bits[0]
        keys[i] = ~b if b & np.uint32(0x80000000) else b | np.uint32(0x80000000)
    idx = ids.copy()
    tmp_keys = np.empty_like(keys)
    tmp_idx = np.empty_like(idx)
    for shift in (0, 11, 22):
        hist = np.zeros(2049, dtype=np.int64)
        for i in range(n):
            hist[((keys[i] >> shift) & 2047) + 1] += 1
        if hist.max() == n:  # every key has the same digit here
            continue
        for d in range(2048):
            hist[d + 1] += hist[d]
        for i in range(n):
            d = (keys[i] >> shift) & 2047
            pos = hist[d]
            hist[d] = pos + 1
            tmp_keys[pos] = keys[i]
            tmp_idx[pos] = idx[i]
        keys, tmp_keys = tmp_keys, keys
        idx, tmp_idx = tmp_idx, idx
    return idx


@njit(parallel=True, cache=True)
def _bin_tiles(rec, order, tile_size, tiles_x, tiles_y, n_bands):
    """Counting sort of (splat, tile) pairs by tile, keeping `order` inside each tile.

    Returns tile offsets and splat ids. Parallel over bands of tile rows: each band
    scans all splats and fills only its own tiles.
    """
    n = order.shape[0]
    rect = np.empty((n, 4), dtype=np.int32)
    for k in prange(n):
        i = order[k]
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
    band_rows = (tiles_y + n_bands - 1) // n_bands
    counts = np.zeros(tiles_x * tiles_y + 1, dtype=np.int64)
    for band in prange(n_bands):
        lo = band * band_rows
        hi = min(lo + band_rows, tiles_y)
        for k in range(n):
            for ty in range(max(rect[k, 2], lo), min(rect[k, 3], hi)):
                for tx in range(rect[k, 0], rect[k, 1]):
                    counts[ty * tiles_x + tx + 1] += 1
    offsets = np.cumsum(counts)
    fill = offsets[:-1].copy()
    ids = np.empty(offsets[-1], dtype=np.int32)
    for band in prange(n_bands):
        lo = band * band_rows
        hi = min(lo + band_rows, tiles_y)
        for k in range(n):
            for ty in range(max(rect[k, 2], lo), min(rect[k, 3], hi)):
                for tx in range(rect[k, 0], rect[k, 1]):
                    t = ty * tiles_x + tx
                    ids[fill[t]] = order[k]
                    fill[t] += 1
    return offsets, ids


@njit(parallel=True, cache=True, fastmath=True)
def _rasterize(offsets, ids, records, colors, colors_are_sh0, width, height, tile_size, tiles_x, tile_order,
               background, out_rgb, out_depth, out_alpha):
    """Composite every tile front to back (parallel over tiles)."""
    for k in prange(tile_order.shape[0]):
        tile = tile_order[k]
        # Copy the tile's splats into a contiguous local list first: independent loads
        # overlap, whereas scattered loads inside the compositing loop stall on memory.
        first = offsets[tile]
        count = offsets[tile + 1] - first
        rec = np.empty((count, RECORD), dtype=np.float32)
        for j in range(count):
            i = ids[first + j]
            for c in range(RED):
                rec[j, c] = records[i, c]
            for c in range(3):
                v = colors[i, c]
                if colors_are_sh0:  # degree-0 SH: colour = max(C0 * sh + 0.5, 0) as in gsplat
                    v = max(np.float32(SH_C0) * v + np.float32(0.5), np.float32(0.0))
                rec[j, RED + c] = v
            rec[j, DEPTH] = records[i, DEPTH]
        x0 = (tile % tiles_x) * tile_size
        y0 = (tile // tiles_x) * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        tw = x1 - x0
        th = y1 - y0
        trans = np.ones(tw * th, dtype=np.float32)
        acc = np.zeros((tw * th, 4), dtype=np.float32)
        done = np.zeros(tw * th, dtype=np.bool_)
        row_done = np.zeros(th, dtype=np.int64)
        n_done = 0
        for g in range(count):
            mx = rec[g, MX]
            my = rec[g, MY]
            ca = rec[g, CA]
            cb = rec[g, CB]
            cc = rec[g, CC]
            op = rec[g, OP]
            s_max = rec[g, SMAX]
            c_r = rec[g, RED]  # locals: the compiler cannot tell acc from rec apart
            c_g = rec[g, GREEN]
            c_b = rec[g, BLUE]
            c_d = rec[g, DEPTH]
            # float64: for needle-like splats the conic is ill-conditioned and float32 would cancel
            det = np.float64(ca) * np.float64(cc) - np.float64(cb) * np.float64(cb)
            py0 = max(int(math.ceil(my - rec[g, EXT_Y] - 0.5)), y0)
            py1 = min(int(math.floor(my + rec[g, EXT_Y] - 0.5)) + 1, y1)
            for py in range(py0, py1):
                r = py - y0
                if row_done[r] == tw:
                    continue
                dy = my - (np.float32(py) + np.float32(0.5))
                # dx range where sigma <= s_max: 0.5 a dx^2 + b dy dx + 0.5 c dy^2 - s_max <= 0
                dy64 = np.float64(dy)
                disc = 2.0 * np.float64(ca) * s_max - det * dy64 * dy64
                if disc < 0.0:
                    continue
                root = math.sqrt(disc)
                dx_lo = (-np.float64(cb) * dy64 - root) / ca
                dx_hi = (-np.float64(cb) * dy64 + root) / ca
                px0 = max(int(math.ceil(mx - dx_hi - 0.5 - PIXEL_SLACK)), x0)
                px1 = min(int(math.floor(mx - dx_lo - 0.5 + PIXEL_SLACK)) + 1, x1)
                row = r * tw - x0
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
                        row_done[r] += 1
                        n_done += 1
                        continue
                    w = alpha * t
                    acc[p, 0] += w * c_r
                    acc[p, 1] += w * c_g
                    acc[p, 2] += w * c_b
                    acc[p, 3] += w * c_d
                    trans[p] = next_t
            if n_done == tw * th:
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


def _f32(t: torch.Tensor) -> np.ndarray:
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
        g = gaussians.to("cpu")
        view = camera.world_to_camera(g.origin)  # float64: relative to the camera before any float32
        rec = _project(_f32(g.means), _f32(g.quats), _f32(g.scales), _f32(g.opacities), view,
                       camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height,
                       self.eps2d, camera.near, camera.far, self.antialiased)
        visible = np.flatnonzero(rec[:, EXT_X] >= 0.0).astype(np.int32)
        if g.sh_degree == 0:
            colors, from_sh0 = _f32(g.sh[:, 0, :]), True
        else:  # view-dependent colours, evaluated for the visible splats only
            colors, from_sh0 = np.zeros((len(g), 3), dtype=np.float32), False
            with torch.no_grad():
                colors[visible] = _f32(splat_colors(g[torch.from_numpy(visible).long()], camera))
        width, height, ts = camera.width, camera.height, self.tile_size
        tiles_x, tiles_y = -(-width // ts), -(-height // ts)
        order = _depth_order(rec, visible)
        offsets, ids = _bin_tiles(rec, order, ts, tiles_x, tiles_y, numba.get_num_threads())
        # Busy tiles first, handed out in small chunks, so the threads finish together.
        tile_order = np.argsort(-np.diff(offsets), kind="stable")
        rgb = np.empty((height, width, 3), dtype=np.float32)
        depth = np.empty((height, width), dtype=np.float32)
        alpha = np.empty((height, width), dtype=np.float32)
        with numba.parallel_chunksize(4):
            _rasterize(offsets, ids, rec, colors, from_sh0, width, height, ts, tiles_x, tile_order, bg,
                       rgb, depth, alpha)
        return RenderOutput(torch.from_numpy(rgb), torch.from_numpy(depth), torch.from_numpy(alpha), len(visible))

"""The compositing kernel of `composite.py` with semantic maps: which splat labels each pixel, and normals.

Same tiles, blocks, lanes and per-pixel rules as `composite.rasterize` (the RGB-only kernel is
left as it is, so `maps=False` renders are unchanged and as fast); each block also keeps, per
pixel, the splat that labels it and the weighted sum of the splats' camera-frame normals.

The splat that labels a pixel is the one of largest alpha (opacity times its Gaussian falloff
at the pixel: the splat the pixel lies most inside) among the splats of the visible front layer:
those drawn while the transmittance of the solid splats before them (alpha >= SOLID_ALPHA) is
still above LABEL_T; on equal alpha, the front one. Faint splats are left out of that
transmittance because a stack of them is not a surface: a building wall seen edge-on from above
is tens of wall layers of alpha ~0.04 each (its 0.03-cell thickness widened by the low-pass
filter, its opacity cut by the antialiasing compensation), which together would hide the street
beside the building from the label rule though the pixel's ray never meets the wall.
Simpler rules fail at the raster's own resolution, where splats overlap their neighbours
(0.8 cell spacing std-dev by default) and, on level ground, tie in depth: the splat of largest
weight alpha x T, and the class of most weight (gsplat's one-hot argmax), name a neighbour drawn
first (its 0.45 alpha beats the cell's own 0.98 x T once two or three neighbours have drawn):
90% agreement with the class raster of a generated city, against 99.8% for this rule; the splat
at which accumulated alpha first passes 0.5 names the first neighbours as well, and names nothing
where alpha never reaches 0.5.

A splat's normal is its shortest axis (the thin axis of a surface splat), turned toward the
camera; the pixel's normal is the weight-averaged normal, normalized (zero where nothing is drawn).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..gaussians import SH_C0
from ..geometry.gaussian_math import quat_rotmat
from .composite import (
    _EXP_CUT,
    ALPHA_MAX,
    ALPHA_MIN,
    BATCH,
    BLUE,
    CA,
    CB,
    CC,
    DEPTH,
    EXT_X,
    EXT_Y,
    GREEN,
    LANES,
    MX,
    MY,
    OP,
    RECORD,
    RED,
    SIDE,
    T_MIN,
    exp_neg,
)
from .tilesort import bucket_pairs, sort_pairs

LABEL_T = 0.02  # splats drawn while the solid splats' transmittance is above this can label the pixel
SOLID_ALPHA = 0.1  # splats of at least this alpha at the pixel count in that transmittance
# Per block: T, weighted red, green, blue, depth (as composite.py), weighted normal x, y, z, the
# labelling splat's alpha, the solid splats' transmittance and the labelling splat's position in
# the tile's pairs (a float, exact below 2^24 pairs a tile; -1 for none), LANES floats each: one
# buffer, so the lane loop needs no aliasing checks (a separate int32 array cost 2 % more).
R_AT, G_AT, B_AT, D_AT, NX_AT, NY_AT, NZ_AT, A_AT, S_AT, L_AT = (k * LANES for k in range(1, 11))
BLOCK_FLOATS = 11 * LANES
MAX_TILE_PAIRS = 1 << 24  # pair positions in a tile are kept as float32 (see above)


@njit(parallel=True, cache=True)
def splat_normals(means, quats, scales, view, visible, out):
    """Camera-frame unit normals (shortest axis, facing the camera) of the `visible` splats into `out` (N, 3)."""
    for k in prange(visible.shape[0]):
        i = visible[k]
        r = quat_rotmat(np.float64(quats[i, 0]), np.float64(quats[i, 1]), np.float64(quats[i, 2]),
                        np.float64(quats[i, 3]))
        a = 0
        if scales[i, 1] < scales[i, a]:
            a = 1
        if scales[i, 2] < scales[i, a]:
            a = 2
        ax, ay, az = r[a], r[3 + a], r[6 + a]  # column a of the rotation: the splat's axis a
        nx = view[0, 0] * ax + view[0, 1] * ay + view[0, 2] * az
        ny = view[1, 0] * ax + view[1, 1] * ay + view[1, 2] * az
        nz = view[2, 0] * ax + view[2, 1] * ay + view[2, 2] * az
        mx, my, mz = np.float64(means[i, 0]), np.float64(means[i, 1]), np.float64(means[i, 2])
        px = view[0, 0] * mx + view[0, 1] * my + view[0, 2] * mz + view[0, 3]
        py = view[1, 0] * mx + view[1, 1] * my + view[1, 2] * mz + view[1, 3]
        pz = view[2, 0] * mx + view[2, 1] * my + view[2, 2] * mz + view[2, 3]
        s = 1.0 / max(math.sqrt(nx * nx + ny * ny + nz * nz), 1e-30)
        if nx * px + ny * py + nz * pz > 0.0:  # pointing away from the camera: flip
            s = -s
        out[i, 0] = nx * s
        out[i, 1] = ny * s
        out[i, 2] = nz * s


@njit(inline="always", fastmath=True)
def _block(buf, base, dx0, dy0, lane_x, lane_y, a, b, c, op, c_r, c_g, c_b, c_d, n_x, n_y, n_z, sid):
    """composite._block plus the weighted normal and the labelling splat (`sid` when its alpha is
    the largest so far among those drawn while T > LABEL_T).
    """
    finished = np.float32(0.0)
    start = np.uint64(base)
    for lane in range(LANES):
        p = start + np.uint64(lane)
        dx = dx0 - lane_x[lane]
        dy = dy0 - lane_y[lane]
        sigma = np.float32(0.5) * (a * dx * dx + c * dy * dy) + b * dx * dy
        e = exp_neg(min(max(sigma, np.float32(0.0)), np.float32(_EXP_CUT)))
        alpha = min(np.float32(ALPHA_MAX), op * e)
        t = buf[p]
        live = (sigma >= np.float32(0.0)) & (alpha >= np.float32(ALPHA_MIN)) & (t > np.float32(0.0))
        next_t = t * (np.float32(1.0) - alpha)
        stop = live & (next_t <= np.float32(T_MIN))
        add = live & (next_t > np.float32(T_MIN))
        w = alpha * t if add else np.float32(0.0)
        buf[p + np.uint64(R_AT)] += w * c_r
        buf[p + np.uint64(G_AT)] += w * c_g
        buf[p + np.uint64(B_AT)] += w * c_b
        buf[p + np.uint64(D_AT)] += w * c_d
        buf[p + np.uint64(NX_AT)] += w * n_x
        buf[p + np.uint64(NY_AT)] += w * n_y
        buf[p + np.uint64(NZ_AT)] += w * n_z
        amax = buf[p + np.uint64(A_AT)]
        ts = buf[p + np.uint64(S_AT)]
        more = add & (ts > np.float32(LABEL_T)) & (alpha > amax)
        buf[p + np.uint64(A_AT)] = alpha if more else amax
        solid = add & (alpha >= np.float32(SOLID_ALPHA))
        buf[p + np.uint64(S_AT)] = ts * (np.float32(1.0) - alpha) if solid else ts
        buf[p + np.uint64(L_AT)] = sid if more else buf[p + np.uint64(L_AT)]
        buf[p] = -t if stop else (next_t if add else t)
        finished += np.float32(1.0) if stop else np.float32(0.0)
    return int(finished)


@njit(parallel=True, cache=True, fastmath=True)
def rasterize_maps(offsets, keys, ids, records, colors, colors_are_sh0, normals, width, height,  # noqa: C901
                   tile_size, tiles_x, tile_order, background, out_rgb, out_depth, out_alpha, out_best, out_normal):
    """`composite.rasterize` that also writes, per pixel, the labelling splat (`out_best`, -1 where
    nothing is drawn; see the module docstring) and the normalized weight-averaged normal (`out_normal`).
    """
    nb = (tile_size + SIDE - 1) // SIDE
    lane_x = np.empty(LANES, dtype=np.float32)
    lane_y = np.empty(LANES, dtype=np.float32)
    for lane in range(LANES):
        lane_x[lane] = lane % SIDE + 0.5
        lane_y[lane] = lane // SIDE + 0.5
    for k in prange(tile_order.shape[0]):
        tile = tile_order[k]
        first = offsets[tile]
        count = offsets[tile + 1] - first
        bounds = bucket_pairs(keys, ids, first, first + count)
        x0 = (tile % tiles_x) * tile_size
        y0 = (tile // tiles_x) * tile_size
        tw = min(x0 + tile_size, width) - x0
        th = min(y0 + tile_size, height) - y0
        buf = np.zeros(nb * nb * BLOCK_FLOATS, dtype=np.float32)
        for py in range(th):
            for px in range(tw):
                at = ((py // SIDE) * nb + px // SIDE) * BLOCK_FLOATS + (py % SIDE) * SIDE + px % SIDE
                buf[at] = 1.0
                buf[at + S_AT] = 1.0
                buf[at + L_AT] = -1.0
        block_done = np.zeros(nb * nb, dtype=np.int64)
        n_done = 0
        rec = np.empty((min(count, BATCH), RECORD), dtype=np.float32)
        nrm = np.empty((min(count, BATCH), 3), dtype=np.float32)
        sid = np.empty(min(count, BATCH), dtype=np.float32)
        start = first
        sorted_end = first
        bucket = 0
        while start < first + count and n_done < tw * th:
            if start == sorted_end:
                sorted_end = bounds[bucket + 1]
                sort_pairs(keys, ids, bounds[bucket], sorted_end)
                bucket += 1
                continue
            m = min(BATCH, sorted_end - start)
            for j in range(m):
                i = ids[start + j]
                for col in range(RED):
                    rec[j, col] = records[i, col]
                for col in range(3):
                    v = colors[i, col]
                    if colors_are_sh0:
                        v = max(np.float32(SH_C0) * v + np.float32(0.5), np.float32(0.0))
                    rec[j, RED + col] = v
                    nrm[j, col] = normals[i, col]
                rec[j, DEPTH] = records[i, DEPTH]
                rec[j, EXT_X] = records[i, EXT_X]
                sid[j] = np.float32(start + j - first)
            start += m
            for g in range(m):
                mx = rec[g, MX] - np.float32(x0)
                my = rec[g, MY] - np.float32(y0)
                bx0 = max(int(math.floor(mx - rec[g, EXT_X] - 0.5)), 0) // SIDE
                bx1 = min(int(math.floor(mx + rec[g, EXT_X] - 0.5)) // SIDE + 1, nb)
                by0 = max(int(math.floor(my - rec[g, EXT_Y] - 0.5)), 0) // SIDE
                by1 = min(int(math.floor(my + rec[g, EXT_Y] - 0.5)) // SIDE + 1, nb)
                for by in range(by0, by1):
                    for bx in range(bx0, bx1):
                        blk = by * nb + bx
                        if block_done[blk] == LANES:
                            continue
                        finished = _block(buf, blk * BLOCK_FLOATS,
                                          mx - np.float32(bx * SIDE), my - np.float32(by * SIDE), lane_x, lane_y,
                                          rec[g, CA], rec[g, CB], rec[g, CC], rec[g, OP],
                                          rec[g, RED], rec[g, GREEN], rec[g, BLUE], rec[g, DEPTH],
                                          nrm[g, 0], nrm[g, 1], nrm[g, 2], sid[g])
                        block_done[blk] += finished
                        n_done += finished
                if n_done == tw * th:
                    break
        for py in range(th):
            for px in range(tw):
                blk = (py // SIDE) * nb + px // SIDE
                lane = (py % SIDE) * SIDE + px % SIDE
                p = blk * BLOCK_FLOATS + lane
                t = abs(buf[p])
                a = np.float32(1.0) - t
                y, x = y0 + py, x0 + px
                out_alpha[y, x] = a
                out_rgb[y, x, 0] = buf[p + R_AT] + t * background[0]
                out_rgb[y, x, 1] = buf[p + G_AT] + t * background[1]
                out_rgb[y, x, 2] = buf[p + B_AT] + t * background[2]
                out_depth[y, x] = buf[p + D_AT] / a if a > 0.0 else np.float32(0.0)
                rel = int(buf[p + L_AT])
                out_best[y, x] = ids[first + rel] if rel >= 0 else -1
                nx, ny, nz = buf[p + NX_AT], buf[p + NY_AT], buf[p + NZ_AT]
                norm = math.sqrt(nx * nx + ny * ny + nz * nz)
                s = np.float32(1.0) / norm if norm > 0.0 else np.float32(0.0)
                out_normal[y, x, 0] = nx * s
                out_normal[y, x, 1] = ny * s
                out_normal[y, x, 2] = nz * s

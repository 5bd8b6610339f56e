"""Front-to-back compositing of binned splats, tile by tile, 4x4 pixel blocks at a time in SIMD lanes.

Per pixel this is gsplat's forward pass:

    sigma = 0.5 * (a dx^2 + c dy^2) + b dx dy      (skip if sigma < 0)
    alpha = min(0.999, opacity * exp(-sigma))      (skip if alpha < 1/255)
    next_T = T * (1 - alpha)                       (stop before adding if next_T <= 1e-4)

with pixel centers at (x + 0.5, y + 0.5), splats in each tile's front-to-back order.

Why blocks: a branchy per-pixel loop costs about as much per splat row as per pixel. Here a
splat is drawn over the 4x4 pixel blocks its bounding box touches, each block one loop of
16 lanes with no branches (the rules above become masks, a finished pixel keeps its T with a
minus sign, and `exp` is a polynomial the compiler can vectorize). A tile's pixels are stored
block by block, so a block's 16 pixels are contiguous. Square blocks keep the lanes busy
whatever the splat's size: a splat of a pixel or two, the common case once the level of
detail matches the screen, costs one to four blocks; a large one about a block per 16 pixels.
Blocks whose pixels are all finished are skipped and a tile stops once every pixel is
finished. Each tile's pairs are sorted by depth a bucket at a time (`tilesort.py`), and
records are copied into a small local batch as they are reached, so the splats behind a
finished tile are neither sorted nor read.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..gaussians import SH_C0
from .tilesort import bucket_pairs, sort_pairs

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
SIDE = 4  # pixels on a side of a block
LANES = SIDE * SIDE  # one block per loop: a constant trip count the compiler vectorizes
BATCH = 64  # records copied into a tile's local list at a time
# A block's state, contiguous in one buffer per tile: T for its LANES pixels (negative once
# finished), then the weighted sums of red, green, blue and depth. One buffer, so the compiler
# sees the five rows never overlap and needs no runtime aliasing checks around the lane loop.
R_AT, G_AT, B_AT, D_AT = LANES, 2 * LANES, 3 * LANES, 4 * LANES
BLOCK_FLOATS = 5 * LANES

# Columns of the per-splat records (the projection writes all but the colours).
MX, MY, CA, CB, CC, OP, SMAX, EXT_Y, RED, GREEN, BLUE, DEPTH, EXT_X = range(13)
RECORD = 13

# exp(-x) = 2^-k exp(r): Cody-Waite reduction and Cephes' expf polynomial (about 1 ulp).
_INV_LN2 = 1.44269504088896341
_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4
_EXP_CUT = 8.0  # exp(-8) < 1/255: larger sigmas are rejected whatever the opacity


@njit(inline="always", fastmath=True)
def exp_neg(x):
    """exp(-x) in float32 for 0 <= x <= 8, branch-free so that loops over it vectorize."""
    k = np.int32(x * np.float32(_INV_LN2) + np.float32(0.5))
    kf = np.float32(k)
    r = (kf * np.float32(_LN2_HI) - x) + kf * np.float32(_LN2_LO)
    z = r * r
    p = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    e = p * z + r + np.float32(1.0)
    # 2^-k for 0 <= k <= 15 from its bits: exact, and selects vectorize where a table would not
    e *= np.float32(0.5) if k & 1 else np.float32(1.0)
    e *= np.float32(0.25) if k & 2 else np.float32(1.0)
    e *= np.float32(0.0625) if k & 4 else np.float32(1.0)
    e *= np.float32(0.00390625) if k & 8 else np.float32(1.0)
    return e


@njit(inline="always", fastmath=True)
def _block(buf, base, dx0, dy0, lane_x, lane_y, a, b, c, op, c_r, c_g, c_b, c_d):
    """One splat over the 16 pixels of the block whose state starts at `buf[base]`; returns how
    many it finished. `dx0`, `dy0` are the splat's center less the block's corner.
    """
    finished = np.float32(0.0)
    start = np.uint64(base)  # unsigned indices: no negative-index wraparound, so the loop vectorizes
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
        buf[p] = -t if stop else (next_t if add else t)
        finished += np.float32(1.0) if stop else np.float32(0.0)
    return int(finished)


@njit(parallel=True, cache=True, fastmath=True)
def rasterize(offsets, keys, ids, records, colors, colors_are_sh0, width, height, tile_size, tiles_x,  # noqa: C901
              tile_order, background, out_rgb, out_depth, out_alpha):
    """Sort every tile's pairs by depth key and composite it front to back (parallel over
    tiles, in `tile_order`: see cpu.balanced_tile_order).
    """
    nb = (tile_size + SIDE - 1) // SIDE  # blocks on a side of a tile
    lane_x = np.empty(LANES, dtype=np.float32)  # pixel centers of the lanes in a block
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
        # Block by block (block (bx, by) holds pixels bx*4.. x by*4.., row-major inside, from
        # index (by * nb + bx) * BLOCK_FLOATS): T (0 on the padding past the tile's edge, which is
        # then never drawn) and the sums of weighted colour and depth.
        buf = np.zeros(nb * nb * BLOCK_FLOATS, dtype=np.float32)
        for py in range(th):
            for px in range(tw):
                buf[((py // SIDE) * nb + px // SIDE) * BLOCK_FLOATS + (py % SIDE) * SIDE + px % SIDE] = 1.0
        block_done = np.zeros(nb * nb, dtype=np.int64)
        n_done = 0
        rec = np.empty((min(count, BATCH), RECORD), dtype=np.float32)
        start = first  # the next pair to composite; pairs before `sorted_end` are in depth order
        sorted_end = first
        bucket = 0
        while start < first + count and n_done < tw * th:
            if start == sorted_end:  # sort the next bucket of depths only when it is reached
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
                    if colors_are_sh0:  # degree-0 SH: colour = max(C0 * sh + 0.5, 0) as in gsplat
                        v = max(np.float32(SH_C0) * v + np.float32(0.5), np.float32(0.0))
                    rec[j, RED + col] = v
                rec[j, DEPTH] = records[i, DEPTH]
                rec[j, EXT_X] = records[i, EXT_X]
            start += m
            for g in range(m):
                mx = rec[g, MX] - np.float32(x0)  # relative to the tile
                my = rec[g, MY] - np.float32(y0)
                # the blocks of the tile that the splat's alpha >= 1/255 box reaches
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
                                          rec[g, RED], rec[g, GREEN], rec[g, BLUE], rec[g, DEPTH])
                        block_done[blk] += finished
                        n_done += finished
                if n_done == tw * th:
                    break
        for py in range(th):
            for px in range(tw):
                p = ((py // SIDE) * nb + px // SIDE) * BLOCK_FLOATS + (py % SIDE) * SIDE + px % SIDE
                t = abs(buf[p])
                a = np.float32(1.0) - t
                out_alpha[y0 + py, x0 + px] = a
                out_rgb[y0 + py, x0 + px, 0] = buf[p + R_AT] + t * background[0]
                out_rgb[y0 + py, x0 + px, 1] = buf[p + G_AT] + t * background[1]
                out_rgb[y0 + py, x0 + px, 2] = buf[p + B_AT] + t * background[2]
                out_depth[y0 + py, x0 + px] = buf[p + D_AT] / a if a > 0.0 else np.float32(0.0)

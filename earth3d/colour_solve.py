"""Splat colours solved so that a nadir render at the raster's own resolution reproduces the orthophoto.

For fixed geometry a rendered pixel is linear in the splat colours: compositing weights
`w = alpha * T` do not depend on colour. Straight down at one pixel per cell, lifting's
splats (one per cell, in-plane covariance `sigma^2` cells^2 along the grid axes) project
to Gaussians centered on the pixel centers with covariance `(sigma^2 + eps2d) I` px^2
(eps2d: the renderer's 0.3 px^2 low-pass) and, in gsplat's "antialiased" mode, opacity
`opacity * sigma^2 / (sigma^2 + eps2d)`. Each pixel composites the splats of its
neighbourhood front to back in depth order (here: height along the scene's vertical,
ties in storage order, as the renderers sort), with the renderer's rules (alpha capped
at 0.999, skipped under 1/255, stop before transmittance falls to 1e-4). That gives a
sparse (pixels x splats) matrix A with at most 29 entries a row, built on the grid.

The colours c minimise, per channel,

    || A c - alpha * rgb ||^2 + lam * || D (c - rgb) ||^2,

with `alpha = A 1` (so the render over any background keeps the source's colour where
coverage is partial) and D the differences between 4-neighbouring valid cells: a small
smoothness term on the correction, which damps what the footprint cannot carry
instead of amplifying it, subject to 0 <= c <= 1. Accelerated projected gradient
(FISTA) from c = rgb, a fixed number of iterations, with per-cell steps from the
majorizer diag(A^T A 1) >= A^T A (entries are nonnegative), which converges several
times faster than one global step. The solve keeps the taps within two cells (the
farther ones weigh under 5% each; the weights themselves are composited with all
taps). The grid is solved in tiles with a halo (a correction reaches one tap radius
per iteration and decays fast), so memory is bounded by the tile size and
neighbouring tiles agree at their borders (to ~1e-5 with the default halo).
Deterministic: every output is summed by one thread in a fixed order.

What it reaches: the renderer's low-pass sets a floor of sigma^2 + 0.3 px^2 on the
footprint and the colours must stay in [0, 1]: an orthophoto with much energy at
the pixel scale (quantized or saturated imagery) cannot be reproduced exactly
(benchmarks/fidelity.py prints the figures).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

EPS2D = 0.3  # px^2 screen-space low-pass of gsplat and the CPU renderer
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
TILE = 512  # cells on a side of a solved tile (interior)
HALO = 12  # cells of context around each tile
ITERATIONS = 10  # conjugate-gradient iterations per tile
SMOOTHNESS = 0.002  # lam
BAND = 16  # rows per band when the weights are composited
SOLVE_RADIUS2 = 4  # squared reach (cells) of the taps the solve keeps; farther ones weigh < 5%


def footprint(sigma: float, opacity: float, eps2d: float = EPS2D, antialiased: bool = True):
    """Offsets (dy, dx) of the cells whose splat reaches a pixel, and each one's alpha there.

    Args:
        sigma: in-plane std-dev of the splats in cell spacings (one pixel per cell).
        opacity: the splats' opacity.
        eps2d: the renderer's screen-space low-pass in px^2.
        antialiased: gsplat's "antialiased" opacity compensation sqrt(det / det_low_passed).

    Returns:
        (dy, dx, alpha): int64, int64 and float64 arrays, nearest offsets first.
    """
    s2 = sigma * sigma + eps2d
    a0 = opacity * (sigma * sigma / s2 if antialiased else 1.0)
    reach = int(math.ceil(math.sqrt(2.0 * s2 * max(math.log(max(a0, ALPHA_MIN) / ALPHA_MIN), 0.0)))) + 1
    dy, dx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    dy, dx = dy.ravel(), dx.ravel()
    alpha = np.minimum(a0 * np.exp(-0.5 * (dy * dy + dx * dx) / s2), ALPHA_MAX)
    keep = alpha >= ALPHA_MIN
    order = np.argsort(dy[keep] ** 2 + dx[keep] ** 2, kind="stable")
    return dy[keep][order].astype(np.int64), dx[keep][order].astype(np.int64), alpha[keep][order]


@njit(parallel=True, cache=True)
def _weights(rank, valid, off, pad, wp, alpha, band, out):  # pragma: no cover - numba
    """Compositing weights on the padded tile: out[p, k] is the weight in pixel p of the splat at
    p + off[k]. In bands of `band` rows (in parallel), the splats that reach the band are visited
    front to back (ascending `rank`), each multiplying the transmittance of the band's pixels it
    reaches, with the renderer's stop rule (a pixel is done, T = 0, before a splat that would
    drive T to T_MIN or under).
    """
    hp = valid.shape[0] // wp
    n_bands = (hp - 2 * pad + band - 1) // band
    for b in prange(n_bands):
        r0 = pad + b * band
        r1 = min(r0 + band, hp - pad)
        s0 = max(r0 - pad, pad) * wp  # splats in rows [r0 - pad, r1 + pad) of the interior
        s1 = min(r1 + pad, hp - pad) * wp
        cand = np.flatnonzero(valid[s0:s1]) + s0
        cand = cand[np.argsort(rank[cand], kind="mergesort")]
        p0 = r0 * wp
        trans = np.zeros((r1 - r0) * wp, dtype=np.float32)
        for p in range(p0, r1 * wp):
            if valid[p]:
                trans[p - p0] = 1.0
        for s in cand:
            for k in range(off.shape[0]):
                p = s - off[k]
                if p < p0 or p >= r1 * wp:
                    continue
                t = trans[p - p0]
                if t > 0.0:
                    nt = t * (1.0 - alpha[k])
                    if nt <= T_MIN:
                        trans[p - p0] = 0.0
                    else:
                        out[p, k] = alpha[k] * t
                        trans[p - p0] = nt


# The solve works on a padded tile flattened row-major: cell (y, x) of the tile is row
# (y + pad) * wp + x + pad, so every neighbour index p + off[k] is in range (no branches).
@njit(parallel=True, cache=True, fastmath=True)
def _apply(wts, off, pad, wp, c, out):  # pragma: no cover - numba
    """Out = A c on the padded tile: out[p] = sum_k wts[p, k] c[p + off[k]]."""
    n_rows = c.shape[0] // wp
    for row in prange(pad, n_rows - pad):
        for p in range(row * wp + pad, row * wp + wp - pad):
            s0 = s1 = s2 = np.float32(0.0)
            for k in range(off.shape[0]):
                a = wts[p, k]
                q = p + off[k]
                s0 += a * c[q, 0]
                s1 += a * c[q, 1]
                s2 += a * c[q, 2]
            out[p, 0] = s0
            out[p, 1] = s1
            out[p, 2] = s2


@njit(parallel=True, cache=True, fastmath=True)
def _apply_t(wts, off, pad, wp, r, out):  # pragma: no cover - numba
    """Out = A^T r on the padded tile: out[q] = sum_k wts[q - off[k], k] r[q - off[k]]."""
    n_rows = r.shape[0] // wp
    for row in prange(pad, n_rows - pad):
        for q in range(row * wp + pad, row * wp + wp - pad):
            s0 = s1 = s2 = np.float32(0.0)
            for k in range(off.shape[0]):
                p = q - off[k]
                a = wts[p, k]
                s0 += a * r[p, 0]
                s1 += a * r[p, 1]
                s2 += a * r[p, 2]
            out[q, 0] = s0
            out[q, 1] = s1
            out[q, 2] = s2


@njit(parallel=True, cache=True, fastmath=True)
def _fista_step(wts, off, pad, wp, valid, res, src, c, z, step, smoothness, beta, c_out, z_out):  # pragma: no cover
    """One accelerated projected-gradient step, fused: gradient A^T res + lam D^T D (z - src) at
    every cell, c_out = clip(z - step * gradient, 0, 1) on valid cells, z_out = c_out + beta (c_out - c).
    """
    n_rows = res.shape[0] // wp
    for row in prange(pad, n_rows - pad):
        for q in range(row * wp + pad, row * wp + wp - pad):
            if not valid[q]:
                continue
            g0 = g1 = g2 = np.float32(0.0)
            for k in range(off.shape[0]):
                p = q - off[k]
                a = wts[p, k]
                g0 += a * res[p, 0]
                g1 += a * res[p, 1]
                g2 += a * res[p, 2]
            if smoothness > 0.0:
                for nb in (q - wp, q + wp, q - 1, q + 1):
                    if valid[nb]:
                        g0 += smoothness * ((z[q, 0] - src[q, 0]) - (z[nb, 0] - src[nb, 0]))
                        g1 += smoothness * ((z[q, 1] - src[q, 1]) - (z[nb, 1] - src[nb, 1]))
                        g2 += smoothness * ((z[q, 2] - src[q, 2]) - (z[nb, 2] - src[nb, 2]))
            v0 = min(max(z[q, 0] - step[q, 0] * g0, np.float32(0.0)), np.float32(1.0))
            v1 = min(max(z[q, 1] - step[q, 1] * g1, np.float32(0.0)), np.float32(1.0))
            v2 = min(max(z[q, 2] - step[q, 2] * g2, np.float32(0.0)), np.float32(1.0))
            z_out[q, 0] = v0 + beta * (v0 - c[q, 0])
            z_out[q, 1] = v1 + beta * (v1 - c[q, 1])
            z_out[q, 2] = v2 + beta * (v2 - c[q, 2])
            c_out[q, 0] = v0
            c_out[q, 1] = v1
            c_out[q, 2] = v2


def _solve_tile(rgb: np.ndarray, valid: np.ndarray, rank: np.ndarray, dy, dx, alpha, iterations: int,
                smoothness: float) -> np.ndarray:
    """Solved colours (H, W, 3) float32 of one (haloed) tile: accelerated projected gradient
    (FISTA) on the bounded least-squares problem, from c = rgb, step 1 / (a bound on the
    Lipschitz constant: max column sum x max row sum of A, plus 8 lam for the Laplacian).
    """
    h, w = valid.shape
    pad = int(max(np.abs(dy).max(), np.abs(dx).max(), 1))
    hp, wp = h + 2 * pad, w + 2 * pad
    off = (dy * wp + dx).astype(np.int64)
    vpad = np.zeros((hp, wp), dtype=np.bool_)
    vpad[pad:hp - pad, pad:wp - pad] = valid
    vflat = vpad.ravel()
    rpad = np.zeros((hp, wp), dtype=np.int64)
    rpad[pad:hp - pad, pad:wp - pad] = rank
    wts = np.zeros((hp * wp, len(dy)), dtype=np.float32)
    _weights(rpad.ravel(), vflat, off, pad, wp, alpha.astype(np.float32), BAND, wts)
    near = int(np.count_nonzero(dy * dy + dx * dx <= SOLVE_RADIUS2))  # taps are sorted by distance
    wts, off = np.ascontiguousarray(wts[:, :near]), off[:near]
    src = np.zeros((hp, wp, 3), dtype=np.float32)
    src[pad:hp - pad, pad:wp - pad] = np.where(valid[..., None], rgb, 0.0)
    src = src.reshape(-1, 3)
    ones = np.repeat(vflat[:, None], 3, axis=1).astype(np.float32)
    res, cols = np.zeros_like(src), np.zeros_like(src)
    _apply(wts, off, pad, wp, ones, res)
    target = res * src  # coverage times the source colour
    # Per-cell steps from the majorizer diag(A^T A 1) >= A^T A (nonnegative entries), plus 8 lam.
    _apply_t(wts, off, pad, wp, res, cols)
    step = (1.0 / (cols + 8.0 * smoothness + 1e-6)).astype(np.float32)
    c, z = src.copy(), src.copy()
    c_next, z_next = src.copy(), src.copy()
    t = 1.0
    for _ in range(iterations):
        _apply(wts, off, pad, wp, z, res)
        res -= target
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        _fista_step(wts, off, pad, wp, vflat, res, src, c, z, step, np.float32(smoothness),
                    np.float32((t - 1.0) / t_next), c_next, z_next)
        c, c_next = c_next, c
        z, z_next = z_next, z
        t = t_next
    return c.reshape(hp, wp, 3)[pad:hp - pad, pad:wp - pad]


def solve_nadir_colours(
    rgb: np.ndarray,
    valid: np.ndarray,
    elevation: np.ndarray,
    *,
    sigma: float,
    opacity: float,
    eps2d: float = EPS2D,
    antialiased: bool = True,
    smoothness: float = SMOOTHNESS,
    iterations: int = ITERATIONS,
    tile: int = TILE,
    halo: int = HALO,
) -> np.ndarray:
    """Splat colours (H, W, 3) float32 in [0, 1] whose nadir render reproduces `rgb`.

    Args:
        rgb: (H, W, 3) the orthophoto in [0, 1].
        valid: (H, W) cells that have a splat.
        elevation: (H, W) float64 height of each splat along the scene's vertical (higher
            is nearer a nadir camera); orders the compositing.
        sigma: the splats' in-plane std-dev (cell spacings).
        opacity: the splats' opacity.
        eps2d: the renderer's screen-space low-pass (px^2).
        antialiased: whether the renderer scales opacities by the low-pass compensation
            (gsplat's "antialiased" mode, the default renderer's).
        smoothness: weight of the smoothness term on the correction c - rgb.
        iterations: conjugate-gradient iterations per tile.
        tile: cells on a side of a solved tile (memory is bounded by (tile + 2 halo)^2 cells).
        halo: cells of context solved around each tile and dropped.

    Returns:
        The solved colours; invalid cells keep `rgb`.

    Raises:
        ValueError: tile < 1 or halo < 0.
    """
    h, w = valid.shape
    if tile < 1 or halo < 0:
        raise ValueError(f"tile={tile} must be >= 1 and halo={halo} >= 0")
    dy, dx, alpha = footprint(sigma, opacity, eps2d, antialiased)
    # Front to back: higher first, ties in storage order (row-major over the valid cells).
    order = np.lexsort((np.arange(h * w), -elevation.ravel()))
    rank = np.empty(h * w, dtype=np.int64)
    rank[order] = np.arange(h * w)
    rank = rank.reshape(h, w)
    rgb64 = np.asarray(rgb, dtype=np.float32)
    out = np.array(rgb, dtype=np.float32, copy=True)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(y0 - halo, 0), max(x0 - halo, 0)
            yb, xb = min(y1 + halo, h), min(x1 + halo, w)
            v = np.ascontiguousarray(valid[ya:yb, xa:xb])
            if not v[y0 - ya:y1 - ya, x0 - xa:x1 - xa].any():
                continue
            c = _solve_tile(np.ascontiguousarray(rgb64[ya:yb, xa:xb]), v, np.ascontiguousarray(rank[ya:yb, xa:xb]),
                            dy, dx, alpha, iterations, smoothness)
            inner = c[y0 - ya:y1 - ya, x0 - xa:x1 - xa]
            keep = valid[y0:y1, x0:x1]
            out[y0:y1, x0:x1][keep] = inner[keep]
    return out

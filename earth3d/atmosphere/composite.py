"""The per-pixel pass: splat colours through the aerial-perspective volume, over the background,
then tone mapping and sRGB encoding.

Colour convention: the renderer's rgb is sRGB-encoded, alpha-premultiplied over black. It is
decoded to linear, divided by alpha, multiplied by the volume's surface factor and added to the
in-scattered light at the pixel's distance (depth times the ray's length per unit depth), then
composited over the background by alpha. Tone mapping is the identity up to a knee (0.8) and an
exponential shoulder above it that reaches 1 only at infinity, per channel, so colours under the
knee (everything a splat shows in the reference daylight, and the blue sky) pass unchanged and the
sun and a bright limb roll off instead of clipping; then the sRGB transfer function.

Two implementations: a fused numba kernel for CPU tensors and a torch one (any device, exact
transfer functions), with the same maths. The numba pass is built for CPU time (about 20 ns a
covered pixel, 10 a bare one): float32; per row the background and the volume are interpolated to
the row once, so a pixel reads two background and four volume texels; the slice coordinate
(log2 by halving steps and a cubic) and the output encoding run in row loops that vectorize;
decoding and tone mapping + sRGB are nearest-entry tables (8192 and 16384 + 4096 entries, under
0.1/255 from the exact functions); one thread below 4 Mpx, as a parallel launch on a busy machine
costs more CPU time in waiting threads than it saves.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange

from ..geometry import Camera
from .frame import FrameAtmosphere
from .kernels import serial_and_parallel

KNEE = 0.8
_X_MAX = 64.0  # linear values above this encode as 1 (the shoulder is within 1e-100 of 1 there)


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    """The sRGB decoding function (IEC 61966-2-1)."""
    return torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB encoding function, after clamping to [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def tone_map(x: torch.Tensor, knee: float = KNEE) -> torch.Tensor:
    """Identity below `knee`, an exponential shoulder above it (continuous slope, limit 1)."""
    x = x.clamp_min(0.0)
    span = 1.0 - knee
    return torch.where(x <= knee, x, knee + span * (1.0 - torch.exp(-(x - knee) / span)))


def sun_window(camera: Camera, fa: FrameAtmosphere, radius: float) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) that may show the sun's disc (empty when it is behind)."""
    s = fa.sun_camera
    if s[2] <= math.cos(math.radians(89.0)) or not np.any(fa.sun_colour > 0):
        return 0, 0, 0, 0
    u = camera.fx * s[0] / s[2] + camera.cx
    v = camera.fy * s[1] / s[2] + camera.cy
    reach = 2.0 * radius * max(camera.fx, camera.fy) / s[2] ** 2 + 2.0
    x0, x1 = int(max(math.floor(u - reach), 0)), int(min(math.ceil(u + reach), camera.width))
    y0, y1 = int(max(math.floor(v - reach), 0)), int(min(math.ceil(v + reach), camera.height))
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else (0, 0, 0, 0)


def sun_disc(camera: Camera, fa: FrameAtmosphere, radius: float,
             device: torch.device) -> tuple[tuple[int, int, int, int], torch.Tensor | None]:
    """The sun's pixel window and its disc's coverage there ((y1 - y0, x1 - x0, 1), anti-aliased
    edge: full inside 0.8 radius, none outside 1.2), or None when it is not in view.
    """
    x0, y0, x1, y1 = window = sun_window(camera, fa, radius)
    if x1 <= x0:
        return window, None
    xs = torch.arange(x0, x1, device=device, dtype=torch.float64)
    ys = torch.arange(y0, y1, device=device, dtype=torch.float64)
    xn = ((xs + 0.5 - camera.cx) / camera.fx)[None, :]
    yn = ((ys + 0.5 - camera.cy) / camera.fy)[:, None]
    s = fa.sun_camera
    cos_a = (xn * s[0] + yn * s[1] + s[2]) / torch.sqrt(1.0 + xn * xn + yn * yn)
    lo, hi = math.cos(1.2 * radius), math.cos(0.8 * radius)
    return window, ((cos_a - lo) / (hi - lo)).clamp(0.0, 1.0).float().unsqueeze(-1)


# ----------------------------------------------------------------------------- numba (CPU)
_DECODE_N = 8192  # decoding: nearest entry (error under 2e-4 in linear light)
_DECODE_NEAREST = srgb_to_linear(torch.linspace(0.0, 1.0, _DECODE_N, dtype=torch.float64)).numpy().astype(np.float32)
_ENC_N1, _ENC_N2 = 16384, 4096  # encoding: nearest entry, [0, 1) then [1, _X_MAX] (error under 4e-4)


def _encode_table() -> np.ndarray:
    lo = (torch.arange(_ENC_N1, dtype=torch.float64) + 0.5) / _ENC_N1
    hi = 1.0 + (torch.arange(_ENC_N2, dtype=torch.float64) + 0.5) * (_X_MAX - 1.0) / _ENC_N2
    return linear_to_srgb(tone_map(torch.cat([lo, hi]))).numpy().astype(np.float32)


_ENCODE_NEAREST = _encode_table()
_LOG2_POLY = np.polyfit(np.linspace(1.0, 2.0, 4097), np.log2(np.linspace(1.0, 2.0, 4097)), 3).astype(np.float32)
_PARALLEL_PIXELS = 4_000_000
_ROWS = 16  # rows per parallel task  # below this many pixels the pass runs on one thread (CPU time, not wall time)


def _composite_py(rgb, alpha, depth, bg, vol, n_slices, cols, cell_start, params, sun, decode, encode,  # noqa: C901
                  log2, exact_map, exact, row_exact, out):  # pragma: no cover - numba
    """Row by row: the background and the volume interpolated to the row; the background term of
    every pixel cell by cell (the cell's texels are constants of the inner loop, which vectorizes);
    then the covered pixels (decoding, 2 x 2 volume texels); the exact edge pixels and the sun;
    the encoding. `cols`: per-column interpolation weights, `cell_start`: each background cell's
    first column.
    """
    h, w = alpha.shape
    bh, bn = bg.shape  # (rows, columns * 3)
    bw = bn // 3
    gy, vn = vol.shape  # (rows, columns * slices * 6)
    gk = n_slices
    fy, cy = params[1], params[3]
    inv_t0, zscale, has_vol = params[4], params[5], params[6]
    sx0, sy0, sx1, sy1 = int(sun[0]), int(sun[1]), int(sun[2]), int(sun[3])
    n_dec = decode.shape[0] - 1
    n_enc = encode.shape[0] - 1
    n1 = np.float32(_ENC_N1)
    s2 = np.float32(_ENC_N2 / (_X_MAX - 1.0))
    n_chunks = (h + _ROWS - 1) // _ROWS
    bwt = cols[1]
    xn2 = cols[3]
    for chunk in prange(n_chunks):
        bgrow = np.empty(bn, dtype=np.float32)
        volrow = np.empty(vn, dtype=np.float32)
        zbuf = np.empty(w, dtype=np.float32)
        acc0 = np.empty(w, dtype=np.float32)
        acc1 = np.empty(w, dtype=np.float32)
        acc2 = np.empty(w, dtype=np.float32)
        for y in range(chunk * _ROWS, min((chunk + 1) * _ROWS, h)):
            yn = np.float32((y + 0.5 - cy) / fy)
            yn2 = yn * yn
            by = y * (bh - 1) / max(h - 1, 1)
            by0 = min(int(by), bh - 2)
            _lerp_rows(bg[by0], bg[by0 + 1], np.float32(by - by0), bgrow)
            if has_vol > 0.0:
                vy = y * (gy - 1) / max(h - 1, 1)
                vy0 = min(int(vy), max(gy - 2, 0))
                _lerp_rows(vol[vy0], vol[vy0 + 1], np.float32(vy - vy0), volrow)
                for x in range(w):  # slice coordinates of the row
                    t = max(depth[y, x], np.float32(0.0)) * math.sqrt(np.float32(1.0) + xn2[x] + yn2)
                    zbuf[x] = min(_log2_1p(t * inv_t0, log2) * zscale, np.float32(gk - 1))
            arow = alpha[y]
            for j in range(bw - 1):  # the background's share, (1 - alpha) background, cell by cell
                o = 3 * j
                b0, b1, b2 = bgrow[o], bgrow[o + 1], bgrow[o + 2]
                d0, d1, d2 = bgrow[o + 3] - b0, bgrow[o + 4] - b1, bgrow[o + 5] - b2
                for x in range(cell_start[j], cell_start[j + 1]):
                    u = np.uint64(x)
                    wb = np.float32(1.0) - min(max(arow[u], np.float32(0.0)), np.float32(1.0))
                    ax = bwt[u]
                    acc0[u] = wb * (b0 + d0 * ax)
                    acc1[u] = wb * (b1 + d1 * ax)
                    acc2[u] = wb * (b2 + d2 * ax)
            for x in range(w):  # the splats' share, through the air
                a = min(max(arow[x], np.float32(0.0)), np.float32(1.0))
                if a > 0.0:
                    inv_a = np.float32(n_dec) / a
                    c0 = decode[min(int(rgb[y, x, 0] * inv_a + 0.5), n_dec)]
                    c1 = decode[min(int(rgb[y, x, 1] * inv_a + 0.5), n_dec)]
                    c2 = decode[min(int(rgb[y, x, 2] * inv_a + 0.5), n_dec)]
                    if has_vol > 0.0:
                        z = zbuf[x]
                        z0 = min(int(z), gk - 2)
                        az = z - z0
                        v0 = int(cols[2, x])
                        avx = cols[5, x]
                        w00 = (1 - avx) * (1 - az)
                        w01 = (1 - avx) * az
                        w10 = avx * (1 - az)
                        w11 = avx * az
                        o00 = (v0 * gk + z0) * 6
                        o10 = o00 + gk * 6
                        f0 = (volrow[o00 + 0] * w00 + volrow[o00 + 6 + 0] * w01
                              + volrow[o10 + 0] * w10 + volrow[o10 + 6 + 0] * w11)
                        f1 = (volrow[o00 + 1] * w00 + volrow[o00 + 6 + 1] * w01
                              + volrow[o10 + 1] * w10 + volrow[o10 + 6 + 1] * w11)
                        f2 = (volrow[o00 + 2] * w00 + volrow[o00 + 6 + 2] * w01
                              + volrow[o10 + 2] * w10 + volrow[o10 + 6 + 2] * w11)
                        i0 = (volrow[o00 + 3] * w00 + volrow[o00 + 6 + 3] * w01
                              + volrow[o10 + 3] * w10 + volrow[o10 + 6 + 3] * w11)
                        i1 = (volrow[o00 + 4] * w00 + volrow[o00 + 6 + 4] * w01
                              + volrow[o10 + 4] * w10 + volrow[o10 + 6 + 4] * w11)
                        i2 = (volrow[o00 + 5] * w00 + volrow[o00 + 6 + 5] * w01
                              + volrow[o10 + 5] * w10 + volrow[o10 + 6 + 5] * w11)
                        c0 = c0 * f0 + i0
                        c1 = c1 * f1 + i1
                        c2 = c2 * f2 + i2
                    acc0[x] += a * c0
                    acc1[x] += a * c1
                    acc2[x] += a * c2
            if row_exact[y]:  # exact background at edge pixels, in place of the interpolated one
                for x in range(w):
                    j = exact_map[y, x]
                    if j >= 0:
                        wb = np.float32(1.0) - min(max(arow[x], np.float32(0.0)), np.float32(1.0))
                        o = int(cols[0, x]) * 3
                        ax = bwt[x]
                        acc0[x] += wb * (exact[j, 0] - (bgrow[o] + (bgrow[o + 3] - bgrow[o]) * ax))
                        acc1[x] += wb * (exact[j, 1] - (bgrow[o + 1] + (bgrow[o + 4] - bgrow[o + 1]) * ax))
                        acc2[x] += wb * (exact[j, 2] - (bgrow[o + 2] + (bgrow[o + 5] - bgrow[o + 2]) * ax))
            if sy0 <= y < sy1:  # the sun's disc, behind the splats
                yd = (y + 0.5 - np.float64(cy)) / np.float64(fy)  # float64: the disc's edge spans 1e-5 in cos_a
                for x in range(sx0, sx1):
                    xn = cols[4, x]
                    cos_a = (xn * sun[4] + yd * sun[5] + sun[6]) / math.sqrt(1.0 + xn * xn + yd * yd)
                    wb = 1.0 - min(max(arow[x], np.float32(0.0)), np.float32(1.0))
                    cover = min(max((cos_a - sun[7]) / (sun[8] - sun[7]), 0.0), 1.0) * wb
                    acc0[x] += np.float32(cover * sun[9])
                    acc1[x] += np.float32(cover * sun[10])
                    acc2[x] += np.float32(cover * sun[11])
            for x in range(w):
                out[y, x, 0] = encode[_enc_index(acc0[x], n1, s2, n_enc)]
                out[y, x, 1] = encode[_enc_index(acc1[x], n1, s2, n_enc)]
                out[y, x, 2] = encode[_enc_index(acc2[x], n1, s2, n_enc)]


@njit(inline="always", fastmath=True)
def _lerp_rows(a, b, t, out):
    """Writes a + (b - a) t into out (1-D arrays); unsigned indices, so that the loop vectorizes."""
    for i in range(out.shape[0]):
        u = np.uint64(i)
        out[u] = a[u] + (b[u] - a[u]) * t


@njit(inline="always", fastmath=True)
def _log2_1p(x, c):
    """log2(1 + x) for 0 <= x < 2^32: the exponent by halving steps (selects, no bit casts, so the
    row loop vectorizes; reading the float's bits cost 1.3 ms a 1280x720 frame more), a cubic on
    the mantissa (error 1.3e-3, 0.003 slices).
    """
    m = x + np.float32(1.0)
    e = np.float32(0.0)
    for k, scale in ((16.0, 65536.0), (8.0, 256.0), (4.0, 16.0), (2.0, 4.0), (1.0, 2.0)):
        big = m >= np.float32(scale)
        m = m * np.float32(1.0 / scale) if big else m
        e += np.float32(k) if big else np.float32(0.0)
    return ((c[0] * m + c[1]) * m + c[2]) * m + c[3] + e


@njit(inline="always", fastmath=True)
def _enc_index(x, n1, s2, n_enc):
    if x < 1.0:
        return int(max(x, np.float32(0.0)) * n1)
    return min(_ENC_N1 + int((x - np.float32(1.0)) * s2), n_enc)


_composite_serial, _composite_parallel = serial_and_parallel(_composite_py)


def _sun_params(camera: Camera, fa: FrameAtmosphere, radius: float) -> np.ndarray:
    x0, y0, x1, y1 = sun_window(camera, fa, radius)
    # Anti-aliased edge: full inside 0.8 r, none outside 1.2 r.
    return np.array([x0, y0, x1, y1, *fa.sun_camera, math.cos(1.2 * radius), math.cos(0.8 * radius),
                     *fa.sun_colour], dtype=np.float64)


def _columns(camera: Camera, bw: int, gx: int) -> np.ndarray:
    """Per-column terms (6, W): background cell and weight, volume cell, x'^2, x', volume weight."""
    w = camera.width
    x = np.arange(w, dtype=np.float64)
    bx = x * (bw - 1) / max(w - 1, 1)
    b0 = np.minimum(bx.astype(np.int64), bw - 2)
    vx = x * (gx - 1) / max(w - 1, 1)
    v0 = np.minimum(vx.astype(np.int64), max(gx - 2, 0))
    xn = (x + 0.5 - camera.cx) / camera.fx
    return np.stack([b0, bx - b0, v0, xn * xn, xn, vx - v0]).astype(np.float32)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)


def composite_numba(rgb: torch.Tensor, alpha: torch.Tensor, depth: torch.Tensor, fa: FrameAtmosphere,
                    camera: Camera, sun_radius: float) -> torch.Tensor:
    """The per-pixel pass on CPU tensors (numba)."""
    vol = fa.volume.numpy() if fa.volume is not None else np.zeros((2, 2, 2, 6), dtype=np.float32)
    bg = fa.background.numpy()
    has_vol = fa.volume is not None
    params = np.array([camera.fx, camera.fy, camera.cx, camera.cy, 1.0 / fa.t0,
                       (vol.shape[2] - 1) * math.log(2.0) / math.log1p(fa.t_far / fa.t0) if has_vol else 0.0,
                       1.0 if has_vol else 0.0, 1.0 / _X_MAX], dtype=np.float32)
    if fa.exact_map is not None:
        exact_map = fa.exact_map
        row_exact = (exact_map >= 0).any(axis=1)
    else:
        exact_map = np.full((1, 1), -1, dtype=np.int32)
        row_exact = np.zeros(camera.height, dtype=np.bool_)
    exact = fa.exact_values.numpy() if fa.exact_values is not None else np.zeros((1, 3), dtype=np.float32)
    out = np.empty((camera.height, camera.width, 3), dtype=np.float32)
    kernel = _composite_parallel if camera.width * camera.height >= _PARALLEL_PIXELS else _composite_serial
    bg2 = np.ascontiguousarray(bg, dtype=np.float32).reshape(bg.shape[0], -1)
    vol2 = np.ascontiguousarray(vol, dtype=np.float32).reshape(vol.shape[0], -1)
    cols = _columns(camera, bg.shape[1], vol.shape[1])
    cell_start = np.searchsorted(cols[0].astype(np.int64), np.arange(bg.shape[1]))
    cell_start[-1] = camera.width
    kernel(_numpy(rgb), _numpy(alpha), _numpy(depth), bg2, vol2, vol.shape[2], cols, cell_start, params,
           _sun_params(camera, fa, sun_radius),
           _DECODE_NEAREST, _ENCODE_NEAREST, _LOG2_POLY, exact_map, np.ascontiguousarray(exact, dtype=np.float32),
           row_exact, out)
    return torch.from_numpy(out)


# ----------------------------------------------------------------------------- torch (any device)
def composite_torch(rgb: torch.Tensor, alpha: torch.Tensor, depth: torch.Tensor, fa: FrameAtmosphere,
                    camera: Camera, sun_radius: float) -> torch.Tensor:
    """The per-pixel pass in torch, on the tensors' device."""
    h, w = alpha.shape
    dev = rgb.device
    a = alpha.clamp(0.0, 1.0).unsqueeze(-1)
    lin = srgb_to_linear((rgb / a.clamp_min(1e-12)).clamp(0.0, 1.0))
    bg = F.interpolate(fa.background.to(dev).permute(2, 0, 1)[None], size=(h, w), mode="bilinear",
                       align_corners=True)[0].permute(1, 2, 0)
    if fa.exact_map is not None and fa.exact_values is not None:
        ey, ex = np.nonzero(fa.exact_map >= 0)
        bg = bg.clone()
        bg[torch.as_tensor(ey, device=dev), torch.as_tensor(ex, device=dev)] = \
            fa.exact_values.to(dev)[torch.as_tensor(fa.exact_map[ey, ex], device=dev, dtype=torch.long)]
    if fa.volume is not None:
        xs = torch.arange(w, device=dev, dtype=torch.float32)
        ys = torch.arange(h, device=dev, dtype=torch.float32)
        xn = ((xs + 0.5 - camera.cx) / camera.fx)[None, :]
        yn = ((ys + 0.5 - camera.cy) / camera.fy)[:, None]
        t = depth.clamp_min(0.0) * torch.sqrt(1.0 + xn * xn + yn * yn)
        z = (torch.log1p(t / fa.t0) / math.log1p(fa.t_far / fa.t0)).clamp(0.0, 1.0)
        gx = (xs / max(w - 1, 1) * 2.0 - 1.0)[None, :].expand(h, w)
        gy = (ys / max(h - 1, 1) * 2.0 - 1.0)[:, None].expand(h, w)
        grid = torch.stack([z * 2.0 - 1.0, gx, gy], dim=-1)[None, None]  # x -> K, y -> Gx, z -> Gy
        vol = fa.volume.to(dev).permute(3, 0, 1, 2)[None]  # (1, 6, Gy, Gx, K)
        v = F.grid_sample(vol, grid, mode="bilinear", padding_mode="border", align_corners=True)[0, :, 0]
        v = v.permute(1, 2, 0)
        lin = lin * v[..., :3] + v[..., 3:]
    res = a * lin + (1.0 - a) * bg
    window, cover = sun_disc(camera, fa, sun_radius, dev)
    if cover is not None:
        x0, y0, x1, y1 = window
        colour = torch.as_tensor(fa.sun_colour, dtype=torch.float32, device=dev)
        res[y0:y1, x0:x1] += (1.0 - a[y0:y1, x0:x1]) * cover * colour
    return linear_to_srgb(tone_map(res))

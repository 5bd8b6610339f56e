"""The per-pixel pass: splat colours through the aerial-perspective volume, over the background,
then tone mapping and sRGB encoding.

Colour convention: the renderer's rgb is sRGB-encoded, alpha-premultiplied over black. It is
decoded to linear, divided by alpha, multiplied by the volume's surface factor and added to the
in-scattered light at the pixel's distance (depth times the ray's length per unit depth), then
composited over the background by alpha. Tone mapping is the identity up to a knee (0.8) and an
exponential shoulder above it that reaches 1 only at infinity, per channel, so colours under the
knee (everything a splat shows in the reference daylight, and the blue sky) pass unchanged and the
sun and a bright limb roll off instead of clipping; then the sRGB transfer function.

Two implementations: a fused numba kernel for CPU tensors (one pass over the pixels, lookup tables
for the transfer functions) and a torch one (any device, exact transfer functions).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange

from ..geometry import Camera
from .frame import FrameAtmosphere

KNEE = 0.8
_LUT = 4096
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


def _luts() -> tuple[np.ndarray, np.ndarray]:
    c = torch.linspace(0.0, 1.0, _LUT, dtype=torch.float64)
    decode = srgb_to_linear(c)
    encode = linear_to_srgb(tone_map((c * c) * _X_MAX))
    return decode.numpy().astype(np.float32), encode.numpy().astype(np.float32)


_DECODE, _ENCODE = _luts()


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


# ----------------------------------------------------------------------------- numba (CPU)
@njit(inline="always", fastmath=True)
def _lut(table, x):
    f = x * (table.shape[0] - 1)
    if f <= 0.0:
        return table[0]
    if f >= table.shape[0] - 1:
        return table[table.shape[0] - 1]
    i = int(f)
    a = f - i
    return table[i] * (1.0 - a) + table[i + 1] * a


@njit(inline="always", fastmath=True)
def _aerial(vol, vy0, avy, vx0, avx, z, col):
    """Col = col * factor + in-scattered light, trilinear in the volume at (row, column, slice z)."""
    z0 = min(int(z), vol.shape[2] - 2)
    az = z - z0
    for c in range(6):
        v00 = vol[vy0, vx0, z0, c] * (1 - az) + vol[vy0, vx0, z0 + 1, c] * az
        v01 = vol[vy0, vx0 + 1, z0, c] * (1 - az) + vol[vy0, vx0 + 1, z0 + 1, c] * az
        v10 = vol[vy0 + 1, vx0, z0, c] * (1 - az) + vol[vy0 + 1, vx0, z0 + 1, c] * az
        v11 = vol[vy0 + 1, vx0 + 1, z0, c] * (1 - az) + vol[vy0 + 1, vx0 + 1, z0 + 1, c] * az
        v = (v00 * (1 - avx) + v01 * avx) * (1 - avy) + (v10 * (1 - avx) + v11 * avx) * avy
        if c < 3:
            col[c] = col[c] * v
        else:
            col[c - 3] = col[c - 3] + v


@njit(parallel=True, fastmath=True, cache=True)
def _composite_kernel(rgb, alpha, depth, bg, vol, params, sun, decode, encode, exact_map, exact, out):
    h, w = alpha.shape
    fx, fy, cx, cy, t0 = params[0], params[1], params[2], params[3], params[4]
    inv_log, has_vol, x_max, has_exact = params[5], params[6], params[7], params[8]
    sx0, sy0, sx1, sy1 = int(sun[0]), int(sun[1]), int(sun[2]), int(sun[3])
    bh, bw = bg.shape[0], bg.shape[1]
    gy, gx, gk = vol.shape[0], vol.shape[1], vol.shape[2]
    # Per-column terms, once.
    bx0s = np.empty(w, dtype=np.int64)
    axs = np.empty(w, dtype=np.float32)
    vx0s = np.empty(w, dtype=np.int64)
    avxs = np.empty(w, dtype=np.float32)
    xn2s = np.empty(w, dtype=np.float32)
    for x in range(w):
        bx = x * (bw - 1) / max(w - 1, 1)
        bx0s[x] = min(int(bx), bw - 2)
        axs[x] = bx - bx0s[x]
        vx = x * (gx - 1) / max(w - 1, 1)
        vx0s[x] = min(int(vx), max(gx - 2, 0))
        avxs[x] = vx - vx0s[x]
        xn = (x + 0.5 - cx) / fx
        xn2s[x] = xn * xn
    for y in prange(h):
        yn = (y + 0.5 - cy) / fy
        by = y * (bh - 1) / max(h - 1, 1)
        by0 = min(int(by), bh - 2)
        ay = by - by0
        vy = y * (gy - 1) / max(h - 1, 1)
        vy0 = min(int(vy), max(gy - 2, 0))
        avy = vy - vy0
        res = np.empty(3, dtype=np.float32)  # per row, not per pixel: allocations are slow
        col = np.empty(3, dtype=np.float32)
        for x in range(w):
            a = alpha[y, x]
            a = min(max(a, 0.0), 1.0)
            if a < 1.0:
                j = exact_map[y, x] if has_exact > 0.0 else -1
                if j >= 0:
                    for c in range(3):
                        res[c] = (1.0 - a) * exact[j, c]
                else:
                    bx0 = bx0s[x]
                    ax = axs[x]
                    for c in range(3):
                        res[c] = (1.0 - a) * ((bg[by0, bx0, c] * (1.0 - ax) + bg[by0, bx0 + 1, c] * ax) * (1.0 - ay)
                                              + (bg[by0 + 1, bx0, c] * (1.0 - ax) + bg[by0 + 1, bx0 + 1, c] * ax) * ay)
            else:
                res[0] = 0.0
                res[1] = 0.0
                res[2] = 0.0
            if a > 0.0:
                inv_a = 1.0 / a
                for c in range(3):
                    col[c] = _lut(decode, min(rgb[y, x, c] * inv_a, 1.0))
                if has_vol > 0.0:
                    t = depth[y, x] * math.sqrt(1.0 + xn2s[x] + yn * yn)
                    z = math.log1p(max(t, 0.0) / t0) * inv_log * (gk - 1)
                    z = min(max(z, 0.0), gk - 1.0)
                    _aerial(vol, vy0, avy, vx0s[x], avxs[x], z, col)
                for c in range(3):
                    res[c] += a * col[c]
            if sy0 <= y < sy1 and sx0 <= x < sx1 and a < 1.0:
                xn = (x + 0.5 - cx) / fx
                inv = 1.0 / math.sqrt(1.0 + xn * xn + yn * yn)
                cos_a = (xn * sun[4] + yn * sun[5] + sun[6]) * inv
                cover = min(max((cos_a - sun[7]) / (sun[8] - sun[7]), 0.0), 1.0)
                for c in range(3):
                    res[c] += (1.0 - a) * cover * sun[9 + c]
            for c in range(3):
                out[y, x, c] = _lut(encode, math.sqrt(min(max(res[c], 0.0) / x_max, 1.0)))


def _sun_params(camera: Camera, fa: FrameAtmosphere, radius: float) -> np.ndarray:
    x0, y0, x1, y1 = sun_window(camera, fa, radius)
    # Anti-aliased edge: full inside 0.8 r, none outside 1.2 r.
    return np.array([x0, y0, x1, y1, *fa.sun_camera, math.cos(1.2 * radius), math.cos(0.8 * radius),
                     *fa.sun_colour], dtype=np.float64)


def composite_numba(rgb: torch.Tensor, alpha: torch.Tensor, depth: torch.Tensor, fa: FrameAtmosphere,
                    camera: Camera, sun_radius: float) -> torch.Tensor:
    """The per-pixel pass on CPU tensors (numba)."""
    vol = fa.volume if fa.volume is not None else torch.zeros(2, 2, 2, 6)
    params = np.array([camera.fx, camera.fy, camera.cx, camera.cy, fa.t0,
                       1.0 / math.log1p(fa.t_far / fa.t0) if fa.volume is not None else 0.0,
                       1.0 if fa.volume is not None else 0.0, _X_MAX, 1.0 if fa.exact_map is not None else 0.0])
    exact_map = fa.exact_map if fa.exact_map is not None else np.full((1, 1), -1, dtype=np.int32)
    exact = fa.exact_values.numpy() if fa.exact_values is not None else np.zeros((1, 3), dtype=np.float32)
    out = np.empty((camera.height, camera.width, 3), dtype=np.float32)
    _composite_kernel(np.ascontiguousarray(rgb.numpy(), dtype=np.float32),
                      np.ascontiguousarray(alpha.numpy(), dtype=np.float32),
                      np.ascontiguousarray(depth.numpy(), dtype=np.float32),
                      fa.background.numpy(), vol.numpy(), params, _sun_params(camera, fa, sun_radius),
                      _DECODE, _ENCODE, exact_map, np.ascontiguousarray(exact, dtype=np.float32), out)
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
    x0, y0, x1, y1 = sun_window(camera, fa, sun_radius)
    if x1 > x0:
        xs = torch.arange(x0, x1, device=dev, dtype=torch.float64)
        ys = torch.arange(y0, y1, device=dev, dtype=torch.float64)
        xn = ((xs + 0.5 - camera.cx) / camera.fx)[None, :]
        yn = ((ys + 0.5 - camera.cy) / camera.fy)[:, None]
        s = fa.sun_camera
        cos_a = (xn * s[0] + yn * s[1] + s[2]) / torch.sqrt(1.0 + xn * xn + yn * yn)
        lo, hi = math.cos(1.2 * sun_radius), math.cos(0.8 * sun_radius)
        cover = ((cos_a - lo) / (hi - lo)).clamp(0.0, 1.0).float().unsqueeze(-1)
        colour = torch.as_tensor(fa.sun_colour, dtype=torch.float32, device=dev)
        res[y0:y1, x0:x1] += (1.0 - a[y0:y1, x0:x1]) * cover * colour
    return linear_to_srgb(tone_map(res))

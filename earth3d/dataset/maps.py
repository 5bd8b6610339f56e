"""Per-view maps as files: RGB, depth (metres), normals, class labels and instances.

- depth: 16-bit PNG of `round(depth / scale)` with `scale` (metres per unit) written in
  transforms.json as `earth3d_depth_scale` (pass it as nerfstudio's `--depth-unit-scale-factor`),
  0 where nothing is drawn or out of range; or float32 metres in .npy.
- normals: unit normals in the camera frame, OpenCV axes (x right, y down, z forward), as PNG
  `(n + 1) / 2 * 255`, (0, 0, 0) where nothing is drawn. Taken from the renderer's normal map
  when it gives one, else from the depth map (cross product of its neighbours' back-projections).
- labels: an 8-bit class-id PNG, and a colour PNG holding the same pixels as indexed colour
  with the class table's colours as its palette (`class_palette`).
- instances: int64 ids in .npy (ids can exceed 32 bits), 0 for none.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
from numba import njit

#: Pixels whose accumulated alpha is under this count as "nothing drawn" in depth and normals.
DRAWN_ALPHA = 0.5
#: Largest 16-bit depth unit (metres) before "auto" writes .npy instead: 16 bits then span 6.5 km.
MAX_PNG_DEPTH_SCALE = 0.1


def depth_scale_for(max_depth_m: float) -> float:
    """The smallest 1-2-5 x 10^k metres-per-unit with which `max_depth_m` fits in 16 bits."""
    need = max(max_depth_m, 1e-3) / 65535.0
    k = math.floor(math.log10(need))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10.0**k >= need:
            return float(f"{m * 10.0**k:.12g}")
    return 10.0 ** (k + 1)  # pragma: no cover


def encode_depth_png(depth: np.ndarray, drawn: np.ndarray, scale: float) -> np.ndarray:
    """16-bit depth units, round(depth / scale) (0 where not drawn, under 1 or beyond 65535 units)."""
    return _depth_kernel(np.ascontiguousarray(depth), np.ascontiguousarray(drawn, np.bool_), float(scale))


@njit(cache=True, nogil=True)
def _depth_kernel(depth, drawn, scale):  # pragma: no cover - compiled
    h, w = depth.shape
    out = np.zeros((h, w), np.uint16)
    for r in range(h):
        for c in range(w):
            units = np.rint(np.float64(depth[r, c]) / scale)
            if drawn[r, c] and units >= 1.0 and units <= 65535.0:
                out[r, c] = np.uint16(units)
    return out


def rgb_to_uint8(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 of the first three channels of a float image in [0, 1]: round(255 v), clipped
    (NaN: 0), in one compiled pass.
    """
    return _rgb8_kernel(np.ascontiguousarray(rgb, np.float32))


@njit(cache=True, nogil=True)
def _rgb8_kernel(rgb):  # pragma: no cover - compiled
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 3), np.uint8)
    for r in range(h):
        for c in range(w):
            for k in range(3):
                v = np.rint(rgb[r, c, k] * np.float32(255.0))
                out[r, c, k] = np.uint8(min(max(v, np.float32(0.0)), np.float32(255.0))) if v == v else 0
    return out


def normals_from_depth(depth: np.ndarray, drawn: np.ndarray, fx: float, fy: float, cx: float,
                       cy: float) -> np.ndarray:
    """(H, W, 3) unit camera-frame normals from a depth map (zero where not drawn or at its edges).

    The normal at a pixel is the cross product of the central differences of its neighbours'
    back-projections (x = (u + 0.5 - cx) / fx * depth, ...), turned to face the camera.
    """
    return _normals_kernel(np.ascontiguousarray(depth, np.float64), np.ascontiguousarray(drawn, np.bool_),
                           float(fx), float(fy), float(cx), float(cy))


@njit(cache=True, nogil=True)
def _normals_kernel(depth, drawn, fx, fy, cx, cy):  # pragma: no cover - compiled
    h, w = depth.shape
    out = np.zeros((h, w, 3), np.float32)
    for r in range(1, h - 1):
        v0, v1, vc = (r - 0.5 - cy) / fy, (r + 1.5 - cy) / fy, (r + 0.5 - cy) / fy
        for c in range(1, w - 1):
            if not (drawn[r, c] and drawn[r - 1, c] and drawn[r + 1, c] and drawn[r, c - 1] and drawn[r, c + 1]):
                continue
            u0, u1, uc = (c - 0.5 - cx) / fx, (c + 1.5 - cx) / fx, (c + 0.5 - cx) / fx
            dl, dr, du, dd = depth[r, c - 1], depth[r, c + 1], depth[r - 1, c], depth[r + 1, c]
            ax, ay, az = dr * u1 - dl * u0, (dr - dl) * vc, dr - dl  # along the row
            bx, by, bz = (dd - du) * uc, dd * v1 - du * v0, dd - du  # down the column
            nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
            norm = math.sqrt(nx * nx + ny * ny + nz * nz)
            if norm == 0.0:
                continue
            if nx * uc + ny * vc + nz > 0.0:  # facing away from the camera: turn it
                norm = -norm
            out[r, c, 0], out[r, c, 1], out[r, c, 2] = nx / norm, ny / norm, nz / norm
    return out


def encode_normals(normal: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: (n + 1) / 2 * 255, black where the normal is zero."""
    return _encode_kernel(np.ascontiguousarray(normal, np.float32))


@njit(cache=True, nogil=True)
def _encode_kernel(normal):  # pragma: no cover - compiled
    h, w, _ = normal.shape
    out = np.zeros((h, w, 3), np.uint8)
    for r in range(h):
        for c in range(w):
            x, y, z = normal[r, c, 0], normal[r, c, 1], normal[r, c, 2]
            if x == 0.0 and y == 0.0 and z == 0.0:
                continue
            out[r, c, 0] = min(max(round((x + 1.0) * 127.5), 0), 255)
            out[r, c, 1] = min(max(round((y + 1.0) * 127.5), 0), 255)
            out[r, c, 2] = min(max(round((z + 1.0) * 127.5), 0), 255)
    return out


def decode_normals(png: np.ndarray) -> np.ndarray:
    """The inverse of `encode_normals` (unit vectors, zero where black)."""
    n = png.astype(np.float32) / 127.5 - 1.0
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(np.any(png > 0, -1, keepdims=True), n / np.maximum(norm, 1e-6), 0.0)


def class_palette() -> np.ndarray:
    """(256, 3) uint8: row `id` is the colour of class `id` (`earth3d.classes.class_colours()`), unused ids black."""
    classes = importlib.import_module("earth3d.classes")  # the class table (where this version has one)
    table = np.zeros((256, 3), np.uint8)
    colours = np.asarray(classes.class_colours(), np.uint8)[:256]
    table[:len(colours)] = colours
    return table

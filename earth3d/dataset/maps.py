"""Per-view maps as files: RGB, depth (metres), normals, class labels and instances.

- depth: 16-bit PNG of `round(depth / scale)` with `scale` (metres per unit) written in
  transforms.json as `earth3d_depth_scale` (pass it as nerfstudio's `--depth-unit-scale-factor`),
  0 where nothing is drawn or out of range; or float32 metres in .npy.
- normals: unit normals in the camera frame, OpenCV axes (x right, y down, z forward), as PNG
  `(n + 1) / 2 * 255`, (0, 0, 0) where nothing is drawn. Taken from the renderer's normal map
  when it gives one, else from the depth map (cross product of its neighbours' back-projections).
- labels: an 8-bit class-id PNG, and a colour PNG holding the same pixels as indexed colour
  with the class table's colours as its palette (`class_palette`).
- instances: a 16-bit PNG of indices into the view's own table of int64 ids (ids can exceed 32
  bits; a view sees far fewer than 65,536 objects), the table in .npy with 0 (none) at index 0;
  int64 ids in .npy for a view that sees more objects than that (`index_instances`).
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
    return _rgb8_kernel(np.ascontiguousarray(np.asarray(rgb)[..., :3], np.float32))


@njit(cache=True, nogil=True)
def _rgb8_kernel(rgb):  # pragma: no cover - compiled
    h, w = rgb.shape[:2]
    flat = rgb.reshape(-1)  # one flat loop over the samples vectorizes (a loop per pixel and channel does not)
    out = np.empty(h * w * 3, np.uint8)
    for i in range(flat.size):
        v = np.rint(flat[i] * np.float32(255.0))
        v = v if v == v else np.float32(0.0)
        out[i] = np.uint8(np.int32(min(max(v, np.float32(0.0)), np.float32(255.0))))
    return out.reshape(h, w, 3)


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
    flat = normal.reshape(-1)
    out = np.empty(h * w * 3, np.uint8)
    for i in range(flat.size):  # every sample (a flat loop vectorizes), then the zero normals made black
        v = np.rint((flat[i] + np.float32(1.0)) * np.float32(127.5))
        out[i] = np.uint8(np.int32(min(max(v, np.float32(0.0)), np.float32(255.0))))
    for p in range(h * w):
        if flat[3 * p] == 0.0 and flat[3 * p + 1] == 0.0 and flat[3 * p + 2] == 0.0:
            out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = 0
    return out.reshape(h, w, 3)


def decode_normals(png: np.ndarray) -> np.ndarray:
    """The inverse of `encode_normals` (unit vectors, zero where black)."""
    n = png.astype(np.float32) / 127.5 - 1.0
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(np.any(png > 0, -1, keepdims=True), n / np.maximum(norm, 1e-6), 0.0)


def index_instances(instance: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A view's instance map as 16-bit indices into a table of its distinct ids, in one compiled pass.

    Args:
        instance: (H, W) int64 instance ids, 0 for none.

    Returns:
        (index, ids): (H, W) uint16 and the int64 ids in order of first appearance (row-major), 0
        first, so that `ids[index]` is `instance`; None where the view holds more than 65,535 ids.

    Example:
        >>> index, ids = index_instances(np.array([[0, 7], [2**40, 7]]))
        >>> index.tolist(), ids.tolist()
        ([[0, 1], [2, 1]], [0, 7, 1099511627776])
    """
    index, ids, n = _index_kernel(np.ascontiguousarray(instance, np.int64))
    return None if n < 0 else (index, ids[:n].copy())


@njit(cache=True, nogil=True)
def _index_kernel(instance):  # pragma: no cover - compiled
    """(index, ids, n) of `index_instances` (n = -1 past 65,536 ids) through an open-addressing hash table."""
    h, w = instance.shape
    slots = 1 << 17  # twice the most ids: probes stay short
    keys = np.zeros(slots, np.int64)  # 0 = empty (id 0 is index 0 and never stored)
    vals = np.zeros(slots, np.uint16)
    ids = np.zeros(65536, np.int64)
    index = np.empty((h, w), np.uint16)
    n = 1
    last, last_k = np.int64(0), np.uint16(0)
    for r in range(h):
        for c in range(w):
            v = instance[r, c]
            if v != last:  # runs of one object along a row skip the table
                if v == 0:
                    last_k = np.uint16(0)
                else:
                    s = (np.uint64(v) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(47)
                    while keys[s] != 0 and keys[s] != v:
                        s = (s + np.uint64(1)) & np.uint64(slots - 1)
                    if keys[s] == 0:
                        if n == 65536:
                            return index, ids, -1
                        keys[s], vals[s], ids[n] = v, np.uint16(n), v
                        n += 1
                    last_k = vals[s]
                last = v
            index[r, c] = last_k
    return index, ids, n


def class_palette() -> np.ndarray:
    """(256, 3) uint8: row `id` is the colour of class `id` (`earth3d.classes.class_colours()`), unused ids black."""
    classes = importlib.import_module("earth3d.classes")  # the class table (where this version has one)
    table = np.zeros((256, 3), np.uint8)
    colours = np.asarray(classes.class_colours(), np.uint8)[:256]
    table[:len(colours)] = colours
    return table

"""SPZ, the compressed Gaussian-splat format published by Niantic (versions 2 and 3).

An SPZ file is a gzip stream of a 16-byte header

    uint32 magic 0x5053474e ("NGSP"), uint32 version, uint32 numPoints,
    uint8 shDegree, uint8 fractionalBits, uint8 flags (1 = antialiased), uint8 reserved

followed by attribute blocks, each for all points in turn:

    positions  3 x 24-bit signed fixed point, `fractionalBits` fractional bits
    alphas     uint8, opacity * 255
    colors     3 x uint8, SH DC * (0.15 * 255) + 127.5
    scales     3 x uint8, (log(scale) + 10) * 16 (so 4.5e-5 .. 379 units; beyond is clamped)
    rotations  version 2: 3 x uint8 of x, y, z of the unit quaternion with w >= 0, (v + 1) * 127.5;
               version 3: uint32 "smallest three": index of the largest component (2 bits), then
               the three others as sign bit + 9-bit magnitude / sqrt(1/2), in order of index
    sh         per point, (degree+1)^2 - 1 coefficients x (r, g, b), uint8 round(v * 128) + 128,
               bucketed to 5 bits for degree 1 and 4 bits above

SPZ stores a right-up-back frame (x right, y up, z back). Standalone files from here hold the
local ENU frame as x east, y up, z south (east to the right, looking north), with the geodetic
origin in a `<file>.json` sidecar, as for PLY. Inside glTF
(`KHR_gaussian_splatting_compression_spz_2`) the glTF frame is converted as from left-up-front.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..atomic import check_output, write_bytes_atomic, write_json_atomic
from ..gaussians import Gaussians
from .enu import LocalFrame, check_lonlath, from_local, to_local

MAGIC = 0x5053474E
COLOR_SCALE = 0.15
SIDECAR_FORMAT = "earth3d.spz-georef/1"
# ENU -> the stored right-up-back axes: x east, y up, z south.
ENU_TO_RUB = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
_SQRT1_2 = np.float64(0.7071067811865476)
_MAX_FIXED = (1 << 23) - 1
MAX_SCALE = math.exp(255 / 16 - 10)  # about 379 m: larger scales are clamped by the format


def encode_spz(means, quats, scales, opacities, sh, version: int = 3, fractional_bits: int | None = None,
               compresslevel: int = 6) -> bytes:
    """Pack splats given in SPZ's frame into a gzipped SPZ blob.

    `means` (N, 3) metres, `quats` (N, 4) wxyz, `scales` (N, 3) linear std-devs, `opacities` (N,)
    in [0, 1], `sh` (N, K, 3). `fractional_bits` defaults to 12 (0.24 mm) or fewer when the
    extent needs it (24-bit fixed point holds +-2^23 steps). `compresslevel`: gzip's (1 fastest).
    """
    if version not in (2, 3):
        raise ValueError(f"SPZ version must be 2 or 3, got {version}")
    means = np.asarray(means, dtype=np.float64)
    n = len(means)
    k = sh.shape[1]
    degree = int(round(k**0.5)) - 1
    if (degree + 1) ** 2 != k or degree > 3:
        raise ValueError(f"SPZ holds SH degree 0..3, got {k} coefficients")
    extent = float(np.abs(means).max()) if n else 0.0
    if fractional_bits is None:
        fractional_bits = 12
        while fractional_bits > 0 and extent * (1 << fractional_bits) > _MAX_FIXED:
            fractional_bits -= 1
    if extent * (1 << fractional_bits) > _MAX_FIXED:
        raise ValueError(f"SPZ positions reach {extent:.1f} m, beyond 24-bit fixed point "
                         f"with {fractional_bits} fractional bits")

    fixed = np.round(means * (1 << fractional_bits)).astype(np.int64).astype("<i4")
    positions = fixed.view(np.uint8).reshape(n, 3, 4)[:, :, :3].reshape(-1)
    alphas = _to_u8(np.asarray(opacities, dtype=np.float64) * 255.0)
    colors = _to_u8(np.asarray(sh[:, 0, :], dtype=np.float64) * (COLOR_SCALE * 255.0) + 0.5 * 255.0)
    scale_bytes = _to_u8((np.log(np.maximum(np.asarray(scales, dtype=np.float64), 1e-30)) + 10.0) * 16.0)
    q = np.asarray(quats, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    xyzw = np.concatenate([q[:, 1:], q[:, :1]], axis=-1)
    rotations = _pack_first_three(xyzw) if version == 2 else _pack_smallest_three(xyzw)
    rest = np.asarray(sh[:, 1:, :], dtype=np.float64).reshape(n, -1)
    sh_bytes = np.empty(rest.shape, dtype=np.uint8)
    if rest.shape[1]:
        sh_bytes[:, :9] = _quantize_sh(rest[:, :9], 5)
        sh_bytes[:, 9:] = _quantize_sh(rest[:, 9:], 4)
    header = struct.pack("<IIIBBBB", MAGIC, version, n, degree, fractional_bits, 0, 0)
    raw = b"".join([header, positions.tobytes(), alphas.tobytes(), colors.tobytes(), scale_bytes.tobytes(),
                    rotations.tobytes(), sh_bytes.tobytes()])
    return gzip.compress(raw, compresslevel=compresslevel, mtime=0)


def spz_unit(means: np.ndarray, scales: np.ndarray) -> float:
    """The smallest power-of-two length unit (>= 1 m) in which `means` fit SPZ's 24-bit fixed point and
    `scales` its log-encoded range; a container (a glTF node matrix) scales the decoded values back.
    """
    extent = float(np.abs(means).max()) if len(means) else 0.0
    largest = float(np.max(scales)) if len(scales) else 0.0
    need = max(1.0, extent / _MAX_FIXED, largest / MAX_SCALE)
    return float(2.0 ** math.ceil(math.log2(need)))


def decode_spz(blob: bytes, source: str = "SPZ data") -> dict:
    """Unpack a gzipped SPZ blob (version 2 or 3) into float arrays in SPZ's frame:
    means, quats (wxyz), scales (linear), opacities, sh (N, K, 3).
    """
    try:
        raw = gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{source}: not gzip-compressed SPZ data ({exc})") from exc
    if len(raw) < 16:
        raise ValueError(f"{source}: SPZ header is truncated")
    magic, version, n, degree, frac, _flags, _ = struct.unpack_from("<IIIBBBB", raw, 0)
    if magic != MAGIC:
        raise ValueError(f"{source}: bad SPZ magic {magic:#x}")
    if version not in (2, 3):
        raise ValueError(f"{source}: SPZ version {version} is not supported (2 or 3)")
    if degree > 3:
        raise ValueError(f"{source}: SPZ SH degree {degree} is not supported")
    k = (degree + 1) ** 2
    rot_bytes = 3 if version == 2 else 4
    sizes = [9 * n, n, 3 * n, 3 * n, rot_bytes * n, 3 * (k - 1) * n]
    if len(raw) < 16 + sum(sizes):
        raise ValueError(f"{source}: SPZ body is truncated ({len(raw) - 16} of {sum(sizes)} bytes)")
    parts, at = [], 16
    for size in sizes:
        parts.append(np.frombuffer(raw, dtype=np.uint8, count=size, offset=at))
        at += size
    pos, alphas, colors, scales, rots, sh_bytes = parts
    b = pos.reshape(n, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    means = fixed.astype(np.float64) / (1 << frac)
    xyzw = _unpack_first_three(rots.reshape(n, 3)) if version == 2 else _unpack_smallest_three(rots.reshape(n, 4))
    sh = np.empty((n, k, 3))
    sh[:, 0, :] = (colors.reshape(n, 3) / 255.0 - 0.5) / COLOR_SCALE
    sh[:, 1:, :] = ((sh_bytes.reshape(n, k - 1, 3).astype(np.float64) - 128.0) / 128.0)
    return {
        "means": means,
        "quats": np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=-1),
        "scales": np.exp(scales.reshape(n, 3) / 16.0 - 10.0),
        "opacities": alphas / 255.0,
        "sh": sh,
        "version": version,
        "fractional_bits": frac,
    }


def write_spz(gaussians: Gaussians, path: str | os.PathLike, origin_lonlath=None, version: int = 3,
              overwrite: bool = False) -> Path:
    """Write `gaussians` as a standalone .spz in the local ENU frame (x east, y up, z south),
    with a `<file>.json` geo-reference.

    Args:
        gaussians: The splats (SH degree 0 to 3).
        path: The .spz file.
        origin_lonlath: The geodetic origin (lon, lat in degrees, ellipsoidal height in m) of the ENU frame
            (default: the splats' own origin).
        version: SPZ version, 2 or 3.
        overwrite: Replace existing files.

    Returns:
        The .spz path.

    Raises:
        ValueError: An unsupported version or SH degree, or positions beyond SPZ's fixed point range.
        OutputExistsError: The file or its sidecar exists and `overwrite` is False.

    Example:
        >>> write_spz(g, "scene.spz")  # doctest: +SKIP
    """
    path = check_output(path, overwrite, make_parent=False, flag="overwrite=True")
    side = check_output(path.with_name(path.name + ".json"), overwrite, make_parent=False, flag="overwrite=True")
    frame = LocalFrame.for_gaussians(gaussians, origin_lonlath)
    means, quats, scales, opacities, sh = to_local(gaussians, frame, axes=ENU_TO_RUB)
    write_bytes_atomic(path, encode_spz(means, quats, scales, opacities, sh, version=version))
    write_json_atomic(side, {"format": SIDECAR_FORMAT, **frame.georeference(), "axes": "x east, y up, z south",
                             "file": path.name, "count": len(gaussians), "sh_degree": gaussians.sh_degree})
    return path


def read_spz(path: str | os.PathLike, origin_lonlath=None) -> Gaussians:
    """Read a .spz written by `write_spz` (or any RUB-frame SPZ placed with `origin_lonlath`).

    Args:
        path: The .spz file.
        origin_lonlath: The geodetic origin of the file's frame; default: the one in its
            `<file>.json` sidecar (one of them is required).

    Returns:
        The splats, with their ECEF origin at the frame's origin.

    Raises:
        FileNotFoundError: No such file.
        ValueError: No geodetic origin, or the file is not SPZ data this reader reads.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such SPZ file")
    side = path.with_name(path.name + ".json")
    if origin_lonlath is None:
        if not side.is_file():
            raise ValueError(f"{path}: no geodetic origin: pass origin_lonlath or put {side.name} beside it")
        try:
            origin_lonlath = json.loads(side.read_text())["origin_lonlath"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{side}: not a readable SPZ geo-reference sidecar ({exc})") from exc
    frame = LocalFrame.at(*check_lonlath(origin_lonlath))
    d = decode_spz(path.read_bytes(), source=str(path))
    return from_local(frame, ENU_TO_RUB.T, d["means"], d["quats"], d["scales"], d["opacities"], d["sh"])


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _quantize_sh(x: np.ndarray, bits: int) -> np.ndarray:
    bucket = 1 << (8 - bits)
    q = np.round(x * 128.0).astype(np.int64) + 128
    q = (q + bucket // 2) // bucket * bucket
    return np.clip(q, 0, 255).astype(np.uint8)


def _pack_first_three(xyzw: np.ndarray) -> np.ndarray:
    q = xyzw * np.where(xyzw[:, 3:] < 0, -127.5, 127.5) + 127.5
    return _to_u8(q[:, :3])


def _unpack_first_three(r: np.ndarray) -> np.ndarray:
    xyz = r.astype(np.float64) / 127.5 - 1.0
    w = np.sqrt(np.maximum(0.0, 1.0 - (xyz * xyz).sum(-1, keepdims=True)))
    return np.concatenate([xyz, w], axis=-1)


def _pack_smallest_three(xyzw: np.ndarray) -> np.ndarray:
    largest = np.abs(xyzw).argmax(axis=-1)
    negate = np.take_along_axis(xyzw, largest[:, None], axis=-1)[:, 0] < 0
    comp = largest.astype(np.uint32)
    for i in range(4):
        skip = largest == i
        negbit = ((xyzw[:, i] < 0) ^ negate).astype(np.uint32)
        mag = np.minimum(np.floor(511.0 * np.abs(xyzw[:, i]) / _SQRT1_2 + 0.5), 511).astype(np.uint32)
        comp = np.where(skip, comp, (comp << np.uint32(10)) | (negbit << np.uint32(9)) | mag)
    return comp.astype("<u4").view(np.uint8).reshape(-1, 4)


def _unpack_smallest_three(r: np.ndarray) -> np.ndarray:
    comp = r.copy().view("<u4")[:, 0].astype(np.uint32)
    largest = (comp >> np.uint32(30)).astype(np.int64)
    out = np.zeros((len(r), 4))
    for i in range(3, -1, -1):
        skip = largest == i
        mag = (comp & np.uint32(511)).astype(np.float64)
        neg = ((comp >> np.uint32(9)) & np.uint32(1)).astype(bool)
        value = _SQRT1_2 * mag / 511.0
        out[:, i] = np.where(skip, 0.0, np.where(neg, -value, value))
        comp = np.where(skip, comp, comp >> np.uint32(10))
    rest = np.maximum(0.0, 1.0 - (out * out).sum(-1))
    np.put_along_axis(out, largest[:, None], np.sqrt(rest)[:, None], axis=-1)
    return out

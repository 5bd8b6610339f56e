"""Unit quaternions (w, x, y, z) and rotation matrices, both ways, and turning quaternions by a frame rotation.

Each function has a plain torch reference and a numba twin beside it (numpy in, numpy out); the
per-element kernels (`quat_rotmat`, `rotmat_quat`, `quat_mul`) are njit functions other numba
kernels call, so the renderer, the store's merging and the exporters share one formula.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange


# ---------------------------------------------------------------------------- quaternion -> matrix
def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """Quaternions (..., 4) in (w, x, y, z) order, any non-zero norm, to rotation matrices (..., 3, 3)."""
    q = quats / quats.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


@njit(cache=True)
def quat_rotmat(w: float, x: float, y: float, z: float) -> tuple:
    """The rotation matrix of the quaternion (w, x, y, z) (any non-zero norm) as 9 floats, row
    by row (numba kernel; one division, no square root).
    """
    s = 2.0 / (w * w + x * x + y * y + z * z)
    return (1 - s * (y * y + z * z), s * (x * y - w * z), s * (x * z + w * y),
            s * (x * y + w * z), 1 - s * (x * x + z * z), s * (y * z - w * x),
            s * (x * z - w * y), s * (y * z + w * x), 1 - s * (x * x + y * y))


@njit(parallel=True, cache=True)
def _quat_to_rotmat_into(quats: np.ndarray, out: np.ndarray) -> None:
    for i in prange(quats.shape[0]):
        r = quat_rotmat(quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3])
        for j in range(9):
            out[i, j // 3, j % 3] = r[j]


def quat_to_rotmat_nb(quats: np.ndarray) -> np.ndarray:
    """Numba twin of `quat_to_rotmat` for (N, 4) quaternions: float64 matrices (N, 3, 3)."""
    out = np.empty((len(quats), 3, 3))
    _quat_to_rotmat_into(np.ascontiguousarray(quats, dtype=np.float64), out)
    return out


# ---------------------------------------------------------------------------- matrix -> quaternion
def rotmat_to_quat(rot: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) to unit quaternions (..., 4), (w, x, y, z), w >= 0."""
    m = rot
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Shepperd's method: pick the largest of the four candidate denominators.
    cand = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    best = cand.argmax(dim=-1)
    s = torch.sqrt(cand.gather(-1, best[..., None]).squeeze(-1).clamp(min=1e-12)) * 2
    qs = torch.stack(
        [
            torch.stack([s / 4, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s], -1),
            torch.stack([(m21 - m12) / s, s / 4, (m01 + m10) / s, (m02 + m20) / s], -1),
            torch.stack([(m02 - m20) / s, (m01 + m10) / s, s / 4, (m12 + m21) / s], -1),
            torch.stack([(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, s / 4], -1),
        ],
        dim=-2,
    )
    q = qs.gather(-2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = q * torch.where(q[..., :1] < 0, -1.0, 1.0)
    return q / q.norm(dim=-1, keepdim=True)


@njit(cache=True)
def rotmat_quat(r: np.ndarray) -> tuple:
    """The unit quaternion (w, x, y, z), w >= 0, of the 3x3 rotation `r` (numba kernel, Shepperd's
    method: the largest of the four candidate denominators).
    """
    tr = r[0, 0] + r[1, 1] + r[2, 2]
    if tr > max(r[0, 0], r[1, 1], r[2, 2]):
        s = math.sqrt(max(1.0 + tr, 1e-12)) * 2
        w, x, y, z = s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s
    elif r[0, 0] >= r[1, 1] and r[0, 0] >= r[2, 2]:
        s = math.sqrt(max(1.0 + r[0, 0] - r[1, 1] - r[2, 2], 1e-12)) * 2
        w, x, y, z = (r[2, 1] - r[1, 2]) / s, s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s
    elif r[1, 1] >= r[2, 2]:
        s = math.sqrt(max(1.0 - r[0, 0] + r[1, 1] - r[2, 2], 1e-12)) * 2
        w, x, y, z = (r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s
    else:
        s = math.sqrt(max(1.0 - r[0, 0] - r[1, 1] + r[2, 2], 1e-12)) * 2
        w, x, y, z = (r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4
    norm = math.sqrt(w * w + x * x + y * y + z * z) * (-1.0 if w < 0 else 1.0)
    return w / norm, x / norm, y / norm, z / norm


@njit(parallel=True, cache=True)
def _rotmat_to_quat_into(rot: np.ndarray, out: np.ndarray) -> None:
    for i in prange(rot.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = rotmat_quat(rot[i])


def rotmat_to_quat_nb(rot: np.ndarray) -> np.ndarray:
    """Numba twin of `rotmat_to_quat` for (N, 3, 3) matrices: float64 quaternions (N, 4), w >= 0."""
    out = np.empty((len(rot), 4))
    _rotmat_to_quat_into(np.ascontiguousarray(rot, dtype=np.float64), out)
    return out


# ---------------------------------------------------------------------------- turning by a frame rotation
def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton products a * b of quaternions (..., 4), (w, x, y, z): the rotation b, then a."""
    w0, x0, y0, z0 = a.unbind(-1)
    w, x, y, z = b.unbind(-1)
    return torch.stack([
        w0 * w - x0 * x - y0 * y - z0 * z,
        w0 * x + x0 * w + y0 * z - z0 * y,
        w0 * y - x0 * z + y0 * w + z0 * x,
        w0 * z + x0 * y - y0 * x + z0 * w,
    ], dim=-1)


def rotate_quats(quats: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Quaternions (N, 4) of rotations R turned into those of ``rot @ R`` (unit, not sign-normalized).

    Args:
        quats: (N, 4) quaternions (w, x, y, z), any non-zero norm.
        rot: one 3x3 rotation (a change of frame).

    Returns:
        (N, 4) unit quaternions in `quats`' dtype.
    """
    q0 = rotmat_to_quat(rot.to(torch.float64)).to(quats.dtype)
    out = quat_multiply(q0.expand_as(quats), quats)
    return out / out.norm(dim=-1, keepdim=True)


@njit(cache=True)
def quat_mul(w0: float, x0: float, y0: float, z0: float, w: float, x: float, y: float, z: float) -> tuple:
    """The Hamilton product (w0, x0, y0, z0) * (w, x, y, z) (numba kernel)."""
    return (w0 * w - x0 * x - y0 * y - z0 * z,
            w0 * x + x0 * w + y0 * z - z0 * y,
            w0 * y - x0 * z + y0 * w + z0 * x,
            w0 * z + x0 * y - y0 * x + z0 * w)


@njit(parallel=True, cache=True)
def _rotate_quats_into(quats: np.ndarray, rot: np.ndarray, out: np.ndarray) -> None:
    w0, x0, y0, z0 = rotmat_quat(rot)
    for i in prange(quats.shape[0]):
        w, x, y, z = quat_mul(w0, x0, y0, z0, quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3])
        norm = math.sqrt(w * w + x * x + y * y + z * z)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = w / norm, x / norm, y / norm, z / norm


def rotate_quats_nb(quats: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Numba twin of `rotate_quats`: float64 unit quaternions (N, 4) of ``rot @ R``."""
    out = np.empty((len(quats), 4))
    _rotate_quats_into(np.ascontiguousarray(quats, dtype=np.float64), np.ascontiguousarray(rot, dtype=np.float64), out)
    return out

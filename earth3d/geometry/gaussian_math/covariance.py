"""3D covariances of Gaussians from (quaternion, scales) and their decomposition back.

A splat's covariance is ``R S S^T R^T`` with R the rotation of its quaternion (w, x, y, z) and S the
diagonal of its per-axis standard deviations. The torch references work on (..., 3, 3) matrices;
the numba twins on the packed upper triangle (N, 6) = xx, xy, xz, yy, yz, zz in float64, one fused
loop per splat (the store's merging runs them on millions of splats).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from .rotation import quat_rotmat, quat_to_rotmat, rotmat_quat, rotmat_to_quat

PACKED = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))  # (row, column) of each packed entry


def covariance(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """3D covariances R S S^T R^T (..., 3, 3) from quaternions (w, x, y, z) and per-axis std-devs (torch)."""
    rs = quat_to_rotmat(quats) * scales[..., None, :]
    return rs @ rs.transpose(-1, -2)


def decompose_covariance(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of `covariance` (torch): (quats with w >= 0, scales ascending) with a proper rotation,
    from symmetric (..., 3, 3).
    """
    evals, evecs = torch.linalg.eigh(cov.double())
    evecs = evecs * torch.where(torch.linalg.det(evecs) < 0, -1.0, 1.0).to(evecs.dtype)[..., None, None]
    scales = evals.clamp(min=0).sqrt()
    return rotmat_to_quat(evecs).to(cov.dtype), scales.to(cov.dtype)


def pack_covariance(cov: torch.Tensor) -> torch.Tensor:
    """Symmetric (..., 3, 3) to the packed (..., 6) layout of the numba twins."""
    return torch.stack([cov[..., i, j] for i, j in PACKED], dim=-1)


@njit(cache=True, fastmath=False)
def covariance_nb(quats: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Numba twin of `covariance`: packed (N, 6) float64 covariances of quats (N, 4) wxyz (any
    norm) and scales (N, 3).
    """
    n = quats.shape[0]
    out = np.empty((n, 6))
    for i in range(n):
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = quat_rotmat(
            float(quats[i, 0]), float(quats[i, 1]), float(quats[i, 2]), float(quats[i, 3]))
        a, b, c = float(scales[i, 0]) ** 2, float(scales[i, 1]) ** 2, float(scales[i, 2]) ** 2
        out[i, 0] = r00 * r00 * a + r01 * r01 * b + r02 * r02 * c
        out[i, 1] = r00 * r10 * a + r01 * r11 * b + r02 * r12 * c
        out[i, 2] = r00 * r20 * a + r01 * r21 * b + r02 * r22 * c
        out[i, 3] = r10 * r10 * a + r11 * r11 * b + r12 * r12 * c
        out[i, 4] = r10 * r20 * a + r11 * r21 * b + r12 * r22 * c
        out[i, 5] = r20 * r20 * a + r21 * r21 * b + r22 * r22 * c
    return out


@njit(cache=True)
def _jacobi(m: np.ndarray, v: np.ndarray) -> None:
    """Diagonalize symmetric 3x3 `m` in place by cyclic Jacobi rotations, accumulating `v`."""
    for _ in range(32):
        off = m[0, 1] ** 2 + m[0, 2] ** 2 + m[1, 2] ** 2
        scale = m[0, 0] ** 2 + m[1, 1] ** 2 + m[2, 2] ** 2
        if off <= 1e-30 * scale or off == 0.0:
            return
        for pair in range(3):
            p, q = (0, 0, 1)[pair], (1, 2, 2)[pair]
            apq = m[p, q]
            if apq == 0.0:
                continue
            theta = (m[q, q] - m[p, p]) / (2.0 * apq)
            t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1.0))
            c = 1.0 / math.sqrt(t * t + 1.0)
            s = t * c
            for k in range(3):  # m <- J^T m J
                mkp, mkq = m[k, p], m[k, q]
                m[k, p], m[k, q] = c * mkp - s * mkq, s * mkp + c * mkq
            for k in range(3):
                mpk, mqk = m[p, k], m[q, k]
                m[p, k], m[q, k] = c * mpk - s * mqk, s * mpk + c * mqk
            for k in range(3):
                vkp, vkq = v[k, p], v[k, q]
                v[k, p], v[k, q] = c * vkp - s * vkq, s * vkp + c * vkq


@njit(cache=True)
def decompose_covariance_nb(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numba twin of `decompose_covariance` on packed (N, 6) covariances: float32 (quats wxyz with
    w >= 0, scales ascending), a proper rotation (Jacobi eigenvectors instead of LAPACK's).
    """
    n = cov.shape[0]
    quats = np.empty((n, 4), np.float32)
    scales = np.empty((n, 3), np.float32)
    m = np.empty((3, 3))
    v = np.empty((3, 3))
    r = np.empty((3, 3))
    for i in range(n):
        m[0, 0], m[0, 1], m[0, 2] = cov[i, 0], cov[i, 1], cov[i, 2]
        m[1, 0], m[1, 1], m[1, 2] = cov[i, 1], cov[i, 3], cov[i, 4]
        m[2, 0], m[2, 1], m[2, 2] = cov[i, 2], cov[i, 4], cov[i, 5]
        v[:] = 0.0
        v[0, 0] = v[1, 1] = v[2, 2] = 1.0
        _jacobi(m, v)
        a, b, c = 0, 1, 2  # order of the eigenvalues, ascending
        if m[a, a] > m[b, b]:
            a, b = b, a
        if m[b, b] > m[c, c]:
            b, c = c, b
        if m[a, a] > m[b, b]:
            a, b = b, a
        for j, o in ((0, a), (1, b), (2, c)):
            scales[i, j] = math.sqrt(max(m[o, o], 0.0))
            for k in range(3):
                r[k, j] = v[k, o]
        det = (r[0, 0] * (r[1, 1] * r[2, 2] - r[1, 2] * r[2, 1]) - r[0, 1] * (r[1, 0] * r[2, 2] - r[1, 2] * r[2, 0])
               + r[0, 2] * (r[1, 0] * r[2, 1] - r[1, 1] * r[2, 0]))
        if det < 0:
            for k in range(3):
                r[k, 2] = -r[k, 2]
        quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3] = rotmat_quat(r)
    return quats, scales

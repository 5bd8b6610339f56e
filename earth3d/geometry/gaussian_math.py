"""Gaussian maths shared by lifting, merging and rendering."""

from __future__ import annotations

import torch


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (..., 4) in (w, x, y, z) order to rotation matrices (..., 3, 3)."""
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


def covariance(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """3D covariance R S S^T R^T (..., 3, 3) from quaternions (w, x, y, z) and per-axis scales (std devs)."""
    rs = quat_to_rotmat(quats) * scales[..., None, :]
    return rs @ rs.transpose(-1, -2)


def decompose_covariance(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of `covariance`: (quats, scales) with a proper rotation, from symmetric (..., 3, 3)."""
    evals, evecs = torch.linalg.eigh(cov.double())
    evecs = evecs * torch.where(torch.linalg.det(evecs) < 0, -1.0, 1.0).to(evecs.dtype)[..., None, None]
    scales = evals.clamp(min=0).sqrt()
    return rotmat_to_quat(evecs).to(cov.dtype), scales.to(cov.dtype)

"""Real spherical harmonics, degrees 0 to 3, in the 3DGS / gsplat ordering and signs.

Colour seen along a direction d is ``max(sum_k Y_k(d) c_k + 0.5, 0)`` for coefficients c (N, K, 3),
K = (degree + 1)^2. Each function has a plain torch reference and a numba twin beside it; the twins
take and return numpy arrays, and their per-row kernels (`sh_basis_row`) are njit functions other
numba kernels can call.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from ...errors import InputError

SH_C0 = 0.28209479177387814  # Y_0^0
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)
MAX_DEGREE = 3


def sh_degree_of(k: int) -> int:
    """The degree whose basis has `k` coefficients (1, 4, 9 or 16).

    Raises:
        InputError: `k` is not (degree + 1)^2 for a degree in 0..3.
    """
    degree = int(round(k ** 0.5)) - 1
    if (degree + 1) ** 2 != k or not 0 <= degree <= MAX_DEGREE:
        raise InputError(f"{k} SH coefficients is not (degree + 1)^2 for a degree in 0..{MAX_DEGREE}")
    return degree


# ---------------------------------------------------------------------------- basis
def sh_basis(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """Real SH basis (M, (degree+1)^2) at unit directions `dirs` (M, 3) (torch reference).

    Args:
        dirs: unit directions (M, 3).
        degree: 0 to 3.

    Returns:
        The basis values, in `dirs`' dtype and device.
    """
    x, y, z = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    cols = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        cols += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        cols += [SH_C2[0] * x * y, SH_C2[1] * y * z, SH_C2[2] * (2 * zz - xx - yy), SH_C2[3] * x * z,
                 SH_C2[4] * (xx - yy)]
    if degree >= 3:
        cols += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * x * y * z, SH_C3[2] * y * (4 * zz - xx - yy),
                 SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy), SH_C3[4] * x * (4 * zz - xx - yy),
                 SH_C3[5] * z * (xx - yy), SH_C3[6] * x * (xx - 3 * yy)]
    return torch.stack(cols, dim=-1)


@njit(cache=True)
def sh_basis_row(x: float, y: float, z: float, k: int, out: np.ndarray) -> None:
    """The first `k` basis values at the unit direction (x, y, z) into `out` (numba kernel)."""
    out[0] = SH_C0
    if k > 1:
        out[1] = -SH_C1 * y
        out[2] = SH_C1 * z
        out[3] = -SH_C1 * x
    if k > 4:
        xx, yy, zz = x * x, y * y, z * z
        out[4] = SH_C2[0] * x * y
        out[5] = SH_C2[1] * y * z
        out[6] = SH_C2[2] * (2 * zz - xx - yy)
        out[7] = SH_C2[3] * x * z
        out[8] = SH_C2[4] * (xx - yy)
        if k > 9:
            out[9] = SH_C3[0] * y * (3 * xx - yy)
            out[10] = SH_C3[1] * x * y * z
            out[11] = SH_C3[2] * y * (4 * zz - xx - yy)
            out[12] = SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy)
            out[13] = SH_C3[4] * x * (4 * zz - xx - yy)
            out[14] = SH_C3[5] * z * (xx - yy)
            out[15] = SH_C3[6] * x * (xx - 3 * yy)


@njit(cache=True)
def _sh_basis_into(dirs: np.ndarray, k: int, out: np.ndarray) -> None:
    for i in range(dirs.shape[0]):
        sh_basis_row(dirs[i, 0], dirs[i, 1], dirs[i, 2], k, out[i])


def sh_basis_nb(dirs: np.ndarray, degree: int) -> np.ndarray:
    """Numba twin of `sh_basis`: float64 basis (M, (degree+1)^2) at unit directions (M, 3)."""
    out = np.empty((len(dirs), (degree + 1) ** 2))
    _sh_basis_into(np.ascontiguousarray(dirs, dtype=np.float64), (degree + 1) ** 2, out)
    return out


# ---------------------------------------------------------------------------- colour
def eval_sh(sh: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Colour (N, 3) of SH coefficients (N, K, 3) seen along `dirs` (N, 3, any length) (torch reference).

    gsplat's basis and sign convention, then its +0.5 offset and clamp at 0.
    """
    k = sh.shape[1]
    if k == 1:
        return torch.clamp_min(SH_C0 * sh[:, 0] + 0.5, 0.0)
    d = dirs / dirs.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    basis = sh_basis(d, sh_degree_of(k)).to(sh.dtype)
    return torch.clamp_min(torch.einsum("nk,nkc->nc", basis, sh) + 0.5, 0.0)


@njit(cache=True)
def sh_color_row(sh: np.ndarray, dx: float, dy: float, dz: float, basis: np.ndarray, out: np.ndarray) -> None:
    """Colour (3,) of one splat's coefficients `sh` (K, 3) along (dx, dy, dz) into `out`;
    `basis` is K scratch values (numba kernel).
    """
    k = sh.shape[0]
    norm = max((dx * dx + dy * dy + dz * dz) ** 0.5, 1e-12)
    sh_basis_row(dx / norm, dy / norm, dz / norm, k, basis)
    for c in range(3):
        acc = 0.0
        for j in range(k):
            acc += basis[j] * sh[j, c]
        out[c] = max(acc + 0.5, 0.0)


@njit(parallel=True, cache=True)
def _eval_sh_into(sh: np.ndarray, dirs: np.ndarray, out: np.ndarray) -> None:
    k = sh.shape[1]
    for i in prange(sh.shape[0]):
        basis = np.empty(k)
        sh_color_row(sh[i], dirs[i, 0], dirs[i, 1], dirs[i, 2], basis, out[i])


def eval_sh_nb(sh: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Numba twin of `eval_sh`: colours (N, 3) float32 from coefficients (N, K, 3) along `dirs` (N, 3)."""
    sh_degree_of(sh.shape[1])
    out = np.empty((sh.shape[0], 3), dtype=np.float32)
    _eval_sh_into(np.ascontiguousarray(sh, dtype=np.float32), np.ascontiguousarray(dirs, dtype=np.float64), out)
    return out

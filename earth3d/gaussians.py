"""The splat container shared by every stage.

Means are float32 offsets, in ECEF axes, from a float64 ECEF `origin`; rotations
are unit quaternions (w, x, y, z) in ECEF axes; `scales` are per-axis standard
deviations in metres; `opacities` are in [0, 1]; colours are spherical-harmonic
coefficients `sh` of shape (N, K, 3) with K = (degree + 1)^2 (degree 0: K = 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .atomic import replacing

SH_C0 = 0.28209479177387814  # Y_0^0, as in gsplat and the 3DGS PLY convention
FORMAT = "earth3d.gaussians/1"


def rgb_to_sh0(rgb: torch.Tensor) -> torch.Tensor:
    """Linear colour in [0, 1] (N, 3) to the SH DC coefficient (N, 1, 3)."""
    return ((rgb - 0.5) / SH_C0)[:, None, :]


@dataclass
class Gaussians:
    origin: np.ndarray
    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    sh: torch.Tensor

    def __post_init__(self) -> None:
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        n = self.means.shape[0]
        shapes = {"means": (n, 3), "quats": (n, 4), "scales": (n, 3), "opacities": (n,)}
        for name, shape in shapes.items():
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(f"Gaussians.{name} has shape {tuple(getattr(self, name).shape)}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3 or self.sh.shape[1] not in (1, 4, 9, 16):
            raise ValueError(f"Gaussians.sh has shape {tuple(self.sh.shape)}, expected ({n}, K, 3), K in 1/4/9/16")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_rgb(cls, origin, means, quats, scales, opacities, rgb) -> "Gaussians":
        """Gaussians with degree-0 colour from linear RGB in [0, 1]."""
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        return cls(origin, t(means), t(quats), t(scales), t(opacities), rgb_to_sh0(t(rgb)))

    @classmethod
    def empty(cls, origin=(0.0, 0.0, 0.0), sh_degree: int = 0) -> "Gaussians":
        k = (sh_degree + 1) ** 2
        z = lambda *s: torch.zeros(s, dtype=torch.float32)  # noqa: E731
        return cls(np.asarray(origin, dtype=np.float64), z(0, 3), z(0, 4), z(0, 3), z(0), z(0, k, 3))

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return int(round(self.sh.shape[1] ** 0.5)) - 1

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def rgb(self) -> torch.Tensor:
        """View-independent colour (N, 3) from the SH DC term, clamped to [0, 1]."""
        return (self.sh[:, 0, :] * SH_C0 + 0.5).clamp(0.0, 1.0)

    def means_ecef(self) -> np.ndarray:
        """Absolute ECEF means in float64 (N, 3)."""
        return self.means.detach().cpu().double().numpy() + self.origin

    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (self.means, self.quats, self.scales, self.opacities, self.sh))

    # ------------------------------------------------------------------ transforms
    def __getitem__(self, index) -> "Gaussians":
        """Select splats by slice, index tensor or boolean mask."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return Gaussians(self.origin.copy(), self.means[index], self.quats[index], self.scales[index],
                         self.opacities[index], self.sh[index])

    def to(self, device) -> "Gaussians":
        return Gaussians(self.origin.copy(), *(t.to(device) for t in (self.means, self.quats, self.scales, self.opacities, self.sh)))

    def rebased(self, origin) -> "Gaussians":
        """The same splats as offsets from another float64 ECEF origin."""
        origin = np.asarray(origin, dtype=np.float64).reshape(3)
        if np.array_equal(origin, self.origin):
            return self
        shift = torch.as_tensor(self.origin - origin, dtype=torch.float64, device=self.device)
        means = (self.means.double() + shift).float()
        return Gaussians(origin, means, self.quats, self.scales, self.opacities, self.sh)

    def with_sh_degree(self, degree: int) -> "Gaussians":
        """Pad with zero higher-order coefficients, or drop them."""
        k = (degree + 1) ** 2
        sh = self.sh[:, :k]
        if sh.shape[1] < k:
            pad = torch.zeros((len(self), k - sh.shape[1], 3), dtype=sh.dtype, device=sh.device)
            sh = torch.cat([sh, pad], dim=1)
        return Gaussians(self.origin, self.means, self.quats, self.scales, self.opacities, sh)

    @staticmethod
    def concat(parts: Sequence["Gaussians"], origin=None) -> "Gaussians":
        """Concatenate splat sets, rebasing onto `origin` (default: the first part's)."""
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ValueError("Gaussians.concat needs at least one part")
        origin = parts[0].origin if origin is None else np.asarray(origin, dtype=np.float64)
        degree = max(p.sh_degree for p in parts)
        parts = [p.rebased(origin).with_sh_degree(degree) for p in parts]
        cat = lambda name: torch.cat([getattr(p, name) for p in parts])  # noqa: E731
        return Gaussians(origin, cat("means"), cat("quats"), cat("scales"), cat("opacities"), cat("sh"))

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz atomically (temporary name, then rename)."""
        arrays = {k: getattr(self, k).detach().cpu().numpy() for k in ("means", "quats", "scales", "opacities", "sh")}
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, format=np.array(FORMAT), origin=self.origin, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Gaussians":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such Gaussians file")
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise ValueError(f"{path}: format {data['format']!s} is not {FORMAT}")
                t = lambda k: torch.from_numpy(np.ascontiguousarray(data[k]))  # noqa: E731
                return cls(data["origin"], t("means"), t("quats"), t("scales"), t("opacities"), t("sh"))
        except (KeyError, OSError, ValueError) as exc:
            if isinstance(exc, ValueError) and str(path) in str(exc):
                raise
            raise ValueError(f"{path}: not a readable earth3d Gaussians file ({exc})") from exc

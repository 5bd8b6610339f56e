"""The splat container shared by every stage.

Means are float32 offsets, in ECEF axes, from a float64 ECEF `origin`; rotations
are unit quaternions (w, x, y, z) in ECEF axes; `scales` are per-axis standard
deviations in metres; `opacities` are in [0, 1]; colours are spherical-harmonic
coefficients `sh` of shape (N, K, 3) with K = (degree + 1)^2 (degree 0: K = 1).
Optional semantics: `labels` (N,) uint8 class ids of `earth3d.classes` (0 = unlabelled) and
`instances` (N,) int64 object ids (0 = none); None when the source carries none. Every
operation that selects, moves or joins splats carries them.

`Gaussians` (torch tensors, offsets from an origin) is the type every stage passes on; the store
keeps its own numpy container, `earth3d.store.chunk.Splats` (absolute float64 positions), for
building. The boundary between torch and numpy is one conversion each way:
`Gaussians.from_arrays` (numpy in, no copy for float32 arrays) and `Gaussians.arrays` (numpy
out, no copy for CPU float32 tensors); `Splats.from_gaussians` / `Splats.to_gaussians` are
built on those two. Concatenation is `Gaussians.concat` for every caller (lifting, streaming,
the command line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch
from numba import njit

from .atomic import replacing
from .errors import InputError, InputFileError
from .geometry.gaussian_math import SH_C0

FORMAT = "earth3d.gaussians/1"
FIELDS = ("means", "quats", "scales", "opacities", "sh")


class GaussianArrays(NamedTuple):
    """A splat set's attributes as float32 numpy arrays (see `Gaussians.arrays`)."""

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray


def rgb_to_sh0(rgb: torch.Tensor) -> torch.Tensor:
    """Linear colour in [0, 1] (N, 3) to the SH DC coefficient (N, 1, 3)."""
    return ((rgb - 0.5) / SH_C0)[:, None, :]


@dataclass
class Gaussians:
    """Splats as torch tensors: float32 offsets `means` from the float64 ECEF `origin`, unit
    quaternions, std-devs, opacities and SH colour coefficients (see the module docstring).

    Example:
        >>> g = Gaussians.from_rgb((6378137.0, 0, 0), [[0, 0, 0]], [[1, 0, 0, 0]], [[1, 1, 0.1]], [0.9], [[1, 0, 0]])
        >>> len(g), g.sh_degree, g.arrays().means.dtype
        (1, 0, dtype('float32'))
    """

    origin: np.ndarray
    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    sh: torch.Tensor
    labels: torch.Tensor | None = None
    instances: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        n = self.means.shape[0]
        if (self.labels is None) != (self.instances is None):  # one without the other: the other is zeros
            dev = self.means.device
            if self.labels is None:
                self.labels = torch.zeros(n, dtype=torch.uint8, device=dev)
            else:
                self.instances = torch.zeros(n, dtype=torch.int64, device=dev)
        for name, dtype in (("labels", torch.uint8), ("instances", torch.int64)):
            t = getattr(self, name)
            if t is None:
                continue
            t = torch.as_tensor(t)
            if tuple(t.shape) != (n,):
                raise InputError(f"Gaussians.{name} has shape {tuple(t.shape)}, expected ({n},)")
            setattr(self, name, t.to(dtype))
        shapes = {"means": (n, 3), "quats": (n, 4), "scales": (n, 3), "opacities": (n,)}
        for name, shape in shapes.items():
            if tuple(getattr(self, name).shape) != shape:
                raise InputError(f"Gaussians.{name} has shape {tuple(getattr(self, name).shape)}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3 or self.sh.shape[1] not in (1, 4, 9, 16):
            raise InputError(f"Gaussians.sh has shape {tuple(self.sh.shape)}, expected ({n}, K, 3), K in 1/4/9/16")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, origin, means, quats, scales, opacities, sh, labels=None, instances=None) -> "Gaussians":
        """Gaussians from numpy arrays (or anything numpy takes): the one way in from numpy.

        Float32 C-contiguous arrays are wrapped without a copy (the tensors share their memory);
        other arrays are converted to float32 first.

        Args:
            origin: float64 ECEF origin (3,).
            means: offsets (N, 3) from `origin`, metres.
            quats: (N, 4) wxyz.
            scales: (N, 3) std-devs, metres.
            opacities: (N,) in [0, 1].
            sh: (N, K, 3) SH coefficients.
            labels: optional (N,) class ids (uint8).
            instances: optional (N,) instance ids (int64).

        Returns:
            The Gaussians, float32 tensors on the CPU.

        Raises:
            InputError: an array has the wrong shape.
        """
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        lab = None if labels is None else torch.from_numpy(np.ascontiguousarray(labels, dtype=np.uint8))
        ins = None if instances is None else torch.from_numpy(np.ascontiguousarray(instances, dtype=np.int64))
        return cls(origin, t(means), t(quats), t(scales), t(opacities), t(sh), lab, ins)

    @classmethod
    def from_rgb(cls, origin, means, quats, scales, opacities, rgb, labels=None, instances=None) -> "Gaussians":
        """Gaussians with degree-0 colour from linear RGB in [0, 1] (arrays or tensors), optional labels."""
        rgb = torch.as_tensor(np.asarray(rgb), dtype=torch.float32)
        return cls.from_arrays(origin, np.asarray(means), np.asarray(quats), np.asarray(scales),
                               np.asarray(opacities), rgb_to_sh0(rgb).numpy(), labels, instances)

    @classmethod
    def empty(cls, origin=(0.0, 0.0, 0.0), sh_degree: int = 0) -> "Gaussians":
        """No splats, at `origin`, with coefficient arrays for `sh_degree`."""
        k = (sh_degree + 1) ** 2
        z = lambda *s: torch.zeros(s, dtype=torch.float32)  # noqa: E731
        return cls(np.asarray(origin, dtype=np.float64), z(0, 3), z(0, 4), z(0, 3), z(0), z(0, k, 3))

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """Degree of the SH colour coefficients (0 to 3)."""
        return int(round(self.sh.shape[1] ** 0.5)) - 1

    @property
    def has_labels(self) -> bool:
        """True when the splats carry class labels and instance ids."""
        return self.labels is not None

    def label_arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(labels uint8, instances int64) as numpy arrays on the CPU, or None without labels."""
        if self.labels is None or self.instances is None:
            return None
        return self.labels.detach().cpu().numpy(), self.instances.detach().cpu().numpy()

    def _semantics(self, index=None, device=None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(labels, instances) indexed by `index` and moved to `device` (None stays None)."""
        if self.labels is None or self.instances is None:
            return None, None
        lab, ins = self.labels, self.instances
        if index is not None:
            lab, ins = lab[index], ins[index]
        if device is not None:
            lab, ins = lab.to(device), ins.to(device)
        return lab, ins

    @property
    def device(self) -> torch.device:
        """The device of the tensors."""
        return self.means.device

    @property
    def rgb(self) -> torch.Tensor:
        """View-independent colour (N, 3) from the SH DC term, clamped to [0, 1]."""
        return (self.sh[:, 0, :] * SH_C0 + 0.5).clamp(0.0, 1.0)

    def means_ecef(self) -> np.ndarray:
        """Absolute ECEF means in float64 (N, 3)."""
        return self.arrays().means.astype(np.float64) + self.origin

    def arrays(self) -> GaussianArrays:
        """The attributes as float32 numpy arrays on the CPU: the one way out to numpy.

        Tensors already on the CPU in float32 are viewed without a copy (the arrays share their
        memory; detached from autograd).
        """
        f32 = lambda t: t.detach().to("cpu", torch.float32).numpy()  # noqa: E731
        return GaussianArrays(*(f32(getattr(self, k)) for k in FIELDS))

    def nbytes(self) -> int:
        """Bytes held by the tensors."""
        return sum(getattr(self, k).element_size() * getattr(self, k).nelement() for k in FIELDS)

    # ------------------------------------------------------------------ transforms
    def __getitem__(self, index) -> "Gaussians":
        """Select splats by slice, index tensor or boolean mask."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return Gaussians(self.origin.copy(), self.means[index], self.quats[index], self.scales[index],
                         self.opacities[index], self.sh[index], *self._semantics(index))

    def to(self, device) -> "Gaussians":
        """The same splats with their tensors on `device`."""
        lab, ins = self._semantics(device=device)
        return Gaussians(self.origin.copy(), *(getattr(self, k).to(device) for k in FIELDS), lab, ins)  # type: ignore[call-arg]

    def rebased(self, origin) -> "Gaussians":
        """The same splats as offsets from another float64 ECEF origin."""
        origin = np.asarray(origin, dtype=np.float64).reshape(3)
        if np.array_equal(origin, self.origin):
            return self
        shift = torch.as_tensor(self.origin - origin, dtype=torch.float64, device=self.device)
        means = (self.means.double() + shift).float()
        return Gaussians(origin, means, self.quats, self.scales, self.opacities, self.sh, self.labels, self.instances)

    def with_sh_degree(self, degree: int) -> "Gaussians":
        """Pad with zero higher-order coefficients, or drop them."""
        k = (degree + 1) ** 2
        sh = self.sh[:, :k]
        if sh.shape[1] < k:
            pad = torch.zeros((len(self), k - sh.shape[1], 3), dtype=sh.dtype, device=sh.device)
            sh = torch.cat([sh, pad], dim=1)
        return Gaussians(self.origin, self.means, self.quats, self.scales, self.opacities, sh, self.labels,
                         self.instances)

    @staticmethod
    def concat(parts: Sequence["Gaussians | None"], origin=None, sh_degree: int | None = None) -> "Gaussians":
        """Concatenate splat sets, rebased onto `origin` (default: the first part's) in float64.

        SH coefficients are padded with zeros or cut to `sh_degree` (default: the highest of the
        parts). When any part carries labels the result does, with 0 (unlabelled, no instance)
        for the splats of parts without. Parts on the CPU that need no gradient are copied once into preallocated arrays
        (no tensor kernels: their thread pools stall when the cores are busy elsewhere); others
        are concatenated with torch on their device.

        Raises:
            InputError: no parts and no `origin` (with an origin, no parts give an empty set).
        """
        kept = [p for p in parts if p is not None]
        if not kept:
            if origin is None:
                raise InputError("Gaussians.concat needs at least one part, or an origin for an empty set")
            return Gaussians.empty(origin, 0 if sh_degree is None else sh_degree)
        origin = kept[0].origin if origin is None else np.asarray(origin, dtype=np.float64).reshape(3)
        degree = max(p.sh_degree for p in kept) if sh_degree is None else int(sh_degree)
        if any(p.device.type != "cpu" or p.means.requires_grad or p.sh.requires_grad for p in kept):
            kept = [p.rebased(origin).with_sh_degree(degree) for p in kept]
            cat = lambda name: torch.cat([getattr(p, name) for p in kept])  # noqa: E731
            lab, ins = _concat_semantics(kept)
            return Gaussians(origin, *(cat(name) for name in FIELDS), lab, ins)  # type: ignore[call-arg]
        n, k = sum(len(p) for p in kept), (degree + 1) ** 2
        out = GaussianArrays(np.empty((n, 3), np.float32), np.empty((n, 4), np.float32),
                             np.empty((n, 3), np.float32), np.empty(n, np.float32), np.zeros((n, k, 3), np.float32))
        at = 0
        for p in kept:
            a, end = p.arrays(), at + len(p)
            _rebase_into(a.means, np.asarray(p.origin - origin, dtype=np.float64), out.means[at:end])
            out.quats[at:end], out.scales[at:end], out.opacities[at:end] = a.quats, a.scales, a.opacities
            kk = min(k, a.sh.shape[1])
            out.sh[at:end, :kk] = a.sh[:, :kk]
            at = end
        lab, ins = _concat_semantics(kept)
        return Gaussians.from_arrays(origin.copy(), *out, lab, ins)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz atomically (temporary name, then rename).

        Args:
            path: The file to write (replaced if it exists).
        """
        with replacing(path) as tmp, open(tmp, "wb") as f:
            sem = self.label_arrays()
            extra = {} if sem is None else {"labels": sem[0], "instances": sem[1]}
            np.savez(f, format=np.array(FORMAT), origin=self.origin, **self.arrays()._asdict(), **extra)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Gaussians":
        """Read an .npz written by `save`.

        Args:
            path: The file written by `Gaussians.save`.

        Returns:
            The Gaussians, on the CPU.

        Raises:
            InputFileError: the file is missing or is not an earth3d Gaussians file.

        Example:
            >>> g.save("tile.npz")  # doctest: +SKIP
            >>> Gaussians.load("tile.npz")  # doctest: +SKIP
        """
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"{path}: no such Gaussians file")
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise InputFileError(f"{path}: format {data['format']!s} is not {FORMAT}")
                sem = (data["labels"], data["instances"]) if "labels" in data.files else (None, None)
                return cls.from_arrays(data["origin"], *(data[k] for k in FIELDS), *sem)
        except InputFileError:
            raise
        except (KeyError, OSError, ValueError) as exc:
            raise InputFileError(f"{path}: not a readable earth3d Gaussians file ({exc})") from exc


def _concat_semantics(parts: Sequence["Gaussians"]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Labels and instances of the parts one after another (zeros for parts without), or None if none has."""
    if all(p.labels is None for p in parts):
        return None, None
    dev = parts[0].means.device
    if dev.type == "cpu":  # numpy: no tensor kernels on the CPU path (see concat)
        n = [len(p) for p in parts]
        lab_np = np.concatenate([p.labels.numpy() if p.labels is not None else np.zeros(k, np.uint8)
                                 for p, k in zip(parts, n, strict=True)])
        ins_np = np.concatenate([p.instances.numpy() if p.instances is not None else np.zeros(k, np.int64)
                                 for p, k in zip(parts, n, strict=True)])
        return torch.from_numpy(lab_np), torch.from_numpy(ins_np)
    lab = [p.labels.to(dev) if p.labels is not None else torch.zeros(len(p), dtype=torch.uint8, device=dev)
           for p in parts]
    ins = [p.instances.to(dev) if p.instances is not None else torch.zeros(len(p), dtype=torch.int64, device=dev)
           for p in parts]
    return torch.cat(lab), torch.cat(ins)


@njit(cache=True)
def _rebase_into(src: np.ndarray, offset: np.ndarray, dst: np.ndarray) -> None:
    """Dst = src + offset, each sum formed in float64 and rounded once to float32."""
    for i in range(src.shape[0]):
        for j in range(3):
            dst[i, j] = np.float32(np.float64(src[i, j]) + offset[j])

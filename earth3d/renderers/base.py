"""The renderer protocol and its output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from numba import njit

from ..gaussians import Gaussians
from ..geometry import Camera


@dataclass
class RenderOutput:
    """What a renderer returns.

    rgb (H, W, 3) in [0, 1], depth (H, W) metres along the optical axis (alpha-weighted,
    normalised by alpha; 0 where nothing was drawn), alpha (H, W), all float32 CPU-or-device
    tensors; `n_splats` is the number of splats drawn: those that survived culling (in front of
    the near plane, before the far plane, on screen), at most the number handed to the renderer.

    With `maps=True` a renderer also fills `label` (H, W) uint8 class ids of `earth3d.classes`
    (0 where nothing is drawn or the splats carry no labels), `instance` (H, W) int64 (0: none)
    and `normal` (H, W, 3) float32 unit normals in the camera frame (OpenCV: x right, y down,
    z forward; zero where nothing is drawn). Label and instance are those of the splat of largest
    alpha among the pixel's visible front layer (see `earth3d.renderers.composite_maps` for the
    rule and why); the normal is the weight-averaged splat normal.
    """

    rgb: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor
    n_splats: int = 0
    label: torch.Tensor | None = None
    instance: torch.Tensor | None = None
    normal: torch.Tensor | None = None


def label_maps(best: np.ndarray, gaussians: Gaussians) -> tuple[torch.Tensor, torch.Tensor]:
    """Label (uint8) and instance (int64) maps from the per-pixel index of the splat of largest
    weight (-1 where none); zeros when the splats carry no labels.
    """
    shape = best.shape
    sem = gaussians.label_arrays()
    if sem is None:
        return torch.zeros(shape, dtype=torch.uint8), torch.zeros(shape, dtype=torch.int64)
    labels, instances = sem
    lab, ins = _gather_labels(np.ascontiguousarray(best, np.int32), np.ascontiguousarray(labels, np.uint8),
                              np.ascontiguousarray(instances, np.int64))
    return torch.from_numpy(lab), torch.from_numpy(ins)


@njit(cache=True, nogil=True)
def _gather_labels(best, labels, instances):  # pragma: no cover - compiled
    """The class and instance of each pixel's splat `best` (0 where it is -1), in one pass."""
    h, w = best.shape
    lab = np.zeros((h, w), np.uint8)
    ins = np.zeros((h, w), np.int64)
    for r in range(h):
        for c in range(w):
            i = best[r, c]
            if i >= 0:
                lab[r, c] = labels[i]
                ins[r, c] = instances[i]
    return lab, ins


@runtime_checkable
class Renderer(Protocol):
    """Anything that turns Gaussians and a camera into a `RenderOutput`."""
    def render(self, gaussians: Gaussians, camera: Camera,
               background: tuple[float, float, float] = (0.0, 0.0, 0.0), *, maps: bool = False) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera` (with label, instance and normal maps if `maps`)."""
        ...

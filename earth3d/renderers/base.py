"""The renderer protocol and its output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from ..gaussians import Gaussians
from ..geometry import Camera


@dataclass
class RenderOutput:
    """What a renderer returns.

    rgb (H, W, 3) in [0, 1], depth (H, W) metres along the optical axis (alpha-weighted,
    normalised by alpha; 0 where nothing was drawn), alpha (H, W), all float32 CPU-or-device
    tensors; `n_splats` is the number of splats drawn: those that survived culling (in front of
    the near plane, before the far plane, on screen), at most the number handed to the renderer.
    """

    rgb: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor
    n_splats: int = 0


@runtime_checkable
class Renderer(Protocol):
    """Anything that turns Gaussians and a camera into a `RenderOutput`."""
    def render(self, gaussians: Gaussians, camera: Camera,
               background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera`."""
        ...

"""Renderer over gsplat's CUDA rasterizer, fed relative-to-camera splats.

The splats are rebased onto the camera position in float64 on the device before the
float32 cast, so gsplat sees small offsets and a view matrix without translation:
precision does not depend on where on Earth the camera is.
"""

from __future__ import annotations

import torch

from ..errors import DependencyError, InputError
from ..gaussians import Gaussians
from ..geometry import Camera
from .base import RenderOutput
from .projection import intrinsics, view_matrix


def _import_gsplat():
    try:
        import gsplat
    except ImportError as exc:
        raise DependencyError("GsplatRenderer needs gsplat: pip install earth3d[gpu]") from exc
    return gsplat


class GsplatRenderer:
    """gsplat.rasterization on a CUDA device; `antialiased` picks rasterize_mode
    "antialiased" (default) or "classic". Outputs stay on the device.
    """

    def __init__(self, antialiased: bool = True, device: str | torch.device = "cuda"):
        self.antialiased = antialiased
        self.device = torch.device(device)

    def render(self, gaussians: Gaussians, camera: Camera, background=(0.0, 0.0, 0.0)) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera` on the device.

        Args:
            gaussians: The splats.
            camera: The view.
            background: RGB in [0, 1] where nothing is drawn.

        Returns:
            The RenderOutput: rgb (H, W, 3), depth and alpha, and the number of splats drawn.
        """
        gsplat = _import_gsplat()
        bg = torch.as_tensor(background, dtype=torch.float32, device=self.device).reshape(-1)
        if bg.shape != (3,) or not torch.isfinite(bg).all():
            raise InputError(f"background {background!r} must be 3 finite numbers")
        g = gaussians.to(self.device).rebased(camera.position)
        if len(g) == 0:
            z = torch.zeros((camera.height, camera.width), dtype=torch.float32, device=self.device)
            return RenderOutput(bg.expand(camera.height, camera.width, 3).clone(), z, z.clone(), 0)
        viewmat = view_matrix(camera, g.origin).to(self.device)
        K = intrinsics(camera).to(self.device)
        colors, alphas, meta = gsplat.rasterization(
            means=g.means.float(),
            quats=g.quats.float(),
            scales=g.scales.float(),
            opacities=g.opacities.float(),
            colors=g.sh.float(),
            viewmats=viewmat[None],
            Ks=K[None],
            width=camera.width,
            height=camera.height,
            near_plane=camera.near,
            far_plane=camera.far,
            sh_degree=g.sh_degree,
            render_mode="RGB+ED",
            rasterize_mode="antialiased" if self.antialiased else "classic",
        )
        n_visible = int((meta["radii"] > 0).all(dim=-1).sum())
        alpha = alphas[0, ..., 0]
        # The background is composited here rather than through gsplat's `backgrounds`, whose
        # expected shape differs between its packed and unpacked paths (gsplat 1.5).
        rgb = colors[0, ..., :3] + (1.0 - alpha)[..., None] * bg
        return RenderOutput(rgb, colors[0, ..., 3], alpha, n_visible)

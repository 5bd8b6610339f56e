"""Renderer over gsplat's CUDA rasterizer, fed relative-to-camera splats.

The splats are rebased onto the camera position in float64 on the device before the
float32 cast, so gsplat sees small offsets and a view matrix without translation:
precision does not depend on where on Earth the camera is.

Maps (`maps=True`) follow the CPU rasterizer's rules (earth3d.renderers.composite_maps): normals
are the splats' camera-frame normals rendered as three feature channels (the weighted sum,
normalized); the labelling splat of each pixel (largest alpha among the splats drawn while the
solid splats' transmittance is above LABEL_T) comes from gsplat's `rasterize_to_indices_in_range`, which lists
the (splat, pixel) pairs of each depth batch in front-to-back order: the alphas and the
transmittance before each pair are recomputed here from the projected splats, as gsplat's own
PyTorch reference (`_rasterize_to_pixels`) does.
"""

from __future__ import annotations

import torch

from ..errors import DependencyError, InputError
from ..gaussians import Gaussians
from ..geometry import Camera
from .base import RenderOutput
from .composite_maps import LABEL_T, SOLID_ALPHA
from .projection import intrinsics, view_matrix
from .torch_reference import splat_normals

ALPHA_MIN, ALPHA_MAX = 1.0 / 255.0, 0.999


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

    def render(self, gaussians: Gaussians, camera: Camera, background=(0.0, 0.0, 0.0), *,
               maps: bool = False) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera` on the device.

        Args:
            gaussians: The splats.
            camera: The view.
            background: RGB in [0, 1] where nothing is drawn.
            maps: Also return label, instance and normal maps (see RenderOutput), on the device.

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
            out = RenderOutput(bg.expand(camera.height, camera.width, 3).clone(), z, z.clone(), 0)
            if maps:
                shape = (camera.height, camera.width)
                out.label = torch.zeros(shape, dtype=torch.uint8, device=self.device)
                out.instance = torch.zeros(shape, dtype=torch.int64, device=self.device)
                out.normal = torch.zeros(shape + (3,), dtype=torch.float32, device=self.device)
            return out
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
        out = RenderOutput(rgb, colors[0, ..., 3], alpha, n_visible)
        if maps:
            out.label, out.instance, out.normal = self._maps(gsplat, g, camera, viewmat, K)
        return out

    def _maps(self, gsplat, g: Gaussians, camera: Camera, viewmat: torch.Tensor, K: torch.Tensor):
        """(label, instance, normal) maps on the device (see the module docstring)."""
        width, height = camera.width, camera.height
        normals = splat_normals(g, camera)
        nsum, _, meta = gsplat.rasterization(
            means=g.means.float(), quats=g.quats.float(), scales=g.scales.float(), opacities=g.opacities.float(),
            colors=normals, viewmats=viewmat[None], Ks=K[None], width=width, height=height,
            near_plane=camera.near, far_plane=camera.far, sh_degree=None, packed=False, render_mode="RGB",
            rasterize_mode="antialiased" if self.antialiased else "classic",
        )
        n = nsum[0]
        normal = n / n.norm(dim=-1, keepdim=True).clamp(min=1e-30)
        best = _labelling_splats(gsplat, meta, width, height)
        shape = (height, width)
        if g.labels is None or g.instances is None:
            return (torch.zeros(shape, dtype=torch.uint8, device=self.device),
                    torch.zeros(shape, dtype=torch.int64, device=self.device), normal)
        drawn = best >= 0
        idx = best.clamp(min=0)
        label = torch.where(drawn, g.labels.to(self.device)[idx], 0).to(torch.uint8).reshape(shape)
        instance = torch.where(drawn, g.instances.to(self.device)[idx], 0).reshape(shape)
        return label, instance, normal


def _labelling_splats(gsplat, meta: dict, width: int, height: int) -> torch.Tensor:
    """Per pixel (H * W,), the index of the splat of largest alpha among those drawn while the solid
    splats' transmittance is above LABEL_T (ties: the front one), -1 where none; from the unpacked
    projection in `meta` (gsplat.rasterization with packed=False, one camera).
    """
    means2d, conics, opac = meta["means2d"], meta["conics"], meta["opacities"]  # [1, N, 2], [1, N, 3], [1, N]
    offsets, flat, tile_size = meta["isect_offsets"], meta["flatten_ids"], int(meta["tile_size"])
    device = means2d.device
    n_pix = width * height
    trans = torch.ones((1, height, width), dtype=torch.float32, device=device)
    t_solid = torch.ones(n_pix, dtype=torch.float64, device=device)
    best_alpha = torch.zeros(n_pix, dtype=torch.float32, device=device)
    best_id = torch.full((n_pix,), -1, dtype=torch.int64, device=device)
    block = tile_size * tile_size
    ends = torch.cat([offsets.flatten(), torch.tensor([flat.numel()], device=device, dtype=offsets.dtype)])
    max_range = int((ends[1:] - ends[:-1]).max().item()) if offsets.numel() else 0
    n_batches = (max_range + block - 1) // block
    for step in range(n_batches):
        gs, pix, _ = gsplat.rasterize_to_indices_in_range(step, step + 1, trans, means2d, conics, opac, width,
                                                          height, tile_size, offsets, flat)
        if len(gs) == 0:
            break
        gs, pix = gs.long(), pix.long()
        # front to back within each pixel: a stable sort by pixel keeps gsplat's per-pixel depth order
        order = torch.sort(pix, stable=True).indices
        gs, pix = gs[order], pix[order]
        xy = torch.stack([pix % width, pix // width], dim=-1).float() + 0.5
        d = means2d[0, gs] - xy
        c = conics[0, gs]
        sigma = 0.5 * (c[:, 0] * d[:, 0] ** 2 + c[:, 2] * d[:, 1] ** 2) + c[:, 1] * d[:, 0] * d[:, 1]
        alpha = torch.clamp_max(opac[0, gs] * torch.exp(-sigma), ALPHA_MAX)
        alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_MIN), alpha, 0.0)
        # the solid splats' transmittance before each pair: the pixel's at the batch start times the
        # product of (1 - alpha) over its earlier solid pairs of the batch (exclusive segmented
        # cumulative sum of logs, in float64)
        log_keep = torch.log1p(-alpha.double())
        log_solid = torch.where(alpha >= SOLID_ALPHA, log_keep, 0.0)
        inclusive = torch.cumsum(log_solid, 0)
        first = torch.ones_like(pix, dtype=torch.bool)
        first[1:] = pix[1:] != pix[:-1]
        seg_start = torch.cummax(torch.where(first, torch.arange(len(pix), device=device), 0), 0).values
        before = inclusive - log_solid - (inclusive[seg_start] - log_solid[seg_start])
        t_before = t_solid[pix] * torch.exp(before)
        cand = torch.where((alpha > 0) & (t_before > LABEL_T), alpha, 0.0).float()
        top = torch.zeros(n_pix, dtype=torch.float32, device=device).scatter_reduce(0, pix, cand, "amax")
        is_top = (cand > 0) & (cand == top[pix])
        rank = torch.arange(len(pix), device=device)
        first_top = torch.full((n_pix,), len(pix), dtype=torch.int64, device=device).scatter_reduce(
            0, pix[is_top], rank[is_top], "amin")
        won = (top > best_alpha) & (first_top < len(pix))
        best_alpha = torch.where(won, top, best_alpha)
        best_id = torch.where(won, gs[first_top.clamp(max=len(pix) - 1)], best_id)
        # the transmittance at the end of the batch, for the next one
        total = torch.zeros(n_pix, dtype=torch.float64, device=device).index_add_(0, pix, log_keep)
        trans = (trans.reshape(-1).double() * torch.exp(total)).float().reshape(1, height, width)
        t_solid = t_solid * torch.exp(torch.zeros_like(t_solid).index_add_(0, pix, log_solid))
        if not bool((t_solid > LABEL_T).any()):
            break
    return best_id

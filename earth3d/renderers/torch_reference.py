"""Plain vectorized-PyTorch tile compositor: the baseline the CPU rasterizer is
measured against, and an independent check of it.

Same projection and per-pixel rules as gsplat; the tiles' depth-sorted splat lists
come from one global sort of (tile, depth) keys, and each batch of tiles is
composited at once with a cumulative product over its padded splat lists.
"""

from __future__ import annotations

import torch

from ..gaussians import Gaussians
from ..geometry import Camera
from ..geometry.gaussian_math import quat_to_rotmat
from .base import RenderOutput, label_maps
from .composite_maps import LABEL_T, SOLID_ALPHA
from .projection import EPS2D, ProjectedSplats, project_gaussians, view_matrix

MAX_BATCH_ELEMENTS = 1 << 23  # pixels x padded splats held at once per batch of tiles


def tile_intersections(p: ProjectedSplats, tile_size: int, tiles_x: int,
                       tiles_y: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(offsets (T+1,), splat ids): each tile's splats sorted front to back, ties by index."""
    tile_m = p.means2d / tile_size
    tile_r = p.radii.float() / tile_size
    lo = torch.floor(tile_m - tile_r).long()
    hi = torch.ceil(tile_m + tile_r).long()
    x0, x1 = lo[:, 0].clamp(0, tiles_x), hi[:, 0].clamp(0, tiles_x)
    y0, y1 = lo[:, 1].clamp(0, tiles_y), hi[:, 1].clamp(0, tiles_y)
    w = x1 - x0
    count = w * (y1 - y0) * (p.radii > 0).all(-1)
    ids = torch.repeat_interleave(torch.arange(len(p)), count)
    start = torch.cumsum(count, 0) - count
    local = torch.arange(len(ids)) - start[ids]
    tiles = (y0[ids] + local // w[ids]) * tiles_x + x0[ids] + local % w[ids]
    depth_rank = torch.empty(len(p), dtype=torch.long)
    depth_rank[torch.sort(p.depths, stable=True).indices] = torch.arange(len(p))
    order = torch.sort(tiles * len(p) + depth_rank[ids]).indices
    offsets = torch.zeros(tiles_x * tiles_y + 1, dtype=torch.long)
    offsets[1:] = torch.cumsum(torch.bincount(tiles, minlength=tiles_x * tiles_y), 0)
    return offsets, ids[order]


def splat_normals(gaussians: Gaussians, camera: Camera) -> torch.Tensor:
    """Camera-frame unit normals (N, 3): each splat's shortest axis, turned toward the camera."""
    view = view_matrix(camera, gaussians.origin, torch.float64).to(gaussians.device)
    rot = quat_to_rotmat(gaussians.quats.double())  # (N, 3, 3): columns are the splat's axes
    axis = torch.argmin(gaussians.scales, dim=-1)
    n = rot.gather(2, axis[:, None, None].expand(-1, 3, 1))[..., 0] @ view[:3, :3].T
    pos = gaussians.means.double() @ view[:3, :3].T + view[:3, 3]
    n = torch.where(((n * pos).sum(-1) > 0)[:, None], -n, n)
    return (n / n.norm(dim=-1, keepdim=True).clamp(min=1e-30)).float()


class TorchTileRenderer:
    """Tile compositor in vectorized PyTorch (same outputs as `CpuRenderer`, slower)."""

    def __init__(self, antialiased: bool = True, tile_size: int = 16, eps2d: float = EPS2D):
        self.antialiased = antialiased
        self.tile_size = int(tile_size)
        self.eps2d = float(eps2d)

    @torch.no_grad()
    def render(self, gaussians: Gaussians, camera: Camera, background=(0.0, 0.0, 0.0), *,
               maps: bool = False) -> RenderOutput:
        """Rasterize `gaussians` seen from `camera` (CPU tensors); with `maps`, label, instance and
        normal maps by the rules of `CpuRenderer` (earth3d.renderers.composite_maps).
        """
        bg = torch.as_tensor(background, dtype=torch.float32).reshape(3)
        gaussians = gaussians.to("cpu")
        p = project_gaussians(gaussians, camera, self.antialiased, self.eps2d)
        keep = torch.nonzero(p.visible).squeeze(1)  # original index of each visible splat
        p = p[p.visible]
        normals = splat_normals(gaussians, camera)[keep] if maps else torch.zeros((len(p), 3))
        ts = self.tile_size
        tiles_x, tiles_y = -(-camera.width // ts), -(-camera.height // ts)
        offsets, ids = tile_intersections(p, ts, tiles_x, tiles_y)
        counts = offsets[1:] - offsets[:-1]

        # Pixel centers of every tile (T, ts*ts, 2); the canvas is cropped at the end.
        iy, ix = torch.meshgrid(torch.arange(ts), torch.arange(ts), indexing="ij")
        local_px = torch.stack([ix.reshape(-1), iy.reshape(-1)], -1).float() + 0.5
        n_tiles = tiles_x * tiles_y
        corner = torch.stack([torch.arange(n_tiles) % tiles_x, torch.arange(n_tiles) // tiles_x], -1).float() * ts

        canvas = torch.zeros(n_tiles, ts * ts, 5)  # rgb, depth, alpha
        nsum = torch.zeros(n_tiles, ts * ts, 3)  # weighted normal (maps)
        best_id = torch.full((n_tiles, ts * ts), -1, dtype=torch.int64)  # labelling splat (maps)
        busy = torch.nonzero(counts > 0).squeeze(1)
        busy = busy[torch.argsort(counts[busy])]  # similar list lengths share a batch
        start = 0
        while start < len(busy):
            stop = start + 1
            while stop < len(busy) and (stop - start + 1) * ts * ts * int(counts[busy[stop]]) <= MAX_BATCH_ELEMENTS:
                stop += 1
            tiles = busy[start:stop]
            length = int(counts[tiles].max())
            slot = torch.arange(length)
            valid = slot[None, :] < counts[tiles][:, None]  # (B, L)
            gid = ids[(offsets[tiles][:, None] + slot[None, :]).clamp(max=len(ids) - 1)]  # (B, L)
            px = corner[tiles][:, None, :] + local_px[None]  # (B, P, 2)
            d = p.means2d[gid][:, None, :, :] - px[:, :, None, :]  # (B, P, L, 2)
            con = p.conics[gid][:, None]  # (B, 1, L, 3)
            dx, dy = d[..., 0], d[..., 1]
            sigma = 0.5 * (con[..., 0] * dx**2 + con[..., 2] * dy**2) + con[..., 1] * dx * dy
            alpha = torch.clamp_max(p.opacities[gid][:, None] * torch.exp(-sigma), 0.999)
            alpha = torch.where((sigma >= 0) & (alpha >= 1.0 / 255.0) & valid[:, None], alpha, 0.0)
            trans_after = torch.cumprod(1.0 - alpha, dim=-1)
            trans_before = torch.cat([torch.ones_like(alpha[..., :1]), trans_after[..., :-1]], dim=-1)
            w = torch.where(trans_after > 1e-4, alpha * trans_before, 0.0)  # (B, P, L)
            feats = torch.cat([p.colors[gid], p.depths[gid][..., None]], -1)  # (B, L, 4)
            canvas[tiles, :, :4] = w @ feats
            canvas[tiles, :, 4] = w.sum(-1)
            if maps:  # the splat of largest alpha while the solid splats' T > LABEL_T (ties: the front one)
                nsum[tiles] = w @ normals[gid]
                solid = torch.where(alpha >= SOLID_ALPHA, alpha, 0.0)
                t_solid = torch.cat([torch.ones_like(solid[..., :1]), torch.cumprod(1.0 - solid, -1)[..., :-1]], -1)
                score = torch.where((w > 0) & (t_solid > LABEL_T), alpha, 0.0)
                top = score.amax(-1)
                arg = torch.argmax(score, -1)
                best = torch.gather(gid[:, None, :].expand(-1, w.shape[1], -1), 2, arg[..., None])[..., 0]
                best_id[tiles] = torch.where(top > 0, keep[best], -1)
            start = stop

        img = canvas.reshape(tiles_y, tiles_x, ts, ts, 5).permute(0, 2, 1, 3, 4).reshape(tiles_y * ts, tiles_x * ts, 5)
        img = img[: camera.height, : camera.width]
        alpha = img[..., 4].contiguous()
        rgb = img[..., :3] + (1.0 - alpha)[..., None] * bg
        depth = torch.where(alpha > 0, img[..., 3] / alpha.clamp(min=1e-10), torch.zeros_like(alpha))
        if not maps:
            return RenderOutput(rgb.contiguous(), depth.contiguous(), alpha, len(p))

        def image(t: torch.Tensor) -> torch.Tensor:
            c = t.shape[-1]
            full = t.reshape(tiles_y, tiles_x, ts, ts, c).permute(0, 2, 1, 3, 4).reshape(tiles_y * ts, tiles_x * ts, c)
            return full[: camera.height, : camera.width]

        n = image(nsum)
        normal = n / n.norm(dim=-1, keepdim=True).clamp(min=1e-30)
        label, instance = label_maps(image(best_id[..., None])[..., 0].numpy(), gaussians)
        return RenderOutput(rgb.contiguous(), depth.contiguous(), alpha, len(p), label, instance, normal.contiguous())

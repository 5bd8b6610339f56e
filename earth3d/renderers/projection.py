"""EWA projection of 3D Gaussians to screen-space splats, relative to the camera.

This follows gsplat's pinhole projection (`fully_fused_projection`): world-to-camera
of means and covariances, the perspective Jacobian with tx/tz and ty/tz clamped to
1.3x the field of view, a 0.3 px low-pass added to the 2D covariance, its inverse
(the conic), a 3.33-sigma per-axis radius, near/far and off-screen culling, and the
"antialiased" opacity compensation sqrt(det(cov2d) / det(cov2d + eps2d I)). Covariances and
view-dependent colours come from the Gaussian-maths core (earth3d.geometry.gaussian_math).

Precision: the view matrix comes from `Camera.world_to_camera(gaussians.origin)`,
whose translation is formed in float64 before the float32 cast, so splats near the
camera keep centimetre precision anywhere on Earth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..gaussians import Gaussians
from ..geometry import Camera
from ..geometry.gaussian_math import covariance, eval_sh

EPS2D = 0.3  # px^2 low-pass added to every projected covariance, as in gsplat
RADIUS_SIGMAS = 3.33  # splat radius in standard deviations, as in gsplat

@dataclass
class ProjectedSplats:
    """Screen-space splats: means2d (N, 2) px, conics (N, 3) = (a, b, c) of the inverse 2D
    covariance [[a, b], [b, c]], depths (N,) camera z in metres, radii (N, 2) int32 px
    (0 where culled), opacities (N,) (compensated in antialiased mode), colors (N, 3).
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor

    @property
    def visible(self) -> torch.Tensor:
        """Boolean mask of the splats that survived culling."""
        return (self.radii > 0).all(dim=-1)

    def __getitem__(self, index) -> "ProjectedSplats":
        return ProjectedSplats(self.means2d[index], self.conics[index], self.depths[index],
                               self.radii[index], self.opacities[index], self.colors[index])

    def __len__(self) -> int:
        return int(self.depths.shape[0])


def view_matrix(camera: Camera, origin, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(4, 4) world-to-camera matrix for offsets from float64 ECEF `origin` (formed in float64)."""
    return torch.from_numpy(camera.world_to_camera(origin)).to(dtype)


def intrinsics(camera: Camera, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(3, 3) pinhole matrix."""
    return torch.from_numpy(camera.intrinsics()).to(dtype)


def world_to_camera(means: torch.Tensor, covars: torch.Tensor,
                    viewmat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Means (N, 3) and covariances (N, 3, 3) into the camera frame of a 4x4 view matrix."""
    rot, trans = viewmat[:3, :3], viewmat[:3, 3]
    means_c = means @ rot.T + trans
    covars_c = rot @ covars @ rot.T
    return means_c, covars_c


def perspective_project(
    means_c: torch.Tensor,
    covars_c: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    eps2d: float = EPS2D,
    near: float = 0.01,
    far: float = 1e10,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Project camera-frame Gaussians; returns (radii, means2d, depths, conics, compensations).

    Same maths and culling as gsplat's `_fully_fused_projection` for a pinhole camera.
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    tx, ty, tz = means_c.unbind(-1)
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + 0.3 * tan_fovx
    lim_x_neg = cx / fx + 0.3 * tan_fovx
    lim_y_pos = (height - cy) / fy + 0.3 * tan_fovy
    lim_y_neg = cy / fy + 0.3 * tan_fovy
    txc = tz * torch.clamp(tx / tz, min=-lim_x_neg, max=lim_x_pos)
    tyc = tz * torch.clamp(ty / tz, min=-lim_y_neg, max=lim_y_pos)

    # J = [[ja, 0, jb], [0, jc, jd]]; cov2d = J cov J^T written out per component.
    ja, jb = fx / tz, -fx * txc / (tz * tz)
    jc, jd = fy / tz, -fy * tyc / (tz * tz)
    s = covars_c
    s00, s01, s02 = s[:, 0, 0], s[:, 0, 1], s[:, 0, 2]
    s11, s12, s22 = s[:, 1, 1], s[:, 1, 2], s[:, 2, 2]
    c00 = ja * (ja * s00 + jb * s02) + jb * (ja * s02 + jb * s22)
    c01 = jc * (ja * s01 + jb * s12) + jd * (ja * s02 + jb * s22)
    c11 = jc * (jc * s11 + jd * s12) + jd * (jc * s12 + jd * s22)

    means2d = torch.stack([fx * tx / tz + cx, fy * ty / tz + cy], dim=-1)

    det_orig = c00 * c11 - c01 * c01
    c00 = c00 + eps2d
    c11 = c11 + eps2d
    det = (c00 * c11 - c01 * c01).clamp(min=1e-10)
    compensations = torch.sqrt(torch.clamp(det_orig / det, min=0.0))
    conics = torch.stack([c11 / det, -c01 / det, c00 / det], dim=-1)

    radius = torch.ceil(RADIUS_SIGMAS * torch.sqrt(torch.stack([c00, c11], dim=-1)))
    valid = (det > 0) & (tz > near) & (tz < far)
    inside = (
        (means2d[:, 0] + radius[:, 0] > 0)
        & (means2d[:, 0] - radius[:, 0] < width)
        & (means2d[:, 1] + radius[:, 1] > 0)
        & (means2d[:, 1] - radius[:, 1] < height)
    )
    keep = valid & inside & torch.isfinite(radius).all(dim=-1)
    radii = torch.where(keep[:, None], radius, torch.zeros_like(radius)).int()
    return radii, means2d, tz, conics, compensations


def splat_colors(gaussians: Gaussians, camera: Camera, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """View-dependent colours (N, 3); view directions are formed relative to the camera."""
    sh = gaussians.sh.to(dtype)
    if sh.shape[1] == 1:  # view-independent: no directions needed
        return eval_sh(sh, sh[:, 0])
    offset = torch.as_tensor(gaussians.origin - camera.position, dtype=dtype, device=gaussians.device)
    return eval_sh(sh, gaussians.means.to(dtype) + offset)


def project_gaussians(gaussians: Gaussians, camera: Camera, antialiased: bool = True, eps2d: float = EPS2D,
                      dtype: torch.dtype = torch.float32) -> ProjectedSplats:
    """Project every splat of `gaussians` for `camera` (culled ones get radii 0), computing in `dtype`."""
    device = gaussians.device
    viewmat = view_matrix(camera, gaussians.origin, dtype).to(device)
    K = intrinsics(camera, dtype).to(device)
    covars = covariance(gaussians.quats.to(dtype), gaussians.scales.to(dtype))
    means_c, covars_c = world_to_camera(gaussians.means.to(dtype), covars, viewmat)
    radii, means2d, depths, conics, comp = perspective_project(
        means_c, covars_c, K, camera.width, camera.height, eps2d, camera.near, camera.far)
    opacities = gaussians.opacities.to(dtype)
    if antialiased:
        opacities = opacities * comp
    return ProjectedSplats(means2d, conics, depths, radii, opacities, splat_colors(gaussians, camera, dtype))

"""`apply_atmosphere`: the sky, the sun and aerial perspective on a rendered frame."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from ..errors import InputError
from ..geometry import Camera
from ..geometry.sun import Sun
from ..renderers.base import RenderOutput
from .composite import composite_numba, composite_torch
from .frame import frame_atmosphere
from .model import Atmosphere
from .tables import tables

DEFAULT_SUN_AZIMUTH_DEG = 135.0
DEFAULT_SUN_ELEVATION_DEG = 45.0


@dataclass(frozen=True)
class Sky:
    """How the atmosphere is drawn.

    Attributes:
        sun: where the sun is (`Sun.at(time)`, `Sun.from_horizon(az, el, lon, lat)`); None puts it
            at azimuth 135 degrees (south-east), 45 degrees high, over the point under the camera.
        atmosphere: the physical parameters (default: the Earth's clear sky).
        exposure: a multiplier on the light (1: a white surface in the reference daylight, a sun
            60 degrees high at sea level, reads white).
        relight: light splats by the sun and sky where they are (dark on the night side, warm at
            sunset), relative to the reference daylight that their colours are taken to show.
        ground_albedo: linear reflectance of the planet where no splat covers it (None: black,
            only the air in front of it is drawn).
        ground_height_m: ellipsoidal height of that fill ground.
        sky_stride: pixels between the rays of the background map (1 is exact, slower).
        volume_stride: pixels between the rays of the aerial-perspective volume.
        slices: distances per ray in that volume.
    """

    sun: Sun | None = None
    atmosphere: Atmosphere = field(default_factory=Atmosphere)
    exposure: float = 1.0
    relight: bool = True
    ground_albedo: tuple[float, float, float] | None = (0.10, 0.10, 0.08)
    ground_height_m: float = 0.0
    sky_stride: int = 8
    volume_stride: int = 48
    slices: int = 24

    def __post_init__(self) -> None:
        if not (math.isfinite(self.exposure) and self.exposure > 0):
            raise InputError(f"atmosphere exposure={self.exposure} must be a positive number")
        for name in ("sky_stride", "volume_stride"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"atmosphere {name}={getattr(self, name)} must be at least 1")
        if int(self.slices) < 2:
            raise InputError(f"atmosphere slices={self.slices} must be at least 2")
        if self.ground_albedo is not None and (len(self.ground_albedo) != 3
                                               or not all(0.0 <= v <= 1.0 for v in self.ground_albedo)):
            raise InputError(f"atmosphere ground_albedo={self.ground_albedo} must be three numbers in [0, 1]")
        if not math.isfinite(self.ground_height_m):
            raise InputError(f"atmosphere ground_height_m={self.ground_height_m} is not finite")

    def sun_for(self, camera: Camera) -> Sun:
        """This sky's sun, or the default one over the point under `camera`."""
        if self.sun is not None:
            return self.sun
        lon, lat, _ = camera.geodetic()
        return Sun.from_horizon(DEFAULT_SUN_AZIMUTH_DEG, DEFAULT_SUN_ELEVATION_DEG, lon, lat)


def apply_atmosphere(output: RenderOutput, camera: Camera, sky: Sky | Sun | None = None) -> RenderOutput:
    """The frame seen through the atmosphere: sky behind the splats, aerial perspective on them.

    `output` must come from a renderer with a black background (its rgb premultiplied by alpha);
    its depth (metres along the optical axis) sets how much air lies in front of each pixel.
    Returns a new RenderOutput with the new rgb (sRGB in [0, 1]) and the same depth, alpha and
    splat count. Runs on the output's device: a fused numba pass on the CPU, torch elsewhere.

    Args:
        output: the rasterized frame.
        camera: the camera it was rendered with.
        sky: a `Sky`, a `Sun` (the other settings default) or None (all defaults).

    Returns:
        The frame with the atmosphere.

    Raises:
        InputError: the output's size does not match the camera's.

    Example:
        >>> from earth3d.atmosphere import Sky, apply_atmosphere
        >>> from earth3d.geometry.sun import Sun
        >>> out = apply_atmosphere(earth3d.render(store, cam), cam, Sky(sun=Sun.at("2024-06-21T18:00Z")))
    """
    if isinstance(sky, Sun):
        sky = Sky(sun=sky)
    sky = sky or Sky()
    if tuple(output.alpha.shape) != (camera.height, camera.width):
        raise InputError(f"render output of size {tuple(output.alpha.shape)} does not match the camera's "
                         f"{camera.height}x{camera.width}")
    device = output.rgb.device
    tabs = tables(sky.atmosphere, device)
    rgb, alpha, depth = output.rgb.float(), output.alpha.float(), output.depth.float()
    if device.type == "cpu":  # numpy: torch would start its thread pool for each of these
        alpha_np = alpha.detach().numpy()
        any_covered = bool(alpha_np.max() > 0) if alpha_np.size else False
        need = alpha_np  # frame_atmosphere tests alpha < 1 only where it matters
        depth_max = float(depth.detach().numpy().max()) if any_covered else 0.0
    else:
        any_covered = bool((alpha > 0).any())
        need = (alpha < 1.0).cpu().numpy()
        depth_max = float(depth.max()) if any_covered else 0.0
    t_far = None
    if any_covered:
        corner = math.sqrt(1.0 + (max(camera.cx, camera.width - camera.cx) / camera.fx) ** 2
                           + (max(camera.cy, camera.height - camera.cy) / camera.fy) ** 2)
        t_far = depth_max * corner
    sun = sky.sun_for(camera)
    with torch.no_grad():
        fa = frame_atmosphere(tabs, camera, sun.direction, t_far=t_far, sky_stride=int(sky.sky_stride),
                              volume_stride=int(sky.volume_stride), slices=int(sky.slices), exposure=sky.exposure,
                              relight=sky.relight, ground_albedo=sky.ground_albedo,
                              ground_height_m=sky.ground_height_m, need=need)
        radius = sky.atmosphere.sun_angular_radius
        if device.type == "cpu":
            new = composite_numba(rgb, alpha, depth, fa, camera, radius)
        else:
            new = composite_torch(rgb, alpha, depth, fa, camera, radius)
    return replace(output, rgb=new)

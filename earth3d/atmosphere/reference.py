"""The exact per-pixel atmosphere: every pixel's own ray, no coarse maps (the reference of the fast path).

`apply_atmosphere` samples the sky on a grid of rays and the aerial perspective in a froxel
volume, and interpolates both per pixel (`frame.py`, `composite.py`). This module evaluates the
same physics for each pixel directly, the way gsplat keeps a plain reference beside its fast
kernels: the background of the ray through the pixel's center (sky, lit fill ground or space) and,
for covered pixels, the in-scattered light, transmittance and sun and sky light at the pixel's own
distance, then composites in float64 torch with the exact sRGB and tone-mapping functions. It is
slow (a few microseconds a pixel) and meant for tests and for checking the fast path on new views.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from ..geometry import Camera
from ..geometry.sun import Sun
from ..renderers.base import RenderOutput
from . import kernels
from .apply import Sky
from .composite import linear_to_srgb, srgb_to_linear, sun_disc, tone_map
from .frame import _background, _Rays, frame_atmosphere, pixel_rays, reference_irradiance
from .tables import tables


def apply_atmosphere_exact(output: RenderOutput, camera: Camera, sky: Sky | Sun | None = None) -> RenderOutput:
    """`apply_atmosphere` evaluated per pixel (see the module's docstring); CPU tensors.

    Args:
        output: the rasterized frame (rgb premultiplied by alpha over black, depth in metres).
        camera: its camera.
        sky: a `Sky`, a `Sun` or None (defaults).

    Returns:
        The frame with the atmosphere, as `apply_atmosphere` returns it.
    """
    if isinstance(sky, Sun):
        sky = Sky(sun=sky)
    sky = sky or Sky()
    tabs = tables(sky.atmosphere)
    sun = sky.sun_for(camera).direction
    h, w = camera.height, camera.width
    e_ref = reference_irradiance(tabs).numpy().astype(np.float64)
    k = sky.exposure * math.pi / e_ref
    py, px = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    with torch.no_grad():
        bg, _ = _background(tabs, camera, sun, k.astype(np.float32), e_ref.astype(np.float32), sky.ground_albedo,
                            sky.ground_height_m, px, py)
        bg_t = torch.as_tensor(np.asarray(bg, dtype=np.float64))
        alpha = output.alpha.double().clamp(0.0, 1.0)
        a = alpha.unsqueeze(-1)
        lin = srgb_to_linear((output.rgb.double() / a.clamp_min(1e-12)).clamp(0.0, 1.0))
        covered = (alpha > 0).numpy()
        if covered.any():
            ys, xs = np.nonzero(covered)
            dirs, norm = pixel_rays(camera, xs + 0.5, ys + 0.5)
            rays = _Rays(tabs, camera, sun, dirs)
            t = output.depth.double().numpy()[ys, xs].clip(0.0) * norm  # ECEF metres along the ray
            dist = np.maximum(t * rays.stretch - rays.enter, 0.0)
            out = kernels.to_point(tabs, rays.r_np, rays.mu_np, rays.mu_s_np, rays.nu_np, dist, rays.ground_np)
            irradiance = out[:, 6:] / e_ref if sky.relight else np.ones((len(ys), 3))
            factor = np.where(rays.hits[:, None], irradiance * np.exp(-out[:, 3:6]), irradiance)
            inscatter = np.where(rays.hits[:, None], out[:, :3] * k, 0.0)
            yt, xt = torch.as_tensor(ys), torch.as_tensor(xs)
            lin[yt, xt] = lin[yt, xt] * torch.as_tensor(factor) + torch.as_tensor(inscatter)
        res = a * lin + (1.0 - a) * bg_t
        fa = frame_atmosphere(tabs, camera, sun, t_far=None, sky_stride=max(h, w), exposure=sky.exposure,
                              relight=sky.relight, ground_albedo=None)
        window, cover = sun_disc(camera, fa, sky.atmosphere.sun_angular_radius, torch.device("cpu"))
        if cover is not None:
            x0, y0, x1, y1 = window
            colour = torch.as_tensor(fa.sun_colour, dtype=torch.float64)
            res[y0:y1, x0:x1] += (1.0 - a[y0:y1, x0:x1]) * cover.double() * colour
        new = linear_to_srgb(tone_map(res)).float()
    return replace(output, rgb=new)

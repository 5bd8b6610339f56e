"""One call from a world to an image: `render(source, camera)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .gaussians import Gaussians
from .geometry import Camera
from .renderers import Renderer, RenderOutput, default_renderer
from .store import Store
from .stream import Stream

if TYPE_CHECKING:
    from .atmosphere import Sky, Sun


def render(source: Stream | Store | Gaussians, camera: Camera, renderer: Renderer | None = None,
           background: tuple[float, float, float] = (0.0, 0.0, 0.0),
           atmosphere: "bool | Sky | Sun | None" = False) -> RenderOutput:
    """Render a Stream (its cut for `camera`), a Store (through a default Stream) or Gaussians.

    `renderer` defaults to `earth3d.renderers.default_renderer()` (gsplat on CUDA, else the CPU
    rasterizer). The output's `n_splats` is the number of splats drawn. `atmosphere` (off by
    default) draws the sky, the sun and aerial perspective (`earth3d.atmosphere.apply_atmosphere`):
    True for the defaults, a `Sky` or a `Sun` to choose; it replaces `background`.
    """
    if isinstance(source, Store):
        with Stream(source) as stream:
            gaussians = stream.select(camera)
    elif isinstance(source, Stream):
        gaussians = source.select(camera)
    elif isinstance(source, Gaussians):
        gaussians = source
    else:
        raise TypeError(f"render() takes a Stream, Store or Gaussians, not {type(source).__name__}")
    if atmosphere is not None and atmosphere is not False:
        background = (0.0, 0.0, 0.0)
    out = (renderer or default_renderer()).render(gaussians, camera, background)
    out.n_splats = len(gaussians)
    if atmosphere is not None and atmosphere is not False:
        from .atmosphere import apply_atmosphere

        out = apply_atmosphere(out, camera, None if atmosphere is True else atmosphere)
    return out

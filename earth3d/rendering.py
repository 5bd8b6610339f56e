"""One call from a world to an image: `render(source, camera)`."""

from __future__ import annotations

from .gaussians import Gaussians
from .geometry import Camera
from .renderers import Renderer, RenderOutput, default_renderer
from .store import Store
from .stream import Stream


def render(source: Stream | Store | Gaussians, camera: Camera, renderer: Renderer | None = None,
           background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> RenderOutput:
    """Render a Stream (its cut for `camera`), a Store (through a default Stream) or Gaussians.

    `renderer` defaults to `earth3d.renderers.default_renderer()` (gsplat on CUDA, else the CPU
    rasterizer). The output's `n_splats` is the number of splats drawn (that survived culling),
    as every renderer reports it.
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
    return (renderer or default_renderer()).render(gaussians, camera, background)

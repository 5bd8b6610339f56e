"""Rendering along a camera path: the one prefetch-and-render loop every flythrough goes through.

While frame i renders, the chunks of the next `prefetch` views load in the background, at most
`prefetch_splats_per_pixel * width * height` splats of new chunks queued per frame: a descent
needs most of its chunks within a few frames, and the quota spreads those loads over the frames
before them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

from ..gaussians import Gaussians
from ..geometry import Camera
from ..renderers import Renderer, RenderOutput, default_renderer
from ..stream import Stream
from .frame import render

if TYPE_CHECKING:
    from ..atmosphere import Sky, Sun

#: Views ahead on the path whose chunks load while the current frame renders.
PREFETCH_FRAMES = 8
#: Splats per pixel of new chunks queued per frame.
PREFETCH_SPLATS_PER_PIXEL = 0.25


@dataclass
class PathFrame:
    """One rendered view of a path.

    Attributes:
        index: the camera's position in the path.
        camera: the camera.
        output: what the renderer drew (rgb, depth, alpha, n_splats).
        stream_s: wall seconds spent before rasterizing: prefetching the views ahead, cutting the
            stream and waiting for its chunks (0 for Gaussians).
    """

    index: int
    camera: Camera
    output: RenderOutput
    stream_s: float


def render_path(source: Stream | Gaussians, cameras: Sequence[Camera], *, renderer: Renderer | None = None,
                prefetch: int = PREFETCH_FRAMES, prefetch_splats_per_pixel: float | None = PREFETCH_SPLATS_PER_PIXEL,
                background: tuple[float, float, float] = (0.0, 0.0, 0.0),
                atmosphere: "bool | Sky | Sun | None" = False, maps: bool = False) -> Iterator[PathFrame]:
    """Render `cameras` in order, prefetching the chunks of the views ahead; yields each frame as it is done.

    Args:
        source: a Stream over a store (levels of detail, prefetched), or Gaussians drawn whole.
        cameras: the path.
        renderer: the rasterizer (default: `earth3d.renderers.default_renderer()`).
        prefetch: how many views ahead start loading while a frame renders (0: none).
        prefetch_splats_per_pixel: most splats of new chunks queued per frame, per pixel of the
            view (None: up to the stream's cache budget).
        background: RGB in [0, 1] where nothing is drawn (ignored with an atmosphere).
        atmosphere: the sky and aerial perspective drawn over each frame (see `render`).
        maps: also render label, instance and normal maps (see `render`).

    Returns:
        An iterator of `PathFrame`s, one per camera, rendered lazily as it is advanced.

    Raises:
        ValueError: `prefetch` is negative.

    Example:
        >>> with Stream(store) as stream:                                # doctest: +SKIP
        ...     for frame in render_path(stream, cameras):
        ...         video.append(frame.output.rgb)
    """
    if prefetch < 0:
        raise ValueError(f"prefetch={prefetch} must be 0 or more views")
    renderer = renderer or default_renderer()
    cameras = list(cameras)
    for i, camera in enumerate(cameras):
        start = time.perf_counter()
        ahead = cameras[i + 1:i + 1 + prefetch]
        if isinstance(source, Stream):
            if ahead:
                quota = None if prefetch_splats_per_pixel is None else \
                    int(prefetch_splats_per_pixel * camera.width * camera.height)
                source.prefetch(ahead, max_splats=quota)
            gaussians = source.select(camera)
        else:
            gaussians = source
        stream_s = time.perf_counter() - start
        out = render(gaussians, camera, renderer, background, atmosphere, maps=maps)
        yield PathFrame(i, camera, out, stream_s)

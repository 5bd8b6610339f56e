"""One call from a world to an image: `render(source, camera)`, exposed as `earth3d.render`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..gaussians import Gaussians
from ..geometry import Camera
from ..renderers import Renderer, RenderOutput, default_renderer
from ..store import Store
from ..stream import Stream

if TYPE_CHECKING:
    from ..atmosphere import Sky, Sun


def render(source: Stream | Store | Gaussians, camera: Camera, renderer: Renderer | None = None,
           background: tuple[float, float, float] = (0.0, 0.0, 0.0),
           atmosphere: "bool | Sky | Sun | None" = False, *, maps: bool = False) -> RenderOutput:
    """Render a Stream (its cut for `camera`), a Store (through a default Stream) or Gaussians.

    Args:
        source: where the splats come from. A Stream draws its level-of-detail cut for `camera`;
            a Store is opened through a default Stream for this one view; Gaussians are drawn as given.
        camera: the view.
        renderer: the rasterizer (default: `earth3d.renderers.default_renderer()`, gsplat on CUDA,
            else the CPU one).
        background: RGB in [0, 1] where nothing is drawn (ignored with an atmosphere).
        atmosphere: draw the sky, the sun and aerial perspective
            (`earth3d.atmosphere.apply_atmosphere`): True for the defaults, a `Sky` or a `Sun`
            to choose; False or None (the default) for none.
        maps: also return the label, instance and normal maps (`RenderOutput.label`, `.instance`,
            `.normal`; classes of `earth3d.classes`), passed to the renderer.

    Returns:
        The RenderOutput (rgb, depth, alpha); its `n_splats` is the number of splats drawn
        (those that survived culling), as every renderer reports it.

    Raises:
        TypeError: `source` is none of the three.

    Example:
        >>> import earth3d                                          # doctest: +SKIP
        >>> with earth3d.stream.Stream(earth3d.store.open_store("world.e3d")) as stream:  # doctest: +SKIP
        ...     out = earth3d.render(stream, camera)
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
    with_sky = atmosphere is not None and atmosphere is not False
    bg = (0.0, 0.0, 0.0) if with_sky else background
    r = renderer or default_renderer()
    out = r.render(gaussians, camera, bg, maps=True) if maps else r.render(gaussians, camera, bg)
    if with_sky:
        from ..atmosphere import apply_atmosphere

        lit = apply_atmosphere(out, camera, None if isinstance(atmosphere, bool) else atmosphere)
        lit.label, lit.instance, lit.normal = out.label, out.instance, out.normal
        out = lit
    return out

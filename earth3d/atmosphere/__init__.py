"""The atmosphere: a physically based sky, the sun and aerial perspective, applied after rasterization.

    from earth3d.atmosphere import Sky, apply_atmosphere
    from earth3d.geometry.sun import Sun
    frame = apply_atmosphere(output, camera, Sky(sun=Sun.at("2024-06-21T18:00Z")))

Both renderers share it: it needs only a RenderOutput (rgb, depth, alpha) and the camera.
`earth3d.render(..., atmosphere=True | Sky(...))` calls it.
"""

from ..geometry.sun import Sun
from .apply import Sky, apply_atmosphere
from .model import Atmosphere
from .tables import Tables, tables

__all__ = ["Atmosphere", "Sky", "Sun", "Tables", "apply_atmosphere", "tables"]

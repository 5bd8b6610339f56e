"""earth3d: planet-scale 3D Gaussian-splat worlds from orthophotos and elevation models.

The top level re-exports each stage's entry point; heavy stages load on first use.
"""

from importlib import import_module

from .gaussians import Gaussians
from .geometry import Camera
from .raster import GeoRaster

__version__ = "0.1.0"  # the one source of the version: pyproject.toml reads it (setuptools attr)

_LAZY = {
    "read_raster": "earth3d.raster.read",
    "lift": "earth3d.lifting",
    "render": "earth3d.scenarios.frame",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'earth3d' has no attribute {name!r}")


__all__ = ["Camera", "GeoRaster", "Gaussians", "__version__", *_LAZY]

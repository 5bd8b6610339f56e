"""earth3d: planet-scale 3D Gaussian-splat worlds from orthophotos and elevation models.

The top level re-exports each stage's entry point; heavy stages load on first use.
"""

from importlib import import_module

from ._threads import install as _install_thread_policy

_install_thread_policy()  # before numba's or torch's OpenMP runtime loads: idle workers sleep

from ._numba_cache import install as _install_numba_cache  # noqa: E402

_install_numba_cache()  # before any kernel is defined: caches invalidated by any change to earth3d

from .gaussians import Gaussians  # noqa: E402
from .geometry import Camera  # noqa: E402
from .raster import GeoRaster  # noqa: E402

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

"""earth3d: planet-scale 3D Gaussian-splat worlds from orthophotos and elevation models."""

from .gaussians import Gaussians
from .geometry import Camera
from .raster import GeoRaster

__version__ = "0.1.0"
__all__ = ["Camera", "GeoRaster", "Gaussians", "__version__"]

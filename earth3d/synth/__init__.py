"""World synthesis: procedural planets, generators fitted to real exemplars, real rasters as a source.

All sources implement `TileGenerator.generate(region, resolution_m) -> GeoRaster`.

The numba kernels are compiled once and cached on disk (earth3d/synth/__pycache__).
numba re-validates a cached function against its own file only: after editing
noise.py, relief.py, city.py or kernel.py, delete the cached `*.nbi`/`*.nbc` files so
that the kernels calling them (in kernel.py, world.py) are recompiled.
"""

from .base import TileGenerator
from .earth import EarthWorld as EarthWorld  # Earth from open data (extra `earth`)
from .earth import place as place
from .fitted import FittedGenerator, FittedModel
from .grid import tile_bbox, tile_for_lonlat
from .raster_source import RasterSource
from .world import BIOMES, LEVELS, ProceduralWorld

__all__ = ["BIOMES", "EarthWorld", "FittedGenerator", "FittedModel", "LEVELS", "ProceduralWorld", "RasterSource",
           "TileGenerator", "place", "tile_bbox", "tile_for_lonlat"]

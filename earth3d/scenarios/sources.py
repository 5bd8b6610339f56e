"""Where a store's splats come from: a lifted GeoTIFF pair, a procedural region, or another store's leaves.

The first two are module-level functions so that `functools.partial` of them pickles: a
distributed build lifts each source on a Dask worker.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..gaussians import Gaussians
from ..lifting import lift
from ..raster import read_raster


def lifted_raster(dem: str | os.PathLike, ortho: str | os.PathLike | None = None,
                  resolution: float | None = None, classes: str | os.PathLike | None = None,
                  class_map: dict[int, int] | None = None) -> Gaussians:
    """Splats of a DEM (+ orthophoto) GeoTIFF pair, lifted at `resolution` (default: the finer input's).

    Args:
        dem: the DEM GeoTIFF.
        ortho: an orthophoto draped on it (None: colours from a hypsometric ramp).
        resolution: lifting cell size in the DEM CRS's units.
        classes: an optional class raster (land-cover GeoTIFF) warped onto the lifting grid.
        class_map: its source value -> class id mapping (None: values are class ids).

    Returns:
        The Gaussians.

    Example:
        >>> from functools import partial                              # doctest: +SKIP
        >>> build_store([partial(lifted_raster, "dem.tif", "ortho.tif")], "world.e3d")  # doctest: +SKIP
    """
    raster = read_raster(dem, ortho, resolution=resolution)
    if classes is not None:
        from ..raster.classes import read_classes

        raster.classes = read_classes(classes, raster.transform, raster.crs, raster.shape, class_map)
    return lift(raster)


#: The built-in worlds by name: an invented planet, or Earth laid out by open data.
WORLDS = ("procedural", "earth")


def make_world(name: str = "procedural", seed: int = 0):
    """The built-in world called `name` (see `WORLDS`), as a `TileGenerator`.

    Args:
        name: "procedural" (`earth3d.synth.ProceduralWorld`, an invented planet) or "earth"
            (`earth3d.synth.EarthWorld`, Earth from open data; needs the `earth` extra).
        seed: the world seed: the same seed gives the same world.

    Returns:
        The generator.

    Raises:
        InputError: an unknown name.

    Example:
        >>> make_world("procedural", seed=3)
        ProceduralWorld(seed=3)
    """
    from ..synth import EarthWorld, ProceduralWorld

    if name == "procedural":
        return ProceduralWorld(seed)
    if name == "earth":
        return EarthWorld(seed)
    raise InputError(f"world {name!r}: unknown; choose one of {', '.join(WORLDS)}")


def synthesized(bbox: tuple[float, float, float, float], resolution_m: float, seed: int = 0,
                world: str = "procedural") -> Gaussians:
    """Splats of a region (west, south, east, north degrees) of the built-in world `world` of `seed`."""
    return lift(make_world(world, seed).generate(bbox=bbox, resolution_m=resolution_m))

"""The TileGenerator protocol shared by every world source."""

from __future__ import annotations

from typing import Protocol, Sequence, Union, runtime_checkable

from ..raster.georaster import GeoRaster

TileKey = tuple[int, int, int]
Region = Union[Sequence[float], TileKey]


@runtime_checkable
class TileGenerator(Protocol):
    """Anything that yields a GeoRaster (RGB orthophoto + heights) for a region at a resolution.

    `region` is a (west, south, east, north) box in degrees or a (z, x, y) key of the
    global tile grid (see `earth3d.synth.grid.tile_bbox`).
    """

    def generate(self, region: Region | None = None, resolution_m: float = 30.0, *, bbox=None,
                 tile=None) -> GeoRaster:
        ...


def resolve_region(region, bbox, tile):
    """The (west, south, east, north) box named by exactly one of region / bbox / tile."""
    from .grid import tile_bbox

    given = [r for r in (region, bbox, tile) if r is not None]
    if len(given) != 1:
        raise ValueError("give exactly one region: a (west, south, east, north) bbox or a (z, x, y) tile key")
    r = given[0]
    if tile is not None or (len(r) == 3 and bbox is None):
        if len(r) != 3:
            raise ValueError(f"tile key must be (z, x, y), got {r!r}")
        return tile_bbox(*(int(v) for v in r))
    if len(r) != 4:
        raise ValueError(f"bbox must be (west, south, east, north), got {r!r}")
    return tuple(r)

"""Earth itself as a world: open data at coarse levels, procedural detail beneath (extra `earth`).

`EarthWorld(seed)` is a TileGenerator like ProceduralWorld; `place(name)` gives the (lon, lat)
of a named place. Data sources, licences and accuracy: docs/EARTH.md.
"""

from .places import check_lonlat, place
from .world import EarthWorld

__all__ = ["EarthWorld", "check_lonlat", "place"]

"""Scenarios: what the command line does, as library calls a Python user makes the same way.

Each module has one job:

- `frame`: one view of a Stream, Store or Gaussians (`render`, also `earth3d.render`);
- `path`: the one prefetch-and-render loop along a camera path (`render_path`);
- `flythrough`: a path rendered from a store into an mp4 (`render_flythrough`);
- `scene`: a store or a lifted raster as something to render (`open_store_scene`, `open_raster_scene`);
- `levels`: nested levels of a world around one place (`Level`, `DEMO_LEVELS`, `nested_rasters`), and
  the finer level along a street flight (`street_detail`);
- `street`: a clear street to fly along in a raster (`find_street`);
- `descent`: the orbit-to-street camera path (`street_descent`);
- `store_build`: a store built as one output, checked first and put in place when complete
  (`build_store`, `build_nested_store`, `build_lifted_store`, `check_store_output`);
- `sources`: the built-in worlds by name and splats from a GeoTIFF pair or a region of a world
  (`make_world`, `lifted_raster`, `synthesized`); a store's leaves are `Store.read_leaves()`;
- `report`: stage timings and progress bars (`Report`).

Example:
    >>> from earth3d.synth import ProceduralWorld  # doctest: +SKIP
    >>> from earth3d.scenarios import QUICK_LEVELS, build_nested_store  # doctest: +SKIP
    >>> from earth3d.scenarios import render_flythrough, street_descent  # doctest: +SKIP
    >>> world = ProceduralWorld(0)  # doctest: +SKIP
    >>> lon, lat = world.find_city()  # doctest: +SKIP
    >>> store, rasters = build_nested_store(world, lon, lat, "world.e3d", QUICK_LEVELS)  # doctest: +SKIP
    >>> cameras, street, ground = street_descent(rasters, lon, lat, frames=120)  # doctest: +SKIP
    >>> render_flythrough(store, cameras, "flythrough.mp4")  # doctest: +SKIP
"""

from .descent import POSTER_ALTITUDE_M, frame_near_altitude, street_descent, street_detail_level
from .flythrough import render_flythrough
from .frame import render
from .levels import (
    DEMO_LEVELS,
    QUICK_LEVELS,
    STREET_DETAIL_M,
    GroundFn,
    Level,
    level_bbox,
    nested_rasters,
    raster_center,
    raster_ground,
    street_detail,
)
from .path import PREFETCH_FRAMES, PREFETCH_SPLATS_PER_PIXEL, PathFrame, render_path
from .report import Report
from .scene import RasterScene, Scene, StoreScene, open_raster_scene, open_store_scene
from .sources import lifted_raster, make_world, synthesized
from .store_build import build_lifted_store, build_nested_store, build_store, check_store_output
from .street import find_street

__all__ = [
    "DEMO_LEVELS", "GroundFn", "Level", "POSTER_ALTITUDE_M", "PREFETCH_FRAMES", "PREFETCH_SPLATS_PER_PIXEL",
    "PathFrame", "QUICK_LEVELS", "RasterScene", "Report", "STREET_DETAIL_M", "Scene", "StoreScene",
    "build_lifted_store", "build_nested_store",
    "build_store", "check_store_output", "find_street", "frame_near_altitude", "level_bbox", "lifted_raster",
    "make_world", "nested_rasters", "open_raster_scene", "open_store_scene", "raster_center", "raster_ground",
    "render", "render_flythrough", "render_path", "street_descent", "street_detail", "street_detail_level",
    "synthesized",
]

"""`earth3d synth`: a region of the procedural world as GeoTIFF orthophoto + DEM and a preview PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from ..errors import InputError
from ._common import Common, Report, check_bbox, check_new


@dataclass(kw_only=True)
class Synth(Common):
    """Synthesize a region of the procedural world: GeoTIFF orthophoto + DEM and a preview PNG."""

    out: Path
    """Output folder (ortho.tif, dem.tif, preview.png)."""
    bbox: tuple[float, float, float, float] | None = None
    """WEST SOUTH EAST NORTH in degrees (across the antimeridian, east > 180)."""
    tile: tuple[int, int, int] | None = None
    """Z X Y key of the global tile grid (instead of --bbox)."""
    city: float | None = None
    """Instead of --bbox: a square this many metres wide around the world's nearest city to (0, 0)."""
    level: Literal["continental", "regional", "city", "street"] | None = None
    """Preset resolution for a level of detail (overrides --resolution)."""
    resolution: float = 30.0
    """Cell size in metres."""
    seed: int = 0
    """World seed: the same seed gives the same planet."""
    world: Literal["procedural", "earth"] = "procedural"
    """An invented planet, or Earth laid out by open data (the `earth` extra)."""
    vectors: bool = False
    """Also write roads.geojson and settlements.geojson (the procedural world's roads and settlements in the region)."""
    overwrite: bool = False
    """Replace existing outputs."""

    FLAGS: ClassVar[dict[str, str]] = {"resolution_m": "--resolution"}

    def run(self) -> None:
        """Synthesize the region and write the GeoTIFF pair and the preview."""
        from ..raster.write import write_raster
        from ..scenarios.levels import level_bbox
        from ..scenarios.sources import make_world
        from ..synth import LEVELS
        from ..video import write_png

        regions = [r for r in (self.bbox, self.tile, self.city) if r is not None]
        if len(regions) != 1:
            raise InputError("give exactly one region: --bbox W S E N, --tile Z X Y or --city METRES")
        names = {k: self.out / f"{k}.{ext}" for k, ext in (("ortho", "tif"), ("dem", "tif"), ("preview", "png"))}
        if self.vectors:
            names.update(roads=self.out / "roads.geojson", settlements=self.out / "settlements.geojson")
        for path in names.values():
            check_new(path, self.overwrite)
        report = Report(self.quiet)
        world = make_world(self.world, self.seed)
        resolution = LEVELS[self.level] if self.level else self.resolution
        region: dict
        if self.city is not None:
            if not self.city > 0:
                raise InputError(f"--city {self.city} must be a positive width in metres")
            if not hasattr(world, "find_city"):
                raise InputError(f"--city picks a city of the procedural world; with --world {self.world} "
                                 "give --bbox or --tile")
            with report.stage("find city"):
                lon, lat = world.find_city()
            region = dict(bbox=level_bbox(lon, lat, self.city / 2))
        elif self.bbox is not None:
            region = dict(bbox=check_bbox(self.bbox, "--bbox"))
        else:
            region = dict(tile=self.tile)
        with report.stage("synthesize"):
            raster = world.generate(resolution_m=resolution, **region)
        with report.stage("write"):
            write_raster(raster, names["dem"], names["ortho"], overwrite=self.overwrite)
            write_png(names["preview"], preview(raster.rgb), overwrite=self.overwrite)
        if self.vectors:
            if not hasattr(world, "streets"):
                raise InputError(f"--vectors needs the procedural world; --world {self.world} has no roads")
            with report.stage("roads and settlements"):
                write_vectors(world, raster.bounds(), names["roads"], names["settlements"])
        h, w = raster.shape
        report.say(f"wrote {names['ortho']}, {names['dem']} and {names['preview']} ({w}x{h} cells, "
                   f"{resolution:g} m, heights {np.nanmin(raster.height):.0f}..{np.nanmax(raster.height):.0f} m)")
        report.summary()


def preview(rgb: np.ndarray, max_side: int = 1024) -> np.ndarray:
    """The orthophoto, block-averaged down to at most `max_side` pixels on a side."""
    step = max(1, -(-max(rgb.shape[:2]) // max_side))
    h, w = (rgb.shape[0] // step) * step, (rgb.shape[1] // step) * step
    return rgb[:h, :w].reshape(h // step, step, w // step, step, 3).mean(axis=(1, 3))


def write_vectors(world, bbox, roads_path: Path, settlements_path: Path) -> None:
    """Write the roads and settlements of a (west, south, east, north) box as GeoJSON (lon/lat, EPSG:4326)."""
    import json

    from ..atomic import write_bytes_atomic

    roads = [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": s.lonlat.round(7).tolist()},
              "properties": {"kind": s.kind, "bridge": s.bridge}} for s in world.streets(bbox)]
    places = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(p.lon, 7), round(p.lat, 7)]},
               "properties": {"kind": p.kind, "population": round(p.population), "radius_m": round(p.radius_m, 1)}}
              for p in world.settlements(bbox)]
    for path, feats in ((roads_path, roads), (settlements_path, places)):
        write_bytes_atomic(path, json.dumps({"type": "FeatureCollection", "features": feats}).encode())

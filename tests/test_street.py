"""Finding a street to fly along: along road cells at any bearing where the raster has classes."""

from __future__ import annotations

import numpy as np
from affine import Affine
from pyproj import CRS

from earth3d.classes import CAR, PAVED, ROAD, ROOF
from earth3d.geometry import GEODETIC_CRS, transformer
from earth3d.raster import GeoRaster
from earth3d.scenarios import find_street, level_bbox
from earth3d.scenarios.street import HEADING_STEP_DEG
from earth3d.synth import ProceduralWorld

UTM32 = CRS.from_epsg(32632)
CELL = 0.5


def _raster(classes: np.ndarray) -> GeoRaster:
    """A flat 0.5 m raster in UTM 32N with the given classes, its corner at (500 km E, 5,000 km N)."""
    h, w = classes.shape
    t = Affine(CELL, 0.0, 500_000.0, 0.0, -CELL, 5_000_000.0 + h * CELL)
    return GeoRaster(np.full((h, w, 3), 0.5, np.float32), np.zeros((h, w), np.float32), np.ones((h, w), bool), t,
                     UTM32, classes=classes)


def _line_classes(r: GeoRaster, start: tuple[float, float, float], back_m: float, ahead_m: float) -> np.ndarray:
    """The classes under the flight line, every 0.25 m from `back_m` behind the start to `ahead_m` ahead."""
    slon, slat, heading = start
    x, y = transformer(GEODETIC_CRS.to_2d(), r.crs).transform(slon, slat)
    d = np.arange(-back_m, ahead_m + 1e-9, 0.25)
    if r.crs.is_geographic:  # metres to degrees at the start
        kx, ky = 1.0 / (111_320.0 * np.cos(np.radians(slat))), 1.0 / 110_574.0
    else:
        kx = ky = 1.0
    cols, rows = ~r.transform @ (x + d * np.sin(np.radians(heading)) * kx, y + d * np.cos(np.radians(heading)) * ky)
    return r.classes[rows.astype(int), cols.astype(int)]


def _diagonal_road(bearing: float, half_width_m: float, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roofs everywhere but a straight road through the middle at `bearing` (clockwise from north):
    the classes, and the east and north metres of each cell from the raster's centre."""
    north, east = np.mgrid[0:n, 0:n].astype(np.float64)
    east, north = (east + 0.5 - n / 2) * CELL, (n / 2 - north - 0.5) * CELL
    across = east * np.cos(np.radians(bearing)) - north * np.sin(np.radians(bearing))
    classes = np.where(np.abs(across) <= half_width_m, ROAD, ROOF).astype(np.uint8)
    return classes, east, north


def test_a_road_at_any_bearing_is_flown_along_its_middle():
    for bearing in (33.0, 118.0):
        classes, east, north = _diagonal_road(bearing, 5.0)
        # a sidewalk strip and a parked car on the road's edge
        along = east * np.sin(np.radians(bearing)) + north * np.cos(np.radians(bearing))
        across = east * np.cos(np.radians(bearing)) - north * np.sin(np.radians(bearing))
        classes[(np.abs(across - 4.0) < 1.0) & (np.abs(along - 10.0) < 2.5)] = CAR
        r = _raster(classes)
        # the target: 20 m off the road, across it
        cx, cy = r.transform @ (200, 200)
        tx = cx + 20.0 * np.cos(np.radians(bearing))
        ty = cy - 20.0 * np.sin(np.radians(bearing))
        lon, lat = transformer(r.crs, GEODETIC_CRS.to_2d()).transform(tx, ty)
        found = find_street(r, lon, lat, 40.0)
        assert found is not None
        offset = (found[2] - bearing) % 180.0
        assert min(offset, 180.0 - offset) <= HEADING_STEP_DEG / 2 + 1e-6, found
        # on road, clear of the car and the roofs, for 15 m behind and 40 m ahead
        assert (_line_classes(r, found, 15.0, 40.0) == ROAD).all()
        # near the middle of the road (the car narrows one side by 2 m)
        sx, sy = transformer(GEODETIC_CRS.to_2d(), r.crs).transform(found[0], found[1])
        e, n = sx - cx, sy - cy
        assert abs(e * np.cos(np.radians(bearing)) - n * np.sin(np.radians(bearing))) < 2.0


def test_no_road_falls_back_to_the_heights():
    classes = np.full((200, 200), PAVED, np.uint8)
    r = _raster(classes)
    h = np.random.default_rng(0).uniform(0.0, 8.0, r.shape).astype(np.float32)
    h[:, 90:110] = -1.0  # a north-south corridor, 10 m wide
    r = GeoRaster(r.rgb, h, r.valid, r.transform, r.crs, classes=classes)
    lon, lat = transformer(r.crs, GEODETIC_CRS.to_2d()).transform(*(r.transform @ (100, 100)))
    found = find_street(r, lon, lat, 30.0, search_m=20.0, behind_m=10.0)
    assert found is not None and found[2] in (0.0, 180.0)
    assert abs(float((~r.transform @ transformer(GEODETIC_CRS.to_2d(), r.crs).transform(found[0], found[1]))[0])
               - 100.0) < 1.0


def test_a_generated_city_street_is_all_road():
    """In a generated city at 0.5 m (streets at their district's own bearings) the flight runs on road."""
    world = ProceduralWorld(0)
    lon, lat = world.find_city((0.0, 0.0))
    r = world.generate(bbox=level_bbox(lon, lat, 110.0), resolution_m=0.5)
    found = find_street(r, lon, lat, 30.0, search_m=50.0)
    assert found is not None
    assert (_line_classes(r, found, 15.0, 30.0) == ROAD).all()


def test_street_detail_covers_the_flight_and_averages_to_the_finest_level():
    """The finer raster around a street flight: centred on the flight's middle, cut out of the finest
    level, its colours averaging to that level's and meeting them at its border."""
    from pyproj import Geod

    from earth3d.scenarios import Level, raster_center
    from earth3d.scenarios.levels import street_detail

    world = ProceduralWorld(0)
    lon, lat = world.find_city((0.0, 0.0))
    finest = world.generate(bbox=level_bbox(lon, lat, 60.0), resolution_m=0.5)
    street = find_street(finest, lon, lat, 20.0, search_m=30.0)
    assert street is not None
    before = finest.valid.copy()
    detail = street_detail(world, finest, street, 20.0, Level("detail", 12.0, 0.125, 2.0))
    assert all(190 <= n <= 194 for n in detail.shape)  # 24 m at 0.125 m
    m_lon, m_lat, _ = Geod(ellps="WGS84").fwd(street[0], street[1], street[2], 10.0)
    c_lon, c_lat = raster_center(detail)
    assert abs(c_lon - m_lon) * 111_320.0 < 0.5 and abs(c_lat - m_lat) * 110_574.0 < 0.5
    cut = before & ~finest.valid  # 24 m of the finest level's 0.5 m cells, less partly covered ones
    assert 44 ** 2 <= cut.sum() <= 48 ** 2 and finest.valid[~cut].all() == before[~cut].all()
    # over 2 m squares (16 x 16 of its cells), the detail's colours are the finest level's there
    rows, cols = np.nonzero(cut)
    x, y = finest.cell_centers()
    col, row = ~detail.transform @ (x[rows, cols], y[rows, cols])
    block = (np.asarray(row) // 16).astype(int) * 12 + (np.asarray(col) // 16).astype(int)
    ok = (np.asarray(row) < 188) & (np.asarray(col) < 188)
    count = np.bincount(block[ok], minlength=144)
    coarse = np.stack([np.bincount(block[ok], finest.rgb[rows[ok], cols[ok], c], 144) for c in range(3)], -1)
    fine = detail.rgb[:192, :192].reshape(12, 16, 12, 16, 3).mean(axis=(1, 3)).reshape(144, 3)
    ring = np.ones((12, 12), bool)
    ring[1:-1, 1:-1] = False  # the fade-in band
    full = (count >= 14) & ~ring.ravel()
    mean = coarse[full] / count[full, None]
    rms = float(np.sqrt(np.mean((mean - fine[full]) ** 2)))  # (the grids are offset by up to a quarter cell)
    shifted = float(np.sqrt(np.mean((mean - np.roll(fine, 1, axis=0)[full]) ** 2)))  # one square off
    assert full.sum() > 60 and rms < 0.03 and shifted > 2.0 * rms

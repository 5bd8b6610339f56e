"""Facades: walls under roofs take a building's material and rows of windows, exact box averages;
cars' walls are their sides."""

from __future__ import annotations

import numpy as np
from affine import Affine

import earth3d
from earth3d import classes as K
from earth3d.car_sides import CAR_GLASS, ROOF_M, TYRE, TYRE_M, car_side_colours
from earth3d.car_sides import SILL_M as CAR_SILL_M
from earth3d.facades import (
    FLOOR_M,
    GLASS,
    LINTEL_M,
    PARAPET_M,
    SHOP_M,
    SHOP_SILL_M,
    SHOP_TOP_M,
    SILL_M,
    facade_colours,
    glass_share,
)
from earth3d.geometry import ecef_to_geodetic
from earth3d.raster import GeoRaster

SHADE = 0.8  # lift's default wall_shade


def _block(cell_m: float, rise: float = 16.0, roof_class: int = K.ROOF) -> GeoRaster:
    """A flat street (0 m) with one building 12 m square and `rise` tall, UTM cells of `cell_m`."""
    n = int(round(40.0 / cell_m))
    x = (np.arange(n) + 0.5) * cell_m
    inside = (x > 14.0) & (x < 26.0)
    roof = inside[:, None] & inside[None, :]
    height = np.where(roof, rise, 0.0).astype(np.float32)
    rgb = np.where(roof[..., None], [0.6, 0.3, 0.2], [0.3, 0.3, 0.3]).astype(np.float32)
    classes = np.where(roof, roof_class, K.ROAD).astype(np.uint8)
    instances = np.where(roof, 77, 0).astype(np.int64)
    transform = Affine(cell_m, 0.0, 500_000.0, 0.0, -cell_m, 5_000_000.0)
    return GeoRaster(rgb, height, np.ones((n, n), bool), transform, "EPSG:32631", "ellipsoid",
                     classes=classes, instances=instances)


def _walls(raster: GeoRaster, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colours, labels and heights (m) of the wall splats of a lift."""
    flat = earth3d.lift(raster, walls=False, solve_colours=False)
    g = earth3d.lift(raster, solve_colours=False, **kw)
    walls = g[len(flat):]
    h = ecef_to_geodetic(walls.means_ecef())[:, 2]
    return walls.rgb.numpy().astype(np.float64), walls.labels, h - float(np.median(_ground(raster)))


def _ground(raster: GeoRaster) -> np.ndarray:
    flat = earth3d.lift(raster, walls=False, solve_colours=False)
    h = ecef_to_geodetic(flat.means_ecef())[:, 2]
    return h[flat.labels == K.ROAD]


def test_building_walls_have_storeys_of_windows_and_a_parapet():
    rgb, labels, h = _walls(_block(0.25))
    assert (labels == K.WALL).all() and len(rgb) > 1000
    lum = rgb.mean(1)
    storey = np.mod(h, FLOOR_M)
    upper = (h > FLOOR_M) & (h < 16.0 - PARAPET_M - 0.3)  # above the shops of the ground floor
    band = upper & (storey > SILL_M + 0.3) & (storey < LINTEL_M - 0.3)
    slab = upper & ((storey < SILL_M - 0.3) | (storey > LINTEL_M + 0.3))
    # windows darken the storeys' window bands, not their floor slabs
    assert lum[band].mean() < lum[slab].mean() - 0.1
    # along a window band the wall alternates between glass and wall: some splats are mostly glass
    glass = np.linalg.norm(rgb - GLASS * SHADE, axis=1) < 0.08
    assert 0.15 < glass[band].mean() < 0.85 and not glass[slab].any()
    # the parapet (the top PARAPET_M of the wall) has no window; one material per building
    top = rgb[h > 16.0 - PARAPET_M + 0.2]
    assert len(top) > 0 and np.ptp(top, axis=0).max() < 1e-6
    assert not np.allclose(top[0], np.array([0.6, 0.3, 0.2]) * SHADE)  # not the roof's colour


def test_storeys_count_from_the_building_foot_on_a_stepped_edge():
    """A roof cell only partly over the building (here a ring of 7.6 m cells round the 16 m roof, as
    box-filtered roof edges are) raises a wall on it: its storeys go on those of the wall below."""
    r = _block(0.25)
    n = r.shape[0]
    x = (np.arange(n) + 0.5) * 0.25
    inner = ((x > 14.5) & (x < 25.5))[:, None] & ((x > 14.5) & (x < 25.5))[None, :]
    r.height[(r.classes == K.ROOF) & ~inner] = 7.6
    rgb, _, h = _walls(r)
    lum = rgb.mean(1)
    storey = np.mod(h, FLOOR_M)
    upper = (h > 7.9) & (h < 16.0 - PARAPET_M - 0.3)  # the walls standing on the 7.6 m ring
    band = upper & (storey > SILL_M + 0.3) & (storey < LINTEL_M - 0.3)
    slab = upper & ((storey < SILL_M - 0.3) | (storey > LINTEL_M + 0.3))
    assert band.sum() > 50 and slab.sum() > 50
    assert lum[band].mean() < lum[slab].mean() - 0.1


def test_facades_average_across_resolutions_and_switch_off():
    """A coarse lift's facade is the box average of a fine one's (the pattern is fixed in metres)."""
    fine, _, hf = _walls(_block(0.25))
    coarse, _, hc = _walls(_block(1.0))
    for lo, hi in ((0.0, 8.0), (8.0, 16.0)):
        np.testing.assert_allclose(fine[(hf > lo) & (hf < hi)].mean(0), coarse[(hc > lo) & (hc < hi)].mean(0),
                                   atol=1e-3)
    plain, _, _ = _walls(_block(1.0), facades=False)
    assert np.abs(plain - np.array([0.6, 0.3, 0.2]) * SHADE).max() < 1e-6
    # walls that are not under a roof (a cliff under forest) keep the upper cell's colour
    cliff, labels, _ = _walls(_block(1.0, roof_class=K.FOREST))
    assert (labels == K.FOREST).all()
    assert np.abs(cliff - np.array([0.6, 0.3, 0.2]) * SHADE).max() < 1e-6


def test_glass_share_is_exact():
    period, start, stop = FLOOR_M, SILL_M, LINTEL_M
    whole = glass_share(np.array([0.0, 1.0]), np.array([3 * period, 1.0 + 5 * period]), period, start, stop)
    np.testing.assert_allclose(whole, (stop - start) / period)
    x = np.linspace(0.0, 10.0, 100_001)
    inside = (np.mod(x, period) >= start) & (np.mod(x, period) <= stop)
    for lo, hi in ((0.3, 1.1), (2.0, 7.7), (0.95, 1.05)):
        pick = (x >= lo) & (x <= hi)
        assert abs(glass_share(np.array([lo]), np.array([hi]), period, start, stop)[0] - inside[pick].mean()) < 1e-3
    # the colour of four quarter-metre splats averages to that of the metre splat they cover
    ids = np.full(40, 5)
    fine = facade_colours(ids, np.arange(40) * 0.25 + 0.125, np.full(40, 0.25), np.full(40, 2.0),
                          np.full(40, 5.0), np.full(40, 20.0))
    coarse = facade_colours(ids[:10], np.arange(10) + 0.5, np.ones(10), np.full(10, 2.0), np.full(10, 5.0),
                            np.full(10, 20.0))
    np.testing.assert_allclose(fine.reshape(10, 4, 3).mean(1), coarse, atol=1e-12)


def _turned(cell_m: float, turn_deg: float = 30.0) -> GeoRaster:
    """A 24 x 16 m building, 16 m tall, turned `turn_deg` against the UTM grid of `cell_m` cells."""
    n = int(round(60.0 / cell_m))
    x = (np.arange(n) + 0.5) * cell_m - 30.0
    ex, sy = np.meshgrid(x, x)  # metres east, metres south of the centre
    t = np.radians(turn_deg)
    u, v = ex * np.cos(t) - sy * np.sin(t), ex * np.sin(t) + sy * np.cos(t)
    roof = (np.abs(u) < 12.0) & (np.abs(v) < 8.0)
    return GeoRaster(np.where(roof[..., None], [0.6, 0.3, 0.2], [0.3, 0.3, 0.3]).astype(np.float32),
                     np.where(roof, 16.0, 0.0).astype(np.float32), np.ones((n, n), bool),
                     Affine(cell_m, 0.0, 500_000.0, 0.0, -cell_m, 5_000_000.0), "EPSG:32631", "ellipsoid",
                     classes=np.where(roof, K.ROOF, K.ROAD).astype(np.uint8),
                     instances=np.where(roof, 77, 0).astype(np.int64))


def test_turned_buildings_keep_their_windows_in_columns():
    """A building turned against the grid has stair-stepped walls; the steps along both grid axes draw the
    same windows, measured along the wall's true direction (without it they interleave out of step)."""
    cell = 0.25
    raster = _turned(cell)
    flat = earth3d.lift(raster, walls=False, solve_colours=False)
    walls = earth3d.lift(raster, solve_colours=False)[len(flat):]
    east, north, h = _utm(walls.means_ecef())
    t = np.radians(30.0)
    ex, sy = east - 500_000.0 - 30.0, 5_000_000.0 - north - 30.0
    u, v = ex * np.cos(t) - sy * np.sin(t), ex * np.sin(t) + sy * np.cos(t)
    storey = np.mod(h - h.min(), FLOOR_M)
    band = (v < -7.0) & (storey > SILL_M + 0.2) & (storey < LINTEL_M - 0.2) & (np.abs(u) < 10.0)
    lum = walls.rgb.numpy().mean(1)
    on_column = np.abs(np.mod(east - 500_000.0 + 1e-6, cell)) < 1e-3  # steps between columns (running north)
    bins = np.floor(u / 0.5).astype(int)
    keep = np.intersect1d(bins[band & on_column], bins[band & ~on_column])
    a = np.array([lum[band & on_column & (bins == b)].mean() for b in keep])
    b = np.array([lum[band & ~on_column & (bins == b)].mean() for b in keep])
    assert len(keep) > 20 and np.corrcoef(a, b)[0, 1] > 0.7


def _utm(ecef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from earth3d.geometry import transformer

    e, n, h = transformer("EPSG:4978", "EPSG:32631").transform(*ecef.T)
    return np.asarray(e), np.asarray(n), ecef_to_geodetic(ecef)[:, 2]


def test_buildings_of_three_storeys_have_shop_windows_on_the_ground_floor():
    ids = np.full(200, 12)  # a building with windows (8 % have none)
    along = np.linspace(0.0, 40.0, 200)
    # a tower on the street, a low building, a tower standing on a lower roof (its wall's foot is that roof)
    for rise, grounded, shops in ((16.0, True, True), (SHOP_M - 1.0, True, False), (16.0, False, False)):
        ground = facade_colours(ids, along, np.full(200, 0.2), np.full(200, SHOP_SILL_M + 0.2),
                                np.full(200, SHOP_TOP_M - 0.2), np.full(200, rise), grounded)
        sill = facade_colours(ids, along, np.full(200, 0.2), np.full(200, 0.0), np.full(200, 0.3),
                              np.full(200, rise), grounded)
        storey = facade_colours(ids, along, np.full(200, 0.2), np.full(200, FLOOR_M + SILL_M),
                                np.full(200, FLOOR_M + LINTEL_M), np.full(200, rise), grounded)
        glass = np.linalg.norm(ground - GLASS, axis=1) < 1e-9
        if shops:  # shop windows over most of each bay, wider than the windows of the storeys above
            assert glass.mean() > 0.7 and glass.mean() > (np.linalg.norm(storey - GLASS, axis=1) < 1e-9).mean()
        else:  # the ground floor is a storey like the others
            np.testing.assert_allclose(ground.mean(0), facade_colours(
                ids, along, np.full(200, 0.2), np.full(200, FLOOR_M + SHOP_SILL_M + 0.2),
                np.full(200, FLOOR_M + SHOP_TOP_M - 0.2), np.full(200, rise), grounded).mean(0), atol=1e-12)
        assert np.ptp(sill, axis=0).max() < 1e-12  # below the shop windows: the wall


def _car(cell_m: float) -> GeoRaster:
    """A flat street (0 m) with a red car 1.75 x 4.5 m: its bonnet and boot 1.0 m high, its roof 1.45 m."""
    n = int(round(10.0 / cell_m))
    x = (np.arange(n) + 0.5) * cell_m
    across, along = (x > 4.0) & (x < 5.75), (x > 3.0) & (x < 7.5)
    car = across[:, None] & along[None, :]
    roof = car & ((x > 4.9) & (x < 6.4))[None, :]
    height = np.where(roof, 1.45, np.where(car, 1.0, 0.0)).astype(np.float32)
    rgb = np.where(car[..., None], [0.6, 0.08, 0.07], [0.3, 0.3, 0.3]).astype(np.float32)
    rgb[car & ~roof & ((x > 4.1) & (x < 4.9))[None, :]] = [0.09, 0.1, 0.12]  # the windscreen
    transform = Affine(cell_m, 0.0, 500_000.0, 0.0, -cell_m, 5_000_000.0)
    return GeoRaster(rgb, height, np.ones((n, n), bool), transform, "EPSG:32631", "ellipsoid",
                     classes=np.where(car, K.CAR, K.ROAD).astype(np.uint8),
                     instances=np.where(car, 55, 0).astype(np.int64))


def test_car_walls_are_tyres_body_and_windows():
    """From the street a car shows dark tyres at its foot, its body colour (that of its roof, not of
    the windscreen's edge cells) up to the sills, and windows above; also on the step from bonnet to
    roof, which stands on the car itself, not on the ground."""
    rgb, labels, h = _walls(_car(0.125))
    assert (labels == K.CAR).all() and len(rgb) > 100
    body = np.array([0.6, 0.08, 0.07]) * SHADE
    tyres = h < TYRE_M - 0.07
    sides = (h > TYRE_M + 0.07) & (h < CAR_SILL_M - 0.07)
    windows = (h > CAR_SILL_M + 0.07) & (h < ROOF_M - 0.07)
    assert tyres.sum() > 20 and sides.sum() > 20 and windows.sum() > 20
    np.testing.assert_allclose(rgb[tyres], np.broadcast_to(TYRE * SHADE, rgb[tyres].shape), atol=1e-6)
    np.testing.assert_allclose(rgb[sides], np.broadcast_to(body, rgb[sides].shape), atol=1e-6)
    np.testing.assert_allclose(rgb[windows], np.broadcast_to(CAR_GLASS * SHADE, rgb[windows].shape), atol=1e-6)
    plain, _, _ = _walls(_car(0.125), facades=False)
    # facades=False: the upper cell's colour, body or (along the windscreen's edge cells) glass
    is_body = np.abs(plain[sides] - body).max(1) < 1e-6
    assert 0.5 < is_body.mean() < 1.0
    # a car without an instance (a class raster alone) takes each wall's upper cell's colour as its body
    anonymous = _car(0.125)
    anonymous.instances[:] = 0
    rgb0, _, h0 = _walls(anonymous)
    np.testing.assert_allclose(rgb0[h0 < TYRE_M - 0.07], np.broadcast_to(TYRE * SHADE, rgb0[h0 < TYRE_M - 0.07].shape),
                               atol=1e-6)
    np.testing.assert_allclose(np.sort(rgb0[sides], 0), np.sort(plain[sides], 0), atol=1e-6)
    # a layer's colour is the mean of the bands it spans: a metre-high splat is the mean of eight
    lo = np.arange(8) * 0.125
    fine = car_side_colours(lo, lo + 0.125, np.tile([0.6, 0.08, 0.07], (8, 1))).mean(0)
    coarse = car_side_colours(np.array([0.0]), np.array([1.0]), np.array([[0.6, 0.08, 0.07]]))[0]
    np.testing.assert_allclose(fine, coarse, atol=1e-12)

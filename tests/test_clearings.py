"""Clearings: towns, villages and farmsteads in a forest stand in fields they cleared, at every level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from earth3d.classes import CROPLAND, FOREST
from earth3d.scenarios import level_bbox
from earth3d.synth import ProceduralWorld
from earth3d.synth import kernel as K
from earth3d.synth import settlements as ST
from earth3d.synth.clearings import CLEAR_RADII, clearing_tile
from earth3d.synth.grid import M_PER_DEG, lattice_for
from earth3d.synth.world import CLEAR_SALT

# seed 2: a village of 180 people in hilly rainforest, no city within 20 km
SEED, VILLAGE = 2, (-22.661727497897886, -7.233036014816719)


@pytest.fixture(scope="module")
def world():
    return ProceduralWorld(SEED)


def _clear(world, box, res):
    lat = lattice_for(box, res)
    return clearing_tile(world._seeds, lat.lons(), lat.lats(), lat.dlon, lat.dlat,
                         world._seeds[K.S_PATCH] ^ CLEAR_SALT), lat


def _village(world):
    lon, lat = VILLAGE
    near = [s for s in world.settlements((lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)) if s.kind == "village"]
    assert len(near) == 1
    return near[0]


def test_a_village_in_the_forest_stands_in_its_fields(world):
    v = _village(world)
    reach = CLEAR_RADII[ST.VILLAGE] * v.radius_m
    r = world.generate(bbox=level_bbox(v.lon, v.lat, 3.0 * reach), resolution_m=20.0)
    bare = ProceduralWorld(SEED, roads=False).generate(bbox=level_bbox(v.lon, v.lat, 3.0 * reach), resolution_m=20.0)
    h, w = r.shape
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2) * 20.0 / reach  # clearing radii from the village
    inner, outer = d < 0.5, d > 2.0
    crop = r.classes == CROPLAND
    print(f"village of {v.population:.0f}, nominal clearing radius {reach:.0f} m: cropland {crop[inner].mean():.2f} "
          f"within half a radius, {crop[outer].mean():.2f} past two; without settlements "
          f"{(bare.classes == CROPLAND)[inner].mean():.2f}, forest {(bare.classes == FOREST)[inner].mean():.2f}")
    # fields around the village (where the slopes allow), forest beyond, and none of it without the village
    assert crop[inner].mean() > 0.4
    assert crop[outer].mean() < 0.3
    assert (bare.classes == CROPLAND)[inner].mean() < 0.05
    assert (bare.classes == FOREST)[inner].mean() > 0.6


def test_clearings_are_seamless_and_agree_across_levels(world):
    v = _village(world)
    box = level_bbox(v.lon, v.lat, 2400.0)
    fine, lat = _clear(world, box, 10.0)
    # any part of the lattice, however small, gives the values of the whole (a pure function of position
    # and cell size: each part looks as far for the sites that reach it)
    for r0, c0, n in ((120, 37, 80), (0, 0, 3), (200, 300, 1), (470, 5, 9)):
        sub = clearing_tile(world._seeds, lat.lons()[c0:c0 + n], lat.lats()[r0:r0 + n], lat.dlon, lat.dlat,
                            world._seeds[K.S_PATCH] ^ CLEAR_SALT)
        assert np.array_equal(sub, fine[r0:r0 + n, c0:c0 + n])
    # 10 m cells averaged 8 x 8 against 80 m cells of the same box: the clearing is where it was
    h, w = fine.shape[0] // 8, fine.shape[1] // 8
    coarse = clearing_tile(world._seeds, lat.lons()[: 8 * w].reshape(-1, 8).mean(1),
                           lat.lats()[: 8 * h].reshape(-1, 8).mean(1), 8 * lat.dlon, 8 * lat.dlat,
                           world._seeds[K.S_PATCH] ^ CLEAR_SALT)
    avg = fine[: 8 * h, : 8 * w].reshape(h, 8, w, 8).mean(axis=(1, 3))
    assert fine.max() == 1.0 and fine.min() == 0.0
    err = np.abs(avg - coarse)
    print(f"10 m averaged against 80 m: mean |diff| {err.mean():.3f}, "
          f"cleared share {avg.mean():.3f} / {coarse.mean():.3f}")
    assert err.mean() < 0.06
    assert abs(avg.mean() - coarse.mean()) < 0.03


def test_coarse_cells_hold_the_share_the_fine_ones_clear(world):
    """Over 40 km, 250 m cells clear what 30 m cells clear; 1 km cells leave out only the farmsteads
    (their clearings, under one cell, are not looked up there)."""
    v = _village(world)
    box = level_bbox(v.lon, v.lat, 20_000.0)
    share = {res: float(_clear(world, box, res)[0].mean()) for res in (30.0, 250.0, 1000.0)}
    lat = lattice_for(box, 30.0)
    farms = clearing_tile(world._seeds, lat.lons(), lat.lats(), lat.dlon, lat.dlat,
                          world._seeds[K.S_PATCH] ^ CLEAR_SALT, kinds=(ST.FARM,))
    print(f"cleared share at 30 m {share[30.0]:.3f}, 250 m {share[250.0]:.3f}, 1 km {share[1000.0]:.3f}; "
          f"farmsteads alone at 30 m {farms.mean():.3f}")
    assert 0.02 < share[30.0] < 0.6
    assert abs(share[250.0] - share[30.0]) < 0.01
    assert abs(share[1000.0] - (share[30.0] - farms.mean())) < 0.015
    # and a 30 m tile holds the farmsteads' clearings, each a few hundred metres across
    c30, lat = _clear(world, level_bbox(v.lon, v.lat, 3000.0), 30.0)
    farms = [s for s in world.settlements(level_bbox(v.lon, v.lat, 2500.0)) if s.kind == "farm"]
    cols = ((np.array([f.lon for f in farms]) - lat.lons()[0]) / lat.dlon).round().astype(int)
    rows = ((lat.lats()[0] - np.array([f.lat for f in farms])) / lat.dlat).round().astype(int)
    assert len(farms) > 3
    assert np.median(c30[rows, cols]) > 0.9
    assert 0.0 < c30.mean() < 0.8
    assert math.isclose(lat.dlat * M_PER_DEG, 30.0, rel_tol=0.05)

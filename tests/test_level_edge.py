"""No visible level edge: where a finer level of the demo's nesting begins, its border does not show.

Along a short descent onto a small nested world (the demo's quick nesting, three levels), at the
frame where each finer level's border first shows (at least MIN_LENGTH_PX of it in the frame), the
mean colour difference across the border is compared with the mean difference between neighbouring
pixels elsewhere in that frame (`border_contrast`, pixels 3 apart). Where the border runs along an
edge of the place itself (a town's outskirts against forest), the place shows that difference
without any level border: the same border is then measured in the same frame rendered without the
finer level (the coarser level alone), and the finer level may not add to it.
"""

from __future__ import annotations

import numpy as np
import pytest

from earth3d.renderers.cpu import CpuRenderer
from earth3d.scenarios import DEMO_LEVELS, Level, build_nested_store, level_bbox, render_path
from earth3d.scenarios.descent import BAND_FRACTION, QUICK_MAX_CELLS, descent_levels, street_descent
from earth3d.scenarios.levels import FEATHER_CELLS, border_contrast, nested_rasters
from earth3d.stream import Stream
from earth3d.synth import ProceduralWorld

#: A small nesting, 10x finer each step (the demo's quick levels, fewer of them).
LEVELS = (Level("regional", 300_000.0, 6_000.0), Level("district", 30_000.0, 600.0), Level("city", 3_000.0, 60.0))
WIDTH, HEIGHT, FRAMES = 192, 108, 36
#: A border "shows" once it is at least a frame height long in the frame (a square at least a quarter of
#: the frame height on a side); smaller, it is a few pixels across and cannot be told from the place.
MIN_LENGTH_PX = float(HEIGHT)


@pytest.fixture(scope="module")
def place():
    world = ProceduralWorld(0)
    return world, *world.find_city((0.0, 0.0))


def level_edges(world, lon, lat, levels, feather, folder):
    """Per finer level: (frame where its border first shows, contrast there, border contrast there without it)."""
    store, rasters = build_nested_store(world, lon, lat, folder / "all.e3d", levels, feather=feather)
    cameras, _, ground = street_descent(rasters, lon, lat, FRAMES, width=WIDTH, height=HEIGHT)

    def frames(st):
        with Stream(st) as stream:
            return [f.output.rgb for f in render_path(stream, cameras, renderer=CpuRenderer())]

    rendered = frames(store)
    found = {}
    for k, level in enumerate(levels[1:], start=1):
        bbox = level_bbox(lon, lat, level.half_size_m)
        for i, (rgb, cam) in enumerate(zip(rendered, cameras, strict=True)):
            c = border_contrast(rgb, cam, bbox, ground)
            if c is not None and c.length_px >= MIN_LENGTH_PX:
                coarser, _ = build_nested_store(world, lon, lat, folder / f"to{k}.e3d", levels[:k], feather=feather)
                without = border_contrast(frames(coarser)[i], cam, bbox, ground)
                found[level.name] = (i, c, without)
                break
    return found


def test_no_visible_level_edge(place, tmp_path):
    world, lon, lat = place
    levels = descent_levels(LEVELS, lon, lat, width=WIDTH, height=HEIGHT, max_cells=QUICK_MAX_CELLS)
    found = level_edges(world, lon, lat, levels, FEATHER_CELLS, tmp_path)
    assert set(found) == {"district", "city"}, f"a level's border never showed: {found}"
    for name, (frame, c, without) in found.items():
        assert without is not None
        assert c.border <= max(c.neighbours, without.border), (
            f"{name}: at frame {frame} the border differs by {c.border:.2f}/255, neighbouring pixels by "
            f"{c.neighbours:.2f}/255, the same place without the level by {without.border:.2f}/255")


def test_descent_levels_cover_where_needed(place):
    _, lon, lat = place
    levels = descent_levels(LEVELS, lon, lat, width=WIDTH, height=HEIGHT, max_cells=10_000)
    sizes = [lv.half_size_m for lv in levels]
    assert sizes == sorted(sizes, reverse=True)
    # Uncapped, each finer level's full detail reaches out to about where the coarser level's cells
    # are 8 pixels wide (at a distance res * fy / 8 from the camera, less its height over the ground),
    # and past the street flight.
    fy = HEIGHT / 2 / np.tan(np.radians(30.0))
    for coarse, fine in zip(levels, levels[1:], strict=False):
        core = fine.half_size_m - fine.feather_m
        assert 0.5 * coarse.resolution_m * fy / 8.0 < core < 2.0 * coarse.resolution_m * fy / 8.0 + 200.0
        assert core > 135.0
    capped = descent_levels(LEVELS, lon, lat, width=WIDTH, height=HEIGHT, max_cells=40)
    assert all(lv.half_size_m <= 20 * lv.resolution_m + 1e-6 for lv in capped)
    assert all(lv.feather_m <= lv.half_size_m / 2 + 1e-6 for lv in capped[1:])


def test_demo_nesting_covers_where_each_level_matters():
    """At the demo's size, every level but the first (it covers all it can) and the street level (its
    room for the street flight alone is wider than the cap) covers the ground the descent needs it
    for within the cost cap (`MAX_CELLS` cells across), so its border stays out of the view wherever
    the coarser level would be drawn wider than `BLUR_PX` pixels a cell. With ten-fold steps
    (1200, 120, 10 m) the city level needed 1,261 cells across and was cut to 640: its border and
    the blurred 120 m level beside it showed at 3-8 km above the city.
    """
    wanted = descent_levels(DEMO_LEVELS, 9.72, 0.34, max_cells=10**9)
    got = descent_levels(DEMO_LEVELS, 9.72, 0.34)
    for want, level in zip(wanted[1:-1], got[1:-1], strict=True):
        core = want.half_size_m / (1.0 + BAND_FRACTION)  # the band widens the core by at least this
        assert level.half_size_m >= core, (
            f"{level.name} ({level.resolution_m:g} m): {level.half_size_m:.0f} m of the {core:.0f} m the descent needs")


def test_finer_level_averages_to_coarser_and_fades_in(place):
    world, lon, lat = place
    levels = (Level("district", 30_000.0, 600.0), Level("city", 3_000.0, 60.0))
    plain = nested_rasters(world, lon, lat, levels, feather=0)
    blended = nested_rasters(world, lon, lat, levels)
    fine, coarse = blended[1], world.generate(bbox=level_bbox(lon, lat, 30_000.0), resolution_m=600.0)
    # At the border the finer level shows the coarser one: smooth, where its own cells are not.
    steps = [np.abs(np.diff(r.rgb[0], axis=0)).mean() for r in (fine, plain[1])]
    assert steps[0] < 0.5 * steps[1]
    # Averaged over the coarser cells under it, the finer level has the coarser level's colour.
    x, y = coarse.cell_centers()
    w, s, e, n = level_bbox(lon, lat, levels[1].half_size_m)
    under = coarse.rgb[(x > w) & (x < e) & (y > s) & (y < n)].mean(axis=0)
    before = np.abs(plain[1].rgb.mean(axis=(0, 1)) - under).max()
    after = np.abs(fine.rgb.mean(axis=(0, 1)) - under).max()
    assert after < 0.75 * before or after < 1.0 / 255


@pytest.mark.slow
def test_fixed_extents_without_fade_in_show_an_edge(place, tmp_path):
    """The nesting as the demo built it before (fixed extents, no fade-in): the bar above fails."""
    world, lon, lat = place
    found = level_edges(world, lon, lat, LEVELS, 0.0, tmp_path)
    assert any(c.border > max(c.neighbours, without.border) for _, c, without in found.values()), found

"""No visible level edge: where a finer level of the demo's nesting begins, its border does not show.

Along a short descent onto a small nested world, at the frame where each finer level's border first
shows (at least MIN_LENGTH_PX of it in the frame), the mean colour difference across the border is
no larger than the mean difference between neighbouring pixels elsewhere in that frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from earth3d.renderers.cpu import CpuRenderer
from earth3d.scenarios import Level, build_nested_store, level_bbox, render_path
from earth3d.scenarios.descent import descent_levels, street_descent
from earth3d.scenarios.levels import FEATHER_CELLS, border_contrast, nested_rasters
from earth3d.stream import Stream
from earth3d.synth import ProceduralWorld

#: A small nesting, 10x finer each step (the demo's quick levels, fewer of them).
LEVELS = (Level("regional", 300_000.0, 6_000.0), Level("district", 30_000.0, 600.0), Level("city", 3_000.0, 60.0))
WIDTH, HEIGHT, FRAMES = 192, 108, 36
MIN_LENGTH_PX = 40.0


@pytest.fixture(scope="module")
def place():
    world = ProceduralWorld(0)
    return world, *world.find_city((0.0, 0.0))


def _first_edges(world, lon, lat, levels, feather, out):
    store, rasters = build_nested_store(world, lon, lat, out, levels, feather=feather)
    cameras, _, ground = street_descent(rasters, lon, lat, FRAMES, width=WIDTH, height=HEIGHT)
    with Stream(store) as stream:
        frames = [f.output.rgb for f in render_path(stream, cameras, renderer=CpuRenderer())]
    found = {}
    for level in levels[1:]:
        bbox = level_bbox(lon, lat, level.half_size_m)
        for i, (rgb, cam) in enumerate(zip(frames, cameras, strict=True)):
            c = border_contrast(rgb, cam, bbox, ground)
            if c is not None and c.length_px >= MIN_LENGTH_PX:
                found[level.name] = (i, c)
                break
    return found


def test_no_visible_level_edge(place, tmp_path):
    world, lon, lat = place
    levels = descent_levels(LEVELS, lon, lat, width=WIDTH, height=HEIGHT, max_cells=96)
    found = _first_edges(world, lon, lat, levels, FEATHER_CELLS, tmp_path / "w.e3d")
    assert set(found) == {"district", "city"}, f"a level's border never showed: {found}"
    for name, (frame, c) in found.items():
        assert c.border <= c.neighbours, (
            f"{name}: at frame {frame} the border differs by {c.border:.2f}/255, neighbouring pixels by "
            f"{c.neighbours:.2f}/255")


def test_descent_levels_cover_where_needed(place):
    _, lon, lat = place
    levels = descent_levels(LEVELS, lon, lat, width=WIDTH, height=HEIGHT, max_cells=10_000)
    sizes = [lv.half_size_m for lv in levels]
    assert sizes == sorted(sizes, reverse=True)
    # Uncapped, each finer level reaches past the ground seen nearer than blur_px coarser cells.
    assert sizes[2] > 2 * 600.0 * (HEIGHT / 2 / np.tan(np.radians(30.0))) / 8.0
    capped = descent_levels(LEVELS, lon, lat, width=WIDTH, height=HEIGHT, max_cells=40)
    assert all(lv.half_size_m <= 20 * lv.resolution_m + 1e-6 for lv in capped)


def test_finer_level_averages_to_coarser_and_fades_in(place):
    world, lon, lat = place
    levels = (Level("district", 30_000.0, 600.0), Level("city", 3_000.0, 60.0))
    plain = nested_rasters(world, lon, lat, levels, feather=0)
    blended = nested_rasters(world, lon, lat, levels)
    fine, coarse = blended[1], plain[0]
    # At the border the finer level shows the coarser one: its outermost cells equal the coarser colours.
    edge = np.concatenate([fine.rgb[0], fine.rgb[-1], fine.rgb[:, 0], fine.rgb[:, -1]])
    inner = plain[1].rgb[fine.shape[0] // 2 - 10: fine.shape[0] // 2 + 10]
    assert edge.std(axis=0).mean() < inner.reshape(-1, 3).std(axis=0).mean()
    # Averaged over the coarser cells under it, the finer level is the coarser level's colour.
    x, y = coarse.cell_centers()
    w, s, e, n = level_bbox(lon, lat, levels[1].half_size_m)
    under = (x > w) & (x < e) & (y > s) & (y < n)
    before = abs(plain[1].rgb.mean(axis=(0, 1)) - coarse.rgb[under].mean(axis=0)).max()
    after = abs(fine.rgb.mean(axis=(0, 1)) - coarse.rgb[under].mean(axis=0)).max()
    assert after <= max(before, 2.0 / 255)

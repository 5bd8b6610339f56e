"""Streaming a store: the SSE cut, the byte-budget cache, modes, prefetch, and LOD image quality."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from scipy import ndimage
from test_store import LEAF_CAP, all_keys, tile_sources

import earth3d
from earth3d.renderers import CpuRenderer
from earth3d.renderers.projection import project_gaussians
from earth3d.store import build_store
from earth3d.store.keys import parent
from earth3d.stream import BUDGET_MIN_PIXELS, Stream, distance_to_box, screen_coverage, screen_space_error, visible


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from conftest import data_path

    raster, sources = tile_sources(data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif"))
    full = earth3d.Gaussians.concat([s() for s in sources])
    store = build_store(sources, tmp_path_factory.mktemp("stream") / "rmnp", leaf_cap=LEAF_CAP)
    lon, lat = raster.transform * (raster.shape[1] / 2, raster.shape[0] / 2)
    return store, full, (lon, lat)


def camera(world, dlat, alt, pitch, w=320, h=180):
    lon, lat = world[2]
    return earth3d.Camera.from_geodetic(lon, lat + dlat, 3000 + alt, pitch_deg=pitch, width=w, height=h)


def test_cut_obeys_sse_rule_and_covers_the_view(world):
    store = world[0]
    cam = camera(world, -0.4, 30000, -30)
    stream = Stream(store, sse_threshold_px=1.0, splat_budget_per_pixel=None)
    cut = stream.cut(cam)
    assert cut
    chosen = set(cut)
    levels = {k[0] for k in cut}
    assert len(levels) >= 2 and any(not store.is_leaf(k) for k in cut) and any(store.is_leaf(k) for k in cut)

    def sse(keys):
        e = [store.entry(k) for k in keys]
        c, h = np.array([x["obb_center"] for x in e]), np.array([x["obb_half_axes"] for x in e])
        err = np.array([x["error"] for x in e])
        return visible(cam, c, h), screen_space_error(cam, err, distance_to_box(cam.position, c, h))

    vis, s = sse(cut)
    assert vis.all()
    for k, v in zip(cut, s, strict=False):
        assert store.is_leaf(k) or v <= 1.0
    parents = sorted({parent(k) for k in cut if k[0] > 0})
    pvis, ps = sse(parents)
    assert pvis.all() and (ps > 1.0).all()  # each drawn node's parent was refined, not drawn
    for k in cut:  # refinement replaces: no drawn node is an ancestor of another
        a = k
        while a[0] > 0:
            a = parent(a)
            assert a not in chosen
    # Every visible leaf is drawn itself or through an ancestor: nothing in view is left out.
    leaves = [k for k in all_keys(store) if store.is_leaf(k)]
    lvis, _ = sse(leaves)
    for k in (k for k, v in zip(leaves, lvis, strict=False) if v):
        a = k
        while a not in chosen:
            a = parent(a)  # raises at the root if nothing covers the leaf

    # A lower threshold draws finer nodes and more splats; a camera facing away draws nothing.
    fine = Stream(store, sse_threshold_px=0.25, splat_budget_per_pixel=None)
    assert len(fine.select(cam)) > len(stream.select(cam))
    away = earth3d.Camera.from_geodetic(*world[2], 33000, pitch_deg=90)
    assert stream.cut(away) == [] and len(stream.select(away)) == 0


def test_splat_budget_bounds_the_cut(world):
    store = world[0]
    cam = camera(world, -0.4, 30000, -30)
    free = Stream(store, sse_threshold_px=0.25, splat_budget_per_pixel=None)
    n_free = len(free.select(cam))
    assert free.last.budget_limited == 0
    # The budget counts at least a 1280x720 frame's pixels: half the free cut's splats per pixel of
    # this 320x180 frame is eight times the free cut over 720p, so nothing is limited.
    assert cam.width * cam.height < BUDGET_MIN_PIXELS
    small = Stream(store, sse_threshold_px=0.25, splat_budget_per_pixel=0.5 * n_free / (cam.width * cam.height))
    assert len(small.select(cam)) == n_free and small.last.budget_limited == 0
    per_pixel = 0.5 * n_free / BUDGET_MIN_PIXELS
    capped = Stream(store, sse_threshold_px=0.25, splat_budget_per_pixel=per_pixel)
    cut = capped.cut(cam)
    n = sum(int(store.entry(k)["count"]) for k in cut)
    assert n <= per_pixel * BUDGET_MIN_PIXELS < n_free
    assert capped.last.budget_limited > 0
    # The budget keeps nodes coarse but still covers the view: nothing drawn twice, nothing dropped.
    free_cut = set(free.cut(cam))
    for k in cut:
        a = k
        while a[0] > 0:
            a = parent(a)
            assert a not in cut
    covered = set(cut)
    for k in free_cut:  # every node drawn without a budget is drawn itself or through an ancestor
        a = k
        while a not in covered:
            a = parent(a)


def test_horizon_culls_the_far_side_of_the_earth(world, monkeypatch):
    store = world[0]
    lon, lat = world[2]
    # From 2,000 km above the antipode, looking straight down, the store lies behind the earth.
    antipode = earth3d.Camera.from_geodetic(lon - 180.0, -lat, 2_000_000.0, pitch_deg=-90.0)
    stream = Stream(store)
    assert stream.cut(antipode) == []
    # From 2,000 km above it, it is seen; a camera just above the horizon line still sees it.
    assert stream.cut(earth3d.Camera.from_geodetic(lon, lat, 2_000_000.0, pitch_deg=-90.0))
    side = earth3d.Camera.look_at((lon + 25.0, lat, 2_000_000.0), (lon, lat, 3000.0))
    assert stream.cut(side)
    # It is the horizon test, not the frustum, that drops it: the store is straight ahead.
    import earth3d.stream as stream_module

    monkeypatch.setattr(stream_module, "below_horizon", lambda camera, corners: np.zeros(len(corners), bool))
    assert stream.cut(antipode)


def test_selection_is_rebased_near_the_camera(world):
    store = world[0]
    cam = camera(world, -0.2, 50000, -60)
    stream = Stream(store)
    g = stream.select(cam)
    np.testing.assert_array_equal(g.origin, cam.position)
    assert g.means.dtype == torch.float32 and float(g.means.abs().max()) < 2e5
    parts = [store.read(k) for k in stream.cut(cam)]
    np.testing.assert_allclose(g.means_ecef(), np.concatenate([p.means_ecef() for p in parts]), atol=0.02)
    torch.testing.assert_close(g.sh, torch.cat([p.sh for p in parts]))
    torch.testing.assert_close(g.quats, torch.cat([p.quats for p in parts]))


def test_lru_cache_respects_byte_budget(world):
    store = world[0]
    cams = [camera(world, d, a, p) for d, a, p in [(-0.4, 30000, -30), (-0.2, 50000, -60), (0.0, 80000, -90),
                                                   (-0.1, 12000, -45), (0.1, 20000, -70)]]
    budget = store.info()["bytes_on_disk"] // 4
    with Stream(store, cache_bytes=budget, threads=2) as stream:
        for cam in cams:
            g = stream.select(cam)
            assert len(g) == stream.last.splats
            assert stream.cached_bytes <= budget
            assert stream.cached_bytes == sum(stream._cache[k].nbytes() for k in stream.cached_keys())
        # The most recently drawn nodes are the ones kept.
        cut = stream.cut(cams[-1])
        kept = set(stream.cached_keys())
        newest = [k for k in reversed(cut)][: max(1, len(kept) // 2)]
        assert sum(k in kept for k in newest) >= len(newest) // 2
    with Stream(store, cache_bytes=0) as stream:
        assert len(stream.select(cams[0])) > 0 and stream.cached_bytes == 0


def test_interactive_mode_draws_loaded_ancestors(world):
    store = world[0]
    far, near = camera(world, 0.0, 200000, -90), camera(world, -0.1, 12000, -45)
    with Stream(store, mode="interactive") as stream:
        stream.select(far)  # queues the coarse nodes
        for _ in range(200):
            if all(k in stream.cached_keys() for k in stream.cut(far)):
                break
            time.sleep(0.01)
        complete = Stream(store).select(near)
        first = stream.select(near)  # the fine chunks are not loaded yet: coarser ancestors stand in
        assert stream.last.missing > 0
        assert 0 < len(first) < len(complete)
        assert stream.last.drawn_nodes < stream.last.cut_nodes
        for _ in range(500):
            g = stream.select(near)
            if stream.last.missing == 0:
                break
            time.sleep(0.01)
        assert stream.last.missing == 0 and len(g) == len(complete)


def test_prefetch_loads_upcoming_views(world):
    store = world[0]
    path = [camera(world, -0.3 + 0.05 * i, 30000 - 3000 * i, -40) for i in range(4)]
    with Stream(store) as stream:
        queued = stream.prefetch(path[1:])
        assert queued > 0
        stream._pool.shutdown(wait=True)  # let every queued load finish
        kept = set(stream.cached_keys())
        for cam in path[1:]:
            assert set(stream.cut(cam)) <= kept


def test_prefetch_quota_bounds_the_splats_queued(world):
    store = world[0]
    path = [camera(world, -0.3 + 0.05 * i, 30000 - 3000 * i, -40) for i in range(4)]
    with Stream(store) as stream:
        assert stream.prefetch(path, max_splats=0) == 0
        quota = sum(int(store.entry(k)["count"]) for k in stream.cut(path[0])) // 2
        queued = stream.prefetch(path, max_splats=quota)
        stream._pool.shutdown(wait=True)
        loaded = sum(int(store.entry(k)["count"]) for k in stream.cached_keys())
        assert queued > 0 and 0 < loaded <= quota


def test_screen_coverage_of_boxes():
    cam = earth3d.Camera.from_geodetic(10.0, 45.0, 1000.0, pitch_deg=-90.0, width=200, height=100)
    below = earth3d.geometry.geodetic_to_ecef(10.0, 45.0, 0.0)
    up = below / np.linalg.norm(below)
    east = np.cross([0.0, 0.0, 1.0], up)
    east /= np.linalg.norm(east)
    north = np.cross(up, east)

    def box(center, half):  # a flat box of half-size `half` m, level with the ground
        return center[None], np.stack([east * half, north * half, up * 1.0], axis=1)[None]

    full, small, around = (screen_coverage(cam, *b) for b in (box(below, 5000.0), box(below, 10.0),
                                                                box(cam.position, 10.0)))
    assert full[0] == 200 * 100 and around[0] == 200 * 100  # fills the view; reaches the camera
    assert 0 < small[0] < 0.01 * 200 * 100


def test_lod_render_matches_full_detail_without_cracks(world):
    store, full, _ = world
    renderer = CpuRenderer()
    for cam in (camera(world, -0.4, 30000, -30), camera(world, -0.3, 60000, -50)):
        stream = Stream(store, sse_threshold_px=1.0)
        cut = stream.cut(cam)
        assert len({k[0] for k in cut}) >= 2 and any(not store.is_leaf(k) for k in cut)
        lod = earth3d.render(stream, cam, renderer=renderer)
        ref = renderer.render(full, cam)
        drawn = int(project_gaussians(stream.select(cam), cam).visible.sum())
        assert lod.n_splats == drawn and 0 < drawn <= len(stream.select(cam)) < len(full)
        mse = float(((lod.rgb - ref.rgb) ** 2).mean())
        psnr = 10 * np.log10(1.0 / max(mse, 1e-12))
        assert psnr >= 30.0, psnr
        terrain = ndimage.binary_erosion((ref.alpha >= 0.99).numpy(), iterations=2)
        assert terrain.mean() > 0.1
        assert float(lod.alpha.numpy()[terrain].min()) >= 0.99  # no cracks between levels


def test_render_accepts_store_stream_and_gaussians(world):
    store, full, _ = world
    cam = camera(world, -0.2, 50000, -60, w=160, h=90)
    renderer = CpuRenderer()
    a = earth3d.render(store, cam, renderer=renderer)
    b = earth3d.render(Stream(store), cam, renderer=renderer)
    torch.testing.assert_close(a.rgb, b.rgb)
    assert a.n_splats == b.n_splats > 0
    c = earth3d.render(full, cam, renderer=renderer)
    assert c.n_splats == int(project_gaussians(full, cam).visible.sum()) > 0
    with pytest.raises(TypeError, match="Stream, Store or Gaussians"):
        earth3d.render("nope", cam)


@pytest.mark.parametrize("mode", ["complete", "interactive"])
def test_unreadable_chunk_is_reported_by_select(world, tmp_path, mode):
    import shutil

    from earth3d.errors import ChunkError
    from earth3d.store import open_store

    copy = tmp_path / "copy"
    shutil.copytree(world[0].path, copy)
    store = open_store(copy)
    cam = camera(world, -0.2, 50000, -60)
    key = Stream(store).cut(cam)[0]
    store.chunk_path(key).write_bytes(store.chunk_path(key).read_bytes()[:-8])
    with Stream(store, mode=mode) as stream, pytest.raises(ChunkError, match=f"level={key[0]}, x={key[1]}"):
        for _ in range(500):
            stream.select(cam)
            time.sleep(0.01)


def test_bad_stream_settings(world):
    with pytest.raises(ValueError, match="mode"):
        Stream(world[0], mode="fast")
    with pytest.raises(ValueError, match="sse_threshold_px"):
        Stream(world[0], sse_threshold_px=0)
    with pytest.raises(ValueError, match="splat_budget_per_pixel"):
        Stream(world[0], splat_budget_per_pixel=-1)


def test_oriented_boxes_hold_their_splats_and_measure_distance(world):
    store = world[0]
    keys = all_keys(store)
    for k in keys[:: max(1, len(keys) // 25)]:
        e, g = store.entry(k), store.read(k)
        c, h = e["obb_center"][None], e["obb_half_axes"][None]
        p = g.means_ecef()
        assert np.all(distance_to_box(p, c.repeat(len(p), 0), h.repeat(len(p), 0)) < 1e-6)
        # A thin terrain box: its smallest half-axis is well under the AABB's half-diagonal.
        lengths = np.linalg.norm(e["obb_half_axes"], axis=0)
        assert lengths.min() <= np.linalg.norm(e["bmax"] - e["bmin"]) / 2
    unit = np.eye(3)[None] * np.array([1.0, 2.0, 3.0])[None, None, :]  # half-lengths 1, 2, 3
    pts = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 0.0, -7.0], [4.0, 5.0, 0.0]])
    d = distance_to_box(pts, np.zeros((4, 3)), unit.repeat(4, 0))
    np.testing.assert_allclose(d, [0.0, 3.0, 4.0, np.sqrt(18.0)])

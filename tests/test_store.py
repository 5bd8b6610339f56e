"""The on-disk LOD octree: building from lifted real tiles, reading back, merging, errors, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from conftest import assert_same_files
from scipy.spatial import cKDTree

import earth3d
from earth3d.errors import ChunkError, InputFileError, StoreError
from earth3d.store import build_store, open_store
from earth3d.store.chunk import HEADER
from earth3d.store.keys import cell_min, cell_size, parent
from earth3d.store.merge import footprint, merge_splats
from earth3d.store.tasks import read_splats

LEAF_CAP = 1024


def tile_sources(dem: Path, ortho: Path, n: int = 2):
    """Callables lifting the n x n tiles of a real DEM + orthophoto pair (opaque, well-covered splats)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raster = earth3d.read_raster(dem, ortho)
    h, w = raster.shape
    rows, cols = np.linspace(0, h, n + 1).astype(int), np.linspace(0, w, n + 1).astype(int)

    def tile(r0, r1, c0, c1):
        sub = earth3d.GeoRaster(raster.rgb[r0:r1, c0:c1], raster.height[r0:r1, c0:c1], raster.valid[r0:r1, c0:c1],
                                raster.transform @ Affine.translation(c0, r0), raster.crs, raster.vertical_datum,
                                raster.source)
        return lambda: earth3d.lift(sub, opacity=1.0, sigma=1.0)

    return raster, [tile(rows[i], rows[i + 1], cols[j], cols[j + 1]) for i in range(n) for j in range(n)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from conftest import data_path

    raster, sources = tile_sources(data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif"))
    full = earth3d.Gaussians.concat([s() for s in sources])
    out = tmp_path_factory.mktemp("store") / "rmnp"
    store = build_store(sources, out, leaf_cap=LEAF_CAP)
    return raster, sources, full, store


def all_keys(store):
    keys, stack = [], list(store.root_keys())
    while stack:
        k = stack.pop()
        keys.append(k)
        stack.extend(store.children(k))
    return keys


def test_round_trip_and_info(world):
    _, _, full, store = world
    info = store.info()
    keys = all_keys(store)
    leaves = [k for k in keys if store.is_leaf(k)]
    assert info["format_version"] == 2
    assert info["node_count"] == len(keys) and info["leaf_count"] == len(leaves)
    assert info["splat_count"] == len(full)
    assert info["bytes_on_disk"] > 56 * len(full)
    assert store.root_keys() == [(0, 0, 0, 0)]
    assert all(store.entry(k)["count"] <= LEAF_CAP for k in leaves)
    assert info["levels"][1] > 8  # leaves split down well below the root

    back = earth3d.Gaussians.concat([store.read(k) for k in leaves])
    a, b = full.means_ecef(), back.means_ecef()
    dist, match = cKDTree(a).query(b)
    assert dist.max() < 5e-3  # float32 offsets from each cell center (and from the tile's origin)
    assert len(np.unique(match)) == len(a)  # a permutation: every splat comes back once
    ia, ib = match, np.arange(len(b))
    for name in ("scales", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(full, name).numpy()[ia], getattr(back, name).numpy()[ib])
    # Every splat's mean lies in its leaf's cell, and every AABB holds its splats.
    for k in leaves[:20]:
        g, e = store.read(k), store.entry(k)
        p = g.means_ecef()
        assert np.all(p >= cell_min(k)) and np.all(p < cell_min(k) + cell_size(k[0]))
        assert np.all(p >= e["bmin"]) and np.all(p <= e["bmax"])
        np.testing.assert_allclose(g.origin, cell_min(k) + cell_size(k[0]) / 2)


def test_merged_count_ratio(world):
    store = world[3]
    ratios = []
    for k in all_keys(store):
        kids = store.children(k)
        total = sum(int(store.entry(c)["count"]) for c in kids)
        if total >= 256:
            ratios.append(int(store.entry(k)["count"]) / total)
    assert len(ratios) > 10
    assert 1 / 8 <= min(ratios) and max(ratios) <= 1 / 4, (min(ratios), max(ratios))


def test_geometric_error_shrinks_with_level(world):
    store = world[3]
    keys = all_keys(store)
    by_level: dict[int, list[float]] = {}
    for k in keys:
        e = store.entry(k)
        if store.is_leaf(k):
            assert e["error"] == 0.0
            continue
        by_level.setdefault(k[0], []).append(float(e["error"]))
        for c in store.children(k):
            assert store.entry(c)["error"] <= e["error"]  # a parent is never more exact than a child
    levels = sorted(by_level)[-6:]
    medians = [np.median(by_level[lv]) for lv in levels]
    assert all(a > b for a, b in zip(medians, medians[1:], strict=False)), medians


def test_merge_matches_moments_and_keeps_coverage(world):
    store = world[3]
    k = next(k for k in all_keys(store) if len(store.children(k)) >= 2 and k[0] > 8)
    kids = [read_splats(store.path, c)[0] for c in store.children(k)]
    splats = earth3d.store.Splats.concat(kids)
    merged, error, res = merge_splats(splats, cell_min(k), cell_size(k[0]))
    w = splats.opacities * footprint(splats.scales)
    wm = merged.opacities * footprint(merged.scales)
    # Coverage (opacity x footprint) is conserved (up to the MAX_WIDEN cap on very overlapped
    # clusters, and never grown), and so is the weighted centroid.
    assert 0.85 < wm.sum() / w.sum() <= 1.0 + 1e-6
    assert error == pytest.approx(cell_size(k[0]) / res)  # the voxel side
    # Every member is replaced by a merged splat within its voxel: at most sqrt(3) errors away.
    assert cKDTree(merged.pos).query(splats.pos)[0].max() <= np.sqrt(3) * error
    # With faint splats no cluster is widened or clamped: weight and centroid are exact.
    faint = earth3d.store.Splats(splats.pos, splats.quats, splats.scales, splats.opacities * 0.05, splats.sh)
    merged_f, _, _ = merge_splats(faint, cell_min(k), cell_size(k[0]))
    wf, wmf = faint.opacities * footprint(faint.scales), merged_f.opacities * footprint(merged_f.scales)
    np.testing.assert_allclose(wmf.sum(), wf.sum(), rtol=1e-4)
    c_in = (wf[:, None] * faint.pos).sum(0) / wf.sum()
    c_out = (wmf[:, None] * merged_f.pos).sum(0) / wmf.sum()
    assert np.linalg.norm(c_in - c_out) < 0.01
    rgb_in = (wf[:, None] * faint.sh[:, 0]).sum(0) / wf.sum()
    rgb_out = (wmf[:, None] * merged_f.sh[:, 0]).sum(0) / wmf.sum()
    np.testing.assert_allclose(rgb_in, rgb_out, atol=1e-4)


def test_node_api(world):
    store = world[3]
    k = next(k for k in all_keys(store) if k[0] == 6)
    e = store.entry(k)
    assert store.children(k) and all(parent(c) == k for c in store.children(k))
    assert bin(int(e["child_mask"])).count("1") == len(store.children(k))
    with pytest.raises(KeyError, match="level=3, x=0, y=0, z=0"):
        store.entry((3, 0, 0, 0))


# ------------------------------------------------------------------------------ errors
@pytest.fixture
def damaged(world, tmp_path):
    store = world[3]
    copy = tmp_path / "copy"
    shutil.copytree(store.path, copy)
    leaf = next(k for k in all_keys(store) if store.is_leaf(k))
    return copy, leaf, open_store(copy).chunk_path(leaf)


def _name(k):
    return f"level={k[0]}, x={k[1]}, y={k[2]}, z={k[3]}"


def test_corrupt_chunk_names_node(damaged):
    path, key, chunk = damaged
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(ChunkError, match=rf"{_name(key)}.*checksum mismatch"):
        open_store(path).read(key)


def test_truncated_chunk_names_node(damaged):
    path, key, chunk = damaged
    chunk.write_bytes(chunk.read_bytes()[:-100])
    with pytest.raises(ChunkError, match=rf"{_name(key)}.*truncated"):
        open_store(path).read(key)


def test_missing_chunk_names_node(damaged):
    path, key, chunk = damaged
    chunk.unlink()
    with pytest.raises(ChunkError, match=rf"{_name(key)}.*missing"):
        open_store(path).read(key)


def test_bad_checksum_names_node(damaged):
    path, key, chunk = damaged
    data = bytearray(chunk.read_bytes())
    data[HEADER.fields["checksum"][1] + 3] ^= 0x01  # inside the header's checksum field
    chunk.write_bytes(bytes(data))
    with pytest.raises(ChunkError, match=rf"{_name(key)}.*checksum mismatch"):
        open_store(path).read(key)


def test_chunk_of_another_version_names_node(damaged):
    path, key, chunk = damaged
    data = bytearray(chunk.read_bytes())
    data[8] = 7  # format version field
    chunk.write_bytes(bytes(data))
    with pytest.raises(ChunkError, match=rf"{_name(key)}.*version 7"):
        open_store(path).read(key)


def test_store_of_another_version_or_unfinished(damaged, tmp_path):
    path, _, _ = damaged
    meta = json.loads((path / "store.json").read_text())
    meta["version"] = 99
    (path / "store.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="version 99"):
        open_store(path)
    (path / "store.json").unlink()
    (path / "build").mkdir()
    with pytest.raises(StoreError, match="unfinished build"):
        open_store(path)
    with pytest.raises(InputFileError, match="nowhere: no such store folder"):
        open_store(tmp_path / "nowhere")


def test_corrupt_index_is_reported(damaged):
    path, key, _ = damaged
    idx = next((path / "index").rglob("*.e3i"))
    idx.write_bytes(idx.read_bytes()[:-7])
    store = open_store(path)
    with pytest.raises(StoreError, match=f"index file {idx}.*truncated"):
        for k in all_keys(store):
            store.entry(k)


# ------------------------------------------------------------------------------ resume
BUILD_SCRIPT = """
import sys, warnings
sys.path.insert(0, {tests!r})
from test_store import tile_sources
from earth3d.store import build_store
_, sources = tile_sources({dem!r}, {ortho!r})
build_store(sources, {out!r}, leaf_cap={cap})
"""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".e3c", ".e3i", ".json")}


@pytest.mark.parametrize("kill_fraction", [0.15, 0.6])
def test_killed_build_resumes_to_identical_store(world, tmp_path, kill_fraction):
    from conftest import data_path

    reference = world[3]
    out = tmp_path / "killed"
    dem, ortho = data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif")
    script = BUILD_SCRIPT.format(tests=str(Path(__file__).parent), dem=str(dem), ortho=str(ortho), out=str(out),
                                 cap=LEAF_CAP)
    proc = subprocess.Popen([sys.executable, "-c", script])
    want = int(kill_fraction * reference.info()["node_count"])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        chunks = out / "chunks"
        if chunks.is_dir() and sum(len(f) for _, _, f in os.walk(chunks)) >= want:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "store.json").exists(), "the build finished before it could be killed"
    with pytest.raises(StoreError):
        open_store(out)

    _, sources = tile_sources(dem, ortho)
    resumed = build_store(sources, out, leaf_cap=LEAF_CAP)
    assert_same_files(_files(resumed.path), _files(reference.path))
    for k in all_keys(resumed):
        resumed.read(k)  # every chunk validates

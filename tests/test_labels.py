"""Semantics through the whole path: class and instance rasters, labelled splats, the store, label maps.

The bar: a nadir view at the raster's own resolution agrees with the class raster on >= 97% of
its pixels, on a generated city and on a real pair with a class raster made from its colours;
different buildings keep different instance ids; labels survive the store (LOD merge, streaming).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import rasterio
import torch
from conftest import data_path
from scipy import ndimage
from test_lifting import nadir_camera

import earth3d
import earth3d.dataset
from earth3d import classes as K
from earth3d.errors import InputError
from earth3d.gaussians import Gaussians
from earth3d.raster.classes import map_values, parse_class_map, read_classes
from earth3d.renderers import CpuRenderer
from earth3d.renderers.torch_reference import TorchTileRenderer
from earth3d.store import build_store, open_store
from earth3d.store.chunk import FLAG_LABELS, HEADER, Splats, checksum
from earth3d.store.index import ENTRY, INDEX_HEADER
from earth3d.store.merge import merge_labels
from earth3d.synth import ProceduralWorld
from earth3d.synth.raster_source import RasterSource

SEED = 1


@pytest.fixture(scope="module")
def city():
    """A generated city block at 1 m (class and instance rasters from the procedural world) and its splats."""
    world = ProceduralWorld(SEED)
    lon, lat = world.find_city(min_radius_m=3000.0)
    box = (lon - 0.0009, lat - 0.0007, lon + 0.0009, lat + 0.0007)
    raster = world.generate(bbox=box, resolution_m=1.0)
    return world, box, raster, earth3d.lift(raster)


def _inner(a: np.ndarray, m: int = 2) -> np.ndarray:
    return a[m:-m, m:-m]


def _agreement(label: torch.Tensor, classes: np.ndarray) -> float:
    return float((_inner(label.numpy()) == _inner(classes)).mean())


# ---------------------------------------------------------------------- the table
def test_class_table_and_palette():
    ids = [c.id for c in K.CLASSES]
    assert ids == list(range(len(ids))) and K.CLASSES[0].name == "unlabelled"
    assert len({c.name for c in K.CLASSES}) == len(ids)
    pal = K.class_colours()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert len({tuple(pal[i]) for i in ids}) == len(ids)  # every class its own colour
    assert K.class_id("roof") == K.ROOF
    with pytest.raises(earth3d.errors.InputError, match="unknown class 'lava'"):
        K.class_id("lava")


def test_class_maps_and_their_errors():
    assert map_values(np.array([10, 80, 7, 50]), K.WORLDCOVER).tolist() == [K.FOREST, K.WATER, 0, K.BUILT]
    assert map_values(np.array([3, 200, -1]), None).tolist() == [3, 0, 0]
    assert parse_class_map("1:2,5:12") == {1: 2, 5: 12}
    with pytest.raises(earth3d.errors.InputError, match="VALUE:ID"):
        parse_class_map("forest")
    with pytest.raises(earth3d.errors.InputError, match="outside the table"):
        parse_class_map("1:99")


# ---------------------------------------------------------------------- generators
def test_procedural_world_classes_and_stable_instances(city):
    world, box, raster, _ = city
    cls, ins = raster.classes, raster.instances
    assert cls.shape == raster.shape and cls.dtype == np.uint8 and ins.dtype == np.int64
    counts = np.bincount(cls.ravel(), minlength=K.N_CLASSES)
    for c in (K.ROAD, K.PAVED, K.ROOF, K.CAR):
        assert counts[c] > 0, K.CLASSES[c].name
    # instances exactly on the object classes, and many distinct buildings
    assert np.all(ins[np.isin(cls, (K.ROOF, K.CAR, K.TREE))] != 0)
    assert np.all(ins[np.isin(cls, (K.ROAD, K.PAVED, K.WATER))] == 0)
    assert len(np.unique(ins[cls == K.ROOF])) >= 8
    # the same ids in another tile that overlaps this one (shifted east by a whole number of pixels) ...
    w, s, e, n = box
    shift = (raster.shape[1] // 2) * raster.transform.a
    other = world.generate(bbox=(w + shift, s, e + shift, n), resolution_m=1.0)
    col = (other.transform.c - raster.transform.c) / raster.transform.a
    assert abs(col - round(col)) < 1e-6, col  # the pixel grids coincide
    col = int(round(col))
    k = min(raster.shape[1] - col, other.shape[1]) - 1
    same = raster.instances[:, col:col + k]
    assert np.mean(same == other.instances[:, :k]) > 0.99
    # ... and at another level: the buildings seen at 2 m are buildings of the 1 m tile
    coarse = world.generate(bbox=box, resolution_m=2.0)
    fine_ids = set(np.unique(ins[cls == K.ROOF]).tolist())
    coarse_ids = set(np.unique(coarse.instances[coarse.classes == K.ROOF]).tolist())
    assert len(coarse_ids) >= 5 and len(coarse_ids - fine_ids) <= 0.05 * len(coarse_ids)


# ---------------------------------------------------------------------- lifting and rendering
def test_lifting_labels_walls_with_their_building(city):
    _, _, raster, g = city
    assert g.labels is not None and len(g.labels) == len(g)
    walls = g.labels == K.WALL
    assert walls.any()
    # every wall splat belongs to a building that has roof splats
    roof_ids = set(g.instances[g.labels == K.ROOF].tolist())
    assert set(g.instances[walls].tolist()) <= roof_ids


def test_nadir_labels_agree_with_generated_city(city):
    _, _, raster, g = city
    # a satellite's view: from 300 scene sizes up, so that the roofs of the towers (up to 190 m
    # here) lean by at most 0.3 px, as the class raster (a map) has them
    out = CpuRenderer().render(g, nadir_camera(raster, 300.0), maps=True)
    agree = _agreement(out.label, raster.classes)
    print(f"procedural city {raster.shape}: label agreement {agree:.4f}")
    assert agree >= 0.97
    roof = _inner(raster.classes) == K.ROOF
    inst_agree = float((_inner(out.instance.numpy())[roof] == _inner(raster.instances)[roof]).mean())
    print(f"procedural city: building instance agreement on roof pixels {inst_agree:.4f}")
    assert inst_agree >= 0.97
    # two different buildings never share an id in the render: each rendered building id covers
    # pixels of one building of the raster (up to its blurred rim)
    rendered, truth = _inner(out.instance.numpy())[roof], _inner(raster.instances)[roof]
    for rid in np.unique(rendered):
        owners = np.bincount(np.unique(truth, return_inverse=True)[1][rendered == rid])
        assert owners.max() >= 0.9 * owners.sum()
    assert len(np.unique(rendered)) >= len(np.unique(truth)) - 1
    # normals: unit, toward the camera, and on open ground those of the height field (camera x east,
    # y south, z down: n = (-dh/dx, dh/dy_north, -1) normalized)
    n = out.normal.numpy()
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4) and (n[..., 2] < 0).all()
    rx = raster.resolution[0] * 111_320.0 * np.cos(np.radians(raster.transform.f))
    ry = raster.resolution[1] * 110_574.0
    dh_dy_south, dh_dx = np.gradient(raster.height.astype(np.float64), ry, rx)
    want = np.stack([-dh_dx, -dh_dy_south, -np.ones_like(dh_dx)], -1)
    want /= np.linalg.norm(want, axis=-1, keepdims=True)
    ground = np.isin(raster.classes, (K.ROAD, K.GRASS)) & (np.hypot(dh_dx, dh_dy_south) < 1.0)
    ground = ndimage.binary_erosion(ground, iterations=2)
    err = np.degrees(np.arccos(np.clip((n * want).sum(-1), -1, 1)))[ground]
    print(f"procedural city: normals on open ground, median error {np.median(err):.2f} deg "
          f"(ground slope median {np.degrees(np.arccos(-want[..., 2][ground])).mean():.1f} deg)")
    assert np.median(err) < 3.0


def test_label_maps_refuse_tiles_beyond_their_pair_limit(city, monkeypatch):
    """Pair positions in a tile are kept as float32 (exact below 2^24): a busier tile is a clear
    error, not a label taken from a neighbouring pair."""
    import earth3d.renderers.cpu as cpu

    _, _, raster, g = city
    monkeypatch.setattr(cpu, "MAX_TILE_PAIRS", 16)
    with pytest.raises(InputError, match="overlap one 32x32 tile"):
        CpuRenderer().render(g, nadir_camera(raster, 300.0), maps=True)
    CpuRenderer().render(g, nadir_camera(raster, 300.0))  # the RGB kernel has no such limit


def test_real_pair_labels_through_raster_source(tmp_path):
    dem = data_path("pairs", "para_landsat5", "srtm.tif")
    ortho = data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")
    with rasterio.open(ortho) as ds:
        red = ds.read(1).astype(np.int16)
        profile = ds.profile
    # a class raster made from the image: dense forest (dark red), pasture, bare ground, by red DN
    codes = np.where(red < 20, 1, np.where(red < 30, 2, 3)).astype(np.uint8)
    path = tmp_path / "classes.tif"
    profile.update(count=1, dtype="uint8", nodata=None)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(codes, 1)
    mapping = {1: K.FOREST, 2: K.GRASS, 3: K.BARE}
    source = RasterSource(dem, ortho, classes_path=path, class_map=mapping, vertical_datum="ellipsoid")
    w, s, e, n = source.bounds_lonlat
    box = (w + 0.15 * (e - w), s + 0.15 * (n - s), e - 0.15 * (e - w), n - 0.15 * (n - s))
    raster = source.generate(bbox=box, resolution_m=30.0)
    assert set(np.unique(raster.classes).tolist()) <= {K.FOREST, K.GRASS, K.BARE}
    assert (raster.classes == K.GRASS).mean() > 0.02
    # the warp is nearest-neighbour: the classes are the source's at the cell centres
    direct = read_classes(path, raster.transform, raster.crs, raster.shape, mapping)
    assert np.array_equal(direct, raster.classes)
    out = CpuRenderer().render(earth3d.lift(raster), nadir_camera(raster), maps=True)
    agree = _agreement(out.label, raster.classes)
    print(f"real pair (Para, Landsat 5 + SRTM) {raster.shape}: label agreement {agree:.4f}")
    assert agree >= 0.97


def test_cpu_maps_match_the_torch_reference(city):
    _, _, raster, g = city
    cam = nadir_camera(raster, 3.0).resized(120, 90)
    # and an oblique view: walls, roofs and streets at 35 degrees off the vertical
    right, down, fwd = cam.rotation.T
    center = cam.position + 3.0 * 200.0 * fwd
    f = fwd + 0.7 * down
    f /= np.linalg.norm(f)
    tilted = earth3d.geometry.Camera.from_pose(center - 250.0 * f, np.stack([right, np.cross(f, right), f], 1),
                                               120, 90, 50.0)
    for camera in (cam, tilted):
        a = CpuRenderer().render(g, camera, maps=True)
        b = TorchTileRenderer().render(g, camera, maps=True)
        drawn = (a.alpha > 0.5) & (b.alpha > 0.5)
        lab = float((a.label == b.label).float().mean())
        ins = float((a.instance == b.instance).float().mean())
        cos = (a.normal * b.normal).sum(-1).clamp(-1, 1)[drawn]
        deg = torch.rad2deg(torch.acos(cos))
        print(f"cpu vs torch reference: labels {lab:.4f}, instances {ins:.4f}, "
              f"normals p99 {deg.quantile(0.99):.2f} deg")
        assert lab >= 0.99 and ins >= 0.99
        assert float(deg.quantile(0.99)) < 3.0
    assert (a.label == K.WALL).any() and (a.label == K.ROOF).any()  # the oblique view sees walls


def test_maps_do_not_change_the_rgb_path(city):
    """maps=False runs the RGB-only kernel, untouched (bitwise the same images as the revision before
    the maps, measured with cached kernels); the maps kernel draws the same images up to rounding
    (two separately compiled fast-math kernels need not round alike)."""
    _, _, raster, g = city
    cam = nadir_camera(raster).resized(160, 120)
    r = CpuRenderer()
    plain = r.render(g, cam)
    maps = r.render(g, cam, maps=True)
    assert plain.label is None and plain.instance is None and plain.normal is None
    for name in ("rgb", "alpha"):
        assert torch.allclose(getattr(plain, name), getattr(maps, name), rtol=0.0, atol=1e-5), name
    assert torch.allclose(plain.depth, maps.depth, rtol=1e-4, atol=0.0)
    again = CpuRenderer().render(g, cam)
    for name in ("rgb", "depth", "alpha"):
        assert torch.equal(getattr(plain, name), getattr(again, name)), name


def test_unlabelled_splats_render_label_zero(city):
    _, _, raster, g = city
    bare = Gaussians(g.origin, g.means, g.quats, g.scales, g.opacities, g.sh)
    out = CpuRenderer().render(bare, nadir_camera(raster).resized(64, 48), maps=True)
    assert out.label.dtype == torch.uint8 and not out.label.any() and not out.instance.any()
    assert out.normal.abs().sum() > 0


# ---------------------------------------------------------------------- splat containers
def test_gaussians_carry_labels_through_every_operation(tmp_path):
    g = Gaussians.from_rgb((6378137.0, 0, 0), np.zeros((3, 3)), [[1, 0, 0, 0]] * 3, np.ones((3, 3)), [0.5] * 3,
                           np.full((3, 3), 0.5), labels=[1, 2, 3], instances=[10, 20, 30])
    plain = Gaussians.from_rgb((6378137.0, 0, 0), np.zeros((2, 3)), [[1, 0, 0, 0]] * 2, np.ones((2, 3)),
                               [0.5] * 2, np.full((2, 3), 0.5))
    assert g[1:].labels.tolist() == [2, 3] and g[np.array([2, 0])].instances.tolist() == [30, 10]
    assert g.rebased((0, 0, 0)).labels.tolist() == [1, 2, 3]
    assert g.with_sh_degree(1).instances.tolist() == [10, 20, 30]
    cat = Gaussians.concat([plain, g])
    assert cat.labels.tolist() == [0, 0, 1, 2, 3] and cat.instances.dtype == torch.int64
    assert Gaussians.concat([plain, plain]).labels is None
    g.save(tmp_path / "g.npz")
    back = Gaussians.load(tmp_path / "g.npz")
    assert back.labels.tolist() == [1, 2, 3] and back.instances.tolist() == [10, 20, 30]
    s = Splats.from_gaussians(g)
    assert s.take([0, 2]).labels.tolist() == [1, 3]
    assert Splats.concat([Splats.from_gaussians(plain), s]).instances.tolist() == [0, 0, 10, 20, 30]
    with pytest.raises(earth3d.errors.InputError, match="labels has shape"):
        Gaussians.from_rgb((0, 0, 0), np.zeros((2, 3)), [[1, 0, 0, 0]] * 2, np.ones((2, 3)), [0.5] * 2,
                           np.full((2, 3), 0.5), labels=[1])


def test_merge_keeps_the_class_of_most_weight():
    cluster = np.array([0, 0, 0, 1, 1, 2])
    w = np.array([1.0, 1.0, 1.5, 3.0, 1.0, 0.2])
    labels = np.array([K.ROAD, K.ROAD, K.ROOF, K.GRASS, K.TREE, K.CAR], dtype=np.uint8)
    instances = np.array([0, 0, 7, 0, 9, 11])
    lab, ins = merge_labels(cluster, 3, w, labels, instances)
    assert lab.tolist() == [K.ROAD, K.GRASS, K.CAR] and ins.tolist() == [0, 0, 11]
    lab, ins = merge_labels(np.array([0, 0, 0]), 1, np.array([1.0, 2.5, 2.0]), np.array([12, 12, 3], np.uint8),
                            np.array([5, 6, 0]))
    assert lab.tolist() == [12] and ins.tolist() == [6]  # roof holds 3.5 of 5.5; its heaviest member is 6


# ---------------------------------------------------------------------- the store
def test_labels_survive_store_merge_and_stream(city, tmp_path):
    _, _, raster, g = city
    store = build_store([g], tmp_path / "city.e3d", leaf_cap=4096)
    assert store.info()["format_version"] == 2
    keys, stack = [], list(store.root_keys())
    while stack:
        k = stack.pop()
        keys.append(k)
        stack.extend(store.children(k))
    leaf_parts = [store.read(k) for k in keys if store.is_leaf(k)]
    back = Gaussians.concat(leaf_parts)
    assert len(back) == len(g)
    # the same multiset of (class, instance) pairs as the lifted splats
    key = lambda x: np.sort(x.labels.numpy().astype(np.int64) * (1 << 56) + x.instances.numpy() % (1 << 56))  # noqa: E731
    assert np.array_equal(key(back), key(g))
    # inner nodes (LOD merges) keep labels; their class mix follows the leaves'
    root = store.read(store.root_keys()[0])
    assert root.labels is not None and root.labels.any()
    inner = [store.read(k) for k in keys if not store.is_leaf(k) and k[0] > 10]
    mixed = Gaussians.concat(inner)
    share = lambda x: np.bincount(x.labels.numpy(), minlength=K.N_CLASSES) / len(x)  # noqa: E731
    assert np.abs(share(mixed) - share(g)).max() < 0.1
    # a coarse render from the streamed store still labels the view
    cam = nadir_camera(raster).resized(90, 70)
    out = earth3d.render(store, cam, CpuRenderer(), maps=True)
    small = raster.classes[::raster.shape[0] // 70 or 1, ::raster.shape[1] // 90 or 1]
    assert out.label.any() and out.instance.any()
    for c in (K.ROOF, K.ROAD):
        assert (out.label == c).float().mean() > 0.3 * (small == c).mean()


def test_dataset_instance_maps_are_the_renderers(city, tmp_path):
    """`earth3d.dataset.write` stores the renderer's instance maps (16-bit indices and an id table), and
    `read_instances` gives them back as int64 ids."""
    _, box, raster, g = city
    store = build_store([g], tmp_path / "city.e3d", leaf_cap=4096)
    out = earth3d.dataset.write(store, box, "satellite", 2, 90, 70, tmp_path / "views", renderer=CpuRenderer())
    _, cameras = earth3d.dataset.read(out)
    for cam, instance in zip(cameras, earth3d.dataset.read_instances(out), strict=True):
        want = earth3d.render(store, cam, CpuRenderer(), maps=True).instance.numpy()
        assert instance.dtype == np.int64 and len(np.unique(instance)) > 5
        assert (instance == want).mean() > 0.99  # the cameras read back agree to rounding


def _as_version_1(root) -> None:
    """Turn a store built from unlabelled splats (chunks without label blocks) into a version 1
    store: chunk and index headers say version 1, checksums redone, store.json says version 1."""
    sums = {}
    for path in (root / "chunks").rglob("*"):
        if not path.is_file():
            continue
        buf = bytearray(path.read_bytes())
        head = np.frombuffer(bytes(buf[:HEADER.itemsize]), HEADER).copy()
        assert not int(head["flags"][0]) & FLAG_LABELS
        head["version"] = 1
        buf[:HEADER.itemsize] = head.tobytes()
        buf[HEADER.itemsize - 16:HEADER.itemsize] = checksum(buf)
        path.write_bytes(bytes(buf))
        key = (int(head["level"][0]), *map(int, head["xyz"][0]))
        sums[key] = bytes(buf[HEADER.itemsize - 16:HEADER.itemsize])
    for idx in (root / "index").rglob("*.e3i"):
        data = idx.read_bytes()
        entries = np.frombuffer(data[INDEX_HEADER.itemsize:], ENTRY).copy()
        for e in entries:
            e["checksum"] = np.void(sums[(int(e["level"]), *map(int, e["xyz"]))])
        head = np.frombuffer(data[:INDEX_HEADER.itemsize], INDEX_HEADER).copy()
        head["version"] = 1
        head["checksum"] = np.void(hashlib.blake2b(entries.tobytes(), digest_size=16).digest())
        idx.write_bytes(head.tobytes() + entries.tobytes())
    meta = json.loads((root / "store.json").read_text())
    meta["version"] = 1
    (root / "store.json").write_text(json.dumps(meta))


def test_version_1_stores_read_without_labels(city, tmp_path):
    _, _, raster, g = city
    plain = Gaussians(g.origin, g.means, g.quats, g.scales, g.opacities, g.sh)[:20000]
    store = build_store([plain], tmp_path / "old.e3d", leaf_cap=4096)
    _as_version_1(store.path)
    old = open_store(store.path)
    assert old.info()["format_version"] == 1
    back = old.read_leaves()
    assert len(back) == len(plain) and back.labels is None
    out = earth3d.render(old, nadir_camera(raster).resized(64, 48), CpuRenderer(), maps=True)
    assert not out.label.any() and not out.instance.any()
    # another version is refused with one clear line
    meta = json.loads((store.path / "store.json").read_text())
    meta["version"] = 7
    (store.path / "store.json").write_text(json.dumps(meta))
    with pytest.raises(earth3d.errors.StoreError, match="version 7, this earth3d reads versions 1, 2"):
        open_store(store.path)


# ---------------------------------------------------------------------- gsplat's maps, on the CPU
class _FakeGsplat:
    """gsplat's `rasterize_to_indices_in_range` in plain PyTorch (the CUDA kernel's rules: per pixel,
    the splats of a tile's depth-sorted list in the batch range, alpha >= 1/255, stop before the
    pair that would take T to 1e-4 or below), to run `gsplat_backend._labelling_splats` here."""

    def __init__(self, tiles_x: int):
        self.tiles_x = tiles_x

    def rasterize_to_indices_in_range(self, start, end, trans, means2d, conics, opac, width, height, ts, offsets,
                                      flat):
        block = ts * ts
        offs = offsets.flatten()
        ends = torch.cat([offs[1:], torch.tensor([flat.numel()])])
        gs_out, pix_out = [], []
        for tile in range(len(offs)):
            a, b = int(offs[tile]) + start * block, min(int(offs[tile]) + end * block, int(ends[tile]))
            if a >= b:
                continue
            ids = flat[a:b].long()
            ty, tx = divmod(tile, self.tiles_x)
            ys, xs = torch.meshgrid(torch.arange(ty * ts, min(ty * ts + ts, height)),
                                    torch.arange(tx * ts, min(tx * ts + ts, width)), indexing="ij")
            ys, xs = ys.reshape(-1), xs.reshape(-1)
            d = means2d[0, ids][None] - torch.stack([xs, ys], -1).float()[:, None] - 0.5
            c = conics[0, ids][None]
            sigma = 0.5 * (c[..., 0] * d[..., 0] ** 2 + c[..., 2] * d[..., 1] ** 2) + c[..., 1] * d[..., 0] * d[..., 1]
            alpha = torch.clamp_max(opac[0, ids][None] * torch.exp(-sigma), 0.999)
            valid = (sigma >= 0) & (alpha >= 1.0 / 255.0)
            alpha = torch.where(valid, alpha, 0.0)
            next_t = trans[0, ys, xs][:, None] * torch.cumprod(1.0 - alpha, -1)
            emit = valid & (next_t > 1e-4)
            p, j = torch.nonzero(emit, as_tuple=True)  # pixel-major, front to back
            gs_out.append(ids[j])
            pix_out.append(ys[p] * width + xs[p])
        if not gs_out:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
        gs, pix = torch.cat(gs_out), torch.cat(pix_out)
        return gs, pix, torch.zeros_like(gs)


def test_gsplat_labelling_rule_matches_the_cpu_kernel(city):
    """The gsplat backend's labelling pass (batches of depth-sorted pairs, segmented transmittance),
    run over a PyTorch stand-in of gsplat's index kernel, names the pixels' splats as the CPU does."""
    from earth3d.renderers.gsplat_backend import _labelling_splats
    from earth3d.renderers.projection import project_gaussians
    from earth3d.renderers.torch_reference import tile_intersections

    _, _, raster, g = city
    cam = nadir_camera(raster, 300.0).resized(72, 56)
    ts = 16
    tiles_x, tiles_y = -(-cam.width // ts), -(-cam.height // ts)
    p = project_gaussians(g, cam, True)
    keep = torch.nonzero(p.visible).squeeze(1)
    offsets, ids = tile_intersections(p[p.visible], ts, tiles_x, tiles_y)
    meta = {"means2d": p.means2d[None], "conics": p.conics[None], "opacities": p.opacities[None],
            "isect_offsets": offsets[:-1].reshape(1, tiles_y, tiles_x), "flatten_ids": keep[ids], "tile_size": ts}
    best = _labelling_splats(_FakeGsplat(tiles_x), meta, cam.width, cam.height).reshape(cam.height, cam.width)
    label = torch.where(best >= 0, g.labels[best.clamp(min=0)], 0)
    cpu = CpuRenderer().render(g, cam, maps=True)
    agree = float((label == cpu.label).float().mean())
    same_splat = float((torch.where(best >= 0, g.instances[best.clamp(min=0)], 0) == cpu.instance).float().mean())
    print(f"gsplat labelling pass (PyTorch stand-in of its index kernel) vs CPU: labels {agree:.4f}, "
          f"instances {same_splat:.4f}")
    assert agree >= 0.99 and same_splat >= 0.99


def test_ply_carries_labels(tmp_path):
    from earth3d.export.ply import read_ply, write_ply

    g = Gaussians.from_rgb(earth3d.geometry.geodetic_to_ecef(7.0, 46.0, 500.0), np.arange(9.0).reshape(3, 3),
                           [[1, 0, 0, 0]] * 3, np.ones((3, 3)), [0.5] * 3, np.full((3, 3), 0.5),
                           labels=[K.ROOF, K.WALL, K.ROAD], instances=[2**52 - 1, 2**52 - 1, 0])
    write_ply(g, tmp_path / "g.ply")
    header = (tmp_path / "g.ply").read_bytes().split(b"end_header")[0].decode()
    assert "property uchar label" in header and "property double instance" in header
    back = read_ply(tmp_path / "g.ply")
    assert back.labels.tolist() == [K.ROOF, K.WALL, K.ROAD] and back.instances.tolist() == [2**52 - 1] * 2 + [0]

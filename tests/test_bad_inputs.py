"""The bad-input table: every way a hostile user can feed earth3d garbage, answered in one line.

Each case runs a command line in-process (`earth3d.cli.main`) or calls the Python API, on small
bad inputs made here from crops of the real data (empty, truncated, all-nodata, NaN-filled,
without CRS, off the globe, non-overlapping rasters; odd band counts and data types; PLYs with
missing properties, NaNs, short bodies, absurd scales and vertex counts; stores with truncated,
deleted and bit-flipped chunks and damaged metadata; unknown subcommands and options; malformed
and out-of-range values), and checks:

- a non-zero exit status (or an exception of the right class of `earth3d.errors`);
- one line on stderr, `earth3d: error: ...`, naming the file, value or flag; no traceback;
- nothing that existed is damaged (checksums of every input before and after);
- nothing half-written is left behind (the working folder holds what it held before: no output,
  no hidden work folder, no lock, no temporary file).

Below the table, one test per defect that used to lose data or mislead (each failed before its fix).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

import earth3d
from earth3d import errors
from earth3d.cli import main

PARA = ("pairs", "para_landsat5")
N = 24  # cells of the DEM crop: 24 x 24 at 30 m


# ---------------------------------------------------------------------------------------------- the inputs
def _crop(src: Path, dst: Path, window: Window, **changes) -> None:
    """A small window of a real raster, written as a GeoTIFF with optional profile changes (and `data`)."""
    with rasterio.open(src) as ds:
        data = ds.read(window=window)
        profile = ds.profile
        profile.update(width=int(window.width), height=int(window.height), transform=ds.window_transform(window),
                       tiled=False, compress=None)
    for key in ("blockxsize", "blockysize"):
        profile.pop(key, None)
    data = changes.pop("data", data)
    profile.update(count=data.shape[0], dtype=data.dtype.name, **changes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(dst, "w", **profile) as out:
            out.write(data)


def _ply(path: Path, records: np.ndarray, count: int | None = None, fmt: str = "binary_little_endian",
         body: bytes | None = None, extra_header: str = "") -> None:
    header = f"ply\nformat {fmt} 1.0\nelement vertex {len(records) if count is None else count}\n"
    header += "".join(f"property float {k}\n" for k in records.dtype.names) + extra_header + "end_header\n"
    path.write_bytes(header.encode() + (records.tobytes() if body is None else body))


def _splat_records(n: int = 8) -> np.ndarray:
    from earth3d.export.ply import ply_dtype

    rng = np.random.default_rng(0)
    rec = np.zeros(n, dtype=ply_dtype(0))
    for k in ("x", "y", "z"):
        rec[k] = rng.uniform(-50, 50, n)
    for k in ("scale_0", "scale_1", "scale_2"):
        rec[k] = np.log(2.0)
    rec["rot_0"], rec["opacity"] = 1.0, 2.0
    return rec


def _store_copy(good: Path, dst: Path, damage: Callable[[Path], None]) -> Path:
    shutil.copytree(good, dst)
    damage(dst)
    return dst


def _leaf_chunk(store: Path) -> Path:
    st = earth3d.store.open_store(store)
    keys, leaves = list(st.root_keys()), []
    while keys:
        k = keys.pop()
        if st.is_leaf(k):
            leaves.append(k)
        else:
            keys.extend(st.children(k))
    return Path(st.chunk_path(sorted(leaves)[0]))


def _edit_meta(store: Path, edit: Callable[[dict], None] | None = None, text: str | None = None) -> None:
    meta_path = store / "store.json"
    if text is not None:
        meta_path.write_text(text)
        return
    meta = json.loads(meta_path.read_text())
    assert edit is not None
    edit(meta)
    meta_path.write_text(json.dumps(meta))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    """A folder of good and bad inputs: rasters, PLYs and stores (built once; never written by a case)."""
    from conftest import data_path

    base = tmp_path_factory.mktemp("bad")
    srtm, rgb = data_path(*PARA, "srtm.tif"), data_path(*PARA, "rgb_b3b2b1.tif")
    win = Window(0, 0, N, N)
    _crop(srtm, base / "dem.tif", win)
    _crop(rgb, base / "rgb.tif", win)
    _crop(srtm, base / "dem_other.tif", Window(200, 200, N, N))
    _crop(rgb, base / "rgb_far.tif", Window(250, 250, N, N))  # no overlap with dem.tif
    with rasterio.open(base / "dem.tif") as ds:
        heights, transform = ds.read(1).astype(np.float32), ds.transform
    raw = (base / "dem.tif").read_bytes()
    (base / "empty.tif").write_bytes(b"")
    (base / "truncated.tif").write_bytes(raw[: len(raw) // 2])
    (base / "text.tif").write_text("this is not a GeoTIFF\n")
    _crop(srtm, base / "nocrs.tif", win, crs=None)
    _crop(srtm, base / "nodata.tif", win, nodata=-9999, data=np.full((1, N, N), -9999, np.int16))
    _crop(srtm, base / "nan.tif", win, data=np.full((1, N, N), np.nan, np.float32))
    wild = heights.copy()
    wild[3, 4] = 1e20
    _crop(srtm, base / "wild.tif", win, data=wild[None])
    _crop(srtm, base / "complex.tif", win, data=heights[None].astype(np.complex64))
    geo = dict(crs="EPSG:4326", data=heights[None])
    _crop(srtm, base / "lon500.tif", win, transform=from_origin(500.0, -3.7, 0.0003, 0.0003), **geo)
    _crop(srtm, base / "lat90.tif", win, transform=from_origin(-50.0, 90.004, 0.0003, 0.0003), **geo)
    _crop(rgb, base / "rgb_2band.tif", win, data=np.zeros((2, N, N), np.uint8) + 90)
    _crop(rgb, base / "rgb_5band.tif", win, data=np.zeros((5, N, N), np.uint8) + 90)
    _crop(rgb, base / "rgb_transparent.tif", win, nodata=0, data=np.zeros((3, N, N), np.uint8))
    _crop(rgb, base / "rgb_wrongcrs.tif", win, crs="EPSG:32614", transform=from_origin(1e9, 1e9, 30, 30))
    (base / "big.vrt").write_text(
        '<VRTDataset rasterXSize="1000000" rasterYSize="1000000"><SRS>EPSG:32622</SRS>'
        f"<GeoTransform>{transform.c}, 0.001, 0, {transform.f}, 0, -0.001</GeoTransform>"
        '<VRTRasterBand dataType="Float32" band="1"><SimpleSource><SourceFilename relativeToVRT="1">dem.tif'
        "</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>")
    (base / "dir.tif").mkdir()

    # PLYs
    rec = _splat_records()
    _ply(base / "good.ply", rec)
    (base / "good.ply.json").write_text(json.dumps({"origin_lonlath": [-49.0, -3.75, 100.0]}))
    _ply(base / "noscale.ply", rec[[n for n in rec.dtype.names if n != "scale_1"]])
    nan = rec.copy()
    nan["opacity"][2] = np.nan
    _ply(base / "nan.ply", nan)
    _ply(base / "short.ply", rec, body=rec.tobytes()[:-7])
    huge = rec.copy()
    huge["scale_0"][1] = 200.0  # exp(200): an infinite splat
    _ply(base / "hugescale.ply", huge)
    zero = rec.copy()
    zero["scale_2"][:] = -120.0  # exp(-120): zero after float32
    _ply(base / "zeroscale.ply", zero)
    far = rec.copy()
    far["x"][0] = 1e9
    _ply(base / "far.ply", far)
    _ply(base / "tera.ply", rec, count=10**12)
    _ply(base / "negative.ply", rec, count=-5)
    _ply(base / "listprop.ply", rec, extra_header="property list uchar int vertex_indices\n")
    (base / "notply.ply").write_text("solid cube\nendsolid\n")
    _ply(base / "sidecar.ply", rec)
    (base / "sidecar.ply.json").write_text("{not json")

    # a good store (several nodes) and damaged copies of it
    store = base / "good.e3d"
    assert main(["build", "--dem", str(base / "dem.tif"), "--ortho", str(base / "rgb.tif"), "--leaf-cap", "64",
                 "--out", str(store), "--quiet"]) == 0
    leaf = _leaf_chunk(store).relative_to(store)
    index = sorted((store / "index").rglob("*.e3i"))[0].relative_to(store)
    _store_copy(store, base / "trunc.e3d", lambda s: os.truncate(s / leaf, (s / leaf).stat().st_size // 2))
    _store_copy(store, base / "nochunk.e3d", lambda s: (s / leaf).unlink())
    _store_copy(store, base / "flipped.e3d", lambda s: _flip(s / leaf, (s / leaf).stat().st_size - 9))
    _store_copy(store, base / "noindex.e3d", lambda s: (s / index).unlink())
    _store_copy(store, base / "noroots.e3d", lambda s: _edit_meta(s, lambda m: m.pop("roots")))
    _store_copy(store, base / "infinite.e3d", lambda s: _edit_meta(
        s, lambda m: m["extent"].update(bmin=[float("-inf")] * 3)))
    _store_copy(store, base / "garbage.e3d", lambda s: _edit_meta(s, text="\x00\x01 not json"))
    _store_copy(store, base / "version9.e3d", lambda s: _edit_meta(s, lambda m: m.update(version=9)))
    _store_copy(store, base / "unfinished.e3d", lambda s: ((s / "store.json").unlink(), (s / "build").mkdir()))
    (base / "emptydir.e3d").mkdir()
    (base / "photos").mkdir()
    (base / "photos" / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    (base / "afile").write_text("a file, not a folder")
    return base


def _checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sums(bad) -> dict[str, str]:
    return _checksums(bad)


# ---------------------------------------------------------------------------------------------- the table
B = "{bad}"  # stands for the folder of inputs in the command lines below
RENDER = ["render", "--width", "48", "--height", "32", "--renderer", "cpu", "--no-atmosphere", "--quiet"]
STORE = [*RENDER, "--store", f"{B}/good.e3d", "--out", "v.png"]
BUILD = ["build", "--quiet", "--out", "w.e3d"]


def _without(argv: list[str], option: str) -> list[str]:
    """`argv` less `option` and its value."""
    k = argv.index(option)
    return argv[:k] + argv[k + 2:]


# (id, command line, words the one error line must hold)
CLI_CASES = [
    # the command line itself
    ("unknown-subcommand", ["teleport"], ["teleport"]),
    ("unknown-option", ["info", f"{B}/good.e3d", "--no-such-option"], ["--no-such-option"]),
    ("missing-required", ["render", "--store", f"{B}/good.e3d"], ["--out"]),
    ("int-not-a-number", [*_without(STORE, "--width"), "--width", "abc"], ["--width", "abc"]),
    ("bad-choice", [*BUILD, "--dem", f"{B}/dem.tif", "--world", "mars"], ["mars", "--world"]),
    ("tuple-too-short", [*STORE, "--background", "1", "2"], ["--background"]),
    # out-of-range values
    ("width-zero", [*_without(STORE, "--width"), "--width", "0"], ["--width 0"]),
    ("height-huge", [*_without(STORE, "--height"), "--height", "100000"], ["--height 100000"]),
    ("option-twice", [*STORE, "--width", "64"], ["--width is given more than once"]),
    ("alt-negative", [*STORE, "--alt", "-100"], ["--alt -100"]),
    ("alt-nan", [*STORE, "--alt", "nan"], ["--alt nan"]),
    ("heading-nan", [*STORE, "--heading", "nan"], ["--heading nan"]),
    ("fov-zero", [*STORE, "--fov", "0"], ["--fov 0"]),
    ("fov-180", [*STORE, "--fov", "180"], ["--fov 180"]),
    ("pitch-out", [*STORE, "--pitch", "120"], ["--pitch 120"]),
    ("lon-500", [*STORE, "--lon", "500"], ["--lon 500"]),
    ("lat-95", [*STORE, "--lat", "95"], ["--lat 95"]),
    ("background-negative", [*STORE, "--background", "5", "-1", "0.5"], ["--background 5 -1 0.5"]),
    ("background-nan", [*STORE, "--background", "0.5", "nan", "0.5"], ["--background"]),
    ("background-with-sky", [*STORE[:7], *STORE[8:], "--background", "1", "0", "0"], ["--background",
                                                                                      "--no-atmosphere"]),
    ("cache-zero", [*STORE, "--cache-mb", "0"], ["--cache-mb 0"]),
    ("sse-negative", [*STORE, "--sse", "-1"], ["--sse -1"]),
    ("depth-suffix", [*STORE, "--depth", "d.jpg"], ["--depth", "d.jpg"]),
    ("store-and-dem", [*STORE, "--dem", f"{B}/dem.tif"], ["--store", "--dem"]),
    ("leaf-cap-zero", [*BUILD, "--dem", f"{B}/dem.tif", "--leaf-cap", "0"], ["--leaf-cap 0"]),
    ("resolution-negative", [*BUILD, "--dem", f"{B}/dem.tif", "--resolution", "-5"], ["--resolution", "-5"]),
    ("build-nothing", [*BUILD], ["--dem", "--synth"]),
    ("ortho-count", [*BUILD, "--dem", f"{B}/dem.tif", f"{B}/dem_other.tif", "--ortho", f"{B}/rgb.tif"],
     ["--ortho", "--dem"]),
    ("synth-bbox", [*BUILD, "--synth", "10", "5", "9", "6"], ["--synth"]),
    ("fly-frames", ["fly", "--quiet", "--store", f"{B}/good.e3d", "--out", "f.mp4", "--frames", "1"], ["--frames 1"]),
    ("fly-radius", ["fly", "--quiet", "--store", f"{B}/good.e3d", "--out", "f.mp4", "--radius", "-3"],
     ["--radius -3"]),
    ("fly-descent", ["fly", "--quiet", "--store", f"{B}/good.e3d", "--out", "f.mp4", "--path", "descent",
                     "--end-alt", "5000", "--start-alt", "100"], ["--end-alt", "--start-alt"]),
    ("import-heading-nan", ["import-ply", "--quiet", "--ply", f"{B}/good.ply", "--out", "p.e3d", "--heading", "nan"],
     ["--heading nan"]),
    ("import-origin-lat", ["import-ply", "--quiet", "--ply", f"{B}/good.ply", "--out", "p.e3d", "--origin", "0",
                           "95", "0"], ["latitude 95"]),
    # rasters
    ("dem-missing", [*BUILD, "--dem", f"{B}/nope.tif"], ["--dem", "nope.tif", "does not exist"]),
    ("dem-empty", [*BUILD, "--dem", f"{B}/empty.tif"], ["empty.tif", "not a readable raster"]),
    ("dem-truncated", [*BUILD, "--dem", f"{B}/truncated.tif"], ["truncated.tif", "truncated or corrupt"]),
    ("dem-text", [*BUILD, "--dem", f"{B}/text.tif"], ["text.tif", "not a readable raster"]),
    ("dem-folder", [*BUILD, "--dem", f"{B}/dir.tif"], ["dir.tif"]),
    ("dem-no-crs", [*BUILD, "--dem", f"{B}/nocrs.tif"], ["nocrs.tif", "no CRS"]),
    ("dem-all-nodata", [*BUILD, "--dem", f"{B}/nodata.tif"], ["nodata.tif", "no valid cells"]),
    ("dem-all-nan", [*BUILD, "--dem", f"{B}/nan.tif"], ["nan.tif", "no valid cells"]),
    ("dem-wild-height", [*BUILD, "--dem", f"{B}/wild.tif"], ["wild.tif", "1e+20", "row 3, column 4"]),
    ("dem-complex", [*BUILD, "--dem", f"{B}/complex.tif"], ["complex.tif"]),
    ("dem-lon-500", [*BUILD, "--dem", f"{B}/lon500.tif"], ["lon500.tif", "longitude 500"]),
    ("dem-past-pole", [*BUILD, "--dem", f"{B}/lat90.tif"], ["lat90.tif", "latitude 90"]),
    ("dem-huge-vrt", [*BUILD, "--dem", f"{B}/big.vrt"], ["big.vrt", "1000000 x 1000000", "too large"]),
    ("dem-second-empty", [*BUILD, "--dem", f"{B}/nope2.tif", f"{B}/dem.tif"], ["nope2.tif"]),
    ("ortho-no-overlap", [*BUILD, "--dem", f"{B}/dem.tif", "--ortho", f"{B}/rgb_far.tif"],
     ["rgb_far.tif", "do not overlap"]),
    ("ortho-2-bands", [*BUILD, "--dem", f"{B}/dem.tif", "--ortho", f"{B}/rgb_2band.tif"], ["rgb_2band.tif",
                                                                                           "2 band"]),
    ("ortho-5-bands", [*BUILD, "--dem", f"{B}/dem.tif", "--ortho", f"{B}/rgb_5band.tif"], ["rgb_5band.tif",
                                                                                           "5 band"]),
    ("ortho-transparent", [*BUILD, "--dem", f"{B}/dem.tif", "--ortho", f"{B}/rgb_transparent.tif"],
     ["rgb_transparent.tif", "no valid cells"]),
    ("ortho-wrong-crs", [*BUILD, "--dem", f"{B}/dem.tif", "--ortho", f"{B}/rgb_wrongcrs.tif"],
     ["rgb_wrongcrs.tif", "is its CRS right"]),
    ("ortho-truncated", [*BUILD, "--dem", f"{B}/dem.tif", "--ortho", f"{B}/truncated.tif"], ["truncated.tif"]),
    ("render-dem-no-crs", [*RENDER, "--dem", f"{B}/nocrs.tif", "--out", "v.png"], ["nocrs.tif", "no CRS"]),
    # PLYs
    ("ply-missing-property", ["import-ply", "--quiet", "--ply", f"{B}/noscale.ply", "--origin", "0", "0", "0",
                              "--out", "p.e3d"], ["noscale.ply", "'scale_1'"]),
    ("ply-nan", ["import-ply", "--quiet", "--ply", f"{B}/nan.ply", "--origin", "0", "0", "0", "--out", "p.e3d"],
     ["nan.ply", "'opacity'"]),
    ("ply-short-body", ["import-ply", "--quiet", "--ply", f"{B}/short.ply", "--origin", "0", "0", "0", "--out",
                        "p.e3d"], ["short.ply", "truncated"]),
    ("ply-huge-scale", ["import-ply", "--quiet", "--ply", f"{B}/hugescale.ply", "--origin", "0", "0", "0", "--out",
                        "p.e3d"], ["hugescale.ply", "'scale_0'"]),
    ("ply-zero-scale", ["import-ply", "--quiet", "--ply", f"{B}/zeroscale.ply", "--origin", "0", "0", "0", "--out",
                        "p.e3d"], ["zeroscale.ply", "'scale_2'"]),
    ("ply-far-splat", ["import-ply", "--quiet", "--ply", f"{B}/far.ply", "--origin", "0", "0", "0", "--out",
                       "p.e3d"], ["far.ply", "'x'"]),
    ("ply-tera-vertices", ["import-ply", "--quiet", "--ply", f"{B}/tera.ply", "--origin", "0", "0", "0", "--out",
                           "p.e3d"], ["tera.ply", "1000000000000 vertices"]),
    ("ply-negative-count", ["import-ply", "--quiet", "--ply", f"{B}/negative.ply", "--origin", "0", "0", "0",
                            "--out", "p.e3d"], ["negative.ply", "element vertex -5"]),
    ("ply-list-property", ["import-ply", "--quiet", "--ply", f"{B}/listprop.ply", "--origin", "0", "0", "0",
                           "--out", "p.e3d"], ["listprop.ply", "list property"]),
    ("ply-not-a-ply", ["import-ply", "--quiet", "--ply", f"{B}/notply.ply", "--origin", "0", "0", "0", "--out",
                       "p.e3d"], ["notply.ply", "not a PLY"]),
    ("ply-no-origin", ["import-ply", "--quiet", "--ply", f"{B}/noscale.ply", "--out", "p.e3d"],
     ["noscale.ply", "--origin"]),
    ("ply-bad-sidecar", ["import-ply", "--quiet", "--ply", f"{B}/sidecar.ply", "--out", "p.e3d"],
     ["sidecar.ply.json"]),
    # stores
    ("store-truncated-chunk", ["export", "--quiet", "--store", f"{B}/trunc.e3d", "--out", "s.ply"],
     ["trunc.e3d", "node (level="]),
    ("store-deleted-chunk", ["export", "--quiet", "--store", f"{B}/nochunk.e3d", "--out", "s.ply"],
     ["nochunk.e3d", "node (level="]),
    ("store-flipped-chunk", ["export", "--quiet", "--store", f"{B}/flipped.e3d", "--out", "s.ply"],
     ["flipped.e3d", "node (level="]),
    ("store-deleted-index", ["export", "--quiet", "--store", f"{B}/noindex.e3d", "--out", "s.ply"],
     ["noindex.e3d", "index file", "missing"]),
    ("store-no-roots", ["info", "--quiet", f"{B}/noroots.e3d"], ["noroots.e3d", "'roots'"]),
    ("store-infinite-extent", ["info", "--quiet", f"{B}/infinite.e3d"], ["infinite.e3d", "'extent'"]),
    ("store-garbage-meta", ["info", "--quiet", f"{B}/garbage.e3d"], ["garbage.e3d", "unreadable"]),
    ("store-other-version", [*RENDER, "--store", f"{B}/version9.e3d", "--out", "v.png"], ["version9.e3d",
                                                                                          "version 9"]),
    ("store-unfinished", ["info", "--quiet", f"{B}/unfinished.e3d"], ["unfinished.e3d", "unfinished build"]),
    ("store-empty-folder", ["info", "--quiet", f"{B}/emptydir.e3d"], ["emptydir.e3d", "store.json"]),
    ("store-missing", ["info", "--quiet", f"{B}/nope.e3d"], ["nope.e3d"]),
    ("store-is-a-tif", ["export", "--quiet", "--store", f"{B}/dem.tif", "--out", "s.ply"], ["dem.tif"]),
    # outputs
    ("out-exists", [*BUILD[:2], "--out", f"{B}/good.e3d", "--dem", f"{B}/dem.tif"], ["good.e3d", "--overwrite"]),
    ("out-not-a-store", [*BUILD[:2], "--out", f"{B}/photos", "--dem", f"{B}/dem.tif", "--overwrite"],
     ["photos", "not an earth3d store"]),
    ("out-is-a-file", [*BUILD[:2], "--out", f"{B}/afile", "--dem", f"{B}/dem.tif", "--overwrite"], ["afile"]),
    ("out-under-a-file", [*BUILD[:2], "--out", f"{B}/afile/w.e3d", "--dem", f"{B}/dem.tif"],
     ["afile", "is a file, not a folder"]),
    ("png-under-a-file", [*RENDER, "--store", f"{B}/good.e3d", "--out", f"{B}/afile/v.png"], ["afile",
                                                                                            "not a folder"]),
    ("png-is-a-folder", [*RENDER, "--store", f"{B}/good.e3d", "--out", f"{B}/photos", "--overwrite"], ["photos",
                                                                                                      "folder"]),
    ("export-png-exists", ["export", "--quiet", "--store", f"{B}/good.e3d", "--out", f"{B}/good.ply"],
     ["good.ply", "--overwrite"]),
]


def _fill(argv: list[str], bad: Path) -> list[str]:
    return [a.replace(B, str(bad)) for a in argv]


def _leftovers(folder: Path, before: set[str]) -> list[str]:
    return sorted(set(os.listdir(folder)) - before)


@pytest.mark.parametrize("argv, words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_in_one_line(bad, sums, tmp_path, monkeypatch, capsys, argv, words):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = set(os.listdir(bad))
    try:
        status = main(_fill(argv, bad))
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("earth3d: warning:")]
    assert status not in (0, None), f"exit status {status}: {err}"
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("earth3d: error: "), err
    for word in words:
        assert word.replace(B, str(bad)) in lines[0], f"{word!r} not in {lines[0]!r}"
    assert _checksums(bad) == sums, "an existing file was changed"
    assert not _leftovers(work, set()), f"left behind: {_leftovers(work, set())}"
    assert not _leftovers(bad, before), f"left behind: {_leftovers(bad, before)}"


# (id, call on the folder of inputs, exception class, words of its message)
def _api_cases():
    from earth3d.export import read_ply, write_tileset
    from earth3d.raster import read_raster
    from earth3d.store import build_store, open_store

    def leaves(name):
        return lambda b: open_store(b / name).read_leaves()

    g = lambda: earth3d.Gaussians.from_rgb((6378137.0, 0, 0), [[0, 0, 0]], [[1, 0, 0, 0]], [[1, 1, 1]], [0.9],  # noqa: E731
                                           [[0.5, 0.5, 0.5]])
    return [
        ("raster-missing", lambda b: read_raster(b / "nope.tif"), errors.InputFileError, ["nope.tif"]),
        ("raster-empty", lambda b: read_raster(b / "empty.tif"), errors.InputFileError, ["empty.tif"]),
        ("raster-truncated", lambda b: read_raster(b / "truncated.tif"), errors.InputFileError, ["truncated.tif"]),
        ("raster-no-crs", lambda b: read_raster(b / "nocrs.tif"), errors.InputFileError, ["nocrs.tif"]),
        ("raster-nodata", lambda b: read_raster(b / "nodata.tif"), errors.InputFileError, ["nodata.tif"]),
        ("raster-band", lambda b: read_raster(b / "dem.tif", dem_band=3), errors.InputFileError, ["band 3"]),
        ("raster-rgb-bands", lambda b: read_raster(b / "dem.tif", b / "rgb.tif", rgb_bands=(1, 2, 9)),
         errors.InputError, ["rgb_bands"]),
        ("raster-stretch", lambda b: read_raster(b / "dem.tif", b / "rgb.tif", stretch=(50, 10)), errors.InputError,
         ["stretch"]),
        ("raster-resolution", lambda b: read_raster(b / "dem.tif", resolution=0), errors.InputError, ["resolution"]),
        ("raster-fine-grid", lambda b: read_raster(b / "dem.tif", resolution=0.01), errors.InputError,
         ["too large"]),
        ("raster-datum", lambda b: read_raster(b / "dem.tif", vertical_datum="geoid"), errors.InputError,
         ["vertical_datum"]),
        ("ply-huge-scale", lambda b: read_ply(b / "hugescale.ply", (0, 0, 0)), errors.InputError, ["'scale_0'"]),
        ("ply-heading", lambda b: read_ply(b / "good.ply", heading_deg=float("nan")), errors.InputError,
         ["heading_deg"]),
        ("ply-up", lambda b: read_ply(b / "good.ply", up="x"), errors.InputError, ["up"]),
        ("ply-missing", lambda b: read_ply(b / "nope.ply"), errors.InputNotFoundError, ["nope.ply"]),
        ("store-open-missing", lambda b: open_store(b / "nope.e3d"), errors.InputFileError, ["nope.e3d"]),
        ("store-open-no-roots", lambda b: open_store(b / "noroots.e3d"), errors.StoreError, ["'roots'"]),
        ("store-read-truncated", leaves("trunc.e3d"), errors.ChunkError, ["node (level="]),
        ("store-read-flipped", leaves("flipped.e3d"), errors.ChunkError, ["checksum"]),
        ("store-read-deleted", leaves("nochunk.e3d"), errors.ChunkError, ["node (level="]),
        ("store-read-no-index", leaves("noindex.e3d"), errors.StoreError, ["index file"]),
        ("build-no-sources", lambda b: build_store([], b / "x.e3d"), errors.InputError, ["at least one source"]),
        ("build-leaf-cap", lambda b: build_store([g()], b / "x.e3d", leaf_cap=0), errors.InputError, ["leaf_cap=0"]),
        ("build-into-photos", lambda b: build_store([g()], b / "photos"), errors.OutputError, ["photos"]),
        ("build-over-store", lambda b: build_store([g()], b / "good.e3d"), errors.OutputExistsError,
         ["finished store"]),
        ("build-nan-source", lambda b: build_store([_nan_gaussians], b / "x.e3d"), errors.InputError,
         ["Gaussians.pos"]),
        ("build-huge-source", lambda b: build_store([_huge_gaussians], b / "x.e3d"), errors.InputError,
         ["Gaussians.scales"]),
        ("tiles-over-file", lambda b: write_tileset(b / "good.e3d", b / "afile" / "t"), errors.OutputError,
         ["afile"]),
        ("georaster-nan-height", lambda b: _georaster(height=float("nan")), errors.InputError,
         ["mem.tif", "1 valid cell(s)", "non-finite heights", "row 3, column 4"]),
        ("georaster-wild-height", lambda b: _georaster(height=1e20), errors.InputError,
         ["mem.tif", "beyond +-100000 m", "1e+20"]),
        ("georaster-nan-colour", lambda b: _georaster(rgb=float("inf")), errors.InputError,
         ["mem.tif", "non-finite colours"]),
    ]


def _georaster(height: float = 100.0, rgb: float = 0.5):
    """A 20 x 20 GeoRaster built in memory whose cell (3, 4) holds `height` and `rgb`, marked valid."""
    from affine import Affine

    from earth3d.raster import GeoRaster

    heights = np.full((20, 20), 100.0, np.float32)
    colours = np.full((20, 20, 3), 0.5, np.float32)
    heights[3, 4], colours[3, 4] = height, rgb
    return GeoRaster(colours, heights, np.ones((20, 20), bool), Affine(1e-4, 0, 10, 0, -1e-4, 45), "EPSG:4326",
                     source="mem.tif")


def _nan_gaussians():
    g = earth3d.Gaussians.from_rgb((6378137.0, 0, 0), [[0, 0, 0], [1, 1, 1]], [[1, 0, 0, 0]] * 2, [[1, 1, 1]] * 2,
                                   [0.9] * 2, [[0.5, 0.5, 0.5]] * 2)
    g.means[1, 0] = float("nan")
    return g


def _huge_gaussians():
    return earth3d.Gaussians.from_rgb((6378137.0, 0, 0), [[0, 0, 0]], [[1, 0, 0, 0]], [[1e30, 1, 1]], [0.9],
                                      [[0.5, 0.5, 0.5]])


API_CASES = _api_cases()


@pytest.mark.parametrize("call, kind, words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_raises_the_right_error(bad, sums, call, kind, words):
    before = set(os.listdir(bad))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(kind) as info:
            call(bad)
    message = str(info.value)
    assert isinstance(info.value, errors.Earth3dError)
    assert "\n" not in message.strip(), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert _checksums(bad) == sums, "an existing file was changed"
    assert not _leftovers(bad, before), f"left behind: {_leftovers(bad, before)}"


def test_the_table_is_large():
    assert len(CLI_CASES) + len(API_CASES) >= 60


# ---------------------------------------------------------------------------------------------- the defects
def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".e3c", ".e3i", ".json")}


def test_rerun_after_a_failed_build_does_not_reuse_its_data(bad, tmp_path, monkeypatch, capsys):
    """`build --dem a.tif empty.tif` ingests a.tif, then fails; `build --overwrite --dem b.tif` into the same
    --out used to give a.tif's splats. Now the store is b.tif's, byte for byte."""
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--quiet", "--dem", str(bad / "dem.tif"), str(bad / "empty.tif"), "--out", "w.e3d"]) == 1
    assert (tmp_path / ".w.e3d.building").is_dir(), "the ingested source is kept for a resume"
    assert main(["build", "--quiet", "--dem", str(bad / "dem_other.tif"), "--out", "ref.e3d"]) == 0
    assert main(["build", "--quiet", "--overwrite", "--dem", str(bad / "dem_other.tif"), "--out", "w.e3d"]) == 0
    assert _files(tmp_path / "w.e3d") == _files(tmp_path / "ref.e3d")
    # and without --overwrite (nothing was there): the other inputs start over too
    assert main(["build", "--quiet", "--dem", str(bad / "dem.tif"), str(bad / "empty.tif"), "--out", "v.e3d"]) == 1
    assert main(["build", "--quiet", "--dem", str(bad / "dem_other.tif"), "--out", "v.e3d"]) == 0
    assert _files(tmp_path / "v.e3d") == _files(tmp_path / "ref.e3d")
    assert sorted(os.listdir(tmp_path)) == ["ref.e3d", "v.e3d", "w.e3d"]


def _interrupt():
    raise KeyboardInterrupt


def test_interrupted_build_of_other_sources_is_refused_or_restarted(bad, tmp_path):
    from earth3d.scenarios.sources import lifted_raster
    from earth3d.store import build_store

    a, b = partial(lifted_raster, bad / "dem.tif"), partial(lifted_raster, bad / "dem_other.tif")
    ref = build_store([b], tmp_path / "ref")
    out = tmp_path / "w"
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C after the first source
        build_store([a, _interrupt], out)
    state = _files(out)
    with pytest.raises(errors.InputError, match="unfinished build of other sources.*2 sources there, 1 now"):
        build_store([b], out)
    assert _files(out) == state
    build_store([b], out, restart=True)
    assert _files(out) == _files(ref.path)
    # the same sources resume: same bytes as an uninterrupted build
    second = partial(_lift_or_stop, bad / "dem_other.tif")
    _STOP["now"] = True
    with pytest.raises(KeyboardInterrupt):
        build_store([a, second], tmp_path / "x")
    _STOP["now"] = False
    assert (tmp_path / "x" / "build" / "spill" / "000000.json").is_file()
    build_store([a, second], tmp_path / "x")
    assert _files(tmp_path / "x") == _files(build_store([a, b], tmp_path / "y").path)


_STOP = {"now": False}


def _lift_or_stop(dem: Path):
    """A source that is interrupted (Ctrl-C) while `_STOP["now"]` is set; the same source either way."""
    from earth3d.scenarios.sources import lifted_raster

    if _STOP["now"]:
        raise KeyboardInterrupt
    return lifted_raster(dem)


def test_a_changed_file_is_another_source(bad, tmp_path):
    from earth3d.scenarios.sources import lifted_raster
    from earth3d.store.identity import UNKNOWN, source_identity

    path = tmp_path / "dem.tif"
    shutil.copy(bad / "dem.tif", path)
    first = source_identity(partial(lifted_raster, path))
    assert first == source_identity(partial(lifted_raster, path)) != UNKNOWN
    assert first != source_identity(partial(lifted_raster, path, None, 60.0))  # other settings
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert source_identity(partial(lifted_raster, path)) != first  # touched: perhaps rewritten
    g = _huge_gaussians()
    assert source_identity(g) == source_identity(_huge_gaussians())
    g.means[0, 0] = 1.0
    assert source_identity(g) != source_identity(_huge_gaussians())
    assert source_identity(functools.partial(print, lambda: (yield))) != UNKNOWN  # a lambda: its code
    assert source_identity(partial(print, (i for i in range(3)))) == UNKNOWN  # a generator does not pickle


LOCK_HOLDER = """
import sys, time
from earth3d.store.lock import output_lock
with output_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _hold_lock(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(earth3d.__file__).parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(out)], stdout=subprocess.PIPE, env=env, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(bad, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--quiet", "--dem", str(bad / "dem.tif"), "--out", "w.e3d"]) == 0
    before = _files(tmp_path / "w.e3d")
    holders = [_hold_lock(tmp_path / "w.e3d"), _hold_lock(tmp_path / "new.e3d")]
    try:
        capsys.readouterr()
        for out, flags, holder in (("w.e3d", ["--overwrite"], holders[0]), ("new.e3d", [], holders[1])):
            assert main(["build", "--quiet", *flags, "--dem", str(bad / "dem_other.tif"), "--out", out]) == 1
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "another build is writing it" in err[0] and f"pid {holder.pid}" in err[0], err
        assert _files(tmp_path / "w.e3d") == before
        assert not (tmp_path / "new.e3d").exists() and not (tmp_path / ".new.e3d.building").exists()
    finally:
        for holder in holders:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    assert (tmp_path / ".w.e3d.lock").is_file(), "a killed writer leaves its lock"
    assert main(["build", "--quiet", "--overwrite", "--dem", str(bad / "dem_other.tif"), "--out", "w.e3d"]) == 0
    assert main(["build", "--quiet", "--dem", str(bad / "dem_other.tif"), "--out", "new.e3d"]) == 0
    assert _files(tmp_path / "w.e3d") != before
    assert _files(tmp_path / "w.e3d") == _files(tmp_path / "new.e3d")
    assert sorted(os.listdir(tmp_path)) == ["new.e3d", "w.e3d"]


def test_render_background_is_drawn(bad, tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "v.png"
    assert main([*RENDER, "--store", str(bad / "good.e3d"), "--out", str(out), "--alt", "20000",
                 "--background", "1", "0", "0"]) == 0
    image = iio.imread(out)
    assert tuple(image[0, 0, :3]) == (255, 0, 0)
    assert (image[..., 1] > 40).any(), "the splats are drawn over it"


def test_failed_build_leaves_no_hidden_folder(bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for dem in ("empty.tif", "nodata.tif", "lat90.tif"):
        assert main(["build", "--quiet", "--dem", str(bad / dem), "--out", "w.e3d"]) == 1
        assert os.listdir(tmp_path) == []
    # a resumable build is kept; --overwrite discards it, and a failure before the first source leaves nothing
    assert main(["build", "--quiet", "--dem", str(bad / "dem.tif"), str(bad / "empty.tif"), "--out", "w.e3d"]) == 1
    assert os.listdir(tmp_path) == [".w.e3d.building"]
    assert main(["build", "--quiet", "--overwrite", "--dem", str(bad / "empty.tif"), "--out", "w.e3d"]) == 1
    assert os.listdir(tmp_path) == []

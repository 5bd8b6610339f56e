"""Export and import: 3DGS PLY, SPZ, glTF/GLB (splats and terrain) and 3D Tiles 1.1 (splats and terrain),
checked against the originals and the specs and, where node/npm can install them (into
$EARTH3D_NPM_CACHE, default ~/.cache/earth3d-npm), against independent readers: the Khronos glTF
validator, Niantic's SPZ decoder and PlayCanvas's splat-transform."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine

import earth3d
from earth3d import Gaussians
from earth3d.export import read_ply, write_ply
from earth3d.export.enu import LocalFrame, rotate_sh
from earth3d.geometry.gaussian_math import sh_basis_nb as sh_basis
from earth3d.export.glb import accessor_array, read_glb
from earth3d.export.gltf import ENU_TO_GLTF, write_splats_glb, write_terrain_glb
from earth3d.export.ply import ply_dtype, sidecar_path
from earth3d.export.spz import decode_spz, encode_spz, read_spz, write_spz
from earth3d.geometry import Camera, covariance, ecef_to_geodetic, geodetic_to_ecef
from earth3d.raster import GeoRaster

from conftest import data_path

NPM_DIR = Path(os.environ.get("EARTH3D_NPM_CACHE", Path.home() / ".cache" / "earth3d-npm"))
NPM_PACKAGES = ["gltf-validator@2.0.0-dev.3.10", "@spz-loader/core@0.3.1", "@playcanvas/splat-transform@3.7.0"]


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def crop() -> GeoRaster:
    """A 64 x 64 cell (32 m) crop of the Duluth drone orthophoto + DTM, with its nodata edge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = earth3d.read_raster(data_path("pairs", "duluth_drone", "dtm.tif"),
                                 data_path("pairs", "duluth_drone", "orthophoto.tif"))
    r0, c0, n = 60, 60, 64
    return GeoRaster(r.rgb[r0:r0 + n, c0:c0 + n], r.height[r0:r0 + n, c0:c0 + n], r.valid[r0:r0 + n, c0:c0 + n],
                     r.transform @ Affine.translation(c0, r0), r.crs, r.vertical_datum, r.source)


@pytest.fixture(scope="module")
def splats(crop) -> Gaussians:
    """Lifted real terrain, given degree-3 SH (random view-dependent terms) so that rotations of
    the higher bands are exercised too."""
    g = earth3d.lift(crop).with_sh_degree(3)
    rng = np.random.default_rng(0)
    g.sh[:, 1:, :] = torch.from_numpy(rng.normal(scale=0.15, size=(len(g), 15, 3)).astype(np.float32))
    return g


@pytest.fixture(scope="module")
def camera(splats) -> Camera:
    lon, lat, h = ecef_to_geodetic(splats.origin)
    return Camera.look_at((lon + 0.00012, lat - 0.0002, h + 18.0), (lon, lat, h), width=160, height=120)


def _render(gaussians: Gaussians, camera: Camera) -> torch.Tensor:
    from earth3d.renderers.cpu import CpuRenderer

    return CpuRenderer().render(gaussians, camera).rgb


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _assert_same_splats(a: Gaussians, b: Gaussians, pos_tol: float, cov_tol: float) -> None:
    assert len(a) == len(b)
    assert np.abs(a.means_ecef() - b.means_ecef()).max() < pos_tol
    cov_a, cov_b = covariance(a.quats.double(), a.scales.double()), covariance(b.quats.double(), b.scales.double())
    assert float((cov_a - cov_b).abs().max() / cov_a.abs().max()) < cov_tol


# ---------------------------------------------------------------------------------------------- PLY
def test_ply_round_trip_renders_identically(tmp_path, splats, camera):
    path = write_ply(splats, tmp_path / "scene.ply")
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["frame"] == "ENU" and meta["count"] == len(splats) and meta["sh_degree"] == 3
    back = read_ply(path)
    _assert_same_splats(splats, back, pos_tol=1e-3, cov_tol=1e-5)
    assert float((back.sh - splats.sh).abs().max()) < 1e-5
    before, after = _render(splats, camera), _render(back, camera)
    assert float(before.std()) > 0.02, "the test view must show the terrain"
    assert _psnr(before, after) >= 40.0


def test_ply_is_standard_3dgs_layout_in_enu(tmp_path, splats):
    """The file itself: binary LE header, property order, channel-major f_rest, logit/log/wxyz, ENU axes."""
    path = write_ply(splats, tmp_path / "scene.ply")
    raw = path.read_bytes()
    head, body = raw.split(b"end_header\n", 1)
    lines = head.decode().splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    props = [ln.split()[-1] for ln in lines if ln.startswith("property")]
    assert props[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert props[9:54] == [f"f_rest_{i}" for i in range(45)]
    assert props[54:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    rec = np.frombuffer(body, dtype=ply_dtype(3))
    assert len(rec) == len(splats)
    i = 17
    sh = splats.sh[i].double().numpy()
    frame = LocalFrame.for_gaussians(splats)
    sh_enu = rotate_sh(sh[None], frame.basis.T)[0]
    assert np.allclose(rec["f_rest_0"][i], sh_enu[1, 0], atol=1e-6)   # red of coefficient 1
    assert np.allclose(rec["f_rest_15"][i], sh_enu[1, 1], atol=1e-6)  # green of coefficient 1
    assert np.allclose(rec["f_rest_1"][i], sh_enu[2, 0], atol=1e-6)   # red of coefficient 2
    assert np.allclose(rec["opacity"][i], float(np.log(splats.opacities[i] / (1 - splats.opacities[i]))), atol=1e-4)
    assert np.allclose(np.exp(rec["scale_0"][i]), splats.scales[i, 0].item(), rtol=1e-5)
    # z is up: the terrain is flat-ish, so heights span far less than the horizontal extent
    extent = np.ptp(np.stack([rec["x"], rec["y"], rec["z"]]), axis=1)
    assert extent[2] < 0.5 * min(extent[0], extent[1])
    # a flat splat's thin axis points up
    up_local = np.array([0.0, 0.0, 1.0])
    from earth3d.geometry import quat_to_rotmat
    rot = quat_to_rotmat(torch.tensor(np.stack([rec[f"rot_{j}"] for j in range(4)], 1)))
    thin = np.argmin(np.stack([rec[f"scale_{j}"] for j in range(3)], 1), axis=1)
    normals = rot.numpy()[np.arange(len(rec)), :, thin]
    assert np.median(np.abs(normals @ up_local)) > 0.95


def test_sh_rotation_preserves_view_dependent_colour():
    rng = np.random.default_rng(3)
    sh = rng.normal(size=(5, 16, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.linalg.det(q))
    dirs = rng.normal(size=(7, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    before = np.einsum("mk,nkc->nmc", sh_basis(dirs, 3), sh)
    after = np.einsum("mk,nkc->nmc", sh_basis(dirs @ rot.T, 3), rotate_sh(sh, rot))
    assert np.abs(before - after).max() < 1e-10


def _foreign_ply(path: Path, means, up: str) -> None:
    """A PLY as another tool writes it: degree 0, no normals, unit quaternions, small splats."""
    n = len(means)
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
             "rot_0", "rot_1", "rot_2", "rot_3"]
    rec = np.zeros(n, dtype=[(k, "<f4") for k in names])
    for i, axis in enumerate("xyz"):
        rec[axis] = means[:, i]
    rec["opacity"] = 2.0
    rec["scale_0"] = rec["scale_1"] = rec["scale_2"] = np.log(0.05)
    rec["rot_0"] = 1.0
    header = "ply\nformat binary_little_endian 1.0\ncomment written by another tool\n"
    header += f"element vertex {n}\n" + "".join(f"property float {k}\n" for k in names) + "end_header\n"
    path.write_bytes(header.encode() + rec.tobytes())


@pytest.mark.parametrize("up", ["z", "y"])
def test_import_places_foreign_ply_at_origin_and_heading(tmp_path, up):
    # a point 10 m along the file's "forward" axis (+y if z-up, -z if y-up) and 2 m up
    forward_up = np.array([[0.0, 10.0, 2.0]]) if up == "z" else np.array([[0.0, 2.0, -10.0]])
    path = tmp_path / "foreign.ply"
    _foreign_ply(path, forward_up, up)
    origin = (11.5, 48.1, 520.0)
    g = read_ply(path, origin_lonlath=origin, heading_deg=90.0, up=up)
    enu = (g.means_ecef() - geodetic_to_ecef(*origin)) @ LocalFrame.at(*origin).basis
    assert np.allclose(enu[0], [10.0, 0.0, 2.0], atol=1e-4)  # heading 90: forward faces east
    assert np.allclose(g.opacities.numpy(), 1 / (1 + np.exp(-2.0)), atol=1e-6)
    assert np.allclose(g.scales.numpy(), 0.05, rtol=1e-5)


def test_ply_bad_input(tmp_path, splats):
    small = splats[:50]
    path = write_ply(small, tmp_path / "a.ply")
    original = path.read_bytes()
    with pytest.raises(FileExistsError, match="a.ply"):
        write_ply(small, path)
    assert path.read_bytes() == original
    write_ply(small[:10], path, overwrite=True)
    assert len(read_ply(path)) == 10
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="latitude 95"):
        write_ply(small, tmp_path / "b.ply", origin_lonlath=(10.0, 95.0, 0.0))
    with pytest.raises(ValueError, match="latitude -91"):
        read_ply(path, origin_lonlath=(0.0, -91.0, 0.0))

    names = [n for n in ply_dtype(0).names if n != "scale_1"]
    rec = np.ones(3, dtype=[(k, "<f4") for k in names])
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n" + "".join(f"property float {k}\n" for k in names)
    (tmp_path / "missing.ply").write_bytes((header + "end_header\n").encode() + rec.tobytes())
    with pytest.raises(ValueError, match=r"missing\.ply.*'scale_1'"):
        read_ply(tmp_path / "missing.ply", origin_lonlath=(0, 0, 0))

    rec = np.ones(3, dtype=ply_dtype(0))
    rec["opacity"][1] = np.nan
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n" + "".join(f"property float {k}\n" for k in rec.dtype.names)
    (tmp_path / "nan.ply").write_bytes((header + "end_header\n").encode() + rec.tobytes())
    with pytest.raises(ValueError, match=r"nan\.ply.*'opacity'.*1 non-finite"):
        read_ply(tmp_path / "nan.ply", origin_lonlath=(0, 0, 0))
    (tmp_path / "short.ply").write_bytes((header + "end_header\n").encode() + rec.tobytes()[:-5])
    with pytest.raises(ValueError, match=r"short\.ply.*truncated"):
        read_ply(tmp_path / "short.ply", origin_lonlath=(0, 0, 0))
    with pytest.raises(ValueError, match="no geodetic origin"):
        read_ply(tmp_path / "nan.ply")
    with pytest.raises(FileNotFoundError, match="nope.ply"):
        read_ply(tmp_path / "nope.ply")


# ---------------------------------------------------------------------------------------------- SPZ
@pytest.mark.parametrize("version", [2, 3])
def test_spz_round_trip_within_quantisation(tmp_path, splats, camera, version):
    path = write_spz(splats, tmp_path / f"scene_v{version}.spz", version=version)
    back = read_spz(path)
    assert len(back) == len(splats)
    # 12 fractional bits: positions within half a step (0.12 mm) plus float32 rounding
    assert np.abs(back.means_ecef() - splats.means_ecef()).max() < 2e-4
    assert float((back.opacities - splats.opacities).abs().max()) <= 0.5 / 255 + 1e-6
    log_ratio = (back.scales / splats.scales).log().abs().max()
    assert float(log_ratio) <= 0.5 / 16 + 1e-4
    dc_err = (back.sh[:, 0] - splats.sh[:, 0]).abs().max()
    assert float(dc_err) <= 0.5 / (0.15 * 255) + 1e-4
    assert _psnr(_render(splats, camera), _render(back, camera)) >= 30.0


def test_spz_fractional_bits_follow_extent():
    rng = np.random.default_rng(1)
    means = rng.uniform(-5000, 5000, size=(20, 3))
    quats = np.tile([1.0, 0, 0, 0], (20, 1))
    blob = encode_spz(means, quats, np.ones((20, 3)), np.full(20, 0.5), np.zeros((20, 1, 3)))
    d = decode_spz(blob)
    assert d["fractional_bits"] < 12
    assert np.abs(d["means"] - means).max() <= 0.5 / (1 << d["fractional_bits"]) + 1e-9
    with pytest.raises(ValueError, match="not gzip"):
        decode_spz(b"not an spz file", source="x.spz")


# ---------------------------------------------------------------------------------------------- glTF
def _glb_splats_in_enu(doc, binary):
    attrs = doc["meshes"][0]["primitives"][0]["attributes"]
    get = lambda name: accessor_array(doc, binary, attrs[name]).astype(np.float64)  # noqa: E731
    pos = get("POSITION") @ ENU_TO_GLTF  # glTF -> ENU
    return pos, get("KHR_gaussian_splatting:SCALE"), get("KHR_gaussian_splatting:OPACITY"), get("KHR_gaussian_splatting:ROTATION")


def test_glb_splats_match_the_source(tmp_path, splats):
    path = write_splats_glb(splats, tmp_path / "splats.glb")
    doc, binary = read_glb(path.read_bytes())
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["mode"] == 0
    assert prim["extensions"]["KHR_gaussian_splatting"] == {"kernel": "ellipse", "colorSpace": "srgb_rec709_display"}
    assert "KHR_gaussian_splatting" in doc["extensionsUsed"]
    assert {f"KHR_gaussian_splatting:SH_DEGREE_3_COEF_{m}" for m in range(7)} <= set(prim["attributes"])
    geo = doc["asset"]["extras"]["georeference"]
    frame = LocalFrame.at(*geo["origin_lonlath"])
    assert np.allclose(frame.origin_ecef, geo["origin_ecef"])
    pos, scales, opac, rot_xyzw = _glb_splats_in_enu(doc, binary)
    ecef = frame.origin_ecef + pos @ np.asarray(geo["enu_to_ecef"]).T
    assert np.abs(ecef - splats.means_ecef()).max() < 1e-3
    assert np.allclose(scales, splats.scales.numpy(), rtol=1e-5)
    assert np.allclose(opac, splats.opacities.numpy(), atol=1e-6)
    assert np.allclose(np.linalg.norm(rot_xyzw, axis=1), 1.0, atol=1e-5)
    acc = doc["accessors"][prim["attributes"]["POSITION"]]
    stored = accessor_array(doc, binary, prim["attributes"]["POSITION"])
    assert np.allclose(acc["min"], stored.min(0)) and np.allclose(acc["max"], stored.max(0))


def test_glb_spz_payload_decodes_to_the_splats(tmp_path, splats):
    path = write_splats_glb(splats, tmp_path / "splats_spz.glb", compression="spz")
    doc, binary = read_glb(path.read_bytes())
    ext = doc["meshes"][0]["primitives"][0]["extensions"]["KHR_gaussian_splatting"]
    view = doc["bufferViews"][ext["extensions"]["KHR_gaussian_splatting_compression_spz_2"]["bufferView"]]
    assert set(doc["extensionsRequired"]) == {"KHR_gaussian_splatting", "KHR_gaussian_splatting_compression_spz_2"}
    blob = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
    d = decode_spz(blob)
    assert d["version"] == 2 and len(d["means"]) == len(splats)
    frame = LocalFrame.at(*doc["asset"]["extras"]["georeference"]["origin_lonlath"])
    ecef = frame.origin_ecef + (d["means"] @ ENU_TO_GLTF) @ frame.basis.T  # the blob holds glTF coordinates
    assert np.abs(ecef - splats.means_ecef()).max() < 1e-3


def test_spz_glb_of_continent_sized_splats(tmp_path):
    """A coarse tile spanning 12,000 km with 20 km splats: beyond SPZ's fixed-point and scale ranges
    in metres, so it is stored in a larger unit that the node matrix scales back."""
    rng = np.random.default_rng(5)
    lonlat = np.stack([rng.uniform(-120, 120, 50), rng.uniform(-60, 60, 50)], axis=1)
    ecef = geodetic_to_ecef(lonlat[:, 0], lonlat[:, 1], np.zeros(50))
    origin = geodetic_to_ecef(0.0, 0.0, 0.0)
    quats = rng.normal(size=(50, 4))
    g = Gaussians.from_rgb(origin, ecef - origin, quats / np.linalg.norm(quats, axis=1, keepdims=True),
                           rng.uniform(5e3, 2e4, (50, 3)), np.full(50, 0.8), rng.uniform(0, 1, (50, 3)))
    path = write_splats_glb(g, tmp_path / "planet.glb", origin_lonlath=(0.0, 0.0, 0.0), compression="spz")
    doc, binary = read_glb(path.read_bytes())
    node = np.asarray(doc["nodes"][0]["matrix"]).reshape(4, 4).T
    unit = node[0, 0]
    assert unit > 1 and np.allclose(node[:3, :3], unit * np.eye(3))
    view = doc["bufferViews"][doc["meshes"][0]["primitives"][0]["extensions"]["KHR_gaussian_splatting"]
                              ["extensions"]["KHR_gaussian_splatting_compression_spz_2"]["bufferView"]]
    d = decode_spz(binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]])
    frame = LocalFrame.at(0.0, 0.0, 0.0)
    back = frame.origin_ecef + ((d["means"] * unit) @ ENU_TO_GLTF) @ frame.basis.T
    assert np.abs(back - g.means_ecef()).max() <= unit / (1 << d["fractional_bits"])
    assert np.abs(np.log(d["scales"] * unit / g.scales.numpy())).max() <= 0.5 / 16 + 1e-4


def test_terrain_glb(tmp_path, crop):
    path = write_terrain_glb(crop, tmp_path / "terrain.glb", max_error=0.05)
    doc, binary = read_glb(path.read_bytes())
    prim = doc["meshes"][0]["primitives"][0]
    pos = accessor_array(doc, binary, prim["attributes"]["POSITION"]).astype(np.float64)
    idx = accessor_array(doc, binary, prim["indices"]).reshape(-1, 3)
    uv = accessor_array(doc, binary, prim["attributes"]["TEXCOORD_0"])
    assert 0 < len(pos) < crop.valid.sum() and idx.max() < len(pos)
    assert uv.min() >= 0 and uv.max() <= 1
    # faces point up (+y) and the surface stays within the height range of the data
    p = pos[idx]
    assert (np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])[:, 1] > 0).all()
    h = crop.height[crop.valid]
    geo = doc["asset"]["extras"]["georeference"]
    assert pos[:, 1].min() >= h.min() - geo["origin_lonlath"][2] - 0.2
    assert pos[:, 1].max() <= h.max() - geo["origin_lonlath"][2] + 0.2
    assert doc["images"][0]["mimeType"] == "image/png"
    with pytest.raises(FileExistsError):
        write_terrain_glb(crop, path)


# ---------------------------------------------------------------------------------------------- node tools
@pytest.fixture(scope="session")
def node_tools() -> Path:
    """node_modules with the Khronos glTF validator, Niantic's SPZ decoder (wasm) and PlayCanvas's
    splat-transform, installed on first use
    into a cache outside the repository; skips when node/npm are absent or the install fails."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the glTF validator and the SPZ reference decoder")
    modules = NPM_DIR / "node_modules"
    if not all((modules / p.rsplit("@", 1)[0]).is_dir() for p in NPM_PACKAGES):
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_DIR), *NPM_PACKAGES],
                           check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"could not npm install {NPM_PACKAGES}: {exc}")
    return NPM_DIR


_VALIDATE_JS = """
import validator from "gltf-validator";
import { readFileSync } from "fs";
const report = await validator.validateBytes(new Uint8Array(readFileSync(process.argv[2])), { maxIssues: 1000 });
console.log(JSON.stringify(report.issues));
"""

_SPZ_JS = """
process.type = "renderer";  // the package's node branch fails to load; its browser branch runs under node
const { loadSpz } = await import("@spz-loader/core");
import { readFileSync } from "fs";
const g = await loadSpz(readFileSync(process.argv[2]), { unpackOptions: { coordinateSystem: "UNSPECIFIED" } });
console.log(JSON.stringify({ numPoints: g.numPoints, shDegree: g.shDegree, positions: Array.from(g.positions),
  alphas: Array.from(g.alphas), scales: Array.from(g.scales), rotations: Array.from(g.rotations) }));
"""


def _node(tools: Path, script: str, arg: Path) -> dict:
    js = tools / f"earth3d_{hashlib.sha1(script.encode()).hexdigest()[:12]}.mjs"
    if not js.exists():
        js.write_text(script)
    out = subprocess.run(["node", str(js), str(arg)], check=True, capture_output=True, text=True, timeout=120, cwd=tools)
    return json.loads(out.stdout)


def _validator_problems(issues: dict) -> list:
    """Errors and warnings, less the one the validator raises for every extension-prefixed attribute
    semantic: it predates that part of glTF and KHR_gaussian_splatting (it checks only for a '_' prefix)."""
    return [m for m in issues["messages"] if m["severity"] <= 1 and not (
        m["code"] == "MESH_PRIMITIVE_INVALID_ATTRIBUTE" and m["pointer"].split("/")[-1].startswith("KHR_gaussian_splatting:"))]


@pytest.mark.parametrize("compression", [None, "spz"])
def test_khronos_validator_accepts_splat_glb(tmp_path, splats, node_tools, compression):
    path = write_splats_glb(splats, tmp_path / "s.glb", compression=compression)
    issues = _node(node_tools, _VALIDATE_JS, path)
    assert _validator_problems(issues) == []


def test_khronos_validator_accepts_terrain_glb(tmp_path, crop, node_tools):
    path = write_terrain_glb(crop, tmp_path / "t.glb")
    issues = _node(node_tools, _VALIDATE_JS, path)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]


@pytest.mark.parametrize("version", [2, 3])
def test_niantic_decoder_reads_our_spz(tmp_path, splats, node_tools, version):
    path = write_spz(splats, tmp_path / "s.spz", version=version)
    ref = _node(node_tools, _SPZ_JS, path)
    mine = decode_spz(path.read_bytes())
    assert ref["numPoints"] == len(splats) and ref["shDegree"] == 3
    assert np.abs(np.asarray(ref["positions"]).reshape(-1, 3) - mine["means"]).max() < 1e-5
    assert np.abs(np.asarray(ref["alphas"]) - mine["opacities"]).max() < 1e-5  # the decoder applies the sigmoid
    assert np.abs(np.asarray(ref["scales"]).reshape(-1, 3) - mine["scales"]).max() < 1e-4
    ref_q = np.asarray(ref["rotations"]).reshape(-1, 4)  # x, y, z, w
    mine_q = np.concatenate([mine["quats"][:, 1:], mine["quats"][:, :1]], axis=1)
    assert np.abs(np.abs((ref_q * mine_q).sum(1)) - 1).max() < 1e-4
    # and against the source splats in the file's frame: within the format's quantisation
    frame = LocalFrame.at(*json.loads(Path(str(path) + ".json").read_text())["origin_lonlath"])
    from earth3d.export.spz import ENU_TO_RUB
    src = (splats.means_ecef() - frame.origin_ecef) @ frame.basis @ ENU_TO_RUB.T
    assert np.abs(np.asarray(ref["positions"]).reshape(-1, 3) - src).max() < 2e-4


def _splat_transform_csv(tools: Path, src: Path, tmp_path: Path) -> np.ndarray:
    out = tmp_path / (src.name + ".csv")
    subprocess.run([str(tools / "node_modules" / ".bin" / "splat-transform"), "-q", "-w", str(src), str(out)],
                   check=True, capture_output=True, timeout=120)
    return np.genfromtxt(out, delimiter=",", names=True)


def test_splat_transform_reads_our_ply_and_spz(tmp_path, splats, node_tools):
    ply = write_ply(splats, tmp_path / "s.ply")
    theirs = _splat_transform_csv(node_tools, ply, tmp_path)
    ours = np.frombuffer(ply.read_bytes().split(b"end_header\n", 1)[1], dtype=ply_dtype(3))
    assert len(theirs) == len(splats)
    for name in ("x", "y", "z", "opacity", "scale_2", "rot_0", "rot_3", "f_dc_1", "f_rest_0", "f_rest_44"):
        assert np.allclose(theirs[name], ours[name], rtol=1e-6, atol=1e-6), name
    spz = write_spz(splats, tmp_path / "s.spz")
    theirs = _splat_transform_csv(node_tools, spz, tmp_path)
    mine = decode_spz(spz.read_bytes())
    assert len(theirs) == len(splats)
    assert np.abs(np.stack([theirs["x"], theirs["y"], theirs["z"]], 1) - mine["means"]).max() < 1e-5
    assert np.abs(np.exp(np.stack([theirs[f"scale_{i}"] for i in range(3)], 1)) - mine["scales"]).max() < 1e-4


# ---------------------------------------------------------------------------------------------- 3D Tiles
@pytest.fixture(scope="module")
def store(tmp_path_factory, crop):
    from earth3d.store import build_store, open_store

    path = tmp_path_factory.mktemp("store") / "duluth"
    build_store([earth3d.lift(crop, walls=False)], path, leaf_cap=400)
    return open_store(path)


def _content_enu(tile_dir: Path, uri: str) -> np.ndarray:
    """Positions (splat means or mesh vertices) of a content GLB in the tileset's ENU frame (z up)."""
    doc, binary = read_glb((tile_dir / uri).read_bytes())
    prim = doc["meshes"][0]["primitives"][0]
    ext = prim.get("extensions", {}).get("KHR_gaussian_splatting", {}).get("extensions", {})
    if "KHR_gaussian_splatting_compression_spz_2" in ext:
        view = doc["bufferViews"][ext["KHR_gaussian_splatting_compression_spz_2"]["bufferView"]]
        blob = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        gltf = decode_spz(blob)["means"]
    else:
        gltf = accessor_array(doc, binary, prim["attributes"]["POSITION"]).astype(np.float64)
    node = np.asarray(doc["nodes"][0].get("matrix", np.eye(4).reshape(-1))).reshape(4, 4).T
    gltf = gltf @ node[:3, :3].T + node[:3, 3]
    return gltf @ ENU_TO_GLTF  # glTF y-up -> z-up, as 3D Tiles does


def _walk(tile: dict, parent: dict | None = None):
    yield tile, parent
    for child in tile.get("children", []):
        yield from _walk(child, tile)


def _box_bounds(tile: dict) -> tuple[np.ndarray, np.ndarray]:
    box = np.asarray(tile["boundingVolume"]["box"])
    half = np.abs(box[3:].reshape(3, 3)).sum(axis=0)
    return box[:3] - half, box[:3] + half


@pytest.mark.parametrize("compression", ["spz", None])
def test_tileset_follows_the_spec(tmp_path, store, compression):
    from earth3d.export.tiles3d import write_tileset

    out = tmp_path / "tiles3d"
    write_tileset(store, out, compression=compression, layout="explicit")
    ts, uris = _check_tileset_structure(out)
    root = ts["root"]
    m = np.asarray(root["transform"]).reshape(4, 4).T
    listing = ts["extensions"]["3DTILES_content_gltf"]
    if compression == "spz":
        assert set(listing["extensionsRequired"]) == {"KHR_gaussian_splatting", "KHR_gaussian_splatting_compression_spz_2"}
    else:
        assert listing == {"extensionsUsed": ["KHR_gaussian_splatting"]}
    assert len(uris) > 3 and "children" in root
    leaves = [t["content"]["uri"] for t, _ in _walk(root) if "content" in t and "children" not in t]
    assert sum(len(_content_enu(out, u)) for u in leaves) == store.info()["splat_count"]

    # the content lands where the store's splats are, in ECEF
    leaf_uri = leaves[0]
    level, xyz = leaf_uri.split("/")[1:]
    key = (int(level), *map(int, xyz.removesuffix(".glb").split("_")))
    ecef = _content_enu(out, leaf_uri) @ m[:3, :3].T + m[:3, 3]
    expect = store.read(key).means_ecef()
    assert np.abs(np.sort(ecef, axis=0) - np.sort(expect, axis=0)).max() < 2e-3

    with pytest.raises(FileExistsError, match="tileset.json"):
        write_tileset(store, out, compression=compression)
    write_tileset(store, out, compression=compression, overwrite=True, workers=1)
    assert sorted(p.name for p in out.iterdir()) == ["tiles", "tileset.json"]


def test_khronos_validator_accepts_tile_content(tmp_path, store, node_tools):
    from earth3d.export.tiles3d import write_tileset

    write_tileset(store, tmp_path / "ts")
    content = sorted((tmp_path / "ts" / "tiles").rglob("*.glb"))[0]
    assert _validator_problems(_node(node_tools, _VALIDATE_JS, content)) == []


def _check_tileset_header(out: Path) -> dict:
    """tileset.json checks shared by both layouts: version, refinement, the root transform, errors."""
    ts = json.loads((out / "tileset.json").read_text())
    assert ts["asset"]["version"] == "1.1"
    root = ts["root"]
    assert root["refine"] == "REPLACE"
    m = np.asarray(root["transform"]).reshape(4, 4).T  # column-major
    assert np.allclose(m[:3, :3].T @ m[:3, :3], np.eye(3), atol=1e-12) and np.allclose(m[3], [0, 0, 0, 1])
    assert np.allclose(m[:3, 3], ts["asset"]["extras"]["georeference"]["origin_ecef"])
    assert ts["geometricError"] >= root["geometricError"]
    return ts


def _check_tileset_structure(out: Path) -> tuple[dict, set]:
    """Spec checks shared by every tileset: version, refinement, root transform, boxes that hold their
    content and children, errors that never grow from parent to child (0 at leaves), URIs that resolve."""
    ts = _check_tileset_header(out)
    root = ts["root"]
    m = np.asarray(root["transform"]).reshape(4, 4).T  # column-major
    uris = set()
    for tile, parent in _walk(root):
        lo, hi = _box_bounds(tile)
        if parent is not None:
            plo, phi = _box_bounds(parent)
            assert (plo <= lo + 1e-6).all() and (hi <= phi + 1e-6).all(), "child box leaks out of its parent"
            assert tile["geometricError"] <= parent["geometricError"]
        if "children" not in tile:
            assert tile["geometricError"] == 0.0
        if "content" in tile:
            uri = tile["content"]["uri"]
            assert (out / uri).is_file(), f"{uri} does not resolve"
            uris.add(uri)
            pos = _content_enu(out, uri)
            assert (pos >= lo - 1e-3).all() and (pos <= hi + 1e-3).all(), f"{uri} leaks out of its box"
    assert uris == {str(p.relative_to(out)) for p in (out / "tiles").rglob("*.glb")}
    # extras.view: a sphere around the full-detail (leaf) content, for framing a viewer
    view = ts["extras"]["view"]
    for tile, _ in _walk(root):
        if "content" in tile and "children" not in tile:
            ecef = _content_enu(out, tile["content"]["uri"]) @ m[:3, :3].T + m[:3, 3]
            assert (np.linalg.norm(ecef - view["center_ecef"], axis=1) <= view["radius"] + 1e-3).all()
    return ts, uris


# ---------------------------------------------------------------------------------------------- implicit tiling
def _demorton(index: np.ndarray, levels: int) -> np.ndarray:
    """Local (x, y, z) of octree Morton indices (x in the lowest bit), as the spec's Appendix A defines them."""
    out = np.zeros((len(index), 3), dtype=np.int64)
    for b in range(levels):
        for axis in range(3):
            out[:, axis] |= ((index >> (3 * b + axis)) & 1) << b
    return out


def _implied_box(root_box: list, key: tuple) -> np.ndarray:
    """A tile's box derived from the implicit root box, as CesiumJS derives it (centre and half axes)."""
    box = np.asarray(root_box, dtype=np.float64)
    level, xyz = key[0], np.asarray(key[1:], dtype=np.float64)
    half = box[3:].reshape(3, 3)  # rows: the box's x, y, z half axes
    scale = 2.0 ** -level
    return np.concatenate([box[:3] + (-1 + (2 * xyz + 1) * scale) @ half, (half * scale).reshape(-1)])


def _inside(points: np.ndarray, box: np.ndarray, tol: float) -> bool:
    """Whether points lie in an oriented box (centre, then three half-axis vectors)."""
    axes = box[3:].reshape(3, 3)
    local = (points - box[:3]) @ axes.T / (axes * axes).sum(axis=1)  # coordinates in units of each half axis
    return bool((np.abs(local) <= 1 + tol).all())


def _expand_implicit(out: Path) -> tuple[dict, dict]:
    """Read an implicit tileset subtree by subtree, checking the availability rules of 3D Tiles 1.1 implicit
    tiling on the way; returns tileset.json and {tile key: {"content": bool, "error", "box"}} (the metadata)."""
    from earth3d.export.subtree import decode_subtree, level_offset

    ts = _check_tileset_header(out)
    root = ts["root"]
    tiling = root["implicitTiling"]
    assert tiling["subdivisionScheme"] == "OCTREE" and "children" not in root and "box" in root["boundingVolume"]
    levels, template = tiling["subtreeLevels"], tiling["subtrees"]["uri"]
    props = ts["schema"]["classes"]["tile"]["properties"]
    assert {p["semantic"] for p in props.values()} == {"TILE_GEOMETRIC_ERROR", "TILE_BOUNDING_BOX"}
    fill = lambda t, k: t.format(level=k[0], x=k[1], y=k[2], z=k[3])  # noqa: E731
    tiles, seen, queue = {}, set(), [(0, 0, 0, 0)]
    while queue:
        sroot = queue.pop()
        seen.add(fill(template, sroot))
        st = decode_subtree((out / fill(template, sroot)).read_bytes(), levels, fill(template, sroot))
        avail, content, child = st["tiles"], st["contents"], st["children"]
        assert avail[0], "a subtree's root tile is available"
        assert not (content & ~avail).any(), "content available where its tile is not"
        keys = []
        for bit in np.flatnonzero(avail):
            local = next(lv for lv in range(levels) if level_offset(lv + 1) > bit)
            xyz = _demorton(np.array([bit - level_offset(local)]), local)[0]
            if local:  # the parent, in this subtree: its Morton index drops the last three bits
                assert avail[level_offset(local - 1) + ((bit - level_offset(local)) >> 3)], "parent unavailable"
            keys.append((sroot[0] + local, *((np.asarray(sroot[1:]) << local) + xyz)))
        for i in np.flatnonzero(child):
            assert avail[level_offset(levels - 1) + (i >> 3)], "a child subtree below an unavailable tile"
            xyz = _demorton(np.array([i]), levels)[0]
            queue.append((sroot[0] + levels, *map(int, (np.asarray(sroot[1:]) << levels) + xyz)))
        table = st["json"]["propertyTables"][st["json"]["tileMetadata"]]
        assert table["count"] == len(keys)
        errors = np.frombuffer(st["views"][table["properties"]["geometricError"]["values"]], "<f8")
        boxes = np.frombuffer(st["views"][table["properties"]["boundingBox"]["values"]], "<f8").reshape(-1, 12)
        for j, (key, bit) in enumerate(zip(keys, np.flatnonzero(avail))):
            tiles[tuple(map(int, key))] = {"content": bool(content[bit]), "error": float(errors[j]), "box": boxes[j]}
    assert seen == {str(p.relative_to(out)) for p in (out / "tiles" / "subtrees").rglob("*.subtree")}
    assert max(k[0] for k in tiles) + 1 == tiling["availableLevels"]
    return ts, tiles


def _check_implicit(out: Path, store) -> tuple[dict, dict]:
    """Spec checks of an implicit tileset against its store: availability is the store's nodes, content
    files are exactly the available contents, boxes (implied and metadata) hold their content, errors."""
    from earth3d.store import cell_center, cell_size

    ts, tiles = _expand_implicit(out)
    root = ts["root"]
    m = np.asarray(root["transform"]).reshape(4, 4).T
    template = root["content"]["uri"]
    fill = lambda k: template.format(level=k[0], x=k[1], y=k[2], z=k[3])  # noqa: E731
    nodes = {}
    stack = list(store.root_keys())
    while stack:
        k = stack.pop()
        nodes[tuple(k)] = store.entry(k)
        stack.extend(store.children(k))
    assert set(tiles) == set(nodes), "available tiles are the store's nodes"
    files = {str(p.relative_to(out)) for p in (out / "tiles" / "content").rglob("*.glb")}
    assert files == {fill(k) for k, t in tiles.items() if t["content"]}, "content files == available contents"
    g = root["geometricError"]
    for key, t in tiles.items():
        kids = [c for c in tiles if c[0] == key[0] + 1 and tuple(v >> 1 for v in c[1:]) == key[1:]]
        assert g / 2 ** key[0] >= t["error"] >= float(nodes[key]["error"]), "implied error below the node's"
        assert t["error"] == 0.0 or kids, "leaves have error 0"
        implied = _implied_box(root["boundingVolume"]["box"], key)
        # the implied box is the store's cell of that key: the octree and the implicit subdivision agree
        ecef_axes = m[:3, :3] @ implied[3:].reshape(3, 3).T
        assert np.allclose(m[:3, :3] @ implied[:3] + m[:3, 3], cell_center(key), atol=1e-6)
        assert np.allclose(ecef_axes, np.eye(3) * cell_size(key[0]) / 2, atol=1e-6)
        for c in kids:
            assert tiles[c]["error"] <= t["error"]
            assert _inside(_box_corners(tiles[c]["box"]), t["box"], 1e-9), "child metadata box leaks out"
        if t["content"]:
            pos = _content_enu(out, fill(key))
            assert _inside(pos, implied, 1e-6), f"{fill(key)} leaks out of its implied box"
            assert _inside(pos, t["box"], 1e-6), f"{fill(key)} leaks out of its metadata box"
            doc, _ = read_glb((out / fill(key)).read_bytes())
            assert tuple(doc["asset"]["extras"]["octree_key"]) == key
    return ts, tiles


def _box_corners(box: np.ndarray) -> np.ndarray:
    axes = np.asarray(box[3:]).reshape(3, 3)
    signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=np.float64)
    return box[:3] + signs @ axes


def test_morton_order_follows_the_spec():
    from earth3d.export.subtree import morton3

    # Appendix A: interleaveBits(0b001, 0b010, 0b100) = 0b100010001, interleaveBits(0b111, 0b000, 0b111) = 0b101101101
    assert int(morton3(0b001, 0b010, 0b100, 3)) == 0b100010001
    assert int(morton3(0b111, 0b000, 0b111, 3)) == 0b101101101
    xyz = np.random.default_rng(0).integers(0, 32, size=(50, 3))
    assert (_demorton(morton3(*xyz.T, 5), 5) == xyz).all()


def test_subtree_binary_layout():
    from earth3d.export.subtree import decode_subtree, encode_subtree, tile_bits

    tiles = np.zeros(tile_bits(2), bool)
    tiles[[0, 1, 5]] = True
    data = encode_subtree(tiles, tiles & False, np.ones(64, bool), ("tile", {"e": np.array([3.0, 2.0, 1.0])}))
    assert data[:4] == b"subt" and int.from_bytes(data[4:8], "little") == 1
    json_len, bin_len = int.from_bytes(data[8:16], "little"), int.from_bytes(data[16:24], "little")
    assert json_len % 8 == 0 and bin_len % 8 == 0 and len(data) == 24 + json_len + bin_len
    doc = json.loads(data[24:24 + json_len])
    assert doc["contentAvailability"] == [{"constant": 0, "availableCount": 0}]
    assert doc["childSubtreeAvailability"] == {"constant": 1, "availableCount": 64}
    assert doc["tileAvailability"]["availableCount"] == 3
    assert all(v["byteOffset"] % 8 == 0 for v in doc["bufferViews"])
    bitstream = doc["bufferViews"][doc["tileAvailability"]["bitstream"]]
    assert data[24 + json_len + bitstream["byteOffset"]] == 0b00100011  # bits 0, 1, 5, least significant first
    st = decode_subtree(data, 2)
    assert (st["tiles"] == tiles).all() and st["children"].all() and not st["contents"].any()


def test_implicit_tileset_follows_the_spec(tmp_path, store):
    from earth3d.export.tiles3d import write_tileset

    out = tmp_path / "implicit"
    write_tileset(store, out, layout="implicit")
    ts, tiles = _check_implicit(out, store)
    assert ts["root"]["content"]["uri"] == "tiles/content/{level}/{x}/{y}/{z}.glb"
    leaves = [k for k in tiles if not any(c[0] == k[0] + 1 and tuple(v >> 1 for v in c[1:]) == k[1:] for c in tiles)]
    template = ts["root"]["content"]["uri"]
    assert sum(len(_content_enu(out, template.format(level=k[0], x=k[1], y=k[2], z=k[3]))) for k in leaves) \
        == store.info()["splat_count"]
    # the view sphere holds the full-detail content, in ECEF
    m = np.asarray(ts["root"]["transform"]).reshape(4, 4).T
    view = ts["extras"]["view"]
    for k in leaves:
        ecef = _content_enu(out, template.format(level=k[0], x=k[1], y=k[2], z=k[3])) @ m[:3, :3].T + m[:3, 3]
        assert (np.linalg.norm(ecef - view["center_ecef"], axis=1) <= view["radius"] + 1e-3).all()


def test_explicit_and_implicit_hold_the_same_content(tmp_path, store, monkeypatch):
    """Both layouts of one store: the same content tiles, byte for byte, and the same errors and boxes."""
    from earth3d.export import tiles3d

    tiles3d.write_tileset(store, tmp_path / "explicit", layout="explicit", workers=2)
    monkeypatch.setattr(tiles3d, "IMPLICIT_MIN_NODES", 10)  # "auto" switches to implicit on large trees
    tiles3d.write_tileset(store, tmp_path / "implicit", workers=2)
    ts, tiles = _expand_implicit(tmp_path / "implicit")
    template = ts["root"]["content"]["uri"]
    explicit = {}
    for tile, _ in _walk(json.loads((tmp_path / "explicit" / "tileset.json").read_text())["root"]):
        if "content" in tile:
            doc, _ = read_glb((tmp_path / "explicit" / tile["content"]["uri"]).read_bytes())
            explicit[tuple(doc["asset"]["extras"]["octree_key"])] = tile
    with_content = {k for k, t in tiles.items() if t["content"]}
    assert set(explicit) <= with_content
    for key in with_content - set(explicit):  # only what the explicit layout collapses: single-child chains
        kids = [c for c in tiles if c[0] == key[0] + 1 and tuple(v >> 1 for v in c[1:]) == key[1:]]
        assert len(kids) == 1 and tiles[kids[0]]["error"] == tiles[key]["error"]
    for key, tile in explicit.items():
        implicit_uri = template.format(level=key[0], x=key[1], y=key[2], z=key[3])
        assert (tmp_path / "explicit" / tile["content"]["uri"]).read_bytes() == \
            (tmp_path / "implicit" / implicit_uri).read_bytes()
        assert tile["geometricError"] == tiles[key]["error"]
        assert np.allclose(tile["boundingVolume"]["box"], tiles[key]["box"])
    # replacing one layout by the other leaves no stale files
    tiles3d.write_tileset(store, tmp_path / "explicit", layout="implicit", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "explicit").iterdir()) == ["tiles", "tileset.json"]
    _check_implicit(tmp_path / "explicit", store)
    with pytest.raises(ValueError, match="layout"):
        tiles3d.write_tileset(store, tmp_path / "x", layout="sparse")


def test_terrain_tileset(tmp_path, crop):
    from earth3d.export import write_terrain_tileset
    from earth3d.geometry import ECEF_CRS, transformer

    out = tmp_path / "terrain"
    write_terrain_tileset(crop, out, tile_cells=16, texture_px=32)
    ts, uris = _check_tileset_structure(out)
    assert {u.split("/")[1] for u in uris} == {"0", "1", "2"}  # 64 cells, 16 per tile: three levels
    root = ts["root"]
    assert root["geometricError"] > 0 and "content" in root
    # full-resolution leaves: every vertex is a cell centre at its cell's height
    m = np.asarray(root["transform"]).reshape(4, 4).T
    to_crs = transformer(ECEF_CRS, crop.crs.to_3d())
    inverse = ~crop.transform
    checked = 0
    for uri in sorted(u for u in uris if u.startswith("tiles/2/")):
        ecef = _content_enu(out, uri) @ m[:3, :3].T + m[:3, 3]
        x, y, h = to_crs.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
        col, row = inverse * (np.asarray(x), np.asarray(y))
        assert np.abs(col - np.round(col - 0.5) - 0.5).max() < 1e-3 and np.abs(row - np.round(row - 0.5) - 0.5).max() < 1e-3
        cells = crop.height[np.floor(row).astype(int), np.floor(col).astype(int)]
        assert np.abs(h - cells).max() < 1e-3
        checked += len(h)
    assert checked > 0.5 * crop.valid.sum()


def test_terrain_tile_error_measures_the_lost_detail():
    from earth3d.export.terrain_tiles import _grid_error

    r, c = np.mgrid[0:50, 0:70]
    plane = 0.3 * r - 0.2 * c + 5.0
    rows = np.unique(np.minimum(np.arange(0, 58, 8), 49))
    cols = np.unique(np.minimum(np.arange(0, 78, 8), 69))
    valid = np.ones(plane.shape, bool)
    assert _grid_error(plane, valid, rows, cols) < 1e-9  # a plane survives any subsampling
    bump = plane.copy()
    bump[20, 21] += 3.0
    assert abs(_grid_error(bump, valid, rows, cols) - 3.0) < 1e-9
    valid[20, 21] = False
    assert _grid_error(bump, valid, rows, cols) < 1e-9  # nodata cells do not count
    assert _grid_error(bump, np.ones(plane.shape, bool), np.arange(50), np.arange(70)) == 0.0


def test_khronos_validator_accepts_terrain_tiles(tmp_path, crop, node_tools):
    from earth3d.export import write_terrain_tileset

    write_terrain_tileset(crop, tmp_path / "t", tile_cells=32)
    for content in sorted((tmp_path / "t" / "tiles").rglob("*.glb"))[:2]:
        issues = _node(node_tools, _VALIDATE_JS, content)
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]

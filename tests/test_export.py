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
from conftest import data_path

import earth3d
from earth3d import Gaussians
from earth3d.export import read_ply, write_ply
from earth3d.export.enu import LocalFrame, rotate_sh
from earth3d.export.glb import accessor_array, read_glb
from earth3d.export.gltf import ENU_TO_GLTF, write_splats_glb, write_terrain_glb
from earth3d.export.ply import ply_dtype, sidecar_path
from earth3d.export.spz import decode_spz, encode_spz, read_spz, write_spz
from earth3d.geometry import Camera, covariance, ecef_to_geodetic, geodetic_to_ecef
from earth3d.geometry.gaussian_math import sh_basis_nb as sh_basis
from earth3d.raster import GeoRaster

NPM_DIR = Path(os.environ.get("EARTH3D_NPM_CACHE", Path.home() / ".cache" / "earth3d-npm"))
NPM_PACKAGES = ["gltf-validator@2.0.0-dev.3.10", "@spz-loader/core@0.3.1", "@playcanvas/splat-transform@3.7.0"]


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def crop() -> GeoRaster:
    return duluth_crop()


def duluth_crop() -> GeoRaster:
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
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
    header += "".join(f"property float {k}\n" for k in names)
    (tmp_path / "missing.ply").write_bytes((header + "end_header\n").encode() + rec.tobytes())
    with pytest.raises(ValueError, match=r"missing\.ply.*'scale_1'"):
        read_ply(tmp_path / "missing.ply", origin_lonlath=(0, 0, 0))

    rec = np.ones(3, dtype=ply_dtype(0))
    rec["opacity"][1] = np.nan
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
    header += "".join(f"property float {k}\n" for k in rec.dtype.names)
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
    return (pos, get("KHR_gaussian_splatting:SCALE"), get("KHR_gaussian_splatting:OPACITY"),
            get("KHR_gaussian_splatting:ROTATION"))


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
    return install_node_tools()


def install_node_tools() -> Path:
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
    out = subprocess.run(["node", str(js), str(arg)], check=True, capture_output=True, text=True, timeout=120,
                         cwd=tools)
    return json.loads(out.stdout)


def _validator_problems(issues: dict) -> list:
    """Errors and warnings, less the one the validator raises for every extension-prefixed attribute
    semantic: it predates that part of glTF and KHR_gaussian_splatting (it checks only for a '_' prefix)."""
    return [m for m in issues["messages"] if m["severity"] <= 1 and not (
        m["code"] == "MESH_PRIMITIVE_INVALID_ATTRIBUTE"
        and m["pointer"].split("/")[-1].startswith("KHR_gaussian_splatting:"))]


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

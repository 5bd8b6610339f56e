"""What a viewer gets from a splat tileset: every GLB carries the attributes KHR_gaussian_splatting requires
(SPZ-compressed or not, still read by SPZ's reference decoder and splat-transform), the first tiles it
fetches from the root hold content worth drawing, in both layouts and for stores from a few splats to the
whole planet, and the tileset's root volume sits on the data (viewers render relative to its center)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_export import _SPZ_JS, _node, _splat_transform_csv
from test_tiles3d import _content_enu, _expand_implicit, _implicit_root, crop, node_tools, store  # noqa: F401  (fixtures)

import earth3d
from earth3d import Gaussians
from earth3d.export import write_tileset
from earth3d.export.glb import read_glb
from earth3d.export.spz import decode_spz
from earth3d.geometry import geodetic_to_ecef
from earth3d.store import build_store, open_store

SPLATS = "KHR_gaussian_splatting"
SPZ_2 = "KHR_gaussian_splatting_compression_spz_2"
# KHR_gaussian_splatting (Release Candidate, KhronosGroup/glTF 63770cc7): required attributes and their
# accessor types and allowed component types (5126 float, 5120/5121 byte, 5122/5123 short).
REQUIRED = {"POSITION": ("VEC3", {5126}), f"{SPLATS}:ROTATION": ("VEC4", {5126, 5120, 5122}),
            f"{SPLATS}:SCALE": ("VEC3", {5126, 5121, 5123}), f"{SPLATS}:OPACITY": ("SCALAR", {5126, 5121, 5123}),
            f"{SPLATS}:SH_DEGREE_0_COEF_0": ("VEC3", {5126})}
# A tile worth drawing: at least this many splats (the store's chain above a region holds one or two).
NON_TRIVIAL = 16


def _check_splat_glb(path: Path) -> int:
    """Check one splat GLB against KHR_gaussian_splatting's attribute rules; returns its splat count."""
    doc, binary = read_glb(path.read_bytes())
    (prim,) = doc["meshes"][0]["primitives"]
    assert prim["mode"] == 0
    ext = prim["extensions"][SPLATS]
    assert ext["kernel"] == "ellipse" and ext["colorSpace"] in ("srgb_rec709_display", "lin_rec709_display")
    attrs = prim["attributes"]
    assert set(REQUIRED) <= set(attrs), f"{path.name}: missing {set(REQUIRED) - set(attrs)}"
    sh = [a for a in attrs if a.startswith(f"{SPLATS}:SH_DEGREE_")]
    degree = max(int(a.split("_")[-3]) for a in sh)
    assert set(sh) == {f"{SPLATS}:SH_DEGREE_{d}_COEF_{c}" for d in range(degree + 1) for c in range(2 * d + 1)}
    accessors = {a: doc["accessors"][i] for a, i in attrs.items()}
    counts = {acc["count"] for acc in accessors.values()}
    assert len(counts) == 1, "attributes of one primitive have one count"
    features = {a for a in attrs if a.startswith("_FEATURE_ID_")}  # EXT_mesh_features: beside the splat attributes
    for name, acc in accessors.items():
        kind, components = REQUIRED.get(name, ("VEC3", {5126}) if name in sh else
                                        ("SCALAR", {5121, 5123, 5126}) if name in features else
                                        ("VEC4", {5121, 5123, 5126}))
        assert acc["type"] == kind and acc["componentType"] in components, name
    assert "min" in accessors["POSITION"] and "max" in accessors["POSITION"]
    spz = ext.get("extensions", {}).get(SPZ_2)
    if spz is not None:  # placeholders: the data come from the SPZ payload
        assert SPZ_2 in doc["extensionsRequired"] and SPLATS in doc["extensionsUsed"]
        assert all("bufferView" not in acc for name, acc in accessors.items() if name not in features)
        assert all("bufferView" in accessors[name] for name in features)
        view = doc["bufferViews"][spz["bufferView"]]
        decoded = decode_spz(binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]])
        assert decoded["version"] == 2 and len(decoded["means"]) == counts.pop()
        assert int(round(decoded["sh"].shape[1] ** 0.5)) - 1 == degree
        return len(decoded["means"])
    from earth3d.export.glb import accessor_array

    values = {name: accessor_array(doc, binary, i) for name, i in attrs.items()}
    assert ((values[f"{SPLATS}:OPACITY"] >= 0) & (values[f"{SPLATS}:OPACITY"] <= 1)).all()
    assert np.allclose(np.linalg.norm(values[f"{SPLATS}:ROTATION"], axis=1), 1, atol=1e-5)
    assert (values[f"{SPLATS}:SCALE"] >= 0).all()
    return counts.pop()


@pytest.mark.parametrize("layout", ["explicit", "implicit"])
@pytest.mark.parametrize("compression", ["spz", None])
def test_every_splat_glb_has_the_required_attributes(tmp_path, store, layout, compression):  # noqa: F811
    write_tileset(store, tmp_path / "ts", compression=compression, layout=layout)
    glbs = sorted((tmp_path / "ts" / "tiles").rglob("*.glb"))
    assert len(glbs) > 3
    assert all(_check_splat_glb(p) > 0 for p in glbs)


def test_spz_payload_of_a_tile_reads_in_reference_tools(tmp_path, store, node_tools):  # noqa: F811
    """The SPZ blob inside a tile (with its placeholders beside it) is plain SPZ for Niantic's decoder and
    PlayCanvas's splat-transform."""
    write_tileset(store, tmp_path / "ts", layout="explicit")
    glb = max((tmp_path / "ts" / "tiles").rglob("*.glb"), key=lambda p: p.stat().st_size)
    doc, binary = read_glb(glb.read_bytes())
    ext = doc["meshes"][0]["primitives"][0]["extensions"][SPLATS]["extensions"][SPZ_2]
    view = doc["bufferViews"][ext["bufferView"]]
    spz = tmp_path / "tile.spz"
    spz.write_bytes(binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]])
    mine = decode_spz(spz.read_bytes())
    ref = _node(node_tools, _SPZ_JS, spz)
    assert ref["numPoints"] == len(mine["means"])
    assert np.abs(np.asarray(ref["positions"]).reshape(-1, 3) - mine["means"]).max() < 1e-5
    theirs = _splat_transform_csv(node_tools, spz, tmp_path)
    assert len(theirs) == len(mine["means"])
    assert np.abs(np.stack([theirs["x"], theirs["y"], theirs["z"]], 1) - mine["means"]).max() < 1e-5


# ---------------------------------------------------------------------------------------------- first requests
def _requests_to_first_content(out: Path) -> tuple[int, int]:
    """Walk a tileset from its root the way a viewer refines (breadth first, every child of a refined tile
    at once; content-less tiles cost no request) and count the content requests up to and including the
    first tile worth drawing. Returns (that count, its splat count)."""
    ts = json.loads((out / "tileset.json").read_text())
    implicit = "implicitTiling" in json.dumps(ts["root"])
    if implicit:
        _, tiles = _expand_implicit(out)
        template = _implicit_root(ts)["content"]["uri"]
        uri = lambda k: template.format(level=k[0], x=k[1], y=k[2], z=k[3]) if tiles[k]["content"] else None  # noqa: E731
        kids = lambda k: sorted(c for c in tiles if c[0] == k[0] + 1 and tuple(v >> 1 for v in c[1:]) == k[1:])  # noqa: E731
        queue: list = [(0, 0, 0, 0)]
    else:
        uri = lambda t: t.get("content", {}).get("uri")  # noqa: E731
        kids = lambda t: t.get("children", [])  # noqa: E731
        queue = [ts["root"]]
    requests = 0
    while queue:
        tile = queue.pop(0)
        if uri(tile):
            requests += 1
            count = len(_content_enu(out, uri(tile)))
            if count >= NON_TRIVIAL:
                return requests, count
        queue.extend(kids(tile))
    raise AssertionError(f"{out}: no tile holds {NON_TRIVIAL} splats")


def _planet_store(path: Path) -> object:
    """Splats scattered over the whole globe (20 km wide), in a store whose root has all eight children."""
    rng = np.random.default_rng(1)
    n = 6000
    lon, lat = rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    ecef = geodetic_to_ecef(lon, lat, np.zeros(n))
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    g = Gaussians.from_rgb(np.zeros(3), ecef, quats, np.full((n, 3), 2e4), np.full(n, 0.8), rng.uniform(0, 1, (n, 3)))
    build_store([g], path, leaf_cap=300)
    return open_store(path)


def _tiny_store(path: Path, crop) -> object:  # noqa: F811
    """A few dozen splats: one leaf, the store's level-0 root."""
    g = earth3d.lift(crop, walls=False)
    keep = torch.arange(0, len(g), max(1, len(g) // 40))
    build_store([Gaussians(g.origin, g.means[keep], g.quats[keep], g.scales[keep], g.opacities[keep], g.sh[keep])],
                path)
    return open_store(path)


@pytest.mark.parametrize("layout", ["explicit", "implicit"])
@pytest.mark.parametrize("kind", ["region", "tiny", "planet"])
def test_first_content_within_three_requests(tmp_path, store, crop, layout, kind):  # noqa: F811
    s = {"region": lambda: store, "tiny": lambda: _tiny_store(tmp_path / "tiny", crop),
         "planet": lambda: _planet_store(tmp_path / "planet")}[kind]()
    if kind == "region":  # the case that matters: a survey far below the store cube's top, under a single-child chain
        key, chain = tuple(s.root_keys()[0]), 0
        while len(s.children(key)) == 1:
            key, chain = tuple(s.children(key)[0]), chain + 1
        assert chain >= 10
    out = tmp_path / "ts"
    write_tileset(s, out, layout=layout)
    requests, count = _requests_to_first_content(out)
    assert requests <= 3, f"{requests} tile requests before content ({count} splats)"


@pytest.mark.parametrize("layout", ["explicit", "implicit"])
def test_root_volume_sits_on_data_that_straddles_the_octree_halving_planes(tmp_path, layout):
    """A survey across the prime meridian (the ECEF y = 0 plane) has no octree node smaller than the whole
    store cube around it; the tileset's root box is still tight around the data."""
    rng = np.random.default_rng(2)
    n = 3000
    lon, lat = rng.uniform(-0.001, 0.001, n), 51.4779 + rng.uniform(-0.001, 0.001, n)
    ecef = geodetic_to_ecef(lon, lat, np.full(n, 50.0))
    origin = ecef.mean(axis=0)
    g = Gaussians.from_rgb(origin, ecef - origin, np.tile([1.0, 0, 0, 0], (n, 1)), np.full((n, 3), 1.0),
                           np.full(n, 0.8), rng.uniform(0, 1, (n, 3)))
    build_store([g], tmp_path / "store", leaf_cap=200)
    s = open_store(tmp_path / "store")
    assert len(s.children(tuple(s.root_keys()[0]))) > 1  # the root itself branches: no smaller implicit root
    write_tileset(s, tmp_path / "ts", layout=layout)
    ts = json.loads((tmp_path / "ts" / "tileset.json").read_text())
    box = np.asarray(ts["root"]["boundingVolume"]["box"])
    m = np.asarray(ts["root"]["transform"]).reshape(4, 4).T
    center = m[:3, :3] @ box[:3] + m[:3, 3]
    assert np.linalg.norm(center - origin) < 200 and np.abs(box[3:]).max() < 500
    assert _requests_to_first_content(tmp_path / "ts")[0] <= 3

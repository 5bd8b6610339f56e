"""Splat classes and instances in exported glTF and 3D Tiles: EXT_mesh_features feature IDs and the
EXT_structural_metadata tables that name them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_export import _VALIDATE_JS, _node, _validator_problems, node_tools  # noqa: F401  (fixture)

from earth3d import Gaussians
from earth3d.classes import CLASSES, N_CLASSES
from earth3d.export.features import FEATURES, METADATA
from earth3d.export.glb import accessor_array, read_glb
from earth3d.export.gltf import write_splats_glb
from earth3d.export.tiles3d import write_tileset
from earth3d.geometry import geodetic_to_ecef
from earth3d.store import build_store, open_store


def _labelled(n: int = 3000, seed: int = 0) -> Gaussians:
    """Splats over 200 m with random classes and instances (some over 2^32, many 0)."""
    rng = np.random.default_rng(seed)
    lon, lat = 7.45 + rng.uniform(0, 2e-3, n), 46.95 + rng.uniform(0, 2e-3, n)
    ecef = geodetic_to_ecef(lon, lat, rng.uniform(500, 520, n))
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    labels = rng.integers(0, N_CLASSES, n).astype(np.uint8)
    instances = np.where(rng.uniform(size=n) < 0.4, 0, rng.integers(1, 300, n) * 2**33 + 7)
    return Gaussians.from_rgb(np.zeros(3), ecef, quats, np.full((n, 3), 0.5), np.full(n, 0.8),
                              rng.uniform(0, 1, (n, 3)), labels, instances)


def _semantics(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(classes, instance ids) per splat of a GLB, read through its feature IDs and property tables,
    checking the layout the two extensions ask for on the way."""
    doc, binary = read_glb(data)
    assert FEATURES in doc["extensionsUsed"] and METADATA in doc["extensionsUsed"]
    assert FEATURES not in doc.get("extensionsRequired", []) and METADATA not in doc.get("extensionsRequired", [])
    (prim,) = doc["meshes"][0]["primitives"]
    sets = prim["extensions"][FEATURES]["featureIds"]
    assert [s["label"] for s in sets] == ["class", "instance"] and [s["attribute"] for s in sets] == [0, 1]
    meta = doc["extensions"][METADATA]
    tables = meta["propertyTables"]
    ids = []
    for s in sets:
        acc = doc["accessors"][prim["attributes"][f"_FEATURE_ID_{s['attribute']}"]]
        view = doc["bufferViews"][acc["bufferView"]]
        assert acc["type"] == "SCALAR" and not acc.get("normalized", False)
        assert view["byteOffset"] % 4 == 0 and view.get("byteStride", 4) % 4 == 0  # 4-byte aligned elements
        values = accessor_array(doc, binary, prim["attributes"][f"_FEATURE_ID_{s['attribute']}"])
        assert values.min() >= 0 and values.max() < s["featureCount"] == tables[s["propertyTable"]]["count"]
        ids.append(values.astype(np.int64))
    for table in tables:
        assert table["class"] in meta["schema"]["classes"]
        for prop in table["properties"].values():
            for key in ("values", "stringOffsets"):
                if key in prop:
                    assert doc["bufferViews"][prop[key]]["byteOffset"] % 8 == 0
    classes = tables[sets[0]["propertyTable"]]["properties"]
    names_view, offsets_view = (doc["bufferViews"][classes["name"][k]] for k in ("values", "stringOffsets"))
    offsets = np.frombuffer(binary, np.uint32, N_CLASSES + 1, offsets_view["byteOffset"])
    names = binary[names_view["byteOffset"]:names_view["byteOffset"] + names_view["byteLength"]]
    assert [names[a:b].decode() for a, b in zip(offsets[:-1], offsets[1:], strict=True)] == [c.name for c in CLASSES]
    objects_view = doc["bufferViews"][tables[sets[1]["propertyTable"]]["properties"]["instance"]["values"]]
    objects = np.frombuffer(binary, "<i8", tables[sets[1]["propertyTable"]]["count"], objects_view["byteOffset"])
    return ids[0], objects[ids[1]]


@pytest.mark.parametrize("compression", [None, "spz"])
def test_glb_feature_ids_are_the_splats_classes_and_instances(tmp_path, compression):
    g = _labelled()
    path = write_splats_glb(g, tmp_path / "s.glb", compression=compression)
    classes, instances = _semantics(path.read_bytes())
    assert np.array_equal(classes, g.labels.numpy()) and np.array_equal(instances, g.instances.numpy())


def test_glb_without_labels_has_no_feature_ids(tmp_path):
    g = _labelled()
    plain = Gaussians(g.origin, g.means, g.quats, g.scales, g.opacities, g.sh)
    doc, _ = read_glb(write_splats_glb(plain, tmp_path / "s.glb").read_bytes())
    assert FEATURES not in json.dumps(doc) and METADATA not in json.dumps(doc)


@pytest.mark.parametrize("compression", [None, "spz"])
def test_every_tile_carries_the_classes_of_its_splats(tmp_path, compression):
    g = _labelled(4000)
    build_store([g], tmp_path / "store", leaf_cap=500)
    store = open_store(tmp_path / "store")
    write_tileset(store, tmp_path / "ts", compression=compression, layout="explicit")
    glbs = sorted((tmp_path / "ts" / "tiles").rglob("*.glb"))
    assert len(glbs) > 3
    for path in glbs:
        data = path.read_bytes()
        key = tuple(read_glb(data)[0]["asset"]["extras"]["octree_key"])
        node = store.read(key)
        classes, instances = _semantics(data)
        assert np.array_equal(classes, node.labels.numpy()) and np.array_equal(instances, node.instances.numpy())


@pytest.mark.parametrize("compression", [None, "spz"])
def test_khronos_validator_accepts_labelled_splat_glb(tmp_path, node_tools, compression):  # noqa: F811
    path = write_splats_glb(_labelled(), tmp_path / "s.glb", compression=compression)
    assert _validator_problems(_node(node_tools, _VALIDATE_JS, path)) == []

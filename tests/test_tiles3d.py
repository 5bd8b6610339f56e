"""3D Tiles 1.1 export of splat stores (explicit and implicit layouts) and of terrain meshes: the tilesets
follow the spec, hold the store's content, show content on a viewer's first requests, and their splat
GLBs carry every attribute KHR_gaussian_splatting requires."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_export import _VALIDATE_JS, _node, _validator_problems, duluth_crop, install_node_tools

import earth3d
from earth3d.export.glb import accessor_array, read_glb
from earth3d.export.gltf import ENU_TO_GLTF
from earth3d.export.spz import decode_spz
from earth3d.raster import GeoRaster


@pytest.fixture(scope="module")
def crop() -> GeoRaster:
    return duluth_crop()


@pytest.fixture(scope="session")
def node_tools() -> Path:
    return install_node_tools()


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
        assert set(listing["extensionsRequired"]) == {"KHR_gaussian_splatting",
                                                      "KHR_gaussian_splatting_compression_spz_2"}
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
    """A tile's box derived from the implicit root box, as CesiumJS derives it (center and half axes)."""
    box = np.asarray(root_box, dtype=np.float64)
    level, xyz = key[0], np.asarray(key[1:], dtype=np.float64)
    half = box[3:].reshape(3, 3)  # rows: the box's x, y, z half axes
    scale = 2.0 ** -level
    return np.concatenate([box[:3] + (-1 + (2 * xyz + 1) * scale) @ half, (half * scale).reshape(-1)])


def _inside(points: np.ndarray, box: np.ndarray, tol: float) -> bool:
    """Whether points lie in an oriented box (center, then three half-axis vectors)."""
    axes = box[3:].reshape(3, 3)
    local = (points - box[:3]) @ axes.T / (axes * axes).sum(axis=1)  # coordinates in units of each half axis
    return bool((np.abs(local) <= 1 + tol).all())


def _implicit_root(ts: dict) -> dict:
    """The implicit root tile: the only child of the tileset's content-less root, whose box is tight around
    all the content (the implicit root's box is an octree cell, larger)."""
    root = ts["root"]
    assert "content" not in root and "implicitTiling" not in root and len(root["children"]) == 1
    tile = root["children"][0]
    assert "transform" not in tile and tile["geometricError"] <= root["geometricError"]
    return tile


def _store_key(implicit_root: dict, m: np.ndarray, key: tuple) -> tuple:
    """The store node of implicit tile `key`: the implicit root box is the cell of a store node (L0, X0, Y0, Z0)."""
    from earth3d.store import CUBE_SIDE_M
    from earth3d.store.keys import CUBE_MIN_M

    box = np.asarray(implicit_root["boundingVolume"]["box"], dtype=np.float64)
    side = 2 * np.linalg.norm(box[3:6])
    level0 = int(round(np.log2(CUBE_SIDE_M / side)))
    corner = m[:3, :3] @ box[:3] + m[:3, 3] - side / 2
    xyz0 = np.round((corner - CUBE_MIN_M) / side).astype(np.int64)
    return (level0 + key[0], *(int((v << key[0]) + k) for v, k in zip(xyz0, key[1:], strict=False)))


def _expand_implicit(out: Path) -> tuple[dict, dict]:
    """Read an implicit tileset subtree by subtree, checking the availability rules of 3D Tiles 1.1 implicit
    tiling on the way; returns tileset.json and {tile key: {"content": bool, "error", "box"}} (the metadata)."""
    from earth3d.export.subtree import decode_subtree, level_offset

    ts = _check_tileset_header(out)
    root = _implicit_root(ts)
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
        for j, (key, bit) in enumerate(zip(keys, np.flatnonzero(avail), strict=False)):
            tiles[tuple(map(int, key))] = {"content": bool(content[bit]), "error": float(errors[j]), "box": boxes[j]}
    assert seen == {str(p.relative_to(out)) for p in (out / "tiles" / "subtrees").rglob("*.subtree")}
    assert max(k[0] for k in tiles) + 1 == tiling["availableLevels"]
    return ts, tiles


def _check_implicit(out: Path, store) -> tuple[dict, dict]:
    """Spec checks of an implicit tileset against its store: available tiles are the store's nodes below the
    implicit root's node (above it, a chain of single children with nothing shown), content files are
    exactly the available contents, boxes (implied and metadata) hold their content, errors."""
    from earth3d.export.tile_tree import MIN_CONTENT_SPLATS
    from earth3d.store import cell_center, cell_size

    ts, tiles = _expand_implicit(out)
    root = _implicit_root(ts)
    m = np.asarray(ts["root"]["transform"]).reshape(4, 4).T
    template = root["content"]["uri"]
    fill = lambda k: template.format(level=k[0], x=k[1], y=k[2], z=k[3])  # noqa: E731
    top = _store_key(root, m, (0, 0, 0, 0))
    nodes, stack = {}, [top]
    while stack:
        k = stack.pop()
        nodes[tuple(k)] = store.entry(k)
        stack.extend(store.children(k))
    key = tuple(store.root_keys()[0])
    while key != top:  # the chain above the implicit root: single children, each too small to show or a copy
        kids = store.children(key)
        assert len(kids) == 1, "the implicit root is below a node with several children"
        entry, below = store.entry(key), store.entry(kids[0])
        assert entry["count"] < MIN_CONTENT_SPLATS or entry["error"] == below["error"], "a node above the root shows"
        key = tuple(kids[0])
    absolute = {k: _store_key(root, m, k) for k in tiles}
    assert set(absolute.values()) == set(nodes), "available tiles are the store's nodes below the root"
    files = {str(p.relative_to(out)) for p in (out / "tiles" / "content").rglob("*.glb")}
    assert files == {fill(k) for k, t in tiles.items() if t["content"]}, "content files == available contents"
    g = root["geometricError"]
    tight = _box_bounds(ts["root"])
    for key, t in tiles.items():
        node = nodes[absolute[key]]
        kids = [c for c in tiles if c[0] == key[0] + 1 and tuple(v >> 1 for v in c[1:]) == key[1:]]
        assert t["content"] == (node["count"] >= MIN_CONTENT_SPLATS or (not kids and node["count"] > 0))
        assert g / 2 ** key[0] >= t["error"], "implied error below the tile's"
        assert t["error"] >= float(node["error"]) or not t["content"], "shown content coarser than its error"
        assert t["error"] == 0.0 or kids, "leaves have error 0"
        implied = _implied_box(root["boundingVolume"]["box"], key)
        # the implied box is the store's cell of that key: the octree and the implicit subdivision agree
        ecef_axes = m[:3, :3] @ implied[3:].reshape(3, 3).T
        assert np.allclose(m[:3, :3] @ implied[:3] + m[:3, 3], cell_center(absolute[key]), atol=1e-6)
        assert np.allclose(ecef_axes, np.eye(3) * cell_size(absolute[key][0]) / 2, atol=1e-6)
        for c in kids:
            assert tiles[c]["error"] <= t["error"]
            assert _inside(_box_corners(tiles[c]["box"]), t["box"], 1e-9), "child metadata box leaks out"
        if t["content"]:
            pos = _content_enu(out, fill(key))
            assert _inside(pos, implied, 1e-6), f"{fill(key)} leaks out of its implied box"
            assert _inside(pos, t["box"], 1e-6), f"{fill(key)} leaks out of its metadata box"
            assert (pos >= tight[0] - 1e-3).all() and (pos <= tight[1] + 1e-3).all(), "content outside the root box"
            doc, _ = read_glb((out / fill(key)).read_bytes())
            assert tuple(doc["asset"]["extras"]["octree_key"]) == absolute[key]
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
    template = _implicit_root(ts)["content"]["uri"]
    assert template == "tiles/content/{level}/{x}/{y}/{z}.glb"
    leaves = [k for k in tiles if not any(c[0] == k[0] + 1 and tuple(v >> 1 for v in c[1:]) == k[1:] for c in tiles)]
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
    root = _implicit_root(ts)
    template = root["content"]["uri"]
    m = np.asarray(ts["root"]["transform"]).reshape(4, 4).T
    tiles = {_store_key(root, m, k): {**t, "key": k} for k, t in tiles.items()}
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
        k = tiles[key]["key"]
        implicit_uri = template.format(level=k[0], x=k[1], y=k[2], z=k[3])
        assert (tmp_path / "explicit" / tile["content"]["uri"]).read_bytes() == \
            (tmp_path / "implicit" / implicit_uri).read_bytes()
        # equal, but where a chain of content-less single children hangs below: the explicit tree shows its
        # deepest member in its place, the implicit one keeps its tiles, each with its box's diagonal as error
        assert tile["geometricError"] <= tiles[key]["error"]
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
    # full-resolution leaves: every vertex is a cell center at its cell's height
    m = np.asarray(root["transform"]).reshape(4, 4).T
    to_crs = transformer(ECEF_CRS, crop.crs.to_3d())
    inverse = ~crop.transform
    checked = 0
    for uri in sorted(u for u in uris if u.startswith("tiles/2/")):
        ecef = _content_enu(out, uri) @ m[:3, :3].T + m[:3, 3]
        x, y, h = to_crs.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
        col, row = inverse * (np.asarray(x), np.asarray(y))
        assert np.abs(col - np.round(col - 0.5) - 0.5).max() < 1e-3
        assert np.abs(row - np.round(row - 0.5) - 0.5).max() < 1e-3
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

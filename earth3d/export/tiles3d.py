"""OGC 3D Tiles 1.1 from an LOD store: the octree as an explicit tile tree of Gaussian-splat GLBs.

Layout written under the output folder:

    tileset.json                     asset.version "1.1", refine "REPLACE"
    tiles/<level>/<x>_<y>_<z>.glb    one GLB per octree node with splats (KHR_gaussian_splatting,
                                     SPZ-compressed by default)

Frame: the root tile's `transform` takes a local ENU frame (at the centre of the store's extent)
to ECEF; every bounding volume is a `box` in that frame, and every GLB holds its splats in the
same frame with glTF's y-up axes (3D Tiles turns glTF y-up into z-up), positions relative to the
tile's box centre, which the GLB's node carries as a translation.

Tiles: a node's tile holds its merged splats; its geometricError is the node's error, raised where
needed so that no child's exceeds its parent's (leaves: 0); its box contains the 3-sigma extent of
its own splats and its children's boxes. Chains of single children with the same error (the coarse
levels above a small region) are collapsed into their deepest member.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..gaussians import Gaussians
from ..geometry import ecef_to_geodetic
from .files import write_bytes_atomic, write_json_atomic
from .frames import LocalFrame, check_lonlath, rotate_quats
from .gltf import SPLATS, SPZ_2, splats_glb

MIN_HALF_SIZE_M = 1e-3
CONTENT_GLTF = "3DTILES_content_gltf"


class TileSource(Protocol):
    """What the exporter needs from a store (earth3d.store.Store provides it)."""

    def root_keys(self) -> list: ...
    def children(self, key) -> list: ...
    def entry(self, key): ...
    def read(self, key) -> Gaussians: ...


@dataclass
class _Tile:
    key: tuple
    error: float
    uri: str | None = None
    lo: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    hi: np.ndarray = field(default_factory=lambda: np.full(3, -np.inf))
    children: list["_Tile"] = field(default_factory=list)


def write_tileset(store, out_dir: str | os.PathLike, compression: str | None = "spz", origin_lonlath=None,
                  overwrite: bool = False) -> Path:
    """Write a 3D Tiles 1.1 tileset for `store` (a store path or an opened store) into `out_dir`.

    `compression`: "spz" (KHR_gaussian_splatting_compression_spz_2) or None (plain float attributes).
    `origin_lonlath`: the ENU frame of the tileset (default: under the mean of the root nodes' splats).
    Returns the path of tileset.json, written last, so a partial run leaves no tileset.json behind.
    """
    if isinstance(store, (str, os.PathLike)):
        from ..store import open_store

        store = open_store(store)
    out = Path(out_dir)
    target = out / "tileset.json"
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists (pass overwrite=True to replace it)")
    roots = [tuple(k) for k in store.root_keys()]
    if not roots:
        raise ValueError(f"{getattr(store, 'path', store)}: the store has no root nodes")
    if compression not in (None, "spz"):
        raise ValueError(f"compression must be None or 'spz', got {compression!r}")
    frame = LocalFrame.at(*check_lonlath(origin_lonlath if origin_lonlath is not None else _data_center(store, roots)))
    out.mkdir(parents=True, exist_ok=True)
    stage = out / f".tiles.{os.getpid()}.tmp"  # contents go here, replacing tiles/ only once all are written
    try:
        tiles = [t for t in (_export(store, key, frame, stage, compression) for key in roots) if t]
        if not tiles:
            raise ValueError(f"{getattr(store, 'path', store)}: the store holds no splats")
        _write_tileset_json(target, tiles, frame, compression, stage)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    return target


def _write_tileset_json(target: Path, tiles: list[_Tile], frame: LocalFrame, compression: str | None, stage: Path) -> None:
    root = tiles[0] if len(tiles) == 1 else _Tile(key=("root",), error=max(t.error for t in tiles) * 2, children=tiles)
    if len(tiles) > 1:
        for t in tiles:
            root.lo, root.hi = np.minimum(root.lo, t.lo), np.maximum(root.hi, t.hi)
    root_json = _tile_json(root)
    root_json["refine"] = "REPLACE"
    root_json["transform"] = _enu_to_ecef_matrix(frame)
    diagonal = float(np.linalg.norm(root.hi - root.lo))
    extensions = [SPLATS] + ([SPZ_2] if compression == "spz" else [])
    tileset = {
        "asset": {"version": "1.1", "generator": "earth3d",
                  "extras": {"georeference": frame.georeference(), "content_axes": "glTF y-up (x east, y up, z south)"}},
        "geometricError": max(diagonal, root.error),
        "root": root_json,
        "extensionsUsed": [CONTENT_GLTF],
        "extensions": {CONTENT_GLTF: {"extensionsUsed": extensions,
                                      "extensionsRequired": extensions if compression == "spz" else []}},
    }
    final, old = target.parent / "tiles", target.parent / f".tiles.{os.getpid()}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(stage, final)
    write_json_atomic(target, tileset)
    if old.exists():
        shutil.rmtree(old)


def _export(store: TileSource, key: tuple, frame: LocalFrame, out: Path, compression: str | None) -> _Tile | None:
    """Write one node's content and its subtree's; return its tile (box and error set bottom-up),
    or None when the subtree holds no splats."""
    children = store.children(key)
    error = float(store.entry(key)["error"])
    while len(children) == 1 and float(store.entry(children[0])["error"]) == error:
        key = tuple(children[0])
        children = store.children(key)
    tile = _Tile(key=key, error=error)
    tile.children = [t for t in (_export(store, tuple(c), frame, out, compression) for c in children) if t]
    gaussians = store.read(key)
    if len(gaussians):
        lo, hi = splat_bounds(gaussians, frame)
        tile.lo, tile.hi = lo, hi
        level, x, y, z = key
        tile.uri = f"tiles/{level}/{x}_{y}_{z}.glb"
        path = out / tile.uri.removeprefix("tiles/")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, splats_glb(gaussians, frame, compression, extras={"octree_key": list(key)},
                                            center_enu=(lo + hi) / 2))
    for c in tile.children:
        tile.lo, tile.hi = np.minimum(tile.lo, c.lo), np.maximum(tile.hi, c.hi)
        tile.error = max(tile.error, c.error)
    return tile if tile.uri or tile.children else None


def splat_bounds(gaussians: Gaussians, frame: LocalFrame) -> tuple[np.ndarray, np.ndarray]:
    """ENU axis-aligned bounds of the splats' 3-sigma ellipsoids (float64 (3,), (3,)).

    Along ENU axis i a splat reaches 3 * sqrt(sum_j (R_ij s_j)^2), R its rotation in ENU axes.
    """
    g = gaussians.to("cpu")
    means = (g.means.double().numpy() + (g.origin - frame.origin_ecef)) @ frame.basis
    w, x, y, z = rotate_quats(g.quats.double().numpy(), frame.basis.T).T
    rot = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(-1, 3, 3)
    reach = 3.0 * np.sqrt(((rot * g.scales.double().numpy()[:, None, :]) ** 2).sum(axis=-1))
    return (means - reach).min(axis=0), (means + reach).max(axis=0)


def _tile_json(tile: _Tile) -> dict:
    center = (tile.lo + tile.hi) / 2
    half = np.maximum((tile.hi - tile.lo) / 2, MIN_HALF_SIZE_M)
    out: dict = {
        "boundingVolume": {"box": [*map(float, center), float(half[0]), 0.0, 0.0, 0.0, float(half[1]), 0.0,
                                   0.0, 0.0, float(half[2])]},
        "geometricError": float(tile.error),
    }
    if tile.uri:
        out["content"] = {"uri": tile.uri}
    if tile.children:
        out["children"] = [_tile_json(c) for c in tile.children]
    return out


def _enu_to_ecef_matrix(frame: LocalFrame) -> list[float]:
    """The 4x4 ENU -> ECEF transform, column-major as 3D Tiles stores it."""
    m = np.eye(4)
    m[:3, :3] = frame.basis
    m[:3, 3] = frame.origin_ecef
    return [float(v) for v in m.T.reshape(-1)]


def _data_center(store: TileSource, roots: list) -> tuple[float, float, float]:
    """Geodetic point at the mean of the root nodes' splats (the coarsest summary of all the data)."""
    means = np.concatenate([store.read(k).means_ecef() for k in roots])
    if not len(means):
        raise ValueError(f"{getattr(store, 'path', store)}: the store's root nodes hold no splats")
    return tuple(float(v) for v in ecef_to_geodetic(means.mean(axis=0)))

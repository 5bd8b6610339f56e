"""OGC 3D Tiles 1.1 from an LOD store: the octree as an explicit tile tree of Gaussian-splat GLBs.

Layout written under the output folder:

    tileset.json                     asset.version "1.1", refine "REPLACE"
    tiles/<level>/<x>_<y>_<z>.glb    one GLB per octree node with splats (KHR_gaussian_splatting,
                                     SPZ-compressed by default)

Frame: one local ENU frame (under the mean of the root nodes' splats), as described in
`earth3d.export.tileset`.

Tiles: a node's tile holds its merged splats; its geometricError is the node's error, raised where
needed so that no child's exceeds its parent's (leaves: 0); its box contains the 3-sigma extent of
its own splats and its children's boxes. Chains of single children with the same error (the coarse
levels above a small region) are collapsed into their deepest member.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from ..gaussians import Gaussians
from ..geometry import ecef_to_geodetic
from .files import write_bytes_atomic
from .frames import LocalFrame, check_lonlath, rotate_quats
from .gltf import SPLATS, SPZ_2, splats_glb
from .tileset import Tile, finish, staged_output


class TileSource(Protocol):
    """What the exporter needs from a store (earth3d.store.Store provides it)."""

    def root_keys(self) -> list: ...
    def children(self, key) -> list: ...
    def entry(self, key): ...
    def read(self, key) -> Gaussians: ...


def write_tileset(store, out_dir: str | os.PathLike, compression: str | None = "spz", origin_lonlath=None,
                  overwrite: bool = False) -> Path:
    """Write a 3D Tiles 1.1 tileset for `store` (a store path or an opened store) into `out_dir`.

    `compression`: "spz" (KHR_gaussian_splatting_compression_spz_2) or None (plain float attributes;
    CesiumJS draws only SPZ splat tiles, others as points). `origin_lonlath`: the ENU frame of the
    tileset (default: under the mean of the root nodes' splats). tileset.json is written last, and
    tiles/ is replaced only then, so a failed run leaves any previous tileset as it was.
    """
    if isinstance(store, (str, os.PathLike)):
        from ..store import open_store

        store = open_store(store)
    if compression not in (None, "spz"):
        raise ValueError(f"compression must be None or 'spz', got {compression!r}")
    with staged_output(out_dir, overwrite) as (target, stage):
        roots = [tuple(k) for k in store.root_keys()]
        if not roots:
            raise ValueError(f"{getattr(store, 'path', store)}: the store has no root nodes")
        origin = origin_lonlath if origin_lonlath is not None else _data_center(store, roots)
        frame = LocalFrame.at(*check_lonlath(origin))
        tiles = [t for t in (_export(store, key, frame, stage, compression) for key in roots) if t]
        extensions = [SPLATS] + ([SPZ_2] if compression == "spz" else [])
        finish(target, stage, tiles, frame, extensions, required=compression == "spz")
    return target


def _export(store: TileSource, key: tuple, frame: LocalFrame, stage: Path, compression: str | None) -> Tile | None:
    """Write one node's content and its subtree's; return its tile, or None when the subtree holds no splats."""
    children = store.children(key)
    error = float(store.entry(key)["error"])
    while len(children) == 1 and float(store.entry(children[0])["error"]) == error:
        key = tuple(children[0])
        children = store.children(key)
    tile = Tile(error=error)
    tile.children = [t for t in (_export(store, tuple(c), frame, stage, compression) for c in children) if t]
    gaussians = store.read(key)
    if len(gaussians):
        tile.lo, tile.hi = splat_bounds(gaussians, frame)
        level, x, y, z = key
        tile.uri = f"tiles/{level}/{x}_{y}_{z}.glb"
        path = stage / tile.uri.removeprefix("tiles/")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, splats_glb(gaussians, frame, compression, extras={"octree_key": list(key)},
                                            center_enu=(tile.lo + tile.hi) / 2))
    return tile.close()


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


def _data_center(store: TileSource, roots: list) -> tuple[float, float, float]:
    """Geodetic point at the mean of the root nodes' splats (the coarsest summary of all the data)."""
    means = np.concatenate([store.read(k).means_ecef() for k in roots])
    if not len(means):
        raise ValueError(f"{getattr(store, 'path', store)}: the store's root nodes hold no splats")
    return tuple(float(v) for v in ecef_to_geodetic(means.mean(axis=0)))

"""OGC 3D Tiles 1.1 from an LOD store: the octree as a tile tree of Gaussian-splat GLBs.

Two layouts, both with tileset.json (asset.version "1.1", refine "REPLACE") in the output folder:

- explicit: every tile listed in tileset.json, content at tiles/<level>/<x>_<y>_<z>.glb;
- implicit (`earth3d.export.implicit`): one implicit root tile (OCTREE) whose subtree files say which
  tiles exist, content at tiles/content/<level>/<x>/<y>/<z>.glb: for large trees, whose explicit
  tileset.json a viewer would have to load whole before drawing anything.

`layout="auto"` picks implicit from IMPLICIT_MIN_NODES store nodes on. Each GLB holds one octree node's
splats (KHR_gaussian_splatting, SPZ-compressed by default) and is the same in both layouts.

Frame: one local ENU frame (under the mean of the root nodes' splats), as described in
`earth3d.export.tileset`.

Explicit tiles: a node's tile holds its merged splats; its geometricError is the node's error, raised where
needed so that no child's exceeds its parent's (leaves: 0); its box contains the 3-sigma extent of
its own splats and its children's boxes. Both layouts start at the first store node with more than one
child or with content of its own, and show inner nodes of fewer than MIN_CONTENT_SPLATS splats as
content-less tiles (`earth3d.export.tile_tree`): the store's single-child chain above a region holds a
splat or two per level, which a viewer would otherwise fetch one level at a time before drawing anything.
Explicit trees also collapse chains of content-less single children into their deepest member.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from ..gaussians import Gaussians
from ..geometry import ecef_to_geodetic
from .enu import LocalFrame, check_lonlath
from .gltf import SPLATS, SPZ_2
from .implicit import SCHEMA, write_implicit
from .tile_content import default_workers, parallel_map, splat_bounds, write_node
from .tile_tree import Node, collapse, has_content, subtree_keys
from .tileset import Tile, empty_tile_error, finish, publish, staged_output

IMPLICIT_MIN_NODES = 4096
LAYOUTS = ("auto", "explicit", "implicit")
__all__ = ["IMPLICIT_MIN_NODES", "TileSource", "splat_bounds", "store_nodes", "write_tileset"]


class TileSource(Protocol):
    """What the exporter needs from a store (earth3d.store.Store provides it)."""

    def root_keys(self) -> list:
        """Keys of the store's root nodes."""
        ...

    def children(self, key) -> list:
        """Keys of a node's existing children."""
        ...

    def entry(self, key):
        """A node's index entry (error, count, ...)."""
        ...

    def read(self, key) -> Gaussians:
        """A node's splats."""
        ...


def write_tileset(store, out_dir: str | os.PathLike, compression: str | None = "spz", origin_lonlath=None,
                  overwrite: bool = False, layout: str = "auto", workers: int | None = None) -> Path:
    """Write a 3D Tiles 1.1 tileset for `store` (a store path or an opened store) into `out_dir`.

    tileset.json is written last, and tiles/ is replaced only then, so a failed run leaves
    any previous tileset as it was.

    Args:
        store: The store, or its path or URL.
        out_dir: The tileset folder.
        compression: "spz" (KHR_gaussian_splatting_compression_spz_2) or None (plain float
            attributes; CesiumJS draws only SPZ splat tiles, others as points).
        origin_lonlath: The geodetic origin (lon, lat in degrees, ellipsoidal height in m) of the ENU frame
            of the tileset (default: under the mean of the root nodes' splats).
        overwrite: Replace an existing tileset in `out_dir`.
        layout: "explicit", "implicit" or "auto" (implicit from IMPLICIT_MIN_NODES nodes on).
        workers: Threads writing tiles (default: the usable CPUs).

    Returns:
        The path of tileset.json.

    Raises:
        ValueError: An unknown `compression` or `layout`, or a store without splats in its roots.
        OutputExistsError: `out_dir` holds a tileset and `overwrite` is False.

    Example:
        >>> write_tileset("world.e3d", "world_tiles")  # doctest: +SKIP
        PosixPath('world_tiles/tileset.json')
    """
    if isinstance(store, (str, os.PathLike)):
        from ..store import open_store

        store = open_store(store)
    if compression not in (None, "spz"):
        raise ValueError(f"compression must be None or 'spz', got {compression!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    workers = default_workers() if workers is None else max(1, int(workers))
    with staged_output(out_dir, overwrite) as (target, stage):
        roots = [tuple(k) for k in store.root_keys()]
        if not roots:
            raise ValueError(f"{getattr(store, 'path', store)}: the store has no root nodes")
        nodes = store_nodes(store, roots)
        origin = origin_lonlath if origin_lonlath is not None else _data_center(store, roots)
        frame = LocalFrame.at(*check_lonlath(origin))
        extensions = [SPLATS] + ([SPZ_2] if compression == "spz" else [])
        if layout == "implicit" or (layout == "auto" and len(nodes) >= IMPLICIT_MIN_NODES):
            root_json, error, leaf_bounds = write_implicit(store, nodes, roots, frame, stage, compression, workers)
            publish(target, stage, root_json, error, leaf_bounds, frame, extensions, compression == "spz",
                    schema=SCHEMA)
        else:
            finish(target, stage, _explicit(store, nodes, roots, frame, stage, compression, workers), frame,
                   extensions, required=compression == "spz")
    return target


def store_nodes(store: TileSource, roots: list) -> dict[tuple, Node]:
    """Every node below `roots` with its error, splat count and children, read from the index alone."""
    nodes: dict[tuple, Node] = {}
    stack = list(roots)
    while stack:
        key = tuple(int(v) for v in stack.pop())
        entry = store.entry(key)
        children = [tuple(int(v) for v in c) for c in store.children(key)]
        nodes[key] = Node(float(entry["error"]), int(entry["count"]), children)
        stack.extend(children)
    return nodes


def _explicit(store: TileSource, nodes: dict[tuple, Node], roots: list, frame: LocalFrame, stage: Path,
              compression: str | None, workers: int) -> list[Tile]:
    """Write the content of the explicit tree and return its root tiles (content-less chains collapsed)."""
    tops = [collapse(nodes, r) for r in roots]
    shown = [k for top in tops for k in subtree_keys(nodes, top) if has_content(nodes, k)]
    jobs = [(k, stage / f"{k[0]}/{k[1]}_{k[2]}_{k[3]}.glb") for k in shown]
    written = parallel_map(lambda job: write_node(store, job[0], job[1], frame, compression), jobs, workers)
    bounds = {k: b for (k, _), b in zip(jobs, written, strict=True) if b is not None}

    def tile(key: tuple) -> Tile | None:
        t = Tile(error=nodes[key].error if key in bounds else 0.0)  # a content-less tile: its children's
        t.children = [c for c in (tile(collapse(nodes, k)) for k in nodes[key].children) if c]
        if key in bounds:
            t.lo, t.hi = bounds[key]
            t.uri = f"tiles/{key[0]}/{key[1]}_{key[2]}_{key[3]}.glb"
        if t.close() is None:
            return None
        if t.uri is None:
            if len(t.children) == 1:
                return t.children[0]
            t.error = max(t.error, empty_tile_error(t.lo, t.hi))
        return t

    return [t for t in (tile(top) for top in tops) if t]


def _data_center(store: TileSource, roots: list) -> tuple[float, float, float]:
    """Geodetic point at the mean of the root nodes' splats (the coarsest summary of all the data)."""
    means = np.concatenate([store.read(k).means_ecef() for k in roots])
    if not len(means):
        raise ValueError(f"{getattr(store, 'path', store)}: the store's root nodes hold no splats")
    lon, lat, h = (float(v) for v in ecef_to_geodetic(means.mean(axis=0)))
    return lon, lat, h

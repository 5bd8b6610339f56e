"""3D Tiles 1.1 implicit tiling of a store's octree (subdivisionScheme OCTREE), for large trees.

The store's octree is already an implicit octree: its level-0 cell is the cube of side 2^24 m around the
earth's center in ECEF axes, and node (L, x, y, z) is the cell x, y, z of level L. The implicit root tile
is the cell of the store node where the tile tree starts (`tile_tree.top_node`: below the store's chain
of single-child nodes, a node with more than one child or with content of its own), written in the
tileset's ENU frame as a `box` whose axes are the ECEF x, y and z axes (a rotated box in the frame):
halving it along its own axes gives exactly the store's cells below it. Implicit tile (l, x, y, z) is
store node (L0 + l, (X0 << l) + x, (Y0 << l) + y, (Z0 << l) + z) for the root node (L0, X0, Y0, Z0).
Layout under the output folder (implicit coordinates):

    tiles/content/{level}/{x}/{y}/{z}.glb           a node's splats (as in the explicit layout)
    tiles/subtrees/{level}/{x}/{y}/{z}.subtree      availability of 5 levels

A tile is available when its node exists, its content when the node is shown (`tile_tree.has_content`),
and a child subtree when its root node exists. A node's splat means lie in its cell, the tile's implied
box; their 3-sigma extents can reach past it, and the tile's metadata box (below) holds them.

Geometric error: implicit tiling gives level l the root's error / 2^l. The root's error is the
smallest for which every level's implied error is >= the error of each of its nodes, so a viewer that
follows the implied errors never draws a node coarser than it asked for (it refines earlier than it
needs to where nodes are finer than the worst of their level). Each tile also carries its own error and
tight box as tile metadata (TILE_GEOMETRIC_ERROR, TILE_BOUNDING_BOX; the values of the explicit layout),
which viewers that read metadata (CesiumJS) use instead of the implied ones.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic
from ..store.keys import cell_center, cell_size
from .enu import LocalFrame
from .subtree import encode_subtree, level_offset, morton3, tile_bits
from .tile_content import parallel_map, write_node
from .tile_tree import Node, has_content, subtree_keys, top_node
from .tileset import box_of, empty_tile_error

SUBTREE_LEVELS = 5
CONTENT_URI = "tiles/content/{level}/{x}/{y}/{z}.glb"
SUBTREE_URI = "tiles/subtrees/{level}/{x}/{y}/{z}.subtree"
TILE_CLASS = "tile"
SCHEMA = {"id": "earth3d_tiles", "classes": {TILE_CLASS: {"properties": {
    "geometricError": {"type": "SCALAR", "componentType": "FLOAT64", "semantic": "TILE_GEOMETRIC_ERROR"},
    "boundingBox": {"type": "SCALAR", "componentType": "FLOAT64", "array": True, "count": 12,
                    "semantic": "TILE_BOUNDING_BOX"},
}}}}


def uri(template: str, key: tuple) -> str:
    """A URI template of implicit tiling filled in with tile `key` (level, x, y, z)."""
    level, x, y, z = key
    return template.format(level=level, x=x, y=y, z=z)


def root_box(frame: LocalFrame, key: tuple = (0, 0, 0, 0)) -> list[float]:
    """The cell of store node `key` as a 3D Tiles box in the frame: center and ECEF axes in ENU, times half the side."""
    center = frame.basis.T @ (cell_center(key) - frame.origin_ecef)
    half_axes = frame.basis.T * (cell_size(key[0]) / 2)  # column i: the ECEF axis i in ENU
    return [*map(float, center), *(float(v) for i in range(3) for v in half_axes[:, i])]


def relative(key: tuple, root: tuple) -> tuple:
    """Implicit tile coordinates of store node `key` below the implicit root's node `root`."""
    d = key[0] - root[0]
    return (d, key[1] - (root[1] << d), key[2] - (root[2] << d), key[3] - (root[3] << d))


def write_implicit(store, nodes: dict[tuple, Node], roots: list, frame: LocalFrame, stage: Path,
                   compression: str | None, workers: int) -> tuple[dict, float, tuple]:
    """Write the content and subtree files of an implicit tileset of the nodes below `roots` into `stage`.

    Returns (root tile JSON, tileset geometric error, ENU bounds of the full-detail content).
    """
    if len(roots) != 1:
        raise ValueError(f"{getattr(store, 'path', store)}: implicit tiling needs a store with one root node, "
                         f"got {len(roots)}")
    top = top_node(nodes, tuple(roots[0]))
    stage.mkdir(parents=True, exist_ok=True)
    keys = sorted(subtree_keys(nodes, top))
    rel = {k: relative(k, top) for k in keys}
    tiles = {rel[k]: Node(nodes[k].error, nodes[k].count, [rel[c] for c in nodes[k].children]) for k in keys}
    shown = [k for k in keys if has_content(nodes, k)]
    jobs = [(k, stage / uri(CONTENT_URI, rel[k]).removeprefix("tiles/")) for k in shown]
    written = parallel_map(lambda job: write_node(store, job[0], job[1], frame, compression), jobs, workers)
    bounds = {rel[k]: b for (k, _), b in zip(jobs, written, strict=True) if b is not None}
    centers = {rel[k]: frame.basis.T @ (cell_center(k) - frame.origin_ecef) for k in keys}
    errors, boxes = _close(tiles, bounds, centers)
    implied = max((errors[k] * 2.0 ** k[0] for k in tiles), default=0.0)
    for root, members in _subtrees(tiles).items():
        data = _subtree_bytes(root, members, tiles, bounds, errors, boxes)
        path = stage / uri(SUBTREE_URI, root).removeprefix("tiles/")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)
    leaves = [bounds[k] for k, n in tiles.items() if not n.children and k in bounds]
    if not leaves:
        raise ValueError(f"{getattr(store, 'path', store)}: the store's leaves hold no splats")
    leaf_bounds = (np.min([b[0] for b in leaves], axis=0), np.max([b[1] for b in leaves], axis=0))
    implicit_json = {
        "boundingVolume": {"box": root_box(frame, top)},
        "geometricError": implied,
        "content": {"uri": CONTENT_URI},
        "implicitTiling": {"subdivisionScheme": "OCTREE", "subtreeLevels": SUBTREE_LEVELS,
                           "availableLevels": max(k[0] for k in tiles) + 1, "subtrees": {"uri": SUBTREE_URI}},
    }
    # The implicit root sits below a content-less tile with the tight box of all the content: the tileset's
    # bounding volume is then where the data are, not the octree cell (the whole 2^24 m cube when the data
    # straddle one of its halving planes). CesiumJS renders splats in float32 relative to the center of the
    # tileset's bounding volume: from a cell centered on the earth's center they come out quantized to ~0.5 m,
    # which shows as dark lines across the splats.
    lo, hi = boxes[(0, 0, 0, 0)]
    error = max(implied, empty_tile_error(lo, hi))
    root_json = {"boundingVolume": {"box": box_of(lo, hi)}, "geometricError": error, "children": [implicit_json]}
    return root_json, error, leaf_bounds


def _close(tiles: dict[tuple, Node], bounds: dict, centers: dict) -> tuple[dict, dict]:
    """Per tile, deepest first: the error raised to its children's and the bounds of its own splats and its
    children's (as the explicit layout's tiles); a content-less tile's error is at least its box's diagonal.
    """
    errors: dict[tuple, float] = {}
    boxes: dict[tuple, tuple] = {}
    for key in sorted(tiles, key=lambda k: -k[0]):
        node = tiles[key]
        lo, hi = bounds.get(key, (np.full(3, np.inf), np.full(3, -np.inf)))
        error = node.error if key in bounds else 0.0  # a content-less tile: its children's
        for c in node.children:
            lo, hi = np.minimum(lo, boxes[c][0]), np.maximum(hi, boxes[c][1])
            error = max(error, errors[c])
        if not np.all(lo <= hi):  # no splats below (a build writes no such node): the cell center
            lo = hi = centers[key]
        if key not in bounds:
            error = max(error, empty_tile_error(lo, hi))
        errors[key], boxes[key] = error, (lo, hi)
    return errors, boxes


def _subtrees(nodes: dict[tuple, Node]) -> dict[tuple, list[tuple]]:
    """Nodes grouped by the root of the subtree that holds them (levels 0, 5, 10, ...)."""
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for key in nodes:
        level = key[0]
        shift = level % SUBTREE_LEVELS
        groups[(level - shift, key[1] >> shift, key[2] >> shift, key[3] >> shift)].append(key)
    return groups


def _subtree_bytes(root: tuple, members: list[tuple], nodes: dict, bounds: dict, errors: dict, boxes: dict) -> bytes:
    """The subtree file of `root`: availability of its members, their child subtrees and their metadata."""
    n = tile_bits(SUBTREE_LEVELS)
    tiles, contents = np.zeros(n, bool), np.zeros(n, bool)
    children = np.zeros(1 << (3 * SUBTREE_LEVELS), bool)
    index = {}
    for key in members:
        local = key[0] - root[0]
        x, y, z = (key[i + 1] - (root[i + 1] << local) for i in range(3))
        index[key] = bit = level_offset(local) + int(morton3(x, y, z, local))
        tiles[bit] = True
        contents[bit] = key in bounds
        if local == SUBTREE_LEVELS - 1:
            for c in nodes[key].children:
                cx, cy, cz = (c[i + 1] - (root[i + 1] << SUBTREE_LEVELS) for i in range(3))
                children[int(morton3(cx, cy, cz, SUBTREE_LEVELS))] = True
    order = sorted(members, key=index.__getitem__)
    table = {"geometricError": np.array([errors[k] for k in order], dtype=np.float64),
             "boundingBox": np.array([box_of(*boxes[k]) for k in order], dtype=np.float64)}
    return encode_subtree(tiles, contents, children, (TILE_CLASS, table))

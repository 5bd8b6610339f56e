"""Shared 3D Tiles 1.1 mechanics: the tile tree, tileset.json, and staged, all-or-nothing output.

Every tileset written here has one local ENU frame: the root tile's `transform` takes it to ECEF,
bounding volumes are `box`es in it (axis-aligned, but for the cube of an implicit root, whose axes are
ECEF's), and content GLBs hold glTF y-up coordinates of the same frame (3D Tiles turns glTF y-up into
z-up), relative to their content's center.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import check_output, write_json_atomic
from .enu import LocalFrame

MIN_HALF_SIZE_M = 1e-3
CONTENT_GLTF = "3DTILES_content_gltf"


@dataclass
class Tile:
    """A tile: geometric error (m), content URI, ENU bounds and children."""

    error: float
    uri: str | None = None
    lo: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    hi: np.ndarray = field(default_factory=lambda: np.full(3, -np.inf))
    children: list["Tile"] = field(default_factory=list)

    def close(self) -> "Tile | None":
        """Grow bounds over the children and raise the error to theirs; None when the tile is empty."""
        for c in self.children:
            self.lo, self.hi = np.minimum(self.lo, c.lo), np.maximum(self.hi, c.hi)
            self.error = max(self.error, c.error)
        return self if self.uri or self.children else None

    def to_json(self) -> dict:
        """The tile (and its subtree) as tileset.json's tile object."""
        out: dict = {"boundingVolume": {"box": box_of(self.lo, self.hi)}, "geometricError": float(self.error)}
        if self.uri:
            out["content"] = {"uri": self.uri}
        if self.children:
            out["children"] = [c.to_json() for c in self.children]
        return out


def empty_tile_error(lo: np.ndarray, hi: np.ndarray) -> float:
    """Geometric error of a content-less tile spanning lo..hi: drawing nothing there loses detail the size of
    its box's diagonal.
    """
    return float(np.linalg.norm(np.asarray(hi) - np.asarray(lo)))


def box_of(lo: np.ndarray, hi: np.ndarray) -> list[float]:
    """The 12 numbers of a 3D Tiles `box` spanning the axis-aligned bounds lo..hi (never thinner than 2 mm)."""
    center = (np.asarray(lo) + np.asarray(hi)) / 2
    half = np.maximum((np.asarray(hi) - np.asarray(lo)) / 2, MIN_HALF_SIZE_M)
    return [*map(float, center), float(half[0]), 0.0, 0.0, 0.0, float(half[1]), 0.0, 0.0, 0.0, float(half[2])]


@contextmanager
def staged_output(out_dir: str | os.PathLike, overwrite: bool):
    """Yield (tileset.json path, staging folder for tiles/). Content goes to the staging folder and
    replaces tiles/ only when `finish` runs; a failure leaves the previous tileset untouched.
    """
    out = Path(out_dir)
    target = out / "tileset.json"
    check_output(target, overwrite, flag="overwrite=True")
    out.mkdir(parents=True, exist_ok=True)
    stage = out / f".tiles.{os.getpid()}.tmp"
    try:
        yield target, stage
    finally:
        if stage.exists():
            shutil.rmtree(stage)


def finish(target: Path, stage: Path, tiles: list[Tile], frame: LocalFrame, content_extensions: list[str],
           required: bool, extras: dict | None = None) -> None:
    """Write tileset.json for `tiles` (several roots get a common parent) and move the staged content in."""
    if not tiles:
        raise ValueError(f"{target.parent}: nothing to write, the input holds no data")
    root = tiles[0]
    if len(tiles) > 1:
        root = Tile(error=max(t.error for t in tiles) * 2, children=tiles)
        root.close()
    publish(target, stage, root.to_json(), max(float(np.linalg.norm(root.hi - root.lo)), root.error),
            _leaf_bounds(root), frame, content_extensions, required, extras)


def publish(target: Path, stage: Path, root_json: dict, geometric_error: float, leaf_bounds: tuple, frame: LocalFrame,
            content_extensions: list[str], required: bool, extras: dict | None = None,
            schema: dict | None = None) -> None:
    """Write tileset.json around `root_json` (given refine REPLACE and the frame's transform) and move the
    staged content in. `leaf_bounds`: ENU (lo, hi) of the full-detail content, for framing a view.
    """
    root_json = {**root_json, "refine": "REPLACE"}
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = frame.basis, frame.origin_ecef
    root_json["transform"] = [float(v) for v in m.T.reshape(-1)]  # column-major
    lo, hi = leaf_bounds
    center = frame.origin_ecef + frame.basis @ ((lo + hi) / 2)
    tileset = {
        "asset": {"version": "1.1", "generator": "earth3d",
                  "extras": {"georeference": frame.georeference(),
                             "content_axes": "glTF y-up (x east, y up, z south)", **(extras or {})}},
        "geometricError": float(geometric_error),
        "root": root_json,
        # Where the full-detail data is (coarse splats can reach far beyond it): for framing a view.
        "extras": {"view": {"center_ecef": [float(v) for v in center], "radius": float(np.linalg.norm(hi - lo) / 2)}},
    }
    if schema is not None:
        tileset["schema"] = schema
    if content_extensions:
        listing = {"extensionsUsed": content_extensions}
        if required:
            listing["extensionsRequired"] = content_extensions
        tileset["extensionsUsed"] = [CONTENT_GLTF]
        tileset["extensions"] = {CONTENT_GLTF: listing}
    final, old = target.parent / "tiles", target.parent / f".tiles.{os.getpid()}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(stage, final)
    write_json_atomic(target, tileset)
    if old.exists():
        shutil.rmtree(old)


def _leaf_bounds(tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """ENU bounds of the leaf tiles' boxes."""
    if not tile.children:
        return tile.lo, tile.hi
    parts = [_leaf_bounds(c) for c in tile.children]
    return np.min([p[0] for p in parts], axis=0), np.max([p[1] for p in parts], axis=0)

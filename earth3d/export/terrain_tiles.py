"""3D Tiles 1.1 of textured terrain meshes from a GeoRaster: a quadtree of grid meshes with LOD.

Level L of the quadtree samples every 2^(levels - L)-th cell, so each tile is a grid of at most
`tile_cells` x `tile_cells` quads (two triangles each) and the deepest level has full resolution.
Neighbouring tiles of one level share their edge vertices, so they meet without cracks. A tile's
geometricError is the largest height difference, over the valid cells it covers, between the data
and its bilinearly interpolated grid (leaves: 0), raised where needed to stay >= its children's.
Each tile's texture is its window of the orthophoto, subsampled to at most `texture_px` pixels a side.
Triangles touching nodata cells are left out. Layout and frame: as in `earth3d.export.tileset`,
with tiles/<level>/<x>_<y>.glb (x: column, y: row of the tile).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic
from ..raster import GeoRaster
from .enu import LocalFrame, check_lonlath
from .gltf import UNLIT, cell_positions, filled_heights, mesh_glb, raster_center
from .tileset import Tile, finish, staged_output


def write_terrain_tileset(raster: GeoRaster, out_dir: str | os.PathLike, tile_cells: int = 128,
                          texture_px: int = 512, origin_lonlath=None, overwrite: bool = False) -> Path:
    """Write a 3D Tiles 1.1 tileset of textured terrain meshes for `raster` into `out_dir`.

    Args:
        raster: Heights and colours.
        out_dir: The tileset folder.
        tile_cells: Most quads along a tile's side.
        texture_px: Most texture pixels along a tile's side.
        origin_lonlath: The geodetic origin (lon, lat in degrees, ellipsoidal height in m) of the ENU frame
            of the tileset (default: the raster's center at its median height).
        overwrite: Replace an existing tileset.

    Returns:
        The path of tileset.json.

    Raises:
        ValueError: Non-positive sizes, or a raster too small or without valid heights.
        OutputExistsError: `out_dir` holds a tileset and `overwrite` is False.

    Example:
        >>> write_terrain_tileset(earth3d.read_raster("dem.tif", "ortho.tif"), "terrain")  # doctest: +SKIP
    """
    if tile_cells < 1 or texture_px < 1:
        raise ValueError(f"tile_cells={tile_cells} and texture_px={texture_px} must be positive")
    h, w = raster.shape
    if h < 2 or w < 2:
        raise ValueError(f"{raster.source or 'raster'}: {h}x{w} cells is too small for a terrain mesh")
    if not raster.valid.any():
        raise ValueError(f"{raster.source or 'raster'}: no valid height cells")
    frame = LocalFrame.at(*check_lonlath(origin_lonlath if origin_lonlath is not None else raster_center(raster)))
    levels = max(0, math.ceil(math.log2(max(h, w) / tile_cells)))
    with staged_output(out_dir, overwrite) as (target, stage):
        heights = filled_heights(raster)
        root = _tile(raster, heights, frame, stage, 0, 0, 0, levels, tile_cells, texture_px)
        finish(target, stage, [root] if root else [], frame, [UNLIT], required=False,
               extras={"source": raster.source, "vertical_datum": raster.vertical_datum})
    return target


def _tile(raster: GeoRaster, heights: np.ndarray, frame: LocalFrame, stage: Path, level: int, tx: int, ty: int,
          levels: int, tile_cells: int, texture_px: int) -> Tile | None:
    h, w = raster.shape
    step = 1 << (levels - level)
    size = tile_cells * step
    r0, c0 = ty * size, tx * size
    if r0 >= h or c0 >= w:
        return None
    # Grid lines every `step` cells, up to and including the next tile's first line (or the raster's edge).
    rows = np.unique(np.minimum(np.arange(r0, r0 + size + 1, step), h - 1))
    cols = np.unique(np.minimum(np.arange(c0, c0 + size + 1, step), w - 1))
    tile = Tile(error=_grid_error(heights, raster.valid, rows, cols))
    if level < levels:
        kids = (_tile(raster, heights, frame, stage, level + 1, 2 * tx + i, 2 * ty + j, levels, tile_cells, texture_px)
                for j in (0, 1) for i in (0, 1))
        tile.children = [k for k in kids if k]
    else:
        tile.error = 0.0
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    n_r, n_c = len(rows), len(cols)
    idx = np.arange(n_r * n_c).reshape(n_r, n_c)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tris = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    tris = tris[raster.valid[rr.ravel()[tris], cc.ravel()[tris]].all(axis=1)]
    if len(tris):
        enu = cell_positions(raster, rr.ravel(), cc.ravel(), frame, heights)
        used = np.unique(tris)
        tile.lo, tile.hi = enu[used].min(axis=0), enu[used].max(axis=0)
        r1, c1 = rows[-1], cols[-1]
        sub = max(1, math.ceil(max(r1 - r0 + 1, c1 - c0 + 1) / texture_px))
        texture = raster.rgb[r0:r1 + 1:sub, c0:c1 + 1:sub]
        uv = np.stack([((cc.ravel() - c0) / sub + 0.5) / texture.shape[1],
                       ((rr.ravel() - r0) / sub + 0.5) / texture.shape[0]], axis=1)
        tile.uri = f"tiles/{level}/{tx}_{ty}.glb"
        path = stage / tile.uri.removeprefix("tiles/")
        path.parent.mkdir(parents=True, exist_ok=True)
        extras = {"quadtree_key": [level, tx, ty], "cell_step": step}
        write_bytes_atomic(path, mesh_glb(enu, uv, tris, texture, frame, extras, center_enu=(tile.lo + tile.hi) / 2))
    return tile.close()


def _grid_error(heights: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """Largest |height - bilinear interpolation of the grid| over the valid cells the grid spans (m)."""
    window = heights[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ok = valid[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if not ok.any():
        return 0.0
    grid = heights[np.ix_(rows, cols)]
    (i0, i1, ti), (j0, j1, tj) = _lerp_weights(rows), _lerp_weights(cols)
    full = ((1 - ti)[:, None] * ((1 - tj) * grid[np.ix_(i0, j0)] + tj * grid[np.ix_(i0, j1)])
            + ti[:, None] * ((1 - tj) * grid[np.ix_(i1, j0)] + tj * grid[np.ix_(i1, j1)]))
    return float(np.abs(window - full)[ok].max())


def _lerp_weights(lines: np.ndarray):
    """For every cell index from lines[0] to lines[-1]: the grid lines on either side and the weight of the upper."""
    x = np.arange(lines[0], lines[-1] + 1)
    upper = np.clip(np.searchsorted(lines, x, side="right"), 1, max(len(lines) - 1, 1))
    lower = upper - 1
    if len(lines) == 1:
        return np.zeros_like(x), np.zeros_like(x), np.zeros(len(x))
    t = (x - lines[lower]) / (lines[upper] - lines[lower])
    return lower, upper, t

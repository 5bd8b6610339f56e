"""The implicit 3D Tiles layout without CesiumJS: what drew thin dark seams along tile borders.

CesiumJS draws splats in float32 relative to the center of the tileset's root bounding volume.
The implicit layout's root tile is an octree cell; for data that straddle one of the cube's
halving planes (the equator, the meridians 0/90/180/-90) that cell is the whole 2^24 m cube
centered on the earth's center, and positions 6,400 km from it come out quantized to ~0.5 m: thin
dark lines between splats, strongest along tile borders. The fix puts the implicit root under a
content-less tile whose box is tight around the content. These checks catch the cause from the
tileset alone: the root volume's center lies within the data and float32 offsets from it keep
millimetres. (That every splat of a tile lies in its implied box, and that each tile's metadata
error and box are those of the explicit layout, the other two suspects, is checked by
tests/test_tiles3d.py.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import earth3d
from earth3d.export import write_tileset
from earth3d.geometry.frames import geodetic_to_ecef
from earth3d.store import build_store, open_store


@pytest.fixture(scope="module")
def equator_store(tmp_path_factory):
    """A 2 km x 2 km patch of 1 m-spaced opaque splats on the equator at longitude 0 (it straddles the
    z = 0 and y = 0 halving planes of the octree cube), coloured in stripes."""
    n = 120
    lon, lat = np.meshgrid(np.linspace(-0.009, 0.009, n), np.linspace(-0.009, 0.009, n))
    ecef = geodetic_to_ecef(lon.ravel(), lat.ravel(), np.full(lon.size, 10.0))
    origin = ecef.mean(axis=0)
    rgb = np.stack([(np.arange(lon.size) // 7 % 2) * 0.8 + 0.1] * 3, axis=-1)
    g = earth3d.Gaussians.from_rgb(origin, ecef - origin, np.tile([1.0, 0, 0, 0], (lon.size, 1)),
                                   np.full((lon.size, 3), 6.0), np.full(lon.size, 0.9), rgb)
    out = tmp_path_factory.mktemp("equator") / "store"
    build_store([g], out, leaf_cap=600)
    return open_store(out), ecef


def _tiles(tile: dict, out: list) -> list:
    out.append(tile)
    for c in tile.get("children", []):
        _tiles(c, out)
    return out


def test_root_volume_is_where_the_data_are(equator_store, tmp_path):
    store, ecef = equator_store
    assert store.info()["levels"][0] == 0
    tileset = write_tileset(store, tmp_path / "tiles", layout="implicit")
    ts = json.loads(tileset.read_text())
    m = np.asarray(ts["root"]["transform"]).reshape(4, 4).T
    box = np.asarray(ts["root"]["boundingVolume"]["box"], dtype=np.float64)
    center = m[:3, :3] @ box[:3] + m[:3, 3]
    half = np.abs(box[3:].reshape(3, 3)).sum(axis=0)
    spread = np.ptp(ecef, axis=0).max()
    assert np.linalg.norm(center - ecef.mean(axis=0)) < spread, "the root volume is centered away from the data"
    assert half.max() < 2 * spread, f"root volume {2 * half.max():.0f} m across for {spread:.0f} m of data"
    # float32 offsets from the root volume's center keep millimetres (6,400 km away they would be ~0.5 m)
    offsets = ecef - center
    assert np.abs(offsets.astype(np.float32).astype(np.float64) - offsets).max() < 1e-3

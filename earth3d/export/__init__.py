"""Export to exchange formats (3DGS PLY, SPZ, glTF/GLB, 3D Tiles 1.1 of splats or terrain meshes) and
import of PLY and SPZ.

Every exported file holds float32 data in a local east-north-up frame at a geodetic origin and
records that origin (longitude, latitude, ellipsoidal height and its ECEF point), so the scene can
be put back on the globe exactly.
"""

from .enu import LocalFrame
from .gltf import write_splats_glb, write_terrain_glb
from .ply import read_ply, write_ply
from .spz import read_spz, write_spz
from .terrain_tiles import write_terrain_tileset
from .tiles3d import write_tileset

__all__ = ["LocalFrame", "read_ply", "read_spz", "write_ply", "write_splats_glb", "write_spz", "write_terrain_glb",
           "write_terrain_tileset", "write_tileset"]

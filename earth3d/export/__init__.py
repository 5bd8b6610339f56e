"""Export to exchange formats (3DGS PLY, glTF/GLB, SPZ, 3D Tiles 1.1) and import of PLY.

Every exported file holds float32 data in a local east-north-up frame at a geodetic origin and
records that origin (longitude, latitude, ellipsoidal height and its ECEF point), so the scene can
be put back on the globe exactly.
"""

from .frames import LocalFrame
from .ply import read_ply, write_ply

__all__ = ["LocalFrame", "read_ply", "write_ply"]

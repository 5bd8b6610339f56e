"""Frames, cameras and Gaussian maths (the bottom of the data path)."""

from .camera import Camera
from .frames import (
    ECEF_CRS,
    GEODETIC_CRS,
    crs_to_ecef,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_basis,
    enu_to_ecef,
    geodetic_to_ecef,
    transformer,
)
from .gaussian_math import covariance, decompose_covariance, quat_to_rotmat, rotmat_to_quat
from .paths import Waypoint, descent, orbit, read_waypoints, waypoint_path

__all__ = [
    "Camera", "ECEF_CRS", "GEODETIC_CRS", "covariance", "crs_to_ecef", "decompose_covariance",
    "ecef_to_enu", "ecef_to_geodetic", "enu_basis", "enu_to_ecef", "geodetic_to_ecef",
    "quat_to_rotmat", "rotmat_to_quat", "transformer",
    "Waypoint", "descent", "orbit", "read_waypoints", "waypoint_path",
]

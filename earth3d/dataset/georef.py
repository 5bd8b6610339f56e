"""The dataset's local frame: east-north-up metres at a geodetic origin, and how to go back to the globe.

Poses and points of a dataset are written in this frame so their numbers are small (float32-safe):
`p_ecef = origin_ecef + enu_to_ecef @ p_local` (float64), with ECEF = EPSG:4978 and the origin
given as EPSG:4979 longitude, latitude and ellipsoidal height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import Camera, ecef_to_geodetic, enu_basis, geodetic_to_ecef


@dataclass(frozen=True)
class LocalFrame:
    """The ENU frame at (lon, lat, height): its float64 ECEF origin and the ENU -> ECEF rotation (columns e, n, u)."""

    lon: float
    lat: float
    height: float
    origin_ecef: np.ndarray
    enu_to_ecef: np.ndarray

    @classmethod
    def at(cls, lon: float, lat: float, height: float) -> "LocalFrame":
        return cls(float(lon), float(lat), float(height), np.asarray(geodetic_to_ecef(lon, lat, height), np.float64),
                   np.asarray(enu_basis(lon, lat), np.float64))

    def to_local(self, xyz_ecef) -> np.ndarray:
        """ECEF points (..., 3) to the local frame."""
        return (np.asarray(xyz_ecef, np.float64) - self.origin_ecef) @ self.enu_to_ecef

    def to_ecef(self, xyz_local) -> np.ndarray:
        """Local points (..., 3) to ECEF."""
        return self.origin_ecef + np.asarray(xyz_local, np.float64) @ self.enu_to_ecef.T

    def camera_to_local(self, camera: Camera) -> np.ndarray:
        """4x4 camera-to-local pose of `camera`, camera axes in OpenCV's convention (x right, y down, z forward)."""
        pose = np.eye(4)
        pose[:3, :3] = self.enu_to_ecef.T @ camera.rotation
        pose[:3, 3] = self.to_local(camera.position)
        return pose

    def camera_from_local(self, pose, width: int, height: int, fx: float, fy: float, cx: float, cy: float) -> Camera:
        """The Camera of a 4x4 camera-to-local pose (OpenCV axes) and pinhole intrinsics."""
        pose = np.asarray(pose, np.float64)
        return Camera(self.to_ecef(pose[:3, 3]), self.enu_to_ecef @ pose[:3, :3], int(width), int(height), float(fx),
                      float(fy), float(cx), float(cy))

    def georef(self, bbox=None) -> dict:
        """The georef.json document."""
        to_ecef = np.eye(4)
        to_ecef[:3, :3], to_ecef[:3, 3] = self.enu_to_ecef, self.origin_ecef
        lon, lat, h = (float(v) for v in ecef_to_geodetic(self.origin_ecef))
        doc = {
            "frame": "ENU",
            "description": "poses (transforms.json, sparse/0) and points are metres east, north and up of the origin; "
                           "p_ecef = origin_ecef + enu_to_ecef @ p_local",
            "origin_lonlath": [self.lon, self.lat, self.height],
            "origin_crs": "EPSG:4979",
            "origin_ecef": [float(v) for v in self.origin_ecef],
            "ecef_crs": "EPSG:4978",
            "enu_to_ecef": self.enu_to_ecef.tolist(),
            "local_to_ecef": to_ecef.tolist(),
            "origin_check_lonlath": [lon, lat, h],
        }
        if bbox is not None:
            doc["region_bbox"] = [float(v) for v in bbox]
        return doc

    @classmethod
    def from_georef(cls, doc: dict) -> "LocalFrame":
        """The frame a georef.json document describes."""
        lon, lat, height = (float(v) for v in doc["origin_lonlath"])
        return cls(lon, lat, height, np.asarray(doc["origin_ecef"], np.float64),
                   np.asarray(doc["enu_to_ecef"], np.float64))

"""Pinhole camera with a float64 ECEF pose, made from geodetic positions.

Conventions: the camera frame is OpenCV's (x right, y down, z forward), as
gsplat uses; heading/pitch/roll follow Cesium (heading clockwise from north,
pitch -90 looks straight down, heights are ellipsoidal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .frames import ecef_to_geodetic, enu_basis, geodetic_to_ecef

# Deeper than any ocean trench below the ellipsoid: a camera there is a mistake.
MIN_CAMERA_HEIGHT_M = -12_000.0


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: `position` (ECEF m, float64) and `rotation` (camera-to-ECEF, columns x/y/z)."""

    position: np.ndarray
    rotation: np.ndarray
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    near: float = 0.01
    far: float = 1e10
    _check: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        pos = np.asarray(self.position, dtype=np.float64).reshape(3)
        rot = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        object.__setattr__(self, "position", pos)
        object.__setattr__(self, "rotation", rot)
        if not self._check:
            return
        if not np.all(np.isfinite(pos)):
            raise InputError(f"camera position {pos.tolist()} is not finite")
        if not np.all(np.isfinite(rot)) or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6):
            raise InputError("camera rotation is not a finite orthonormal matrix")
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"camera size {self.width}x{self.height} must be positive")
        for name in ("fx", "fy", "cx", "cy"):
            if not math.isfinite(getattr(self, name)):
                raise InputError(f"camera intrinsic {name}={getattr(self, name)} is not finite")
        lon, lat, h = self.geodetic()
        if h < MIN_CAMERA_HEIGHT_M:
            raise InputError(
                f"camera at lon={lon:.6f} lat={lat:.6f} h={h:.1f} m is more than "
                f"{-MIN_CAMERA_HEIGHT_M / 1000:.0f} km below the ellipsoid"
            )

    # ------------------------------------------------------------------ factories
    @classmethod
    def from_geodetic(
        cls,
        lon_deg: float,
        lat_deg: float,
        alt_m: float,
        heading_deg: float = 0.0,
        pitch_deg: float = -90.0,
        roll_deg: float = 0.0,
        width: int = 1280,
        height: int = 720,
        fov_y_deg: float = 60.0,
    ) -> "Camera":
        """A camera at a geodetic position (ellipsoidal height) with Cesium heading/pitch/roll.

        Args:
            lon_deg: Longitude, degrees.
            lat_deg: Latitude, degrees.
            alt_m: Ellipsoidal height, metres.
            heading_deg: Clockwise from north, degrees.
            pitch_deg: Above the horizon, degrees (-90 looks straight down).
            roll_deg: About the view direction, degrees.
            width: Image width, pixels.
            height: Image height, pixels.
            fov_y_deg: Vertical field of view, degrees.

        Returns:
            The Camera (ECEF position, camera-to-ECEF rotation, intrinsics).

        Example:
            >>> cam = Camera.from_geodetic(7.45, 46.95, 3000.0, heading_deg=30.0, pitch_deg=-35.0)
            >>> cam.width, cam.height
            (1280, 720)
        """
        values = dict(lon_deg=lon_deg, lat_deg=lat_deg, alt_m=alt_m, heading_deg=heading_deg,
                      pitch_deg=pitch_deg, roll_deg=roll_deg, fov_y_deg=fov_y_deg)
        for name, value in values.items():
            if not math.isfinite(float(value)):
                raise InputError(f"camera {name}={value} is not finite")
        if not -90.0 <= lat_deg <= 90.0:
            raise InputError(f"camera lat_deg={lat_deg} is outside [-90, 90]")
        if alt_m < MIN_CAMERA_HEIGHT_M:
            raise InputError(f"camera alt_m={alt_m} is more than 12 km below the ellipsoid")
        if not 0.0 < fov_y_deg < 180.0:
            raise InputError(f"camera fov_y_deg={fov_y_deg} must be in (0, 180)")
        h, p, r = np.radians([heading_deg, pitch_deg, roll_deg])
        forward = np.array([math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p)])
        up = np.array([-math.sin(h) * math.sin(p), -math.cos(h) * math.sin(p), math.cos(p)])
        right = np.cross(forward, up)
        # Positive roll banks to the right: the right side of the image goes down.
        right, up = math.cos(r) * right - math.sin(r) * up, math.sin(r) * right + math.cos(r) * up
        rot_enu = np.stack([right, -up, forward], axis=1)
        rotation = enu_basis(lon_deg, lat_deg) @ rot_enu
        position = geodetic_to_ecef(lon_deg, lat_deg, alt_m)
        return cls.from_pose(position, rotation, width, height, fov_y_deg)

    @classmethod
    def from_pose(cls, position, rotation, width: int, height: int, fov_y_deg: float) -> "Camera":
        """A camera from an ECEF position, a camera-to-ECEF rotation and a vertical field of view."""
        fy = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        return cls(position, rotation, int(width), int(height), fy, fy, width / 2.0, height / 2.0)

    @classmethod
    def look_at(
        cls,
        eye: tuple[float, float, float],
        target: tuple[float, float, float],
        width: int = 1280,
        height: int = 720,
        fov_y_deg: float = 60.0,
    ) -> "Camera":
        """A camera at geodetic `eye` (lon, lat, h) looking at geodetic `target`, with no roll.

        Args:
            eye: Camera position: longitude, latitude (degrees), ellipsoidal height (m).
            target: The point looked at, in the same terms.
            width: Image width, pixels.
            height: Image height, pixels.
            fov_y_deg: Vertical field of view, degrees.

        Returns:
            The Camera.

        Example:
            >>> cam = Camera.look_at((7.40, 46.90, 2500.0), (7.45, 46.95, 600.0))
            >>> round(cam.geodetic()[2])
            2500
        """
        for name, point in (("eye", eye), ("target", target)):
            if not all(math.isfinite(float(v)) for v in point):
                raise InputError(f"camera {name}={tuple(point)} is not finite")
            if not -90.0 <= point[1] <= 90.0:
                raise InputError(f"camera {name} latitude {point[1]} is outside [-90, 90]")
        position = geodetic_to_ecef(*eye)
        forward = geodetic_to_ecef(*target) - position
        dist = np.linalg.norm(forward)
        if dist == 0:
            raise InputError("camera eye and target are the same point")
        forward /= dist
        up_local = enu_basis(eye[0], eye[1])[:, 2]
        right = np.cross(forward, up_local)
        if np.linalg.norm(right) < 1e-9:  # looking straight up or down: keep north at the top
            right = np.cross(forward, enu_basis(eye[0], eye[1])[:, 1])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        return cls.from_pose(position, np.stack([right, down, forward], axis=1), width, height, fov_y_deg)

    # ------------------------------------------------------------------ derived
    @property
    def fov_y_rad(self) -> float:
        """Vertical field of view in radians."""
        return 2.0 * math.atan(0.5 * self.height / self.fy)

    @property
    def forward(self) -> np.ndarray:
        """Unit viewing direction (the camera's +z axis) in ECEF."""
        return self.rotation[:, 2]

    def intrinsics(self) -> np.ndarray:
        """The 3x3 pinhole matrix K."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)

    def world_to_camera(self, origin) -> np.ndarray:
        """4x4 view matrix from offsets relative to float64 ECEF `origin` into camera coordinates.

        The translation is formed in float64 (origin - camera position) before any
        float32 cast, so precision does not depend on the distance from (0, 0, 0).
        """
        view = np.eye(4)
        view[:3, :3] = self.rotation.T
        view[:3, 3] = self.rotation.T @ (np.asarray(origin, dtype=np.float64) - self.position)
        return view

    def geodetic(self) -> tuple[float, float, float]:
        """(lon, lat, ellipsoidal height) of the camera position."""
        lon, lat, h = ecef_to_geodetic(self.position)
        return float(lon), float(lat), float(h)

    def resized(self, width: int, height: int) -> "Camera":
        """The same pose and field of view at another image size."""
        sx, sy = width / self.width, height / self.height
        return Camera(self.position, self.rotation, width, height, self.fx * sx, self.fy * sy,
                      self.cx * sx, self.cy * sy, self.near, self.far)

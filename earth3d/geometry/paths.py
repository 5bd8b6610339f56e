"""Camera paths: orbits, spline flights through waypoints, and the orbit-to-street descent.

Every path returns a list of `Camera`s, one per frame. Positions are built in
float64 ECEF; horizontal moves on the ellipsoid go through pyproj's geodesic
(`pyproj.Geod`), so paths are exact from continental scale down to a street.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
from pyproj import Geod
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d, maximum_filter1d
from scipy.spatial.transform import Rotation, RotationSpline

from ..errors import InputError, InputFileError
from .camera import Camera
from .frames import ecef_to_geodetic, enu_basis, geodetic_to_ecef

_GEOD = Geod(ellps="WGS84")

#: Ground height (m) under a set of points, given their longitudes and latitudes (degrees).
GroundFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Waypoint:
    """A point the camera flies through: geodetic position (ellipsoidal height, m) and, optionally, its
    view direction (Cesium heading/pitch/roll in degrees). A missing heading follows the path; a missing
    pitch uses the path's default pitch.
    """

    lon: float
    lat: float
    height: float
    heading: float | None = None
    pitch: float | None = None
    roll: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lon", "lat", "height", "roll"):
            if not math.isfinite(float(getattr(self, name))):
                raise InputError(f"waypoint {name}={getattr(self, name)} is not finite")
        if not -90.0 <= self.lat <= 90.0:
            raise InputError(f"waypoint lat={self.lat} is outside [-90, 90]")
        if not -180.0 <= self.lon <= 360.0:
            raise InputError(f"waypoint lon={self.lon} is outside [-180, 360]")
        for name in ("heading", "pitch"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(float(value)):
                raise InputError(f"waypoint {name}={value} is not finite")


# ---------------------------------------------------------------------------- helpers
def _check_frames(n_frames: int, minimum: int = 1) -> None:
    if int(n_frames) != n_frames or n_frames < minimum:
        raise InputError(f"n_frames={n_frames} must be an integer >= {minimum}")


def _ground_at(ground: float | GroundFn, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    if callable(ground):
        heights = np.asarray(ground(np.asarray(lon, np.float64), np.asarray(lat, np.float64)), np.float64)
        heights = np.broadcast_to(heights, np.shape(lon)).copy()
    else:
        heights = np.full(np.shape(lon), float(ground))
    if not np.all(np.isfinite(heights)):
        raise InputError("ground height is not finite along the camera path")
    return heights


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """3t^2 - 2t^3: monotone from 0 to 1 with zero slope at both ends."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _hpr_rotations(lon, lat, heading_deg, pitch_deg, roll_deg) -> np.ndarray:
    """Camera-to-ECEF rotations (N, 3, 3) for Cesium heading/pitch/roll at geodetic positions.

    The same convention as `Camera.from_geodetic`, vectorized over frames.
    """
    h, p, r = (np.radians(np.asarray(a, np.float64)) for a in (heading_deg, pitch_deg, roll_deg))
    h, p, r = np.broadcast_arrays(h, p, r)
    forward = np.stack([np.sin(h) * np.cos(p), np.cos(h) * np.cos(p), np.sin(p)], axis=-1)
    up = np.stack([-np.sin(h) * np.sin(p), -np.cos(h) * np.sin(p), np.cos(p)], axis=-1)
    right = np.cross(forward, up)
    cr, sr = np.cos(r)[..., None], np.sin(r)[..., None]
    right, up = cr * right - sr * up, sr * right + cr * up
    rot_enu = np.stack([right, -up, forward], axis=-1)
    return enu_basis(lon, lat) @ rot_enu


def _look_rotations(positions: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Camera-to-ECEF rotations (N, 3, 3) looking along `forward` with no roll (right stays level)."""
    lonlat = ecef_to_geodetic(positions)
    up = enu_basis(lonlat[:, 0], lonlat[:, 1])[:, :, 2]
    forward = forward / np.linalg.norm(forward, axis=1, keepdims=True)
    right = np.cross(forward, up)
    norm = np.linalg.norm(right, axis=1, keepdims=True)
    vertical = norm[:, 0] < 1e-9  # looking straight down or up: keep north at the top
    if np.any(vertical):
        north = enu_basis(lonlat[vertical, 0], lonlat[vertical, 1])[:, :, 1]
        right[vertical] = np.cross(forward[vertical], north)
        norm = np.linalg.norm(right, axis=1, keepdims=True)
    right /= norm
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=-1)


def _cameras(positions, rotations, width: int, height: int, fov_y_deg: float) -> list[Camera]:
    return [Camera.from_pose(p, r, width, height, fov_y_deg) for p, r in zip(positions, rotations, strict=False)]


def _geodesic_points(lon: float, lat: float, azimuth_deg, distance_m) -> tuple[np.ndarray, np.ndarray]:
    az, dist = np.broadcast_arrays(np.asarray(azimuth_deg, np.float64), np.asarray(distance_m, np.float64))
    lons, lats, _ = _GEOD.fwd(np.full(az.shape, lon), np.full(az.shape, lat), az, dist)
    return np.asarray(lons, np.float64), np.asarray(lats, np.float64)


# ---------------------------------------------------------------------------- orbit
def orbit(
    lon: float,
    lat: float,
    target_height_m: float,
    radius_m: float,
    altitude_m: float,
    n_frames: int,
    *,
    start_heading_deg: float = 0.0,
    turns: float = 1.0,
    pitch_deg: float | None = None,
    width: int = 1280,
    height: int = 720,
    fov_y_deg: float = 60.0,
) -> list[Camera]:
    """Cameras circling a geodetic point at `radius_m` (horizontal) and `altitude_m` above it.

    The camera looks at the point (or, with `pitch_deg`, at that fixed pitch towards it). Frames are
    evenly spaced in angle and the last one stops one step short of the first, so a full turn loops.

    Args:
        lon: Longitude of the point circled, degrees.
        lat: Latitude, degrees.
        target_height_m: Ellipsoidal height of the point, metres.
        radius_m: Horizontal distance from the point, metres.
        altitude_m: Height above the point, metres.
        n_frames: Number of cameras.
        start_heading_deg: The bearing from the point to the first camera position.
        turns: Number of turns (negative: anticlockwise seen from above).
        pitch_deg: A fixed pitch instead of looking at the point.
        width: Image width, pixels.
        height: Image height, pixels.
        fov_y_deg: Vertical field of view, degrees.

    Returns:
        `n_frames` cameras.

    Raises:
        InputError: A non-positive radius, a non-finite altitude or a latitude off the globe.

    Example:
        >>> cams = orbit(7.45, 46.95, 540.0, radius_m=3000.0, altitude_m=1500.0, n_frames=60)
        >>> len(cams)
        60
    """
    _check_frames(n_frames)
    if not (math.isfinite(radius_m) and radius_m > 0):
        raise InputError(f"orbit radius_m={radius_m} must be positive")
    if not math.isfinite(altitude_m):
        raise InputError(f"orbit altitude_m={altitude_m} is not finite")
    if not -90.0 <= lat <= 90.0:
        raise InputError(f"orbit lat={lat} is outside [-90, 90]")
    bearings = start_heading_deg + 360.0 * turns * np.arange(n_frames) / n_frames
    lons, lats = _geodesic_points(lon, lat, bearings, radius_m)
    heights = np.full(n_frames, target_height_m + altitude_m)
    positions = geodetic_to_ecef(lons, lats, heights)
    if pitch_deg is None:
        forward = geodetic_to_ecef(lon, lat, target_height_m)[None, :] - positions
        rotations = _look_rotations(positions, forward)
    else:
        back_az, _, _ = _GEOD.inv(lons, lats, np.full(n_frames, lon), np.full(n_frames, lat))
        rotations = _hpr_rotations(lons, lats, np.asarray(back_az), pitch_deg, 0.0)
    return _cameras(positions, rotations, width, height, fov_y_deg)


# ---------------------------------------------------------------------------- waypoints
def _surface_spline(waypoints: Sequence[Waypoint]):
    """Splines of the ground track (ECEF at zero height) and of height over a chord-length knot vector.

    Splining the track on the ellipsoid and the height apart keeps a path between far-apart
    waypoints above the ground instead of cutting the chord through the Earth.
    """
    lon = np.array([w.lon for w in waypoints])
    lat = np.array([w.lat for w in waypoints])
    hgt = np.array([w.height for w in waypoints])
    surface = geodetic_to_ecef(lon, lat, np.zeros_like(lon))
    steps = np.linalg.norm(np.diff(geodetic_to_ecef(lon, lat, hgt), axis=0), axis=1)
    if np.any(steps <= 0):
        i = int(np.argmin(steps))
        raise InputError(f"waypoints {i} and {i + 1} are at the same position")
    knots = np.concatenate([[0.0], np.cumsum(steps)])
    bc = "natural" if len(waypoints) > 2 else "not-a-knot"
    return knots, CubicSpline(knots, surface, bc_type=bc), CubicSpline(knots, hgt, bc_type=bc)


def _evaluate(knots, track, height, s) -> tuple[np.ndarray, np.ndarray]:
    """ECEF positions and geodetic (lon, lat, h) at knot parameters `s`."""
    lonlat = ecef_to_geodetic(track(s))
    geo = np.stack([lonlat[:, 0], lonlat[:, 1], height(s)], axis=1)
    return geodetic_to_ecef(geo[:, 0], geo[:, 1], geo[:, 2]), geo


def waypoint_path(
    waypoints: Sequence[Waypoint],
    n_frames: int,
    *,
    speed: Literal["ground", "screen"] = "ground",
    ground_m: float | GroundFn = 0.0,
    default_pitch_deg: float = -30.0,
    width: int = 1280,
    height: int = 720,
    fov_y_deg: float = 60.0,
) -> list[Camera]:
    """A smooth flight through `waypoints` (at least two), sampled at constant speed.

    Positions follow cubic splines (ground track in ECEF, height separately) reparametrised by arc
    length. Orientations are keyed at each waypoint (its own heading/pitch/roll, or facing along
    the path) and interpolated with a rotation spline.

    Args:
        waypoints: At least two waypoints (lon, lat, height and optional heading, pitch, roll).
        n_frames: Number of cameras.
        speed: "ground": consecutive frames equally far apart; "screen": equally far apart
            measured in camera heights above `ground_m` (the image moves at constant speed whether
            the camera is high or low).
        ground_m: The ground height (a constant, or a function of lon/lat arrays).
        default_pitch_deg: Pitch of waypoints that give none.
        width: Image width, pixels.
        height: Image height, pixels.
        fov_y_deg: Vertical field of view, degrees.

    Returns:
        `n_frames` cameras.

    Raises:
        InputError: Fewer than two waypoints, two at the same position, an unknown `speed`, or a
            path that goes below the ground.

    Example:
        >>> path = waypoint_path([Waypoint(7.40, 46.90, 3000.0), Waypoint(7.45, 46.95, 1500.0)], 50)
        >>> len(path)
        50
    """
    _check_frames(n_frames, 2)
    waypoints = [w if isinstance(w, Waypoint) else Waypoint(*w) for w in waypoints]
    if len(waypoints) < 2:
        raise InputError(f"a waypoint path needs at least 2 waypoints, got {len(waypoints)}")
    if speed not in ("ground", "screen"):
        raise InputError(f"speed={speed!r} must be 'ground' or 'screen'")
    knots, track, hspline = _surface_spline(waypoints)

    # Arc length on a dense sampling, then invert it to get frames at equal spacing.
    dense = np.linspace(0.0, knots[-1], max(4000, 40 * n_frames))
    pos, geo = _evaluate(knots, track, hspline, dense)
    seg = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    if speed == "screen":
        mid_geo = 0.5 * (geo[1:] + geo[:-1])
        above = mid_geo[:, 2] - _ground_at(ground_m, mid_geo[:, 0], mid_geo[:, 1])
        if np.any(above <= 0):
            raise InputError("the waypoint path goes below the ground; raise the waypoints")
        seg = seg / above
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.interp(np.linspace(0.0, arc[-1], n_frames), arc, dense)
    positions, geo = _evaluate(knots, track, hspline, s)

    # Key orientations at the waypoints, then a C2 rotation spline between them.
    key_pos, key_geo = _evaluate(knots, track, hspline, knots)
    tangent = track(knots, 1)
    keys = []
    for i, w in enumerate(waypoints):
        if w.heading is None:
            east, north = enu_basis(key_geo[i, 0], key_geo[i, 1])[:, :2].T
            heading = math.degrees(math.atan2(tangent[i] @ east, tangent[i] @ north))
        else:
            heading = w.heading
        pitch = default_pitch_deg if w.pitch is None else w.pitch
        keys.append(_hpr_rotations(key_geo[i, 0], key_geo[i, 1], heading, pitch, w.roll))
    keys = _unwrap_keys(Rotation.from_matrix(np.stack(keys)))
    rotations = RotationSpline(knots, keys)(s).as_matrix()
    return _cameras(positions, rotations, width, height, fov_y_deg)


def _unwrap_keys(keys: Rotation) -> Rotation:
    """Quaternion signs made consistent so interpolation takes the short way between keys."""
    q = keys.as_quat()
    for i in range(1, len(q)):
        if q[i] @ q[i - 1] < 0:
            q[i] = -q[i]
    return Rotation.from_quat(q)


def read_waypoints(path: str | Path) -> list[Waypoint]:
    """Waypoints from a CSV (header with lon, lat, height and optional heading, pitch, roll)
    or a JSON list of objects with the same keys.

    Args:
        path: The .csv or .json file.

    Returns:
        The waypoints, in file order (at least two).

    Raises:
        InputFileError: The file is missing, malformed, or holds fewer than two waypoints.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"waypoints file {path} does not exist")
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text())
            if not isinstance(rows, list):
                raise InputError("expected a JSON list of waypoint objects")
        else:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
        points = []
        for row in rows:
            row = {k.strip().lower(): v for k, v in row.items() if k}
            opt = {k: float(row[k]) for k in ("heading", "pitch", "roll") if row.get(k) not in (None, "")}
            points.append(Waypoint(float(row["lon"]), float(row["lat"]), float(row["height"]), **opt))
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        detail = f"missing column {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputFileError(f"waypoints file {path} is not valid: {detail}") from None
    if len(points) < 2:
        raise InputFileError(f"waypoints file {path} holds {len(points)} waypoint(s); at least 2 are needed")
    return points


# ---------------------------------------------------------------------------- descent
def descent(
    lon: float,
    lat: float,
    n_frames: int,
    *,
    ground_m: float | GroundFn = 0.0,
    start_altitude_m: float = 2_000_000.0,
    end_altitude_m: float = 2.0,
    heading_deg: float = 0.0,
    street_distance_m: float = 40.0,
    street_fraction: float = 0.3,
    end_pitch_deg: float = -8.0,
    tilt_below_m: float = 5_000.0,
    width: int = 1280,
    height: int = 720,
    fov_y_deg: float = 60.0,
) -> list[Camera]:
    """From orbit straight down to street level over (lon, lat), then along a street.

    Descent: the altitude above the ground eases from `start_altitude_m` to `end_altitude_m` on a
    log scale (smoothstep in log-altitude, so it is monotone and starts and stops gently). The camera
    looks straight down until `tilt_below_m`, then tilts up to `end_pitch_deg` while keeping (lon, lat)
    in the center of the image. Street: the last `street_fraction` of the frames fly
    `street_distance_m` along `heading_deg` at `end_altitude_m` above the ground, easing in and out.

    Args:
        lon: Longitude of the point descended onto, degrees.
        lat: Latitude, degrees.
        n_frames: Number of cameras.
        ground_m: The ground height (a constant, or a function of lon/lat arrays) the altitudes are
            measured from; along the street it is smoothed and taken as the upper envelope so the
            camera glides rather than follows every bump.
        start_altitude_m: First altitude above the ground, metres.
        end_altitude_m: Street-level altitude above the ground, metres.
        heading_deg: Direction of the street flight, clockwise from north.
        street_distance_m: Length of the street flight, metres.
        street_fraction: Share of the frames spent on the street.
        end_pitch_deg: Pitch at street level, degrees.
        tilt_below_m: Altitude under which the camera starts tilting up, metres.
        width: Image width, pixels.
        height: Image height, pixels.
        fov_y_deg: Vertical field of view, degrees.

    Returns:
        `n_frames` cameras.

    Raises:
        InputError: The target is off the globe, `n_frames` is too small, or the ground is not finite.

    Example:
        >>> cams = descent(7.45, 46.95, 120, ground_m=540.0)
        >>> len(cams)
        120
    """
    _check_frames(n_frames, 2)
    if not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 360.0:
        raise InputError(f"descent target lon={lon}, lat={lat} is outside the globe")
    if not 0 < end_altitude_m < start_altitude_m:
        raise InputError(
            f"descent altitudes must satisfy 0 < end ({end_altitude_m}) < start ({start_altitude_m})")
    if not 0.0 <= street_fraction < 1.0:
        raise InputError(f"street_fraction={street_fraction} must be in [0, 1)")
    if not -90.0 <= end_pitch_deg < 0.0:
        raise InputError(f"end_pitch_deg={end_pitch_deg} must be in [-90, 0) so the camera sees the ground")
    if street_distance_m < 0:
        raise InputError(f"street_distance_m={street_distance_m} must not be negative")

    n_street = int(round(street_fraction * n_frames)) if street_distance_m > 0 else 0
    n_street = min(n_street, n_frames - 2)
    n_down = n_frames - n_street

    # Descent: log-altitude eased; pitch eased in log-altitude below `tilt_below_m`.
    t = np.linspace(0.0, 1.0, n_down)
    log_alt = np.log(start_altitude_m) + (np.log(end_altitude_m) - np.log(start_altitude_m)) * _smoothstep(t)
    alt = np.exp(log_alt)
    tilt_top = max(min(tilt_below_m, start_altitude_m), end_altitude_m * 1.0001)
    tilt = _smoothstep((np.log(tilt_top) - log_alt) / (np.log(tilt_top) - np.log(end_altitude_m)))
    pitch = -90.0 + (end_pitch_deg + 90.0) * tilt
    # Stand back from the target so that the optical axis still meets the ground at it.
    back = alt / np.tan(np.radians(-pitch))
    lons, lats = _geodesic_points(lon, lat, heading_deg + 180.0, back)
    ground_down = _ground_at(ground_m, np.array([lon]), np.array([lat]))[0]

    # Street: along `heading_deg` from where the descent ended.
    u = np.linspace(0.0, 1.0, n_street + 1)
    s_lons, s_lats = _geodesic_points(lons[-1], lats[-1], heading_deg, street_distance_m * _smoothstep(u))
    profile = _ground_at(ground_m, s_lons, s_lats)
    window = max(3, n_street // 8)
    glide = gaussian_filter1d(maximum_filter1d(profile, size=window, mode="nearest"), window / 2, mode="nearest")
    glide += (ground_down - glide[0]) * (1.0 - _smoothstep(u))  # no jump where the street starts
    ground_street = np.maximum(glide, profile)[1:]
    s_lons, s_lats = s_lons[1:], s_lats[1:]

    all_lon = np.concatenate([lons, s_lons])
    all_lat = np.concatenate([lats, s_lats])
    all_h = np.concatenate([ground_down + alt, ground_street + end_altitude_m])
    all_pitch = np.concatenate([pitch, np.full(n_street, end_pitch_deg)])
    # Headings are geodesic azimuths, so re-derive them at each position: towards the target while
    # descending, along the street geodesic after.
    _, to_target, _ = _GEOD.inv(np.full(n_down, lon), np.full(n_down, lat), lons, lats)
    _, to_start, dist = _GEOD.inv(np.full(n_street, lons[-1]), np.full(n_street, lats[-1]), s_lons, s_lats)
    headings = np.concatenate([
        np.where(back > 1e-3, np.asarray(to_target), heading_deg),
        np.where(np.asarray(dist) > 1e-3, np.asarray(to_start) + 180.0, heading_deg),
    ])
    positions = geodetic_to_ecef(all_lon, all_lat, all_h)
    rotations = _hpr_rotations(all_lon, all_lat, headings, all_pitch, 0.0)
    return _cameras(positions, rotations, width, height, fov_y_deg)

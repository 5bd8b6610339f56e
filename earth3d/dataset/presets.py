"""Camera presets that match real sensors, each sampling N views over a region with a seed.

Every preset places `earth3d.geometry.Camera`s (ECEF pose, pinhole intrinsics) over a region
(west, south, east, north degrees) whose ground is given by a function `ground(lon, lat) ->
heights` (metres, ellipsoidal), as `earth3d.scenarios.Scene.ground()` returns:

- ``satellite``: a pushbroom-like frame camera 500 km up, nadir or at a fixed off-nadir angle,
  its focal length set by the ground sample distance (GSD) at the target; targets spread over
  the region; the sun's azimuth and elevation are recorded (and drawn with the atmosphere).
- ``aerial``: a five-camera Maltese cross (nadir plus forward, right, back and left obliques at
  45 degrees) at exposure stations on serpentine flight lines; N views = N/5 stations.
  Aerial and drone-grid flights keep one height: `altitude_m` over the region's median ground.
- ``drone``: an orbit around the region's centre, looking at it from 35 degrees down.
- ``drone-grid``: a nadir lawn-mower survey whose height is chosen so that the grid with the
  forward and side overlaps covers the region in about N shots.
- ``street``: a car-mounted camera 2.5 m above the ground, heading along a clear street of a
  raster (`earth3d.scenarios.find_street`, procedural worlds), or along random straight lines
  at ground level otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..geometry import Camera, ecef_to_enu, ecef_to_geodetic, enu_to_ecef

#: The preset names `sample_cameras` (and `earth3d dataset --preset`) take.
PRESETS = ("satellite", "aerial", "drone", "drone-grid", "street")

GroundFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class PresetOptions:
    """Sensor settings; None picks the preset's default (see each field).

    Attributes:
        fov_deg: vertical field of view, degrees (satellite: from the GSD; aerial 40; drone 60; street 60).
        altitude_m: height above the ground, metres (satellite 500 km; aerial and drone from the region's size;
            drone-grid from the overlaps and N).
        gsd_m: satellite ground sample distance at the target, metres (default: the image spans half the region).
        off_nadir_deg: satellite angle between the view and the vertical at the target, degrees.
        sun_azimuth_deg: sun azimuth, degrees clockwise from north (recorded; drawn with the atmosphere).
        sun_elevation_deg: sun elevation above the horizon, degrees.
        oblique_deg: aerial obliques' angle below the horizon, degrees.
        forward_overlap: drone-grid overlap of consecutive shots along a line (0..1).
        side_overlap: drone-grid overlap of neighbouring lines (0..1).
        camera_height_m: street camera height above the ground, metres.
        step_m: street distance between consecutive views, metres.
    """

    fov_deg: float | None = None
    altitude_m: float | None = None
    gsd_m: float | None = None
    off_nadir_deg: float = 0.0
    sun_azimuth_deg: float = 135.0
    sun_elevation_deg: float = 45.0
    oblique_deg: float = 45.0
    forward_overlap: float = 0.8
    side_overlap: float = 0.7
    camera_height_m: float = 2.5
    step_m: float = 5.0

    def check(self) -> None:
        """Raise InputError naming the first option out of range."""
        checks = [
            ("fov_deg", self.fov_deg is None or 0 < self.fov_deg < 170, "within (0, 170) degrees"),
            ("altitude_m", self.altitude_m is None or self.altitude_m > 0, "positive"),
            ("gsd_m", self.gsd_m is None or self.gsd_m > 0, "positive"),
            ("off_nadir_deg", 0 <= self.off_nadir_deg < 60, "within [0, 60) degrees"),
            ("sun_elevation_deg", -90 <= self.sun_elevation_deg <= 90, "within [-90, 90] degrees"),
            ("oblique_deg", 0 < self.oblique_deg < 90, "within (0, 90) degrees"),
            ("forward_overlap", 0 <= self.forward_overlap < 1, "within [0, 1)"),
            ("side_overlap", 0 <= self.side_overlap < 1, "within [0, 1)"),
            ("camera_height_m", self.camera_height_m > 0, "positive"),
            ("step_m", self.step_m > 0, "positive"),
        ]
        for name, ok, what in checks:
            if not ok or not math.isfinite(float(getattr(self, name) or 0.0)):
                raise InputError(f"{name}={getattr(self, name)} must be {what}")


@dataclass(frozen=True)
class Region:
    """A region as a local east-north frame at its centre: half sizes in metres and a lon/lat converter."""

    bbox: BBox
    lon: float
    lat: float
    half_east_m: float
    half_north_m: float

    @classmethod
    def of(cls, bbox: BBox) -> "Region":
        west, south, east, north = bbox
        lon, lat = 0.5 * (west + east), 0.5 * (south + north)
        corners = enu_from_lonlat(lon, lat, np.array([west, east, lon, lon]), np.array([lat, lat, south, north]))
        return cls(bbox, lon, lat, 0.5 * float(corners[1, 0] - corners[0, 0]),
                   0.5 * float(corners[3, 1] - corners[2, 1]))

    def lonlat(self, east_m, north_m) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) arrays of points east/north of the centre (on the ellipsoid)."""
        e, n = np.broadcast_arrays(np.asarray(east_m, np.float64), np.asarray(north_m, np.float64))
        enu = np.stack([e.ravel(), n.ravel(), np.zeros(e.size)], -1)
        geo = ecef_to_geodetic(enu_to_ecef(self.lon, self.lat, 0.0, enu)).reshape(-1, 3)
        return geo[:, 0].reshape(e.shape), geo[:, 1].reshape(e.shape)

    def median_ground(self, ground: GroundFn) -> float:
        """The median ground height over a 9 x 9 grid of the region (flights keep one height over it)."""
        e, n = np.meshgrid(np.linspace(-1, 1, 9) * self.half_east_m, np.linspace(-1, 1, 9) * self.half_north_m)
        lon, lat = self.lonlat(e.ravel(), n.ravel())
        return float(np.median(ground(lon, lat)))

    @property
    def size_m(self) -> float:
        return 2.0 * max(self.half_east_m, self.half_north_m)


def enu_from_lonlat(lon0: float, lat0: float, lon, lat) -> np.ndarray:
    """(N, 3) ENU metres at (lon0, lat0, 0) of points on the ellipsoid at (lon, lat)."""
    from ..geometry import geodetic_to_ecef

    xyz = geodetic_to_ecef(np.ravel(lon), np.ravel(lat), np.zeros(np.size(lon)))
    return np.atleast_2d(ecef_to_enu(lon0, lat0, 0.0, xyz))


def _camera(lon: float, lat: float, h: float, heading: float, pitch: float, width: int, height: int,
            fov: float) -> Camera:
    return Camera.from_geodetic(lon, lat, h, heading, pitch, 0.0, width, height, fov)


def _looking_at(target_lon: float, target_lat: float, target_h: float, zenith_deg: float, azimuth_deg: float,
                distance_m: float, width: int, height: int, fov: float) -> Camera:
    """A camera `distance_m` from the target, along a direction `zenith_deg` from its vertical, looking at it."""
    z, a = math.radians(zenith_deg), math.radians(azimuth_deg)
    offset = distance_m * np.array([math.sin(z) * math.sin(a), math.sin(z) * math.cos(a), math.cos(z)])
    eye = ecef_to_geodetic(enu_to_ecef(target_lon, target_lat, target_h, offset[None]))[0]
    if zenith_deg == 0.0:
        return _camera(float(eye[0]), float(eye[1]), float(eye[2]), 0.0, -90.0, width, height, fov)
    return Camera.look_at((float(eye[0]), float(eye[1]), float(eye[2])), (target_lon, target_lat, target_h),
                          width, height, fov)


# ---------------------------------------------------------------------------- presets
def satellite(region: Region, n: int, width: int, height: int, ground: GroundFn, rng: np.random.Generator,
              o: PresetOptions) -> list[Camera]:
    altitude = o.altitude_m or 500_000.0
    gsd = o.gsd_m or 0.5 * region.size_m / width
    e = rng.uniform(-0.7, 0.7, n) * region.half_east_m
    nn = rng.uniform(-0.7, 0.7, n) * region.half_north_m
    lon, lat = region.lonlat(e, nn)
    g = ground(lon, lat)
    azimuth = rng.uniform(0.0, 360.0, n)
    cams = []
    for i in range(n):
        distance = altitude / math.cos(math.radians(o.off_nadir_deg))
        focal = distance / gsd
        fov = math.degrees(2.0 * math.atan(0.5 * height / focal))
        cam = _looking_at(float(lon[i]), float(lat[i]), float(g[i]), o.off_nadir_deg, float(azimuth[i]), distance,
                          width, height, fov)
        cams.append(replace(cam, fx=focal, fy=focal))
    return cams


def _serpentine(count: int, half_e: float, half_n: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` points on a near-square grid over the region, row by row, alternately east and west:
    (east m, north m, flight heading degrees).
    """
    cols = max(1, math.ceil(math.sqrt(count * half_e / max(half_n, 1e-9))))
    rows = math.ceil(count / cols)
    r, c = np.divmod(np.arange(count), cols)
    c = np.where(r % 2 == 0, c, cols - 1 - c)
    east = (-1.0 + (2.0 * c + 1.0) / cols) * half_e
    north = (-1.0 + (2.0 * r + 1.0) / rows) * half_n
    return east, north, np.where(r % 2 == 0, 90.0, 270.0)


def aerial(region: Region, n: int, width: int, height: int, ground: GroundFn, rng: np.random.Generator,
           o: PresetOptions) -> list[Camera]:
    fov = o.fov_deg or 40.0
    altitude = o.altitude_m or float(np.clip(0.3 * region.size_m, 150.0, 5000.0))
    stations = math.ceil(n / 5)
    east, north, heading = _serpentine(stations, region.half_east_m, region.half_north_m)
    east = east + rng.uniform(-0.05, 0.05, stations) * region.half_east_m
    north = north + rng.uniform(-0.05, 0.05, stations) * region.half_north_m
    heading = heading + rng.uniform(-3.0, 3.0, stations)
    lon, lat = region.lonlat(east, north)
    h = np.full(stations, region.median_ground(ground) + altitude)
    cams = []
    for i in range(stations):
        views = [(heading[i], -90.0)] + [(heading[i] + turn, -o.oblique_deg) for turn in (0.0, 90.0, 180.0, 270.0)]
        for hd, pitch in views:
            cams.append(_camera(float(lon[i]), float(lat[i]), float(h[i]), float(hd) % 360.0, pitch, width, height,
                                fov))
    return cams[:n]


def drone_orbit(region: Region, n: int, width: int, height: int, ground: GroundFn, rng: np.random.Generator,
                o: PresetOptions) -> list[Camera]:
    fov = o.fov_deg or 60.0
    radius = 0.6 * min(region.half_east_m, region.half_north_m)
    altitude = o.altitude_m or radius * math.tan(math.radians(35.0))
    g0 = float(ground(np.array([region.lon]), np.array([region.lat]))[0])
    start = rng.uniform(0.0, 360.0)
    azimuth = start + 360.0 * np.arange(n) / n
    zenith = math.degrees(math.atan2(radius, altitude))
    distance = math.hypot(radius, altitude)
    return [_looking_at(region.lon, region.lat, g0, zenith, float(a) % 360.0, distance, width, height, fov)
            for a in azimuth]


def _grid_count(altitude: float, region: Region, across_px: int, along_px: int, focal_px: float,
                o: PresetOptions) -> tuple[int, int, float, float, float, float]:
    """(lines, shots per line, line spacing m, shot spacing m, footprint across m, footprint along m) of a
    survey at `altitude` whose footprints cover the region edge to edge.
    """
    foot_across, foot_along = altitude * across_px / focal_px, altitude * along_px / focal_px
    across, along = foot_across * (1.0 - o.side_overlap), foot_along * (1.0 - o.forward_overlap)
    lines = 1 + max(0, math.ceil((2.0 * region.half_north_m - foot_across) / across))
    shots = 1 + max(0, math.ceil((2.0 * region.half_east_m - foot_along) / along))
    return lines, shots, across, along, foot_across, foot_along


def drone_grid(region: Region, n: int, width: int, height: int, ground: GroundFn, rng: np.random.Generator,
               o: PresetOptions) -> list[Camera]:
    fov = o.fov_deg or 60.0
    focal = 0.5 * height / math.tan(math.radians(fov) / 2)
    if o.altitude_m is not None:
        altitude = o.altitude_m
    else:  # the highest survey whose overlapping grid still takes at least n shots
        lo, hi = 1.0, 1e5
        for _ in range(60):
            mid = math.sqrt(lo * hi)
            lines, shots = _grid_count(mid, region, width, height, focal, o)[:2]
            lo, hi = (mid, hi) if lines * shots >= n else (lo, mid)
        altitude = lo
    lines, shots, across, along, foot_across, foot_along = _grid_count(altitude, region, width, height, focal, o)
    line, shot = np.divmod(np.arange(lines * shots), shots)
    shot = np.where(line % 2 == 0, shot, shots - 1 - shot)
    # Flying east (west on the way back), the image's top points along the track: its width spans the lines.
    first_e = -region.half_east_m + 0.5 * foot_along if shots > 1 else 0.0
    first_n = -region.half_north_m + 0.5 * foot_across if lines > 1 else 0.0
    east = first_e + shot * along + rng.normal(0.0, 0.02 * along, line.size)
    north = first_n + line * across + rng.normal(0.0, 0.02 * across, line.size)
    heading = np.where(line % 2 == 0, 90.0, 270.0) + rng.normal(0.0, 1.0, line.size)
    east, north, heading = east[:n], north[:n], heading[:n]
    lon, lat = region.lonlat(east, north)
    h = np.full(len(east), region.median_ground(ground) + altitude)
    return [_camera(float(lon[i]), float(lat[i]), float(h[i]), float(heading[i]) % 360.0, -90.0, width, height, fov)
            for i in range(len(east))]


def _street_runs(region: Region, n: int, rng: np.random.Generator, o: PresetOptions, raster) -> list[tuple]:
    """Straight runs (start lon, start lat, heading, views) totalling n views: along clear streets of
    `raster` where one is found near a random point, else along a random line inside the region.
    """
    from ..scenarios.street import find_street

    per_run = max(2, min(n, int(0.8 * region.size_m / o.step_m)))
    runs, left, tries = [], n, 0
    while left > 0:
        e = rng.uniform(-0.5, 0.5) * region.half_east_m
        nn = rng.uniform(-0.5, 0.5) * region.half_north_m
        lon, lat = (float(v[()]) for v in region.lonlat(e, nn))
        count = min(per_run, left)
        found = None
        if raster is not None and tries < 4 * n:
            found = find_street(raster, lon, lat, (count - 1) * o.step_m + 1.0)
            tries += 1
        if found is None and raster is not None and tries < min(8, 4 * n):
            continue  # look elsewhere a few times before falling back to a random line
        if found is None:
            heading = float(rng.uniform(0.0, 360.0))
            # Start so that the run ends inside the region: go back half a run from the point.
            back = 0.5 * (count - 1) * o.step_m
            e0 = e - back * math.sin(math.radians(heading))
            n0 = nn - back * math.cos(math.radians(heading))
            slon, slat = (float(v[()]) for v in region.lonlat(e0, n0))
            found = (slon, slat, heading)
        runs.append((*found, count))
        left -= count
    return runs


def street(region: Region, n: int, width: int, height: int, ground: GroundFn, rng: np.random.Generator,
           o: PresetOptions, raster=None) -> list[Camera]:
    fov = o.fov_deg or 60.0
    cams = []
    for lon0, lat0, heading, count in _street_runs(region, n, rng, o, raster):
        start = enu_from_lonlat(region.lon, region.lat, np.array([lon0]), np.array([lat0]))[0]
        s = np.arange(count) * o.step_m
        rad = math.radians(heading)
        lon, lat = region.lonlat(start[0] + s * math.sin(rad), start[1] + s * math.cos(rad))
        h = ground(lon, lat) + o.camera_height_m
        pitch = -3.0 + rng.uniform(-1.0, 1.0, count)
        cams += [_camera(float(lon[i]), float(lat[i]), float(h[i]), heading, float(pitch[i]), width, height, fov)
                 for i in range(count)]
    return cams


_BUILDERS = {"satellite": satellite, "aerial": aerial, "drone": drone_orbit, "drone-grid": drone_grid}


def check_preset(preset: str) -> str:
    """`preset` if it is one of PRESETS, else InputError naming the choices."""
    if preset not in PRESETS:
        raise InputError(f"preset {preset!r}: unknown; choose one of {', '.join(PRESETS)}")
    return preset


def sample_cameras(preset: str, bbox: Sequence[float], n_views: int, width: int, height: int, ground: GroundFn,
                   seed: int = 0, options: PresetOptions | None = None, raster=None) -> list[Camera]:
    """N cameras of a sensor preset over a region.

    Args:
        preset: one of PRESETS ("satellite", "aerial", "drone", "drone-grid", "street").
        bbox: the region, (west, south, east, north) degrees.
        n_views: how many views (at least 1).
        width: image width, pixels.
        height: image height, pixels.
        ground: `ground(lon, lat) -> heights` (metres, ellipsoidal) over arrays of degrees.
        seed: the sampling seed: the same seed gives the same cameras.
        options: sensor settings (`PresetOptions`; default: the preset's defaults).
        raster: for "street", a north-up raster of the region to find clear streets in (optional).

    Returns:
        `n_views` Cameras (ECEF poses, pinhole intrinsics, principal point at the image centre).

    Raises:
        InputError: an unknown preset, n_views < 1, a bad size or option.

    Example:
        >>> import numpy as np
        >>> flat = lambda lon, lat: np.zeros(np.shape(lon))
        >>> cams = sample_cameras("aerial", (7.44, 46.94, 7.46, 46.96), 10, 320, 240, flat, seed=1)
        >>> len(cams), round(-cams[1].forward @ cams[0].forward, 3) < 1
        (10, True)
    """
    check_preset(preset)
    if int(n_views) < 1:
        raise InputError(f"n_views={n_views} must be at least 1")
    if width <= 0 or height <= 0 or width > 16384 or height > 16384:
        raise InputError(f"width={width} height={height}: each must be between 1 and 16384 pixels")
    options = options or PresetOptions()
    options.check()
    region = Region.of(tuple(float(v) for v in bbox))  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    if preset == "street":
        return street(region, int(n_views), width, height, ground, rng, options, raster)
    return _BUILDERS[preset](region, int(n_views), width, height, ground, rng, options)

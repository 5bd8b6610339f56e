"""`earth3d fly`: a camera path (orbit, waypoints, descent) over a store or a lifted DEM to an mp4."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from ..errors import InputError
from ..geometry import Camera
from ._common import Report, SceneOptions, check_camera, check_frames, check_input, check_new, check_size


@dataclass(kw_only=True)
class Fly(SceneOptions):
    """Fly a camera path (orbit, waypoints file or orbit-to-street descent) and write an mp4."""

    out: Path
    """Output mp4."""
    path: Literal["orbit", "waypoints", "descent"] = "orbit"
    """Which path: an orbit around --lon/--lat, a --waypoints file, or a descent from orbit to the street."""
    lon: float | None = None
    """Target longitude (default: the scene's center)."""
    lat: float | None = None
    """Target latitude (default: the scene's center)."""
    radius: float = 3000.0
    """Orbit radius in metres."""
    alt: float = 1500.0
    """Orbit height above the target's ground, in metres."""
    waypoints: Path | None = None
    """CSV (lon,lat,height[,heading,pitch,roll]) or JSON list of waypoints, for --path waypoints."""
    start_alt: float = 2_000_000.0
    """Descent: starting height above the ground, m."""
    end_alt: float = 2.0
    """Descent: street-level height above the ground, m."""
    heading: float = 0.0
    """Descent: heading of the street flight, degrees from north."""
    street: float = 40.0
    """Descent: distance flown along the street, m."""
    frames: int = 48
    fps: float = 24.0
    width: int = 640
    height: int = 360
    fov: float = 60.0
    frames_dir: Path | None = None
    """Also write every frame as a PNG into this folder."""
    overwrite: bool = False
    """Replace existing outputs."""

    FLAGS: ClassVar[dict[str, str]] = {
        **SceneOptions.FLAGS, "n_frames": "--frames", "radius_m": "--radius", "altitude_m": "--alt",
        "start_altitude_m": "--start-alt", "end_altitude_m": "--end-alt", "heading_deg": "--heading",
        "street_distance_m": "--street", "fps": "--fps", "alt_m": "height (ground + --alt)"}

    def cameras(self, scene) -> list[Camera]:
        """The --path's cameras over `scene` (its center and ground place the orbit and the descent)."""
        from ..geometry import paths

        lon0, lat0 = scene.center()
        lon = lon0 if self.lon is None else self.lon
        lat = lat0 if self.lat is None else self.lat
        ground = scene.ground()
        w, h, fov = self.width, self.height, self.fov
        if self.path == "orbit":
            if not self.radius > 0:
                raise InputError(f"--radius {self.radius} must be positive")
            g = float(ground(np.array([lon]), np.array([lat]))[0])
            return paths.orbit(lon, lat, g, self.radius, self.alt, self.frames, width=w, height=h, fov_y_deg=fov)
        if self.path == "waypoints":
            assert self.waypoints is not None
            return paths.waypoint_path(paths.read_waypoints(self.waypoints), self.frames, width=w, height=h,
                                      fov_y_deg=fov)
        return paths.descent(lon, lat, self.frames, ground_m=ground, start_altitude_m=self.start_alt,
                             end_altitude_m=self.end_alt, heading_deg=self.heading,
                             street_distance_m=self.street, width=w, height=h, fov_y_deg=fov)

    def run(self) -> None:
        """Render the --path over the scene into the mp4 (and the PNG frames)."""
        from ..scenarios.path import render_path
        from ..video import Mp4Writer, write_png

        check_size(self.width, self.height)
        check_new(self.out, self.overwrite)
        check_frames(self.frames)
        check_camera(alt=self.alt, fov=self.fov, radius=self.radius, start_alt=self.start_alt, end_alt=self.end_alt,
                     heading=self.heading, street=self.street)
        if self.path == "descent" and not 0 < self.end_alt < self.start_alt:
            raise InputError(f"--end-alt {self.end_alt:g} --start-alt {self.start_alt:g}: a descent needs "
                             "0 < --end-alt < --start-alt")
        if not self.fps > 0:
            raise InputError(f"--fps {self.fps} must be positive")
        if self.path == "waypoints":
            if self.waypoints is None:
                raise InputError("--path waypoints needs --waypoints FILE")
            check_input(self.waypoints, "--waypoints")
        if self.frames_dir is not None:
            check_new(self.frames_dir / "frame_00000.png", self.overwrite)
        report = Report(self.quiet)
        with self.open_scene(report) as scene:
            cameras = self.cameras(scene)
            lon0, lat0 = scene.center()
            lon = lon0 if self.lon is None else self.lon
            lat = lat0 if self.lat is None else self.lat
            sky = self.sky(lon, lat, float(scene.ground()(np.array([lon]), np.array([lat]))[0]))
            with report.stage("render"), Mp4Writer(self.out, self.fps, overwrite=self.overwrite) as video:
                frames = render_path(scene.source, cameras, renderer=scene.renderer, atmosphere=sky)
                for frame in report.progress(frames, len(cameras), "frames"):
                    rgb = frame.output.rgb
                    video.append(rgb)
                    if self.frames_dir is not None:
                        write_png(self.frames_dir / f"frame_{frame.index:05d}.png", rgb, overwrite=self.overwrite)
        report.say(f"wrote {self.out} ({len(cameras)} frames, {self.width}x{self.height})")
        report.summary()

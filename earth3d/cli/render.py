"""`earth3d render`: one view of a store or a lifted DEM to a PNG (and a depth map)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import InputError
from ._common import Report, SceneOptions, check_camera, check_new, check_size


@dataclass(kw_only=True)
class Render(SceneOptions):
    """Render one view to a PNG (and optionally a depth map)."""

    out: Path
    """Output PNG."""
    lon: float | None = None
    """Camera longitude in degrees (default: the scene's center)."""
    lat: float | None = None
    """Camera latitude in degrees (default: the scene's center)."""
    alt: float = 5000.0
    """Camera height in metres above the ground under the camera."""
    heading: float = 0.0
    """Degrees clockwise from north."""
    pitch: float = -90.0
    """Degrees; -90 looks straight down, 0 at the horizon."""
    roll: float = 0.0
    """Degrees; positive banks to the right."""
    look_at: tuple[float, float, float] | None = None
    """LON LAT HEIGHT (ellipsoidal, m) to look at instead of --heading/--pitch/--roll."""
    fov: float = 60.0
    """Vertical field of view in degrees."""
    width: int = 1280
    height: int = 720
    depth: Path | None = None
    """Also write the depth map: .png (16-bit, log-scaled) or .npy (float32 metres)."""
    maps: bool = False
    """Also write the label, instance and normal maps beside --out: NAME_label.png (class colours,
    docs/CLASSES.md), NAME_label_ids.png (8-bit class ids), NAME_instance.png (a colour per object) and
    NAME_normal.png (camera-frame normals, x right, y down, z forward, as 128 + 127 n)."""
    background: tuple[float, float, float] | None = None
    """Background colour, RGB in [0, 1], where no splat is drawn (needs --no-atmosphere; default black)."""
    overwrite: bool = False
    """Replace existing outputs."""

    FLAGS: ClassVar[dict[str, str]] = {**SceneOptions.FLAGS, "alt_m": "height (ground + --alt)"}

    def run(self) -> None:
        """Place the camera over the scene's ground, render it and write the PNG (and depth)."""
        from ..geometry import Camera
        from ..scenarios.path import render_path
        from ..video import write_depth, write_png

        check_size(self.width, self.height)
        check_camera(alt=self.alt, heading=self.heading, pitch=self.pitch, roll=self.roll, fov=self.fov)
        check_new(self.out, self.overwrite)
        maps = {kind: self.out.with_name(f"{self.out.stem}_{kind}.png")
                for kind in ("label", "label_ids", "instance", "normal")} if self.maps else {}
        for path in maps.values():
            check_new(path, self.overwrite)
        if self.depth is not None:
            check_new(self.depth, self.overwrite)
            if self.depth.suffix.lower() not in (".png", ".npy"):
                raise InputError(f"--depth {self.depth} must end in .png or .npy")
        background = (0.0, 0.0, 0.0) if self.background is None else self.background
        if self.background is not None:
            if not self.no_atmosphere:
                raise InputError("--background replaces the sky: pass --no-atmosphere with it")
            if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in background):
                raise InputError(f"--background {' '.join(f'{v:g}' for v in background)}: "
                                 "each of R G B must be within 0..1")
        report = Report(self.quiet)
        with self.open_scene(report) as scene:
            lon0, lat0 = scene.center()
            lon = lon0 if self.lon is None else self.lon
            lat = lat0 if self.lat is None else self.lat
            if not -90 <= lat <= 90 or not -180 <= lon <= 360:
                raise InputError(f"camera position --lon {lon} --lat {lat} is outside the globe")
            ground = float(scene.ground()(np.array([lon]), np.array([lat]))[0])
            if self.look_at is not None:
                camera = Camera.look_at((lon, lat, ground + self.alt), self.look_at, self.width, self.height,
                                        self.fov)
            else:
                camera = Camera.from_geodetic(lon, lat, ground + self.alt, self.heading, self.pitch, self.roll,
                                              self.width, self.height, self.fov)
            with report.stage("render"):
                frame = next(render_path(scene.source, [camera], renderer=scene.renderer, background=background,
                                         atmosphere=self.sky(lon, lat, ground), maps=self.maps))
        out = frame.output
        write_png(self.out, out.rgb, overwrite=self.overwrite)
        report.say(f"wrote {self.out} ({self.width}x{self.height}, {out.n_splats} splats)")
        if self.depth is not None:
            write_depth(self.depth, out.depth, out.alpha, overwrite=self.overwrite)
            report.say(f"wrote {self.depth}")
        if maps and out.label is not None and out.normal is not None:
            from ..classes import colour_instances, colour_labels

            normal = out.normal.cpu().numpy()
            images = {"label": colour_labels(out.label), "label_ids": out.label.cpu().numpy().astype(np.uint8),
                      "instance": colour_instances(out.instance),
                      "normal": np.where(np.any(normal != 0, axis=-1, keepdims=True),
                                         np.clip(128.0 + 127.0 * normal, 0, 255), 0).astype(np.uint8)}
            for kind, path in maps.items():
                write_png(path, images[kind], overwrite=self.overwrite)
            report.say(f"wrote {', '.join(str(p) for p in maps.values())}")

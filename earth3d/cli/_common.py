"""What the commands share: the common options, the scene options, the renderer choice and input checks.

Checks here name the command-line flags (`--width`, `--bbox`, ...) in their messages, so a
value the command line passes through to the library fails with the flag the user typed.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from ..atomic import check_output
from ..errors import InputError, InputNotFoundError
from ..renderers import Renderer
from ..scenarios.report import Report
from ..scenarios.scene import RasterScene, StoreScene

#: The --renderer choices (the `Renderer` protocol is the rasterizers' interface).
RendererName = Literal["auto", "cpu", "gsplat"]

__all__ = ["Common", "RendererName", "Report", "SceneOptions", "check_bbox", "check_camera", "check_frames",
           "check_input", "check_new", "check_size", "make_renderer"]


@dataclass(kw_only=True)
class Common:
    """Options every command takes."""

    quiet: bool = False
    """Print nothing but errors: no progress bars, timings or result lines."""
    debug: bool = False
    """Show the full traceback when something fails."""

    #: Library parameter -> the flag this command passes it from, for error messages.
    FLAGS: ClassVar[dict[str, str]] = {}

    def run(self) -> None:  # pragma: no cover - every command overrides it
        raise NotImplementedError

    def in_flags(self, message: str) -> str:
        """`message` with each library parameter the command fills from a flag named by that flag.

        Example: "leaf_cap=0 must be >= 1" becomes "--leaf-cap 0 must be >= 1".
        """
        if not self.FLAGS:
            return message
        names = "|".join(sorted(map(re.escape, self.FLAGS), key=len, reverse=True))
        return re.sub(rf"\b({names})=", lambda m: f"{self.FLAGS[m.group(1)]} ", message)


@dataclass(kw_only=True)
class SkyOptions(Common):
    """The sky, the sun and the haze drawn over the splats (on by default)."""

    no_atmosphere: bool = False
    """Draw no sky, haze or sunlight: the splats over a plain background."""
    sun_azimuth: float | None = None
    """Sun azimuth in degrees clockwise from north, over the scene (with --sun-elevation)."""
    sun_elevation: float | None = None
    """Sun elevation in degrees above the horizon (with --sun-azimuth)."""
    time: str | None = None
    """UTC date and time that places the sun, ISO 8601 (e.g. 2024-06-21T18:00Z)."""

    def sky(self, lon: float, lat: float, ground_m: float):
        """The `earth3d.atmosphere.Sky` these options ask for over (lon, lat), or None with --no-atmosphere.

        Raises:
            InputError: a sun given twice (--time and --sun-azimuth/--sun-elevation), half given,
                or out of range.
        """
        from ..atmosphere import Sky
        from ..geometry.sun import Sun

        by_angles = (self.sun_azimuth, self.sun_elevation)
        if self.no_atmosphere:
            if self.time is not None or any(v is not None for v in by_angles):
                raise InputError("--no-atmosphere draws no sun: drop --time, --sun-azimuth and --sun-elevation")
            return None
        if self.time is not None and any(v is not None for v in by_angles):
            raise InputError("give the sun either by --time or by --sun-azimuth and --sun-elevation, not both")
        if (by_angles[0] is None) != (by_angles[1] is None):
            raise InputError("--sun-azimuth and --sun-elevation go together")
        sun = None
        if self.time is not None:
            try:
                sun = Sun.at(self.time)
            except (ValueError, TypeError) as exc:
                raise InputError(f"--time {self.time!r}: not an ISO 8601 UTC time ({exc})") from None
        elif self.sun_azimuth is not None and self.sun_elevation is not None:
            if not (math.isfinite(self.sun_azimuth) and -90.0 <= self.sun_elevation <= 90.0):
                raise InputError(f"--sun-azimuth {self.sun_azimuth} --sun-elevation {self.sun_elevation}: "
                                 "the azimuth must be finite and the elevation within -90..90 degrees")
            sun = Sun.from_horizon(self.sun_azimuth, self.sun_elevation, lon, lat)
        return Sky(sun=sun, ground_height_m=ground_m)


@dataclass(kw_only=True)
class SceneOptions(SkyOptions):
    """Where the splats come from: a store, or a DEM (+ orthophoto) lifted in memory."""

    store: Path | None = None
    """A store built with `earth3d build` (streamed with levels of detail)."""
    dem: Path | None = None
    """A DEM GeoTIFF, lifted in memory (instead of --store)."""
    ortho: Path | None = None
    """An orthophoto GeoTIFF draped on --dem (optional)."""
    resolution: float | None = None
    """Lifting cell size for --dem, in the DEM CRS's units (default: the finer input's)."""
    cache_mb: int = 512
    """Chunk cache budget for --store, in MiB."""
    sse: float = 1.0
    """Screen-space error threshold in pixels for --store: a node is drawn once its error is under this."""
    splat_budget: float | None = 1.0
    """Most splats per pixel drawn from --store, over at least a 1280x720 frame's pixels (None: the screen-space
    error alone decides)."""
    renderer: RendererName = "auto"
    """Rasterizer: gsplat on a CUDA device, else the CPU one."""

    FLAGS: ClassVar[dict[str, str]] = {"resolution": "--resolution", "sse_threshold_px": "--sse",
                                       "splat_budget_per_pixel": "--splat-budget"}

    def open_scene(self, report: Report) -> StoreScene | RasterScene:
        """The scene of --store or --dem (+ --ortho), with the --renderer."""
        from ..scenarios.scene import open_raster_scene, open_store_scene

        if (self.store is None) == (self.dem is None):
            raise InputError("give exactly one of --store or --dem (with an optional --ortho)")
        if self.cache_mb <= 0:
            raise InputError(f"--cache-mb {self.cache_mb} must be positive")
        if not self.sse > 0:
            raise InputError(f"--sse {self.sse} must be positive")
        if self.splat_budget is not None and not self.splat_budget > 0:
            raise InputError(f"--splat-budget {self.splat_budget} must be positive or None")
        renderer = make_renderer(self.renderer)
        if self.store is not None:
            check_input(self.store, "--store")
            return open_store_scene(self.store, renderer, cache_mb=self.cache_mb, sse=self.sse,
                                    splat_budget=self.splat_budget, report=report)
        assert self.dem is not None
        check_input(self.dem, "--dem")
        if self.ortho is not None:
            check_input(self.ortho, "--ortho")
        return open_raster_scene(self.dem, renderer, self.ortho, self.resolution, report=report)


def make_renderer(kind: RendererName) -> Renderer:
    """The rasterizer a --renderer choice names."""
    from ..renderers import CpuRenderer, GsplatRenderer, default_renderer

    if kind == "cpu":
        return CpuRenderer()
    if kind == "gsplat":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--renderer gsplat needs a CUDA device; none is available (use --renderer cpu)")
        return GsplatRenderer()
    return default_renderer()


def check_new(path: str | os.PathLike, overwrite: bool) -> Path:
    """An output file that may be written: absent, or replaced with --overwrite (`earth3d.atomic.check_output`)."""
    return check_output(path, overwrite, flag="--overwrite")


def check_input(path: Path, flag: str) -> Path:
    """An input given with `flag` that must exist."""
    if not path.exists():
        raise InputNotFoundError(f"{flag} {path}: does not exist")
    return path


def check_size(width: int, height: int) -> None:
    """--width and --height of an image: 1 to 16384 pixels each."""
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise InputError(f"--width {width} --height {height}: each must be between 1 and 16384 pixels")


def check_camera(**values: float) -> None:
    """Camera options: all finite, --alt above the ground (> 0 m), --fov within 0..180 degrees, --pitch
    within -90..90. Each keyword names its flag (alt -> --alt).
    """
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise InputError(f"--{name.replace('_', '-')} {value}: must be a finite number")
    alt, fov, pitch = values.get("alt"), values.get("fov"), values.get("pitch")
    if alt is not None and not alt > 0:
        raise InputError(f"--alt {alt:g}: the camera would be below the ground; give its height above the ground "
                         "in metres (> 0)")
    if fov is not None and not 0 < fov < 180:
        raise InputError(f"--fov {fov:g}: the field of view must be within 0..180 degrees")
    if pitch is not None and not -90 <= pitch <= 90:
        raise InputError(f"--pitch {pitch:g}: must be within -90..90 degrees")


def check_frames(frames: int) -> None:
    """--frames of a path: at least 2."""
    if frames < 2:
        raise InputError(f"--frames {frames} must be at least 2")


def check_bbox(bbox: tuple[float, float, float, float], flag: str) -> tuple[float, float, float, float]:
    """A WEST SOUTH EAST NORTH box given with `flag`, checked as the generators check it
    (`earth3d.synth.grid.check_bbox`: a box across the antimeridian is written with east > 180).
    """
    from ..synth.grid import check_bbox as grid_check_bbox

    try:
        return grid_check_bbox(bbox)
    except ValueError as exc:
        raise InputError(f"{flag} {' '.join(f'{v:g}' for v in bbox)}: {exc}") from None

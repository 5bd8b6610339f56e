"""`earth3d dataset`: a labelled multi-view dataset (nerfstudio, COLMAP, georef) of a world region or a store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from ..errors import InputError
from ._common import Common, RendererName, check_bbox, check_input, make_renderer


@dataclass(kw_only=True)
class Dataset(Common):
    """Write N views of a sensor preset over a region: images, depth, normals, labels, transforms.json, sparse/0."""

    out: Path
    """Output dataset folder."""
    synth: tuple[float, float, float, float] | None = None
    """WEST SOUTH EAST NORTH: synthesize this region of the built-in world (a small store is built first)."""
    store: Path | None = None
    """A store built with `earth3d build` (with --bbox)."""
    bbox: tuple[float, float, float, float] | None = None
    """WEST SOUTH EAST NORTH: the region of --store the views cover."""
    preset: str = "drone"
    """satellite | aerial | drone | drone-grid | street."""
    views: int = 24
    """Number of views."""
    width: int = 640
    """Image width in pixels."""
    height: int = 480
    """Image height in pixels."""
    seed: int = 0
    """Camera sampling seed (and world seed for --synth)."""
    world: Literal["procedural", "earth"] = "procedural"
    """The world --synth draws from."""
    synth_resolution: float = 30.0
    """Cell size in metres of the --synth region."""
    fov: float | None = None
    """Vertical field of view in degrees (default: the preset's)."""
    altitude: float | None = None
    """Camera height above the ground in metres (default: the preset's)."""
    gsd: float | None = None
    """Satellite ground sample distance in metres."""
    off_nadir: float = 0.0
    """Satellite off-nadir angle in degrees."""
    sun_azimuth: float = 135.0
    """Sun azimuth, degrees clockwise from north (recorded; drawn with --atmosphere)."""
    sun_elevation: float = 45.0
    """Sun elevation in degrees."""
    atmosphere: bool = False
    """Draw the sky and aerial perspective on the images."""
    depth: Literal["auto", "png", "npy"] = "auto"
    """Depth files: 16-bit PNG with a scale, float32 .npy, or auto (PNG unless from orbit)."""
    max_points: int = 100_000
    """Most splat centres in points3D."""
    renderer: RendererName = "auto"
    """Rasterizer: gsplat on a CUDA device, else the CPU one."""
    overwrite: bool = False
    """Replace an existing dataset."""

    FLAGS: ClassVar[dict[str, str]] = {"n_views": "--views", "width": "--width", "height": "--height",
                                       "resolution_m": "--synth-resolution", "max_points": "--max-points",
                                       "fov_deg": "--fov", "altitude_m": "--altitude", "gsd_m": "--gsd",
                                       "off_nadir_deg": "--off-nadir", "sun_elevation_deg": "--sun-elevation"}

    def run(self) -> None:
        """Check the inputs and the output, then write the dataset."""
        from ..dataset import PresetOptions, write
        from ..dataset.presets import check_preset
        from ..dataset.writer import check_dataset_output

        check_preset(self.preset)
        if (self.synth is None) == (self.store is None):
            raise InputError("give exactly one of --synth W S E N or --store S (with --bbox W S E N)")
        if self.store is not None:
            check_input(self.store, "--store")
            if self.bbox is None:
                raise InputError("--store needs --bbox W S E N: the region the views cover")
            source, region = self.store, check_bbox(self.bbox, "--bbox")
        else:
            from ..scenarios.sources import make_world

            assert self.synth is not None
            source, region = make_world(self.world, self.seed), check_bbox(self.synth, "--synth")
        options = PresetOptions(fov_deg=self.fov, altitude_m=self.altitude, gsd_m=self.gsd,
                                off_nadir_deg=self.off_nadir, sun_azimuth_deg=self.sun_azimuth,
                                sun_elevation_deg=self.sun_elevation)
        check_dataset_output(self.out, self.overwrite, flag="--overwrite")
        write(source, region, self.preset, self.views, self.width, self.height, self.out, self.seed, self.overwrite,
              options=options, resolution_m=self.synth_resolution, renderer=make_renderer(self.renderer),
              atmosphere=self.atmosphere, depth_format=self.depth, max_points=self.max_points, progress=not self.quiet)

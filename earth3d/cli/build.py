"""`earth3d build`: a streamable LOD store from DEM (+ orthophoto) GeoTIFFs and/or a procedural region."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar, Literal

from ..errors import InputError
from ._common import Common, Report, check_bbox, check_input


@dataclass(kw_only=True)
class Build(Common):
    """Build a streamable LOD store from DEM (+ orthophoto) GeoTIFFs and/or a procedural region."""

    out: str
    """Output store: a folder or an fsspec URL (memory://, s3://, gs://, ...)."""
    dem: tuple[Path, ...] = ()
    """DEM GeoTIFFs (any number)."""
    ortho: tuple[Path, ...] = ()
    """Orthophotos, one per --dem in the same order (or none: colours from a hypsometric ramp)."""
    classes: tuple[Path, ...] = ()
    """Class rasters (land-cover GeoTIFFs), one per --dem in the same order: splats get their classes."""
    class_map: str | None = None
    """How --classes values map to class ids: 'worldcover', 'identity' (default) or VALUE:ID,VALUE:ID,..."""
    resolution: float | None = None
    """Lifting cell size in each DEM's CRS units (default: the finer input's)."""
    synth: tuple[float, float, float, float] | None = None
    """WEST SOUTH EAST NORTH: also (or instead) add this region of the procedural world."""
    synth_resolution: float = 30.0
    """Cell size in metres of the --synth region."""
    seed: int = 0
    """World seed for --synth."""
    world: Literal["procedural", "earth"] = "procedural"
    """The world --synth draws from: an invented planet, or Earth laid out by open data."""
    leaf_cap: int = 32768
    """Most splats in a leaf chunk."""
    workers: int = 1
    """Processes of a local Dask cluster that lift tiles, build leaves and merge levels (1: in this process)."""
    scheduler: str | None = None
    """Address of a running Dask scheduler (tcp://HOST:PORT) to build on instead."""
    overwrite: bool = False
    """Replace an existing store."""

    FLAGS: ClassVar[dict[str, str]] = {"leaf_cap": "--leaf-cap", "workers": "--workers",
                                       "resolution_m": "--synth-resolution", "resolution": "--resolution"}

    def run(self) -> None:
        """Check the inputs and the output, then lift and build the store."""
        from ..scenarios.sources import lifted_raster, synthesized
        from ..scenarios.store_build import build_store, check_store_output

        if not self.dem and self.synth is None:
            raise InputError("give at least one --dem GeoTIFF or a --synth region")
        if self.ortho and len(self.ortho) != len(self.dem):
            raise InputError(f"{len(self.ortho)} --ortho files for {len(self.dem)} --dem files: "
                             "give one per DEM or none")
        for path in self.dem:
            check_input(path, "--dem")
        for path in self.ortho:
            check_input(path, "--ortho")
        if self.classes and len(self.classes) != len(self.dem):
            raise InputError(f"{len(self.classes)} --classes files for {len(self.dem)} --dem files: "
                             "give one per DEM or none")
        for path in self.classes:
            check_input(path, "--classes")
        from ..raster.classes import parse_class_map

        class_map = parse_class_map(self.class_map)
        if self.leaf_cap < 1:
            raise InputError(f"--leaf-cap {self.leaf_cap} must be at least 1")
        check_store_output(self.out, self.overwrite, flag="--overwrite")
        orthos = self.ortho or (None,) * len(self.dem)
        report = Report(self.quiet)
        class_paths = self.classes or (None,) * len(self.dem)
        sources = [partial(lifted_raster, d, o, self.resolution, c, class_map)
                   for d, o, c in zip(self.dem, orthos, class_paths, strict=True)]
        if self.synth is not None:
            sources.append(partial(synthesized, check_bbox(self.synth, "--synth"), self.synth_resolution, self.seed,
                                   self.world))
        st = build_store(sources, self.out, overwrite=self.overwrite, leaf_cap=self.leaf_cap, workers=self.workers,
                         scheduler=self.scheduler, report=report)
        info = st.info()
        report.say(f"wrote {self.out} ({info['splat_count']} splats, {info['node_count']} nodes, "
                   f"{info['bytes_on_disk'] / 2**20:.1f} MiB)")
        report.summary()

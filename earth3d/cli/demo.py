"""`earth3d demo`: a procedural world from a continent down to a street, built into a store and flown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from ..errors import InputError
from ._common import RendererName, Report, SkyOptions, check_frames, check_new, check_size, make_renderer


@dataclass(kw_only=True)
class Demo(SkyOptions):
    """Procedural world, no download: synthesize a continent down to a city street, lift it, build a
    store, and fly from 2,000 km down to street level and along a street. Writes an mp4 and a poster.
    """

    out: Path = Path("earth3d_demo")
    """Output folder: flythrough.mp4, poster.png, the store world.e3d and path.json."""
    width: int = 640
    height: int = 360
    frames: int = 120
    fps: float = 24.0
    seed: int = 0
    """World seed."""
    near: tuple[float, float] = (0.0, 0.0)
    """LON LAT: fly to the procedural world's city nearest this point."""
    place: str | None = None
    """Fly into the generated version of this real place (a GeoNames name, e.g. Grenoble): Earth's world."""
    lon: float | None = None
    """With --lat: fly into this point of Earth's world."""
    lat: float | None = None
    """With --lon: fly into this point of Earth's world."""
    world: Literal["procedural", "earth"] | None = None
    """An invented planet, or Earth laid out by open data (default: earth with --place or --lon/--lat)."""
    street: float = 40.0
    """Metres flown along the street at the end."""
    cache_mb: int = 1024
    """Chunk cache budget, MiB."""
    leaf_cap: int = 8192
    """Most splats in a leaf chunk (smaller leaves let the level of detail follow the view more closely)."""
    sse: float = 1.0
    """Screen-space error threshold in pixels: a node is drawn once its error is under this."""
    splat_budget: float | None = 1.0
    """Most splats per pixel drawn, over at least a 1280x720 frame's pixels (None: the screen-space error
    alone decides)."""
    workers: int = 1
    """Processes of a local Dask cluster building the store (1: in this process)."""
    renderer: RendererName = "auto"
    """Rasterizer: gsplat on a CUDA device, else the CPU one."""
    quick: bool = False
    """A much smaller world (cells 5-8x coarser, at most 200 across a level) for a fast preview."""
    overwrite: bool = False
    """Replace the outputs of an earlier run."""

    FLAGS: ClassVar[dict[str, str]] = {
        "n_frames": "--frames", "street_distance_m": "--street", "leaf_cap": "--leaf-cap", "workers": "--workers",
        "fps": "--fps", "sse_threshold_px": "--sse", "splat_budget_per_pixel": "--splat-budget"}

    def run(self) -> None:
        """Find a city, build its nested store, fly the descent and write the outputs."""
        from ..scenarios import (
            DEMO_LEVELS,
            POSTER_ALTITUDE_M,
            QUICK_LEVELS,
            build_lifted_store,
            check_store_output,
            find_street,
            frame_near_altitude,
            nested_rasters,
            render_flythrough,
            street_descent,
            street_detail,
            street_detail_level,
        )
        from ..scenarios.descent import MAX_CELLS, QUICK_MAX_CELLS, descent_levels
        from ..scenarios.prewarm import compiling_aside
        from ..scenarios.sources import make_world
        from ..synth import place
        from ..synth.earth import check_lonlat
        from ..video import write_json

        check_size(self.width, self.height)
        check_frames(self.frames)
        for flag, value in (("--fps", self.fps), ("--cache-mb", self.cache_mb), ("--sse", self.sse)):
            if not value > 0:
                raise InputError(f"{flag} {value} must be positive")
        if self.splat_budget is not None and not self.splat_budget > 0:
            raise InputError(f"--splat-budget {self.splat_budget} must be positive or None")
        if (self.lon is None) != (self.lat is None):
            raise InputError("--lon and --lat go together")
        if self.place is not None and self.lon is not None:
            raise InputError("give either --place or --lon/--lat, not both")
        target = None
        if self.place is not None:
            target = place(self.place)
        elif self.lon is not None and self.lat is not None:
            try:
                target = check_lonlat(self.lon, self.lat)
            except InputError as exc:
                raise InputError(f"--lon {self.lon} --lat {self.lat}: {exc}") from None
        video, poster, store_path, path_json = (self.out / n for n in
                                                ("flythrough.mp4", "poster.png", "world.e3d", "path.json"))
        for path in (video, poster, path_json):
            check_new(path, self.overwrite)
        check_store_output(store_path, self.overwrite, flag="--overwrite")
        # On a fresh install, the kernels of lifting, building and rendering compile in a second
        # process while this one synthesizes (see scenarios.prewarm).
        with compiling_aside():
            renderer = make_renderer(self.renderer)
            report = Report(self.quiet)
            name = self.world or ("earth" if target is not None else "procedural")
            world = make_world(name, self.seed)
            if target is not None:
                lon, lat = target
            elif hasattr(world, "find_city"):
                with report.stage("find city"):
                    lon, lat = world.find_city(self.near)
            else:
                raise InputError(f"--world {name}: give --place NAME or --lon/--lat to fly to")
            # Extents from the descent: each level covers the ground it must (see descent_levels).
            levels = descent_levels(QUICK_LEVELS if self.quick else DEMO_LEVELS, lon, lat, width=self.width,
                                    height=self.height, street_m=self.street,
                                    max_cells=QUICK_MAX_CELLS if self.quick else MAX_CELLS)
            rasters = nested_rasters(world, lon, lat, levels, report)
            # the street first, then (full demo) a finer level around its flight: from 2 m up the
            # finest level's cells are tens of pixels wide
            street = find_street(rasters[-1], lon, lat, self.street)
            if street is not None and not self.quick:
                detail = street_detail_level(levels[-1], self.street, width=self.width, height=self.height)
                with report.stage(f"synthesize street detail ({detail.resolution_m:g} m)"):
                    rasters.append(street_detail(world, rasters[-1], street, self.street, detail))
            st = build_lifted_store(rasters, store_path, leaf_cap=self.leaf_cap, workers=self.workers,
                                    overwrite=self.overwrite, report=report)
            cameras, street, ground = street_descent(rasters, lon, lat, self.frames, self.street, street=street,
                                                     width=self.width, height=self.height)
            poster_frame = frame_near_altitude(cameras, ground, POSTER_ALTITUDE_M)
            slon, slat, heading = street
            sky = self.sky(slon, slat, float(ground(np.array([slon]), np.array([slat]))[0]))
            splats = render_flythrough(st, cameras, video, poster=(poster, poster_frame), fps=self.fps, sse=self.sse,
                                       splat_budget=self.splat_budget, cache_mb=self.cache_mb, renderer=renderer,
                                       atmosphere=sky, overwrite=self.overwrite, report=report)
        write_json(path_json, {"city_lonlat": [lon, lat], "street_lonlat": [slon, slat], "heading_deg": heading,
                               "street_m": self.street, "frames": self.frames, "seed": self.seed,
                               "ground_m": float(ground(np.array([slon]), np.array([slat]))[0]),
                               "store": store_path.name}, overwrite=self.overwrite)
        report.say(f"city at lon={lon:.5f}, lat={lat:.5f}; street flight heading {heading:g} deg")
        report.say(f"store  {store_path} ({st.info()['splat_count']} splats)")
        report.say(f"video  {video} ({len(cameras)} frames, {self.width}x{self.height}, "
                   f"{min(splats)}..{max(splats)} splats per frame)")
        report.say(f"poster {poster} (frame {poster_frame})")
        report.summary()

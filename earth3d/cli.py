"""The `earth3d` command line (tyro): thin commands that call the library's stages.

    earth3d demo                          procedural world -> store -> orbit-to-street flythrough mp4
    earth3d synth  --bbox W S E N         procedural region -> GeoTIFF orthophoto + DEM + preview PNG
    earth3d build  --dem D.tif --ortho O.tif --out world.e3d  [--workers N | --scheduler tcp://..]
    earth3d render --store world.e3d --lon .. --lat .. --alt .. --out view.png
    earth3d fly    --store world.e3d --path descent --out flight.mp4
    earth3d export --store world.e3d --out scene.ply | scene.glb | tiles/
    earth3d import-ply --ply scene.ply --origin LON LAT HEIGHT --out world.e3d
    earth3d info   world.e3d
    earth3d serve  world.e3d | tiles/     CesiumJS viewer on http://127.0.0.1:8000/

Errors are one line on stderr and a non-zero exit status; `--debug` shows the traceback.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Iterator, Literal, Sequence, Union

import numpy as np
import tyro

Renderer = Literal["auto", "cpu", "gsplat"]
PREFETCH_FRAMES = 8  # views ahead on the path whose chunks load while the current frame renders
# Splats per pixel of new chunks queued per frame: a descent needs most of its chunks within a few
# frames, and the quota spreads those loads over the frames before them.
PREFETCH_SPLATS_PER_PIXEL = 0.25
POSTER_ALTITUDE_M = 300.0
PROBE_STEPS = 6  # ground probes of a store, each from closer above the ground  # the demo's poster is the frame nearest this height over the city


# ============================================================================ shared helpers
class Report:
    """Progress bars (tqdm, with ETA) and per-stage timings, silent with --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.timings: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if not self.quiet:
            print(f"{name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.timings.append((name, seconds))
        if not self.quiet:
            print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)

    def progress(self, iterable, total: int | None = None, desc: str = ""):
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit="frame", disable=self.quiet, file=sys.stderr,
                    dynamic_ncols=True, leave=False)

    def say(self, line: str) -> None:
        """A result line on stdout: where the outputs are, what they hold."""
        if not self.quiet:
            print(line, flush=True)

    def summary(self) -> None:
        if self.timings:
            total = sum(s for _, s in self.timings)
            parts = ", ".join(f"{name} {s:.1f} s" for name, s in self.timings)
            self.say(f"timings: {parts} (total {total:.1f} s)")


def _make_renderer(kind: Renderer):
    from .renderers import CpuRenderer, GsplatRenderer, default_renderer

    if kind == "cpu":
        return CpuRenderer()
    if kind == "gsplat":
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("--renderer gsplat needs a CUDA device; none is available (use --renderer cpu)")
        return GsplatRenderer()
    return default_renderer()


def _check_new(path: Path, overwrite: bool) -> Path:
    """An output path that may be written: absent, or replaced with --overwrite."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass --overwrite to replace it)")
    return path


def _check_input(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    return path


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width > 16384 or height > 16384:
        raise ValueError(f"image size {width}x{height} must be between 1 and 16384 on each side")


def _check_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    w, s, e, n = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise ValueError(f"bbox {bbox} is not finite")
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ValueError(f"bbox {bbox} must be WEST SOUTH EAST NORTH in degrees with west < east, south < north")
    return bbox


def raster_ground(*rasters) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Ground height at lon/lat from the first of `rasters` (finest first) with a valid cell there
    (nearest cell); off every raster, the last one's median height."""
    from .geometry import GEODETIC_CRS, transformer

    fallback = float(np.nanmedian(rasters[-1].height[rasters[-1].valid]))

    def ground(lon, lat):
        lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
        out = np.full(np.shape(lon), np.nan)
        for raster in rasters:
            todo = np.isnan(out)
            if not todo.any():
                break
            x, y = transformer(GEODETIC_CRS.to_2d(), raster.crs).transform(lon[todo], lat[todo])
            col, row = ~raster.transform @ (np.asarray(x), np.asarray(y))
            col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
            rows_n, cols_n = raster.shape
            inside = (col >= 0) & (col < cols_n) & (row >= 0) & (row < rows_n)
            found = np.full(col.shape, np.nan)
            ok_rows, ok_cols = row[inside], col[inside]
            found[inside] = np.where(raster.valid[ok_rows, ok_cols], raster.height[ok_rows, ok_cols], np.nan)
            out[todo] = found
        return np.where(np.isnan(out), fallback, out)

    return ground


def _raster_centre(raster) -> tuple[float, float]:
    from .geometry import GEODETIC_CRS, transformer

    h, w = raster.shape
    x, y = raster.transform @ (w / 2, h / 2)
    lon, lat = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform(x, y)
    return float(lon), float(lat)


# ============================================================================ the demo world
@dataclass(frozen=True)
class Level:
    """One nested raster of a multi-level world: a square of `half_size_m` around the target at `resolution_m`."""

    name: str
    half_size_m: float
    resolution_m: float


#: From a continent seen from 2,000 km down to the street: each level 4-10 times finer and smaller.
DEMO_LEVELS = (
    Level("continental", 2_600_000.0, 12_000.0),
    Level("regional", 260_000.0, 1_200.0),
    Level("district", 26_000.0, 120.0),
    Level("city", 2_600.0, 10.0),
    Level("blocks", 640.0, 2.0),
    Level("street", 160.0, 0.5),
)
#: The same nesting at coarser cells (a few tens of thousands of splats): a quick preview.
QUICK_LEVELS = (
    Level("continental", 2_600_000.0, 60_000.0),
    Level("regional", 260_000.0, 6_000.0),
    Level("district", 26_000.0, 600.0),
    Level("city", 2_600.0, 60.0),
    Level("blocks", 640.0, 12.0),
    Level("street", 160.0, 4.0),
)


def level_bbox(lon: float, lat: float, half_size_m: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a square `2 * half_size_m` on a side centred on (lon, lat)."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    lons, lats, _ = geod.fwd([lon] * 4, [lat] * 4, [270.0, 180.0, 90.0, 0.0], [half_size_m] * 4)
    return float(lons[0]), max(float(lats[1]), -89.9), float(lons[2]), min(float(lats[3]), 89.9)


def nested_rasters(generator, lon: float, lat: float, levels: Sequence[Level] = DEMO_LEVELS, report: Report | None = None):
    """One raster per level from `generator.generate(bbox=..., resolution_m=...)`, coarse to fine. Each
    raster's cells that lie wholly inside the next finer level are masked out, so every place is drawn
    by one level only (the finest that covers it)."""
    from .geometry import GEODETIC_CRS, transformer

    rasters = []
    for level in levels:
        it = contextlib.nullcontext() if report is None else report.stage(f"synthesize {level.name} "
                                                                          f"({level.resolution_m:g} m)")
        with it:
            rasters.append(generator.generate(bbox=level_bbox(lon, lat, level.half_size_m),
                                              resolution_m=level.resolution_m))
    for outer, inner, level in zip(rasters[:-1], rasters[1:], levels[1:]):
        w, s, e, n = level_bbox(lon, lat, level.half_size_m)
        x, y = outer.cell_centers()
        clon, clat = transformer(outer.crs, GEODETIC_CRS.to_2d()).transform(x, y)
        deg_lat = 0.5 * max(outer.resolution) if outer.crs.is_geographic else 0.5 * max(outer.resolution) / 111_000
        deg_lon = deg_lat / max(math.cos(math.radians(lat)), 1e-6) if not outer.crs.is_geographic else \
            0.5 * outer.resolution[0]
        covered = (clon - deg_lon >= w) & (clon + deg_lon <= e) & (clat - deg_lat >= s) & (clat + deg_lat <= n)
        outer.valid = outer.valid & ~covered
    return rasters


def find_street(raster, lon: float, lat: float, length_m: float, search_m: float = 80.0,
                behind_m: float = 15.0) -> tuple[float, float, float] | None:
    """A straight, clear ground corridor near (lon, lat) in a north-up raster: its start (lon, lat) and
    heading (0, 90, 180 or 270 degrees), or None.

    A corridor is clear when it lies at ground level (the lowest few percent of the heights around)
    and its heights, less their linear trend, vary by under 0.75 m over `length_m` ahead of the start
    and `behind_m` behind it (no building or tree in it). The widest clear corridor wins, then the one
    nearest (lon, lat): that is the middle of a street.
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    from .geometry import GEODETIC_CRS, transformer

    t = raster.transform
    if t.b != 0 or t.d != 0 or t.e >= 0:
        return None
    x, y = transformer(GEODETIC_CRS.to_2d(), raster.crs).transform(lon, lat)
    c0, r0 = (int(v) for v in np.floor(~t @ (x, y)))
    rows_n, cols_n = raster.shape
    # Metres per cell along x and y at the target.
    ex, ey = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform([x, x + t.a, x], [y, y, y + t.e])
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    mx = geod.inv(ex[0], ey[0], ex[1], ey[1])[2]
    my = geod.inv(ex[0], ey[0], ex[2], ey[2])[2]
    height = np.where(raster.valid, raster.height, np.nan)
    best = None
    # heading: (array with the travel direction along axis 0 increasing, metres per step, metres across)
    views = {
        180.0: (height, my, mx, r0, c0),
        0.0: (height[::-1], my, mx, rows_n - 1 - r0, c0),
        90.0: (height.T, mx, my, c0, r0),
        270.0: (height.T[::-1], mx, my, cols_n - 1 - c0, r0),
    }
    for heading, (h, step, across, a0, b0) in views.items():
        ahead, back = int(length_m / step) + 1, int(behind_m / step) + 1
        search = int(search_m / across)
        lo_a, hi_a = a0 - back, a0 + ahead
        lo_b, hi_b = max(b0 - search, 0), min(b0 + search + 1, h.shape[1])
        if lo_a < 0 or hi_a > h.shape[0] or hi_b <= lo_b:
            continue
        seg = h[lo_a:hi_a, lo_b:hi_b]
        if not np.isfinite(seg).all():
            continue
        s = np.arange(seg.shape[0], dtype=np.float64)
        trend = np.polynomial.polynomial.polyfit(s, seg, 1)  # (2, columns)
        resid = seg - (trend[0] + s[:, None] * trend[1])
        # A street is at ground level: a flat roof or a lawn on a terrace is not.
        low = (np.median(seg, axis=0) <= np.percentile(seg, 5) + 1.5).astype(np.int8)
        for half_width_m in (12.0, 9.0, 6.0, 4.0, 2.0, 1.0):
            width = 2 * int(half_width_m / across) + 1
            top = maximum_filter1d(resid, width, axis=1, mode="nearest").max(axis=0)
            bottom = minimum_filter1d(resid, width, axis=1, mode="nearest").min(axis=0)
            clear = (top - bottom < 0.75) & (minimum_filter1d(low, width, mode="nearest") > 0)
            if clear.any():
                # The middle of the clear run nearest the target.
                edges = np.flatnonzero(np.diff(np.concatenate([[0], clear.astype(np.int8), [0]])))
                centres = lo_b + (edges[0::2] + edges[1::2] - 1) // 2
                b = int(centres[np.argmin(np.abs(centres - b0))])
                score = (half_width_m, -abs(b - b0) * across)
                if best is None or score > best[0]:
                    best = (score, heading, b)
                break
    if best is None:
        return None
    _, heading, b = best
    col, row = (b, r0) if heading in (0.0, 180.0) else (c0, b)
    sx, sy = t @ (col + 0.5, row + 0.5)
    slon, slat = transformer(raster.crs, GEODETIC_CRS.to_2d()).transform(sx, sy)
    return float(slon), float(slat), heading


# ============================================================================ common options
@dataclass(kw_only=True)
class _Common:
    quiet: bool = False
    """Print nothing but errors: no progress bars, timings or result lines."""
    debug: bool = False
    """Show the full traceback when something fails."""

    def run(self) -> None:  # pragma: no cover - every command overrides it
        raise NotImplementedError


@dataclass(kw_only=True)
class _Scene(_Common):
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
    """Most splats per pixel drawn from --store (None: the screen-space error alone decides)."""
    renderer: Renderer = "auto"
    """Rasterizer: gsplat on a CUDA device, else the CPU one."""

    def open_scene(self, report: Report) -> "SceneView":
        if (self.store is None) == (self.dem is None):
            raise ValueError("give exactly one of --store or --dem (with an optional --ortho)")
        if self.cache_mb <= 0:
            raise ValueError(f"--cache-mb {self.cache_mb} must be positive")
        renderer = _make_renderer(self.renderer)
        if self.store is not None:
            from . import store as store_mod
            from .stream import Stream

            _check_input(self.store, "store")
            with report.stage("open store"):
                st = store_mod.open_store(self.store)
                stream = Stream(st, cache_bytes=self.cache_mb * 2**20, sse_threshold_px=self.sse,
                                splat_budget_per_pixel=self.splat_budget)
            return StoreView(st, stream, renderer)
        import earth3d

        _check_input(self.dem, "DEM")
        if self.ortho is not None:
            _check_input(self.ortho, "orthophoto")
        with report.stage("read"):
            raster = earth3d.read_raster(self.dem, self.ortho, resolution=self.resolution)
        with report.stage("lift"):
            gaussians = earth3d.lift(raster)
        return RasterView(raster, gaussians, renderer)


class SceneView:
    """What render/fly need from a scene: where it is, its ground, and a frame for a camera."""

    def centre(self) -> tuple[float, float]: ...
    def ground(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]: ...
    def prefetch(self, cameras) -> None: ...
    def render(self, camera): ...


class RasterView(SceneView):
    def __init__(self, raster, gaussians, renderer):
        self.raster, self.gaussians, self.renderer = raster, gaussians, renderer

    def centre(self):
        return _raster_centre(self.raster)

    def ground(self):
        return raster_ground(self.raster)

    def prefetch(self, cameras) -> None:
        return None

    def render(self, camera):
        return self.renderer.render(self.gaussians, camera)


class StoreView(SceneView):
    def __init__(self, store, stream, renderer):
        self.store, self.stream, self.renderer = store, stream, renderer
        lo, hi = (np.asarray(store.info()["extent_ecef_m"][k], np.float64) for k in ("bmin", "bmax"))
        self._extent = (lo, hi)

    def centre(self):
        from .geometry import ecef_to_geodetic

        lon, lat, _ = ecef_to_geodetic(0.5 * (self._extent[0] + self._extent[1]))
        return float(lon), float(lat)

    def ground(self):
        """Ground height found by rendering narrow, straight-down depth probes over each point, each
        probe from closer above the ground the last one found (distant probes see coarse levels)."""
        from .geometry import Camera, ecef_to_geodetic

        corners = np.stack(np.meshgrid(*zip(*self._extent), indexing="ij"), -1).reshape(-1, 3)
        top = float(ecef_to_geodetic(corners)[:, 2].max()) + 1000.0

        from .rendering import render
        from .stream import Stream

        # A probe sees a few pixels: no splat budget, so the cut refines by screen-space error alone.
        probes = Stream(self.store, cache_bytes=self.stream.cache_bytes, splat_budget_per_pixel=None)

        def probe(lon: float, lat: float, height: float) -> float:
            cam = Camera.from_geodetic(lon, lat, height, 0.0, -90.0, 0.0, 16, 16, fov_y_deg=0.2)
            out = render(probes, cam, self.renderer)
            centre = out.depth[6:10, 6:10][out.alpha[6:10, 6:10] > 0.5]
            if centre.numel() == 0:
                raise ValueError(f"the store {self.store.path} has no ground at lon={lon:.6f}, lat={lat:.6f}")
            return height - float(centre.median())

        def ground(lon, lat):
            out = []
            for lo, la in zip(np.ravel(lon), np.ravel(lat)):
                height, g = top, probe(float(lo), float(la), top)
                for _ in range(PROBE_STEPS):
                    if height - g <= 500.0:
                        break
                    height = g + max(0.05 * (height - g), 300.0)
                    g = probe(float(lo), float(la), height)
                out.append(g)
            return np.asarray(out).reshape(np.shape(lon))

        return ground

    def prefetch(self, cameras) -> None:
        if cameras:
            quota = int(PREFETCH_SPLATS_PER_PIXEL * cameras[0].width * cameras[0].height)
            self.stream.prefetch(cameras, max_splats=quota)

    def render(self, camera):
        from .rendering import render

        return render(self.stream, camera, self.renderer)


# ============================================================================ commands
@dataclass(kw_only=True)
class Render(_Scene):
    """Render one view to a PNG (and optionally a depth map)."""

    out: Path
    """Output PNG."""
    lon: float | None = None
    """Camera longitude in degrees (default: the scene's centre)."""
    lat: float | None = None
    """Camera latitude in degrees (default: the scene's centre)."""
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
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Background colour, RGB in [0, 1]."""
    overwrite: bool = False
    """Replace existing outputs."""

    def run(self) -> None:
        from .geometry import Camera
        from .video import write_depth, write_png

        _check_size(self.width, self.height)
        _check_new(self.out, self.overwrite)
        if self.depth is not None:
            _check_new(self.depth, self.overwrite)
            if self.depth.suffix.lower() not in (".png", ".npy"):
                raise ValueError(f"--depth {self.depth} must end in .png or .npy")
        report = Report(self.quiet)
        scene = self.open_scene(report)
        lon0, lat0 = scene.centre()
        lon = lon0 if self.lon is None else self.lon
        lat = lat0 if self.lat is None else self.lat
        if not -90 <= lat <= 90 or not -180 <= lon <= 360:
            raise ValueError(f"camera position lon={lon}, lat={lat} is outside the globe")
        ground = float(scene.ground()(np.array([lon]), np.array([lat]))[0])
        if self.look_at is not None:
            camera = Camera.look_at((lon, lat, ground + self.alt), self.look_at, self.width, self.height, self.fov)
        else:
            camera = Camera.from_geodetic(lon, lat, ground + self.alt, self.heading, self.pitch, self.roll,
                                          self.width, self.height, self.fov)
        scene.prefetch([camera])
        with report.stage("render"):
            out = scene.render(camera)
        write_png(self.out, out.rgb, overwrite=self.overwrite)
        report.say(f"wrote {self.out} ({self.width}x{self.height}, {out.n_splats} splats)")
        if self.depth is not None:
            write_depth(self.depth, out.depth, out.alpha, overwrite=self.overwrite)
            report.say(f"wrote {self.depth}")


@dataclass(kw_only=True)
class Fly(_Scene):
    """Fly a camera path (orbit, waypoints file or orbit-to-street descent) and write an mp4."""

    out: Path
    """Output mp4."""
    path: Literal["orbit", "waypoints", "descent"] = "orbit"
    """Which path: an orbit around --lon/--lat, a --waypoints file, or a descent from orbit to the street."""
    lon: float | None = None
    """Target longitude (default: the scene's centre)."""
    lat: float | None = None
    """Target latitude (default: the scene's centre)."""
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

    def cameras(self, scene: SceneView) -> list:
        from .geometry import paths

        lon0, lat0 = scene.centre()
        lon = lon0 if self.lon is None else self.lon
        lat = lat0 if self.lat is None else self.lat
        ground = scene.ground()
        size = dict(width=self.width, height=self.height, fov_y_deg=self.fov)
        if self.path == "orbit":
            g = float(ground(np.array([lon]), np.array([lat]))[0])
            return paths.orbit(lon, lat, g, self.radius, self.alt, self.frames, **size)
        if self.path == "waypoints":
            if self.waypoints is None:
                raise ValueError("--path waypoints needs --waypoints FILE")
            return paths.waypoint_path(paths.read_waypoints(self.waypoints), self.frames, **size)
        return paths.descent(lon, lat, self.frames, ground_m=ground, start_altitude_m=self.start_alt,
                             end_altitude_m=self.end_alt, heading_deg=self.heading,
                             street_distance_m=self.street, **size)

    def run(self) -> None:
        from .video import Mp4Writer, write_png

        _check_size(self.width, self.height)
        _check_new(self.out, self.overwrite)
        if self.frames < 2:
            raise ValueError(f"--frames {self.frames} must be at least 2")
        if self.frames_dir is not None:
            _check_new(self.frames_dir / "frame_00000.png", self.overwrite)
        report = Report(self.quiet)
        scene = self.open_scene(report)
        cameras = self.cameras(scene)
        with report.stage("render"), Mp4Writer(self.out, self.fps, overwrite=self.overwrite) as video:
            for i, camera in enumerate(report.progress(cameras, len(cameras), "frames")):
                scene.prefetch(cameras[i + 1:i + 1 + PREFETCH_FRAMES])
                rgb = scene.render(camera).rgb
                video.append(rgb)
                if self.frames_dir is not None:
                    write_png(self.frames_dir / f"frame_{i:05d}.png", rgb, overwrite=self.overwrite)
        report.say(f"wrote {self.out} ({len(cameras)} frames, {self.width}x{self.height})")
        report.summary()


def _store_target(out: Path, overwrite: bool) -> Path:
    """Check a store output folder; the build goes to a sibling work folder that is renamed at the end."""
    if out.exists():
        if not overwrite:
            raise FileExistsError(f"{out} already exists (pass --overwrite to replace it)")
        if not (out / "store.json").is_file():
            raise FileExistsError(f"{out} exists and is not an earth3d store; refusing to replace it")
    return out.with_name(f".{out.name}.building")


def _finish_store(work: Path, out: Path) -> None:
    """Put a finished build in place of `out` (an old store is removed only after the new one is complete)."""
    import shutil

    old = out.with_name(f".{out.name}.old")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    work.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _build_store(sources: list, out: str | Path, overwrite: bool, report: Report, leaf_cap: int, workers: int,
                 scheduler: str | None = None):
    """Build a store at a folder (through a sibling work folder renamed at the end) or an fsspec URL
    (in place: a store there is complete once its store.json is written)."""
    from . import store as store_mod
    from .store.fs import is_local, location, remove_tree

    where = location(out)
    with report.stage("build store"):
        if is_local(where):
            work = _store_target(where, overwrite)
            store_mod.build_store(sources, work, leaf_cap=leaf_cap, workers=workers, scheduler=scheduler,
                            progress=not report.quiet)
            _finish_store(work, where)
        else:
            if (where / "store.json").is_file():
                if not overwrite:
                    raise FileExistsError(f"{where} already exists (pass --overwrite to replace it)")
                remove_tree(where)
            store_mod.build_store(sources, where, leaf_cap=leaf_cap, workers=workers, scheduler=scheduler,
                            progress=not report.quiet)
    return store_mod.open_store(where)


def _lifted(dem: Path, ortho: Path | None, resolution: float | None):
    import earth3d

    return earth3d.lift(earth3d.read_raster(dem, ortho, resolution=resolution))


def _synthesized(bbox, resolution_m: float, seed: int):
    import earth3d
    from .synth import ProceduralWorld

    return earth3d.lift(ProceduralWorld(seed).generate(bbox=bbox, resolution_m=resolution_m))


@dataclass(kw_only=True)
class Build(_Common):
    """Build a streamable LOD store from DEM (+ orthophoto) GeoTIFFs and/or a procedural region."""

    out: str
    """Output store: a folder or an fsspec URL (memory://, s3://, gs://, ...)."""
    dem: tuple[Path, ...] = ()
    """DEM GeoTIFFs (any number)."""
    ortho: tuple[Path, ...] = ()
    """Orthophotos, one per --dem in the same order (or none: colours from a hypsometric ramp)."""
    resolution: float | None = None
    """Lifting cell size in each DEM's CRS units (default: the finer input's)."""
    synth: tuple[float, float, float, float] | None = None
    """WEST SOUTH EAST NORTH: also (or instead) add this region of the procedural world."""
    synth_resolution: float = 30.0
    """Cell size in metres of the --synth region."""
    seed: int = 0
    """Procedural world seed for --synth."""
    leaf_cap: int = 32768
    """Most splats in a leaf chunk."""
    workers: int = 1
    """Processes of a local Dask cluster that lift tiles, build leaves and merge levels (1: in this process)."""
    scheduler: str | None = None
    """Address of a running Dask scheduler (tcp://HOST:PORT) to build on instead."""
    overwrite: bool = False
    """Replace an existing store."""

    def run(self) -> None:
        from functools import partial

        if not self.dem and self.synth is None:
            raise ValueError("give at least one --dem GeoTIFF or a --synth region")
        if self.ortho and len(self.ortho) != len(self.dem):
            raise ValueError(f"{len(self.ortho)} --ortho files for {len(self.dem)} --dem files: give one per DEM or none")
        for path in self.dem:
            _check_input(path, "DEM")
        for path in self.ortho:
            _check_input(path, "orthophoto")
        orthos = self.ortho or (None,) * len(self.dem)
        report = Report(self.quiet)
        sources = [partial(_lifted, d, o, self.resolution) for d, o in zip(self.dem, orthos)]
        if self.synth is not None:
            sources.append(partial(_synthesized, _check_bbox(self.synth), self.synth_resolution, self.seed))
        st = _build_store(sources, self.out, self.overwrite, report, self.leaf_cap, self.workers, self.scheduler)
        info = st.info()
        report.say(f"wrote {self.out} ({info['splat_count']} splats, {info['node_count']} nodes, "
                   f"{info['bytes_on_disk'] / 2**20:.1f} MiB)")
        report.summary()


@dataclass(kw_only=True)
class Info(_Common):
    """Describe a store: extent, levels, splat counts, size on disk, format version."""

    store: tyro.conf.Positional[Path]
    """The store folder."""
    json: bool = False
    """Print the description as JSON."""

    def run(self) -> None:
        import json as json_mod

        from . import store as store_mod
        from .geometry import ecef_to_geodetic

        _check_input(self.store, "store")
        info = store_mod.open_store(self.store).info()
        extent = info["extent_ecef_m"]
        lo, hi = np.asarray(extent["bmin"], np.float64), np.asarray(extent["bmax"], np.float64)
        lon, lat, h = ecef_to_geodetic(0.5 * (lo + hi))
        info["centre_lonlath"] = [round(float(lon), 7), round(float(lat), 7), round(float(h), 2)]
        info["extent_size_m"] = [round(float(v), 2) for v in hi - lo]
        if self.json:
            print(json_mod.dumps(info, indent=2, default=list))
            return
        width = max(len(k) for k in info)
        for key, value in info.items():
            if key == "bytes_on_disk":
                value = f"{value} ({value / 2**20:.2f} MiB)"
            print(f"{key:<{width}}  {value}")


@dataclass(kw_only=True)
class Export(_Common):
    """Export splats to PLY, GLB or SPZ (a store's leaves, or a lifted DEM + orthophoto), or a store to
    an OGC 3D Tiles 1.1 tileset (its levels of detail as tiles)."""

    out: Path
    """Output: a .ply (3DGS PLY + .json sidecar), .glb (KHR_gaussian_splatting) or .spz file, or a folder
    (no suffix) for a 3D Tiles tileset."""
    store: Path | None = None
    """A store (PLY/GLB/SPZ: its full-detail leaves; 3D Tiles: its whole tree)."""
    dem: Path | None = None
    """A DEM GeoTIFF, lifted (instead of --store; not for 3D Tiles)."""
    ortho: Path | None = None
    """An orthophoto GeoTIFF draped on --dem."""
    resolution: float | None = None
    """Lifting cell size for --dem, in the DEM CRS's units."""
    origin: tuple[float, float, float] | None = None
    """LON LAT HEIGHT of the local ENU frame (default: the splats' own origin)."""
    compression: Literal["auto", "none", "spz"] = "auto"
    """GLB and 3D Tiles: SPZ-compressed splats or plain floats (auto: plain GLB, SPZ tiles)."""
    max_splats: int = 20_000_000
    """Refuse to gather more splats than this into one file."""
    tiles_layout: Literal["auto", "explicit", "implicit"] = "auto"
    """3D Tiles: every tile in tileset.json, or implicit tiling (OCTREE subtree files; auto: for large stores)."""
    overwrite: bool = False
    """Replace existing outputs."""

    def run(self) -> None:
        from . import export

        suffix = self.out.suffix.lower()
        if suffix not in ("", ".ply", ".glb", ".spz"):
            raise ValueError(f"--out {self.out}: the format comes from the suffix: .ply, .glb, .spz, "
                             "or none for a 3D Tiles folder")
        report = Report(self.quiet)
        if suffix == "":
            if self.store is None:
                raise ValueError("3D Tiles export needs --store (the tiles are the store's levels of detail)")
            _check_input(self.store, "store")
            _check_new(self.out / "tileset.json", self.overwrite)
            compression = None if self.compression == "none" else "spz"
            with report.stage("export 3D Tiles"):
                target = export.write_tileset(self.store, self.out, compression, self.origin, overwrite=self.overwrite,
                                              layout=self.tiles_layout)
            report.say(f"wrote {target}")
            return
        _check_new(self.out, self.overwrite)
        gaussians = self._gaussians(report)
        with report.stage("export"):
            if suffix == ".ply":
                export.write_ply(gaussians, self.out, self.origin, overwrite=self.overwrite)
            elif suffix == ".glb":
                compression = "spz" if self.compression == "spz" else None
                export.write_splats_glb(gaussians, self.out, self.origin, compression, overwrite=self.overwrite)
            else:
                export.write_spz(gaussians, self.out, self.origin, overwrite=self.overwrite)
        report.say(f"wrote {self.out} ({len(gaussians)} splats)")

    def _gaussians(self, report: Report):
        from .gaussians import Gaussians

        if (self.store is None) == (self.dem is None):
            raise ValueError("give exactly one of --store or --dem (with an optional --ortho)")
        if self.dem is not None:
            _check_input(self.dem, "DEM")
            with report.stage("read + lift"):
                return _lifted(self.dem, self.ortho, self.resolution)
        from . import store as store_mod

        _check_input(self.store, "store")
        st = store_mod.open_store(self.store)
        total = st.info()["splat_count"]
        if total > self.max_splats:
            raise ValueError(f"store {self.store} holds {total} splats, over --max-splats {self.max_splats}")
        with report.stage("read leaves"):
            keys, leaves = list(st.root_keys()), []
            while keys:
                key = keys.pop()
                if st.is_leaf(key):
                    leaves.append(st.read(key))
                else:
                    keys.extend(st.children(key))
            return Gaussians.concat(leaves)


@dataclass(kw_only=True)
class Serve(_Common):
    """Show a store or a 3D Tiles tileset in CesiumJS on http://127.0.0.1:PORT/ (no ion token, no network
    imagery). A store is exported to a temporary tileset first; CesiumJS is npm-installed once."""

    target: tyro.conf.Positional[Path]
    """A store folder, or a folder holding tileset.json."""
    port: int = 8000
    """Port on 127.0.0.1 (0: any free port)."""
    cesium: Path | None = None
    """CesiumJS Build/Cesium folder (default: the npm package, installed into ~/.cache/earth3d-npm)."""
    compression: Literal["spz", "none"] = "spz"
    """Splat tiles of a store: SPZ-compressed or plain floats."""

    def run(self) -> None:
        import tempfile

        from .export import write_tileset
        from .export.viewer import cesium_build, serve

        _check_input(self.target, "store or tileset folder")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port} is not a port number")
        report = Report(self.quiet)
        with contextlib.ExitStack() as cleanup:
            tiles = self.target
            if not (tiles / "tileset.json").is_file():
                if not (tiles / "store.json").is_file():
                    raise ValueError(f"{tiles} holds neither tileset.json nor an earth3d store (store.json)")
                tiles = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="earth3d-serve-"))) / "tiles"
                with report.stage("export 3D Tiles"):
                    write_tileset(self.target, tiles, None if self.compression == "none" else "spz")
            with report.stage("CesiumJS"):
                cesium = self.cesium or cesium_build()
            server = serve(tiles, cesium, self.port)
            print(f"serving {self.target} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
            try:
                server.serve_forever()
            finally:
                server.server_close()


@dataclass(kw_only=True)
class ImportPly(_Common):
    """Import a 3DGS PLY (local frame + geodetic origin) into a store."""

    ply: Path
    """The PLY file."""
    out: Path
    """Output store folder."""
    origin: tuple[float, float, float] | None = None
    """LON LAT HEIGHT of the PLY's local frame (default: from its .json sidecar)."""
    heading: float = 0.0
    """Turn the scene about the vertical by this many degrees, clockwise from above."""
    up: Literal["z", "y"] | None = None
    """The PLY's up axis (default: the sidecar's, else z)."""
    leaf_cap: int = 32768
    """Most splats in a leaf chunk."""
    overwrite: bool = False
    """Replace an existing store."""

    def run(self) -> None:
        from .export import read_ply

        _check_input(self.ply, "PLY")
        _store_target(self.out, self.overwrite)
        report = Report(self.quiet)
        with report.stage("read PLY"):
            gaussians = read_ply(self.ply, self.origin, self.heading, self.up)
        st = _build_store([gaussians], self.out, self.overwrite, report, self.leaf_cap, 1)
        report.say(f"wrote {self.out} ({st.info()['splat_count']} splats)")


@dataclass(kw_only=True)
class Synth(_Common):
    """Synthesize a region of the procedural world: GeoTIFF orthophoto + DEM and a preview PNG."""

    out: Path
    """Output folder (ortho.tif, dem.tif, preview.png)."""
    bbox: tuple[float, float, float, float] | None = None
    """WEST SOUTH EAST NORTH in degrees."""
    tile: tuple[int, int, int] | None = None
    """Z X Y key of the global tile grid (instead of --bbox)."""
    city: float | None = None
    """Instead of --bbox: a square this many metres wide around the world's nearest city to (0, 0)."""
    level: Literal["continental", "regional", "city", "street"] | None = None
    """Preset resolution for a level of detail (overrides --resolution)."""
    resolution: float = 30.0
    """Cell size in metres."""
    seed: int = 0
    """World seed: the same seed gives the same planet."""
    overwrite: bool = False
    """Replace existing outputs."""

    def run(self) -> None:
        from .raster.write import write_raster
        from .synth import LEVELS, ProceduralWorld
        from .video import write_png

        regions = [r for r in (self.bbox, self.tile, self.city) if r is not None]
        if len(regions) != 1:
            raise ValueError("give exactly one region: --bbox W S E N, --tile Z X Y or --city METRES")
        names = {k: self.out / f"{k}.{ext}" for k, ext in (("ortho", "tif"), ("dem", "tif"), ("preview", "png"))}
        for path in names.values():
            _check_new(path, self.overwrite)
        report = Report(self.quiet)
        world = ProceduralWorld(self.seed)
        resolution = LEVELS[self.level] if self.level else self.resolution
        if self.city is not None:
            if not self.city > 0:
                raise ValueError(f"--city {self.city} must be a positive width in metres")
            with report.stage("find city"):
                lon, lat = world.find_city()
            region = dict(bbox=level_bbox(lon, lat, self.city / 2))
        elif self.bbox is not None:
            region = dict(bbox=_check_bbox(self.bbox))
        else:
            region = dict(tile=self.tile)
        with report.stage("synthesize"):
            raster = world.generate(resolution_m=resolution, **region)
        with report.stage("write"):
            write_raster(raster, names["dem"], names["ortho"], overwrite=self.overwrite)
            write_png(names["preview"], _preview(raster.rgb), overwrite=self.overwrite)
        h, w = raster.shape
        report.say(f"wrote {names['ortho']}, {names['dem']} and {names['preview']} ({w}x{h} cells, "
                   f"{resolution:g} m, heights {np.nanmin(raster.height):.0f}..{np.nanmax(raster.height):.0f} m)")
        report.summary()


def _preview(rgb: np.ndarray, max_side: int = 1024) -> np.ndarray:
    """The orthophoto, block-averaged down to at most `max_side` pixels on a side."""
    step = max(1, -(-max(rgb.shape[:2]) // max_side))
    h, w = (rgb.shape[0] // step) * step, (rgb.shape[1] // step) * step
    return rgb[:h, :w].reshape(h // step, step, w // step, step, 3).mean(axis=(1, 3))


@dataclass(kw_only=True)
class Demo(_Common):
    """Procedural world, no download: synthesize a continent down to a city street, lift it, build a
    store, and fly from 2,000 km down to street level and along a street. Writes an mp4 and a poster."""

    out: Path = Path("earth3d_demo")
    """Output folder: flythrough.mp4, poster.png, the store world.e3d and path.json."""
    width: int = 640
    height: int = 360
    frames: int = 120
    fps: float = 24.0
    seed: int = 0
    """World seed."""
    near: tuple[float, float] = (0.0, 0.0)
    """LON LAT: fly to the city nearest this point."""
    street: float = 40.0
    """Metres flown along the street at the end."""
    cache_mb: int = 1024
    """Chunk cache budget, MiB."""
    leaf_cap: int = 8192
    """Most splats in a leaf chunk (smaller leaves let the level of detail follow the view more closely)."""
    sse: float = 1.0
    """Screen-space error threshold in pixels: a node is drawn once its error is under this."""
    splat_budget: float | None = 1.0
    """Most splats per pixel drawn (None: the screen-space error alone decides)."""
    workers: int = 1
    """Processes of a local Dask cluster building the store (1: in this process)."""
    renderer: Renderer = "auto"
    """Rasterizer: gsplat on a CUDA device, else the CPU one."""
    quick: bool = False
    """A much smaller world (cells 5-8x coarser) for a fast preview."""
    overwrite: bool = False
    """Replace the outputs of an earlier run."""

    def run(self) -> None:
        from .synth import ProceduralWorld
        from .video import write_json

        _check_size(self.width, self.height)
        if self.frames < 2:
            raise ValueError(f"--frames {self.frames} must be at least 2")
        video, poster, store_path, path_json = (self.out / n for n in
                                                ("flythrough.mp4", "poster.png", "world.e3d", "path.json"))
        for path in (video, poster, path_json):
            _check_new(path, self.overwrite)
        _store_target(store_path, self.overwrite)
        renderer = _make_renderer(self.renderer)
        report = Report(self.quiet)
        world = ProceduralWorld(self.seed)
        with report.stage("find city"):
            lon, lat = world.find_city(self.near)
        levels = QUICK_LEVELS if self.quick else DEMO_LEVELS
        st, rasters = build_nested_store(world, lon, lat, store_path, levels, leaf_cap=self.leaf_cap,
                                         workers=self.workers, overwrite=self.overwrite, report=report)
        cameras, street, ground = street_descent(rasters, lon, lat, self.frames, self.street,
                                                 width=self.width, height=self.height)
        poster_frame = _frame_near_altitude(cameras, ground, POSTER_ALTITUDE_M)
        splats = render_flythrough(st, cameras, video, poster=(poster, poster_frame), fps=self.fps, sse=self.sse,
                                   splat_budget=self.splat_budget, cache_mb=self.cache_mb, renderer=renderer,
                                   overwrite=self.overwrite, report=report)
        slon, slat, heading = street
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


def build_nested_store(generator, lon: float, lat: float, store_path: str | Path,
                       levels: Sequence[Level] = DEMO_LEVELS, *, leaf_cap: int = 8192, workers: int = 1,
                       overwrite: bool = False, report: Report | None = None):
    """Synthesize nested rasters around (lon, lat) with any generator (`generate(bbox=, resolution_m=)`),
    lift them and build one store. Returns (store, rasters coarse to fine)."""
    import earth3d

    report = report or Report(quiet=True)
    rasters = nested_rasters(generator, lon, lat, levels, report)
    with report.stage("lift"):
        parts = [earth3d.lift(r) for r in rasters]
    store = _build_store(parts, Path(store_path), overwrite, report, leaf_cap, workers)
    return store, rasters


def street_descent(rasters, lon: float, lat: float, frames: int, street_m: float = 40.0, **camera):
    """Cameras from 2,000 km down to 2 m over the clear street nearest (lon, lat) in the finest raster,
    then `street_m` along it. Returns (cameras, (start lon, start lat, heading), ground function)."""
    from .geometry import paths

    street = find_street(rasters[-1], lon, lat, street_m)
    if street is None:
        warnings.warn(f"no clear street found near lon={lon:.6f}, lat={lat:.6f}; flying north from there")
        street = (lon, lat, 0.0)
    ground = raster_ground(*rasters[::-1])
    cameras = paths.descent(street[0], street[1], frames, ground_m=ground, heading_deg=street[2],
                            street_distance_m=street_m, **camera)
    return cameras, street, ground


def _frame_near_altitude(cameras, ground, altitude_m: float) -> int:
    geo = np.array([c.geodetic() for c in cameras])
    above = np.maximum(geo[:, 2] - ground(geo[:, 0], geo[:, 1]), 0.1)
    return int(np.argmin(np.abs(np.log(above / altitude_m))))


def render_flythrough(store, cameras, video: str | Path, *, poster: tuple[Path, int] | None = None,
                      frames_dir: Path | None = None, fps: float = 24.0, sse: float = 1.0,
                      splat_budget: float | None = 1.0, cache_mb: int = 1024, renderer=None, overwrite: bool = False,
                      report: Report | None = None) -> list[int]:
    """Render `cameras` from a store through a prefetching Stream into an mp4 (and the poster frame, and
    every frame as PNG into `frames_dir`). Returns the number of splats drawn per frame."""
    import earth3d

    from .stream import Stream
    from .video import Mp4Writer, write_png

    report = report or Report(quiet=True)
    splats = []
    with Stream(store, cache_bytes=cache_mb * 2**20, sse_threshold_px=sse,
                splat_budget_per_pixel=splat_budget) as stream, report.stage("render"), \
            Mp4Writer(video, fps, overwrite=overwrite) as mp4:
        for i, camera in enumerate(report.progress(cameras, len(cameras), "frames")):
            stream.prefetch(cameras[i + 1:i + 1 + PREFETCH_FRAMES],
                            max_splats=int(PREFETCH_SPLATS_PER_PIXEL * camera.width * camera.height))
            out = earth3d.render(stream, camera, renderer)
            splats.append(out.n_splats)
            mp4.append(out.rgb)
            if poster is not None and i == poster[1]:
                write_png(poster[0], out.rgb, overwrite=overwrite)
            if frames_dir is not None:
                write_png(Path(frames_dir) / f"frame_{i:05d}.png", out.rgb, overwrite=overwrite)
    return splats


COMMANDS = {"demo": Demo, "synth": Synth, "build": Build, "render": Render, "fly": Fly, "export": Export,
            "import-ply": ImportPly, "info": Info, "serve": Serve}


def _parse(argv: Sequence[str] | None) -> _Common:
    union = Union[tuple(Annotated[cls, tyro.conf.subcommand(name)] for name, cls in COMMANDS.items())]
    return tyro.cli(union, args=argv, prog="earth3d", description=__doc__,
                    config=(tyro.conf.FlagCreatePairsOff,))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run one command, turn errors into one line on stderr and exit status 1."""
    command = _parse(argv)
    show_warning = warnings.showwarning
    if not command.debug:
        warnings.showwarning = _one_line_warning
    try:
        command.run()
    except KeyboardInterrupt:
        print("earth3d: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line unless --debug
        if command.debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"earth3d {_name_of(command)}: error: {message}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = show_warning
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"earth3d: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _name_of(command: _Common) -> str:
    return next(name for name, cls in COMMANDS.items() if isinstance(command, cls))


if __name__ == "__main__":
    sys.exit(main())

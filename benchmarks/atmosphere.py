"""Atmosphere cost against rasterization: a real store view at 1280x720 on the CPU.

Builds a store from a real DEM + orthophoto pair (default: the Rocky Mountain pair), renders the
oblique view from 9 km above its lowest ground at a 25 degree downward pitch with the CPU
rasterizer, then applies the atmosphere to that frame. Prints the median CPU time (all threads,
`time.process_time`) of each over --frames runs after a warm-up, and their ratio. CPU time, not
wall time, because the machine may be shared: the ratio is what to read. Then the CPU time of
each part of the atmosphere (sky map with the exact edge pixels and the sun, aerial-perspective
volume, per-pixel pass) and its share.

    python benchmarks/atmosphere.py [--data ../shared/data] [--frames 5]
    python benchmarks/atmosphere.py --dem ../shared/data/dem/bigtujunga_utm11_30m.tif   # a denser store

The table precomputation (once per atmosphere, cached on disk) is timed separately.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import earth3d
from earth3d import Camera
from earth3d.atmosphere import Sky, Sun, apply_atmosphere
from earth3d.atmosphere.composite import composite_numba
from earth3d.atmosphere.frame import frame_atmosphere
from earth3d.atmosphere.tables import compute_tables, tables
from earth3d.geometry import ecef_to_geodetic
from earth3d.raster.read import read_raster
from earth3d.renderers import CpuRenderer
from earth3d.store import build_store
from earth3d.stream import Stream


def cpu_median(fn, frames: int):
    times, out = [], None
    for _ in range(frames):
        c0 = time.process_time()
        out = fn()
        times.append(time.process_time() - c0)
    return statistics.median(times), out


def breakdown(frame, cam, sky, frames: int) -> dict[str, float]:
    """CPU time of each part of `apply_atmosphere` on this frame, called the way it calls them."""
    tabs = tables(sky.atmosphere)
    need = frame.alpha.numpy()  # as apply_atmosphere passes it: alpha < 1 tested where it matters
    corner = math.sqrt(1.0 + (max(cam.cx, cam.width - cam.cx) / cam.fx) ** 2
                       + (max(cam.cy, cam.height - cam.cy) / cam.fy) ** 2)
    t_far = float(frame.depth.numpy().max()) * corner
    sun = sky.sun_for(cam).direction
    common = dict(sky_stride=sky.sky_stride, volume_stride=sky.volume_stride, slices=sky.slices,
                  exposure=sky.exposure, relight=sky.relight, ground_albedo=sky.ground_albedo,
                  ground_height_m=sky.ground_height_m, need=need)
    sky_only, maps = [], []
    for _ in range(frames):  # interleaved, so that a change of load hits both alike
        sky_only.append(cpu_median(lambda: frame_atmosphere(tabs, cam, sun, t_far=None, **common), 1)[0])
        t, fa = cpu_median(lambda: frame_atmosphere(tabs, cam, sun, t_far=t_far, **common), 1)
        maps.append(t)
    t_sky, t_maps = statistics.median(sky_only), statistics.median(maps)
    radius = sky.atmosphere.sun_angular_radius
    t_pix, _ = cpu_median(lambda: composite_numba(frame.rgb, frame.alpha, frame.depth, fa, cam, radius), frames)
    return {"sky map (+ exact edge pixels, sun)": t_sky, "aerial-perspective volume": max(t_maps - t_sky, 0.0),
            "per-pixel pass (lookups, tone, sRGB)": t_pix}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.environ.get("EARTH3D_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--dem", type=Path, help="another DEM GeoTIFF (default: the RMNP pair's)")
    parser.add_argument("--ortho", type=Path, help="its orthophoto (optional)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--precompute", action="store_true", help="also time the table precomputation")
    args = parser.parse_args()

    dem = args.dem or args.data / "pairs" / "rmnp" / "dem.tif"
    ortho = args.ortho if args.dem else args.data / "pairs" / "rmnp" / "rgb.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raster = read_raster(dem, ortho)
    splats = earth3d.lift(raster)
    ground = float(np.nanmin(raster.height))
    lon_c, lat_c, _ = ecef_to_geodetic(splats.origin)
    w, s, e, n = raster.bounds() if callable(getattr(raster, "bounds", None)) else (None,) * 4
    south = float(lat_c) - 0.45 * (float(n) - float(s)) if n is not None else float(lat_c) - 0.15
    if raster.crs is not None and not raster.crs.is_geographic:
        south = float(lat_c) - 0.3 * raster.shape[0] * abs(raster.transform.e) / 111_000.0
    cam = Camera.from_geodetic(float(lon_c), south, ground + 9000.0, 0.0, -25.0, width=1280, height=720)
    sky = Sky(sun=Sun.from_horizon(225.0, 50.0, float(lon_c), south), ground_height_m=ground)

    if args.precompute:
        c0 = time.process_time()
        compute_tables(sky.atmosphere)
        print(f"table precomputation (once per atmosphere, then cached): {time.process_time() - c0:.2f} s CPU")
    tables(sky.atmosphere)  # from the cache (or computed once) before timing

    renderer = CpuRenderer()
    with tempfile.TemporaryDirectory() as tmp, Stream(build_store([splats], Path(tmp) / "store")) as stream:
        gaussians = stream.select(cam)
        frame = renderer.render(gaussians, cam)  # warm-up: numba kernels
        apply_atmosphere(frame, cam, sky)
        t_raster, frame = cpu_median(lambda: renderer.render(gaussians, cam), args.frames)
        t_atmo, _ = cpu_median(lambda: apply_atmosphere(frame, cam, sky), args.frames)
        shares = breakdown(frame, cam, sky, args.frames)
    print(f"scene: {dem.name}, {len(gaussians):,} splats drawn, 1280x720, coverage {float(frame.alpha.mean()):.2f}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"CPU rasterizer: {t_raster * 1000:.1f} ms CPU (median of {args.frames})")
    print(f"atmosphere:     {t_atmo * 1000:.1f} ms CPU (median of {args.frames})")
    print(f"atmosphere / rasterizer: {t_atmo / t_raster:.2f}")
    print("atmosphere parts (CPU ms, median; share of the atmosphere's time):")
    for name, t in shares.items():
        print(f"  {name:34s} {t * 1000:6.1f} ms  {t / t_atmo * 100:5.1f} %")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

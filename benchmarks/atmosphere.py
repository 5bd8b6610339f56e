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
    python benchmarks/atmosphere.py --descent [--demo-dir earth3d_demo]   # the demo's video frames

The table precomputation (once per atmosphere, cached on disk) is timed separately.

The atmosphere's cost follows the pixels and the rasterizer's the splats, so their ratio is a
property of the frame: `--descent` prints it for frames along the demo's orbit-to-street descent
(the video the atmosphere is drawn on by default), each rendered through the level-of-detail stream
at the default splat budget, per altitude band.
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
import earth3d.store
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


def descent(demo_dir: Path, n_frames: int, repeats: int) -> None:
    """The ratio on frames of the demo's descent (builds the demo world first if there is none)."""
    import json

    from flythrough import BANDS, _ensure_demo

    from earth3d.geometry import paths

    _ensure_demo(demo_dir)
    meta = json.loads((demo_dir / "path.json").read_text())
    store = earth3d.store.open_store(demo_dir / meta["store"])
    lon, lat = meta["street_lonlat"]
    cams = paths.descent(lon, lat, n_frames, ground_m=meta["ground_m"], heading_deg=meta["heading_deg"],
                         street_distance_m=meta["street_m"], width=1280, height=720)
    sky = Sky(ground_height_m=meta["ground_m"])  # as `earth3d demo` draws it by default
    renderer = CpuRenderer()
    rows = []
    with Stream(store) as stream:
        for cam in cams:
            gaussians = stream.select(cam)
            frame = renderer.render(gaussians, cam)
            apply_atmosphere(frame, cam, sky)  # warm-up: compilation, tables, chunk cache
            t_raster, frame = cpu_median(lambda g=gaussians, c=cam: renderer.render(g, c), repeats)
            t_atmo, _ = cpu_median(lambda f=frame, c=cam: apply_atmosphere(f, c, sky), repeats)
            rows.append((cam.geodetic()[2] - meta["ground_m"], len(gaussians), t_raster, t_atmo))
    alts, splats, raster, atmo = (np.array(c) for c in zip(*rows, strict=True))
    print(f"demo descent, {store.path}: {n_frames} frames at 1280x720, default splat budget; CPU ms, median of "
          f"{repeats}")
    print(f"{'altitude band':<18}{'frames':>7}{'splats':>10}{'raster ms':>11}{'atmosphere ms':>15}{'ratio':>7}"
          f"{'worst':>7}")
    for lo, hi, name in BANDS:
        sel = (alts >= lo) & (alts < hi)
        if sel.any():
            ratio = atmo[sel] / raster[sel]
            print(f"{name:<18}{sel.sum():>7}{int(splats[sel].mean()):>10}{raster[sel].mean() * 1000:>11.1f}"
                  f"{atmo[sel].mean() * 1000:>15.1f}{atmo[sel].sum() / raster[sel].sum():>7.3f}{ratio.max():>7.3f}")
    ratio = atmo / raster
    print(f"whole descent: atmosphere / rasterizer {atmo.sum() / raster.sum():.3f} (frames at or under 0.10: "
          f"{int((ratio <= 0.10).sum())} of {len(ratio)}; worst {ratio.max():.3f} at {alts[ratio.argmax()]:.0f} m)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.environ.get("EARTH3D_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--dem", type=Path, help="another DEM GeoTIFF (default: the RMNP pair's)")
    parser.add_argument("--ortho", type=Path, help="its orthophoto (optional)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--precompute", action="store_true", help="also time the table precomputation")
    parser.add_argument("--descent", action="store_true", help="frames of the demo's descent instead")
    parser.add_argument("--demo-dir", type=Path, default=Path("earth3d_demo"))
    parser.add_argument("--descent-frames", type=int, default=24)
    args = parser.parse_args()
    if args.descent:
        descent(args.demo_dir, args.descent_frames, args.frames)
        return

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

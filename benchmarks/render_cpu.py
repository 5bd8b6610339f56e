"""CPU rendering benchmark: a >1M-splat terrain in an oblique 1280x720 view.

Renders the same view with the numba `CpuRenderer` (median of several frames after
a warm-up) and with the plain PyTorch tile compositor (`TorchTileRenderer`) as the
baseline, checks that both images agree, and prints times, splats/s and the ratio.

    python benchmarks/render_cpu.py [--rows 1100 --cols 1000 --frames 5]
    python benchmarks/render_cpu.py --dem ../shared/data/dem/eastern_turkey_srtm_3arcsec.tif

With --dem, the scene is that DEM lifted to splats (one per cell) instead of the
synthetic terrain, seen from the south at 45 degrees down.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numba
import numpy as np
import torch
from numba import njit, prange

from earth3d import Camera, Gaussians
from earth3d.geometry import ecef_to_geodetic, enu_basis, geodetic_to_ecef, rotmat_to_quat
from earth3d.renderers import CpuRenderer
from earth3d.renderers import cpu as cpu_module
from earth3d.renderers.projection import project_gaussians
from earth3d.renderers.tilesort import sort_pairs
from earth3d.renderers.torch_reference import TorchTileRenderer

LON, LAT, ALT = 150.0, 60.0, 1000.0  # camera 1 km above the ellipsoid at 150E 60N


def terrain_scene(rows: int, cols: int) -> tuple[Gaussians, Camera]:
    """A rows x cols grid of flat splats on gently rolling terrain, filling an oblique view."""
    cam = Camera.from_geodetic(LON, LAT, ALT, heading_deg=0.0, pitch_deg=-45.0, width=1280, height=720, fov_y_deg=60.0)
    # The ground seen between the bottom edge (75 deg down) and 3.5 km ahead, inside the side edges.
    north = np.linspace(300.0, 3500.0, rows)
    half_width = 0.9 * 1.026 * (np.cos(np.radians(45.0)) * north + np.sin(np.radians(45.0)) * ALT)
    u = np.linspace(-1.0, 1.0, cols)
    nn = np.repeat(north, cols)
    ee = (half_width[:, None] * u[None, :]).ravel()
    up = 15.0 * np.sin(ee / 180.0) * np.cos(nn / 240.0) + 6.0 * np.sin((ee + nn) / 55.0)
    enu = np.stack([ee, nn, up], axis=1)
    basis = enu_basis(LON, LAT)
    origin = geodetic_to_ecef(LON, LAT, 0.0)
    d_north = (north[1] - north[0])
    d_east = np.repeat(2.0 * half_width / (cols - 1), cols)
    scales = np.stack([0.6 * d_east, np.full_like(d_east, 0.6 * d_north), np.full_like(d_east, 0.05)], axis=1)
    quats = rotmat_to_quat(torch.as_tensor(basis)).float().expand(len(enu), 4)
    field = np.sin(ee / 37.0) * np.cos(nn / 53.0)
    rgb = np.stack([0.35 + 0.2 * field, 0.45 + 0.15 * np.sin(nn / 91.0), 0.25 + 0.1 * up / 20.0], axis=1).clip(0, 1)
    g = Gaussians.from_rgb(origin, enu @ basis.T, quats, scales, np.full(len(enu), 0.98), rgb)
    return g, cam


def dem_scene(path: str) -> tuple[Gaussians, Camera]:
    """A real DEM lifted to splats, framed whole by an oblique camera from the south."""
    import warnings

    from earth3d.lifting import lift
    from earth3d.raster.read import read_raster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # vertical-datum notice: irrelevant for timing
        raster = read_raster(path)
    g = lift(raster, walls=False)
    corners = g.means_ecef()[[0, -1]]
    extent = float(np.linalg.norm(corners[1] - corners[0])) / np.sqrt(2.0)
    lon, lat, h = ecef_to_geodetic(g.origin)
    back = 0.65 * extent  # 0.92 * extent along the 45 degree line of sight
    cam = Camera.look_at((lon, lat - back / 111_000.0, h + back), (lon, lat, h), width=1280, height=720)
    return g, cam


def timed(fn, frames: int) -> tuple[float, float, object]:
    """Median wall-clock seconds, median CPU seconds (all threads) and the last result."""
    wall, cpu, out = [], [], None
    for _ in range(frames):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


@njit(parallel=True)
def _sort_every_tile(offsets, keys, ids):
    for t in prange(offsets.shape[0] - 1):
        sort_pairs(keys, ids, offsets[t], offsets[t + 1])


def stage_shares(renderer: CpuRenderer, g: Gaussians, cam: Camera, frames: int) -> dict[str, float]:
    """Median CPU seconds (all threads) of each stage of `renderer.render`, each kernel called on its own
    the way the renderer calls it: projection, binning, the per-tile depth sort (every tile sorted in
    full, an upper bound: the compositor sorts a tile's far buckets only when it reaches them) and
    the rest of the frame (compositing and what the sort bound leaves), from the whole render's time.
    """
    a = g.arrays()
    view = cam.world_to_camera(g.origin)
    rec = renderer._records(len(g))
    ts = renderer.tile_size
    tiles_x, tiles_y = -(-cam.width // ts), -(-cam.height // ts)

    def project():
        cpu_module._project_into(a.means, a.quats, a.scales, a.opacities, view, cam.fx, cam.fy, cam.cx, cam.cy,
                                 cam.width, cam.height, renderer.eps2d, cam.near, cam.far, renderer.antialiased, rec)
        return np.flatnonzero(rec[:, cpu_module.EXT_X] >= 0.0).astype(np.int32)

    _, t_proj, visible = timed(project, frames)
    _, t_bin, binned = timed(lambda: cpu_module._bin_tiles(rec, rec.view(np.int32), visible, ts, tiles_x, tiles_y,
                                                           4 * numba.get_num_threads()), frames)
    offsets, keys, ids = binned
    copies = [(keys.copy(), ids.copy()) for _ in range(frames + 1)]
    it = iter(copies)
    _sort_every_tile(offsets, *next(it))  # compile
    _, t_sort, _ = timed(lambda: _sort_every_tile(offsets, *next(it)), frames)
    _, t_all, _ = timed(lambda: renderer.render(g, cam), frames)
    return {"projection (_project_into)": t_proj, "binning (_bin_tiles)": t_bin,
            "per-tile depth sort (bound)": t_sort, "compositing (rest)": max(t_all - t_proj - t_bin - t_sort, 0.0),
            "whole render": t_all}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1100)
    parser.add_argument("--cols", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--baseline-frames", type=int, default=1)
    parser.add_argument("--dem", help="a DEM GeoTIFF to lift and render instead of the synthetic terrain")
    args = parser.parse_args()

    g, cam = dem_scene(args.dem) if args.dem else terrain_scene(args.rows, args.cols)
    visible = int(project_gaussians(g, cam).visible.sum())
    print(f"scene: {len(g):,} splats, {visible:,} pass culling, view {cam.width}x{cam.height}, "
          f"torch threads {torch.get_num_threads()}")

    cpu = CpuRenderer()
    t0 = time.perf_counter()
    cpu.render(g, cam)  # warm-up (loads or compiles the numba kernels)
    print(f"CpuRenderer warm-up: {time.perf_counter() - t0:.2f} s")
    t_cpu, c_cpu, out = timed(lambda: cpu.render(g, cam), args.frames)
    print(f"CpuRenderer (numba):        median {t_cpu:.3f} s wall ({c_cpu:.3f} s CPU) over {args.frames} frames, "
          f"{out.n_splats / t_cpu / 1e6:.2f} M splats/s, coverage {float(out.alpha.mean()):.3f}")

    shares = stage_shares(cpu, g, cam, args.frames)
    total = shares.pop("whole render")
    print(f"CpuRenderer stages (CPU ms, median of {args.frames}; share of the whole render's "
          f"{total * 1000:.1f} ms CPU):")
    for name, t in shares.items():
        print(f"  {name:30s} {t * 1000:7.1f} ms  {t / total * 100:5.1f} %")

    baseline = TorchTileRenderer()
    t_ref, c_ref, ref = timed(lambda: baseline.render(g, cam), args.baseline_frames)
    print(f"TorchTileRenderer (torch):  median {t_ref:.3f} s wall ({c_ref:.3f} s CPU) "
          f"over {args.baseline_frames} frames, "
          f"{ref.n_splats / t_ref / 1e6:.2f} M splats/s")
    err = (out.rgb - ref.rgb).double()
    psnr = 10 * np.log10(1.0 / max(float((err ** 2).mean()), 1e-30))
    print(f"agreement of the two images: PSNR {psnr:.1f} dB, max |rgb difference| {float(err.abs().max()):.1e}")
    print(f"speed-up of CpuRenderer over the PyTorch tile compositor: {t_ref / t_cpu:.1f}x wall, "
          f"{c_ref / c_cpu:.1f}x CPU")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work slows the wall times)")


if __name__ == "__main__":
    main()

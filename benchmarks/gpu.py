"""The GPU path measured in one run: gsplat against the CPU renderer, a streamed descent, many views.

On a CUDA machine with gsplat installed (`pip install -e ".[gpu]"`), over a store of the tiled
SRTM world of the store benchmarks (benchmarks/terrain_tiles.py):

1. gsplat and the CPU renderer on the same cut at 10 m, 1 km, 100 km and 2,000 km above the
   ground, 1280x720: PSNR between them (bar >= 40 dB) and each one's render time;
2. the 300-frame orbit-to-street descent at 1920x1080, as `earth3d fly` runs it (prefetch ahead,
   cut, render), two passes over one stream: frames per second by altitude band, and the share of
   the cut (CPU) against the render (GPU) (goal >= 60 fps);
3. 100 random views at 1280x720 with colour, depth and alpha copied back to the host, the
   rendering a dataset needs: views per second, beside the CPU renderer on the same views.

    python benchmarks/gpu.py --splats 1e7 --workdir /tmp/gpu      # builds the store once
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from terrain_tiles import TiledWorld  # noqa: E402

import earth3d  # noqa: E402
from earth3d.geometry import paths  # noqa: E402
from earth3d.renderers import CpuRenderer, GsplatRenderer  # noqa: E402
from earth3d.scenarios import render_path  # noqa: E402
from earth3d.store import build_store, open_store  # noqa: E402
from earth3d.stream import Stream  # noqa: E402

ALTITUDES = [(10.0, -30.0), (1_000.0, -45.0), (100_000.0, -90.0), (2_000_000.0, -90.0)]
BANDS = [(1e5, np.inf, "> 100 km"), (1e4, 1e5, "10-100 km"), (1e3, 1e4, "1-10 km"), (1e2, 1e3, "100 m-1 km"),
         (1e1, 1e2, "10-100 m"), (0.0, 1e1, "street (< 10 m)")]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-12))


def timed(renderer, splats, camera, repeat: int = 1):
    """The renderer's output and its median wall time over `repeat` renders, the GPU synchronized."""
    times, out = [], None
    for _ in range(repeat):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = renderer.render(splats, camera)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def compare(store, world: TiledWorld, gpu, cpu) -> None:
    lon, lat = world.center()
    ground = world.ground_height()
    print("\n1. gsplat vs CPU renderer, same splats, 1280x720")
    worst = np.inf
    with Stream(store) as stream:
        for alt, pitch in ALTITUDES:
            cam = earth3d.Camera.from_geodetic(lon, lat, ground + alt, heading_deg=20.0, pitch_deg=pitch,
                                               width=1280, height=720)
            g = stream.select(cam)
            cpu.render(g, cam)  # compiles the kernels once
            a, t_cpu = timed(cpu, g, cam)
            b, t_gpu = timed(gpu, g, cam, repeat=5)
            p = psnr(a.rgb.numpy(), b.rgb.cpu().numpy())
            worst = min(worst, p)
            print(f"  {alt:>11,.0f} m: {len(g):>9,} splats  PSNR {p:6.1f} dB  gsplat {t_gpu * 1e3:7.2f} ms  "
                  f"CPU {t_cpu * 1e3:7.1f} ms  ({t_cpu / t_gpu:.0f}x)")
    print(f"  worst PSNR {worst:.1f} dB (bar >= 40)")


def descent(store, world: TiledWorld, gpu, frames: int) -> None:
    lon, lat = world.center()
    ground = world.ground_height()
    cams = paths.descent(lon, lat, frames, ground_m=ground, heading_deg=20.0, width=1920, height=1080)
    alts = np.array([c.geodetic()[2] for c in cams]) - ground
    print(f"\n2. descent, {frames} frames at 1920x1080 as `earth3d fly` runs it (render_path: prefetch, cut, "
          "render), two passes over one stream")
    with Stream(store) as stream:
        for label in ("first pass (cold cache)", "second pass"):
            rows = []
            t0 = time.perf_counter()
            for frame in render_path(stream, cams, renderer=gpu):
                torch.cuda.synchronize()
                t1 = time.perf_counter()
                rows.append((t1 - t0, frame.stream_s, t1 - t0 - frame.stream_s, frame.output.n_splats))
                t0 = t1
            r = np.array(rows)
            print(f"  {label}: {len(r) / r[:, 0].sum():.1f} fps; median frame {np.median(r[:, 0]) * 1e3:.1f} ms, "
                  f"worst {r[:, 0].max() * 1e3:.1f} ms; cut {r[:, 1].sum() / r[:, 0].sum():.0%}, render "
                  f"{r[:, 2].sum() / r[:, 0].sum():.0%}; {int(r[:, 3].mean()):,} splats per frame (goal >= 60 fps)")
            for lo, hi, name in BANDS:
                sel = (alts >= lo) & (alts < hi)
                if sel.any():
                    print(f"    {name:<16}{sel.sum():>4} frames {1 / r[sel, 0].mean():7.1f} fps  "
                          f"(cut {r[sel, 1].mean() * 1e3:5.1f} ms, render {r[sel, 2].mean() * 1e3:5.2f} ms)")


def views(store, world: TiledWorld, gpu, cpu, n: int) -> None:
    lon, lat = world.center()
    ground = world.ground_height()
    rng = np.random.default_rng(0)
    cams = [earth3d.Camera.from_geodetic(lon + rng.uniform(-0.05, 0.05), lat + rng.uniform(-0.05, 0.05),
                                         ground + rng.uniform(200, 2000), heading_deg=rng.uniform(0, 360),
                                         pitch_deg=rng.uniform(-90, -30), width=1280, height=720) for _ in range(n)]
    print(f"\n3. {n} views at 1280x720, colour + depth + alpha to the host")
    with Stream(store) as stream:
        for cam in cams:
            stream.select(cam)  # chunks cached: this measures the frames, not the disk
        t = time.perf_counter()
        for cam in cams:
            o = gpu.render(stream.select(cam), cam)
            o.rgb.cpu(), o.depth.cpu(), o.alpha.cpu()
        t_gpu = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for cam in cams[:10]:
            cpu.render(stream.select(cam), cam)
        t_cpu = (time.perf_counter() - t) / 10
    print(f"  gsplat {1 / t_gpu:.1f} views/s ({t_gpu * 1e3:.1f} ms per view, cut included); CPU renderer "
          f"{t_cpu * 1e3:.0f} ms per view; ratio {t_cpu / t_gpu:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--splats", type=float, default=1e7)
    ap.add_argument("--tiles", type=int, default=10)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/earth3d_gpu"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--views", type=int, default=100)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py needs a CUDA device")
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    world = TiledWorld(args.splats, args.tiles)
    out = args.workdir / f"store_{args.splats:.0e}"
    if not (out / "store.json").is_file():
        t = time.perf_counter()
        store = build_store(world.sources(), out, workers=args.workers)
        dt = time.perf_counter() - t
        n = store.info()["splat_count"]
        print(f"built {n:,} splats in {dt:.1f} s ({n / dt:,.0f} splats/s)")
    store = open_store(out)
    gpu, cpu = GsplatRenderer(), CpuRenderer()
    compare(store, world, gpu, cpu)
    views(store, world, gpu, cpu, args.views)
    descent(store, world, gpu, args.frames)


if __name__ == "__main__":
    main()

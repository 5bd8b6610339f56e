"""LOD scaling: splats drawn and frame time stay bounded while the world grows >= 1000x.

Builds stores of the same tiled real terrain (benchmarks/terrain_tiles.py: SRTM over a
square of tiles x tiles tiles, 0.83 degrees each) at growing densities, then for fixed
1280x720 cameras at 10 m, 1 km, 100 km and 2,000 km above the ground prints the splats
drawn (bar: <= 3 x pixels) and the frame time (the cut with its chunks cached, plus
rendering; cold loading from disk is printed apart; bar: the largest store within 1.5x
of the smallest, the baseline measured in the same run; the second smallest store is
printed as a second baseline, since a store smaller than the pixel budget cannot fill
a frame). Then a 300-frame descent from 2,000 km to 2 m with a 1 GiB cache in a fresh
process prints its peak RSS (bar: <= cache budget + 600 MB). Build speed is printed
per store.

    python benchmarks/lod_scaling.py --sizes 1e5 1e6 --workdir /tmp/lod     # quick
    python benchmarks/lod_scaling.py --sizes 1e5 1e6 1e7 1e8 --workdir /tmp/lod   # ~6 GB on disk at 1e8
    python benchmarks/lod_scaling.py --sizes 1e5 1e8 --workdir /tmp/lod --frames 0 --budgets 0.1 0.25 0.5 1
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from terrain_tiles import TiledWorld  # noqa: E402

import earth3d  # noqa: E402
from earth3d.renderers import default_renderer  # noqa: E402
from earth3d.store import build_store, open_store  # noqa: E402
from earth3d.stream import Stream  # noqa: E402

ALTITUDES = [(10.0, -30.0), (1_000.0, -45.0), (100_000.0, -90.0), (2_000_000.0, -90.0)]  # metres, pitch


def build_world_store(size: float, tiles: int, workdir: Path, workers: int, rebuild: bool) -> tuple[Path, dict]:
    out = workdir / f"store_{size:.0e}"
    if (out / "store.json").is_file() and not rebuild:
        return out, json.loads((out / "build_stats.json").read_text())
    if rebuild:
        shutil.rmtree(out, ignore_errors=True)
    world = TiledWorld(size, tiles)
    t = time.perf_counter()
    store = build_store(world.sources(), out, workers=workers)
    total = time.perf_counter() - t
    n = store.info()["splat_count"]
    stats = {"splats": n, "seconds": total, "lift_seconds": world.lift_seconds, "stride": world.stride,
             "bytes": store.info()["bytes_on_disk"], "nodes": store.info()["node_count"]}
    (out / "build_stats.json").write_text(json.dumps(stats))
    return out, stats


def cameras(tiles: int, width: int, height: int) -> list[earth3d.Camera]:
    world = TiledWorld(1e5, tiles)
    lon, lat = world.center()
    ground = world.ground_height()
    return [earth3d.Camera.from_geodetic(lon, lat, ground + alt, heading_deg=20.0, pitch_deg=pitch,
                                         width=width, height=height) for alt, pitch in ALTITUDES]


def frame(stream: Stream, renderer, cam) -> tuple[int, float, float, float]:
    """(splats drawn, cold cut + load s, warm cut s, render s): loading from disk is timed
    apart from the frame itself, which is the cut with its chunks cached plus rendering.
    """
    t = time.perf_counter()
    stream.select(cam)
    t_cold = time.perf_counter() - t
    t = time.perf_counter()
    g = stream.select(cam)
    t_select = time.perf_counter() - t
    t = time.perf_counter()
    renderer.render(g, cam)
    return len(g), t_cold, t_select, time.perf_counter() - t


def budget_sweep(stores: list, cams: list, renderer, budgets: list[float], cache_mb: int) -> None:
    """Frame time of the largest store against its splat budget (splats per pixel), beside the
    smallest store drawn whole: how much of a frame's cost follows the splats drawn.
    """
    (small, small_path), (large, large_path) = stores[0], stores[-1]
    print(f"\nframe time against the splat budget: largest store ({large:,} splats) vs smallest ({small:,})")
    print(f"{'altitude m':>10} {'store':>12} {'budget/px':>9} {'drawn':>10} {'frame s':>8} {'vs smallest':>11}")
    for (alt, _), cam in zip(ALTITUDES, cams, strict=True):
        rows = [(small, small_path, 1.0)] + [(large, large_path, b) for b in budgets]
        base = None
        for n, path, b in rows:
            with Stream(open_store(path), cache_bytes=cache_mb * 2**20, splat_budget_per_pixel=b) as stream:
                drawn, _, t_sel, t_ren = frame(stream, renderer, cam)
            base = base or t_sel + t_ren
            print(f"{alt:>10,.0f} {n:>12,} {b:>9.2f} {drawn:>10,} {t_sel + t_ren:>8.3f} "
                  f"{(t_sel + t_ren) / base:>10.2f}x", flush=True)


def current_rss_kb() -> int:
    """The resident set size now (ru_maxrss is the peak so far, which compiling inflates)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def descent(store_path: str, frames: int, cache_mb: int, target: tuple[float, float, float], width: int, height: int,
            render_every: int) -> None:
    """Run in a fresh process: a descent from 2,000 km to 2 m above the ground at `target`
    (lon, lat, ground height), printing peak RSS.
    """
    lon, lat, ground = target
    renderer = default_renderer()
    store = open_store(store_path)
    alts = 2_000_000.0 * (2.0 / 2_000_000.0) ** (np.arange(frames) / (frames - 1))
    cams = [earth3d.Camera.from_geodetic(lon, lat, ground + a, heading_deg=20.0, pitch_deg=-90.0 + 45.0 * (a < 5_000),
                                         width=width, height=height) for a in alts]
    renderer.render(earth3d.Gaussians.empty(), cams[0])  # compile kernels before the baseline
    base_kb = current_rss_kb()
    budget = cache_mb * 2**20
    drawn, t0 = [], time.perf_counter()
    with Stream(store, cache_bytes=budget, threads=2) as stream:
        for i, cam in enumerate(cams):
            stream.prefetch(cams[i + 1:i + 4])
            g = stream.select(cam)
            drawn.append(len(g))
            if render_every and i % render_every == 0:
                renderer.render(g, cam)
            assert stream.cached_bytes <= budget
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak, base = peak_kb / 1024, base_kb / 1024
    print(f"descent: {frames} frames 2,000 km -> 2 m in {time.perf_counter() - t0:.1f} s, "
          f"max splats drawn {max(drawn):,} ({max(drawn) / (width * height):.2f} per pixel), "
          f"rendered every {render_every} frames")
    print(f"descent: peak RSS {peak:.0f} MB; RSS before streaming (imports, compiled renderer) {base:.0f} MB; "
          f"cache budget {cache_mb} MB; bar budget + 600 MB = {cache_mb + 600} MB -> "
          f"{'PASS' if peak <= cache_mb + 600 else 'FAIL'} (peak - before = {peak - base:.0f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6], help="target splat counts per store")
    ap.add_argument("--tiles", type=int, default=10, help="the square is tiles x tiles DEM tiles (1e6 cells each)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/earth3d_lod_scaling"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--frames", type=int, default=300, help="descent frames (0 to skip)")
    ap.add_argument("--cache-mb", type=int, default=1024)
    ap.add_argument("--render-every", type=int, default=10, help="render every n-th descent frame (0: select only)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--budgets", type=float, nargs="*", default=[],
                    help="also time the largest store's frames at these splat budgets per pixel")
    ap.add_argument("--descent", type=str, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--target", type=float, nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.descent:
        if args.target is None:
            world = TiledWorld(1e5, args.tiles)
            args.target = (*world.center(), world.ground_height())
        descent(args.descent, args.frames, args.cache_mb, tuple(args.target), args.width, args.height,
                args.render_every)
        return
    if max(args.sizes) > args.tiles**2 * 1e6 * 1.01:
        ap.error(f"--tiles {args.tiles} holds at most {args.tiles**2 * 1e6:.0e} splats")
    args.workdir.mkdir(parents=True, exist_ok=True)
    stores = []
    for size in sorted(args.sizes):
        path, st = build_world_store(size, args.tiles, args.workdir, args.workers, args.rebuild)
        rate = st["splats"] / max(st["seconds"] - st["lift_seconds"], 1e-9)
        lifting = (f"{st['lift_seconds']:.1f} s lifting, not counted" if args.workers == 1
                   else "lifting on the workers, counted")
        print(f"build {st['splats']:>12,} splats (stride {st['stride']}): {st['seconds']:.1f} s "
              f"({lifting}), {rate:,.0f} splats/s with {args.workers} workers, "
              f"{st['nodes']:,} nodes, {st['bytes'] / 2**20:,.0f} MiB, {st['bytes'] / st['splats']:.1f} B/splat",
              flush=True)
        stores.append((st["splats"], path))

    cams = cameras(args.tiles, args.width, args.height)
    pixels = args.width * args.height
    renderer = default_renderer()
    renderer.render(earth3d.Gaussians.empty(), cams[0])  # compile kernels
    times: dict[tuple[int, int], float] = {}
    worst = 0.0
    print(f"{'store splats':>14} {'altitude m':>10} {'nodes':>6} {'drawn':>10} {'per px':>7} "
          f"{'cold load s':>11} {'cut s':>7} {'render s':>9} {'frame s':>8}")
    for n, path in stores:
        store = open_store(path)
        for (alt, _), cam in zip(ALTITUDES, cams, strict=True):
            with Stream(store, cache_bytes=args.cache_mb * 2**20) as stream:
                drawn, t_cold, t_sel, t_ren = frame(stream, renderer, cam)
                nodes = stream.last.cut_nodes
            times[(n, int(alt))] = t_sel + t_ren
            worst = max(worst, drawn / pixels)
            print(f"{n:>14,} {alt:>10,.0f} {nodes:>6} {drawn:>10,} {drawn / pixels:>7.2f} "
                  f"{t_cold:>11.3f} {t_sel:>7.3f} {t_ren:>9.3f} {t_sel + t_ren:>8.3f}", flush=True)
    small, large = stores[0][0], stores[-1][0]
    print(f"splats drawn per pixel, worst over all stores and altitudes: {worst:.2f} (bar <= 3) -> "
          f"{'PASS' if worst <= 3 else 'FAIL'}")
    print(f"world size ratio largest / smallest store: {large / small:,.0f}x")
    for base_n in [small] + ([stores[1][0]] if len(stores) >= 3 else []):
        label = "smallest" if base_n == small else "second smallest"
        for alt, _ in ALTITUDES:
            ratio = times[(large, int(alt))] / times[(base_n, int(alt))]
            print(f"frame time at {alt:>9,.0f} m: largest store {times[(large, int(alt))]:.3f} s vs {label} "
                  f"({base_n:,} splats, baseline) {times[(base_n, int(alt))]:.3f} s -> ratio {ratio:.2f} "
                  f"(bar <= 1.5) {'PASS' if ratio <= 1.5 else 'FAIL'}")
    if args.budgets:
        budget_sweep(stores, cams, renderer, args.budgets, args.cache_mb)
    if args.frames:
        world = TiledWorld(1e5, args.tiles)
        target = [str(v) for v in (*world.center(), world.ground_height())]
        subprocess.run([sys.executable, __file__, "--descent", str(stores[-1][1]), "--frames", str(args.frames),
                        "--cache-mb", str(args.cache_mb), "--target", *target, "--width", str(args.width),
                        "--height", str(args.height), "--render-every", str(args.render_every)], check=True)


if __name__ == "__main__":
    main()

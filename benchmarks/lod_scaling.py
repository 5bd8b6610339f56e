"""LOD scaling at fixed density: the cost of a frame follows the pixels while the world grows 100x.

Worlds grow by area at a fixed density (benchmarks/terrain_tiles.py: the same 1000 x 1000
SRTM tile, 3" cells, added side by side over a square of T x T tiles, T = sqrt(size / 1e6)),
so near the camera every store holds the same splats. For fixed 1280x720 cameras at 10 m,
1 km, 100 km and 2,000 km above the middle of each world's central tile (the same terrain in
every store: an odd central tile is the DEM turned half a turn, so its camera turns too) it
prints the splats drawn (bar: <= 1 per pixel), the coverage (pixels of alpha >= 0.5) and the
frame time: the cut with its chunks cached plus rendering, the least of --repeats, cold
loading from disk printed apart. Bar: the largest store within 1.3x of the smallest at every
altitude where the smallest store covers at least 90 % of the frame. Then a paper projection to
1e10 splats from the measured per-node costs (index size, nodes the cut tests and its time,
bytes a cold frame reads), and a 300-frame descent from 2,000 km to 2 m over the largest store
with a 1 GiB cache in a fresh process, printing its peak RSS (bar: <= cache budget + 600 MB).
Build speed is printed per store.

    python benchmarks/lod_scaling.py --sizes 1e6 1e7 --workdir /tmp/lod          # quick
    python benchmarks/lod_scaling.py --sizes 1e6 1e7 1e8 --workdir /tmp/lod      # ~6 GB on disk at 1e8
    python benchmarks/lod_scaling.py --sizes 1e6 1e8 --workdir /tmp/lod --frames 0 --budgets 0.25 0.5 1
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from terrain_tiles import TiledWorld  # noqa: E402

import earth3d  # noqa: E402
from earth3d.renderers import default_renderer  # noqa: E402
from earth3d.store import build_store, open_store  # noqa: E402
from earth3d.stream import Stream  # noqa: E402

TILE_SPLATS = 1_000_000  # splats of one DEM tile at its own density (1000 x 1000 cells)
ALTITUDES = [(10.0, -30.0), (1_000.0, -45.0), (100_000.0, -90.0), (2_000_000.0, -90.0)]  # metres, pitch


def tiles_for(size: float) -> int:
    """Tiles on a side of a square world of about `size` splats at the DEM's own density."""
    return max(1, int(round(math.sqrt(size / TILE_SPLATS))))


def build_world_store(size: float, workdir: Path, workers: int, rebuild: bool) -> tuple[Path, dict]:
    tiles = tiles_for(size)
    out = workdir / f"fixed_density_{tiles}x{tiles}"
    if (out / "store.json").is_file() and not rebuild:
        return out, json.loads((out / "build_stats.json").read_text())
    if rebuild:
        shutil.rmtree(out, ignore_errors=True)
    world = TiledWorld(tiles * tiles * TILE_SPLATS, tiles)
    t = time.perf_counter()
    store = build_store(world.sources(), out, workers=workers)
    total = time.perf_counter() - t
    info = store.info()
    stats = {"splats": info["splat_count"], "tiles": tiles, "seconds": total, "lift_seconds": world.lift_seconds,
             "stride": world.stride, "bytes": info["bytes_on_disk"], "index_bytes": store.meta["index_bytes"],
             "nodes": info["node_count"]}
    (out / "build_stats.json").write_text(json.dumps(stats))
    return out, stats


def cameras(tiles: int, width: int, height: int) -> list[earth3d.Camera]:
    """The fixed cameras over the middle of the central tile of a tiles x tiles world, looking at
    the same terrain whatever `tiles` (an odd central tile is the DEM turned by 180 degrees).
    """
    world = TiledWorld(tiles * tiles * TILE_SPLATS, tiles)
    lon, lat = world.center()
    ground = world.ground_height()
    heading = 20.0 + 180.0 * ((tiles // 2) % 2)
    return [earth3d.Camera.from_geodetic(lon, lat, ground + alt, heading_deg=heading, pitch_deg=pitch,
                                         width=width, height=height) for alt, pitch in ALTITUDES]


@dataclass
class Frame:
    """One camera's frame: splats drawn, coverage, cold cut + load s, warm cut s, render s, nodes
    the cut tested, bytes it loaded cold.
    """

    drawn: int
    coverage: float
    cold_s: float
    cut_s: float
    render_s: float
    visited: int
    cold_bytes: int

    @property
    def seconds(self) -> float:
        return self.cut_s + self.render_s


def frame(store, renderer, cam, cache_mb: int, repeats: int = 1, **options) -> Frame:
    """The frame of `cam` in a fresh stream: loading from disk is timed apart from the frame
    itself, the cut with its chunks cached plus rendering (the least of `repeats`).
    """
    with Stream(store, cache_bytes=cache_mb * 2**20, **options) as stream:
        t = time.perf_counter()
        stream.select(cam)
        cold_s, cold_bytes = time.perf_counter() - t, stream.cached_bytes
        cut_s = render_s = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            g = stream.select(cam)
            cut_s = min(cut_s, time.perf_counter() - t)
            t = time.perf_counter()
            out = renderer.render(g, cam)
            render_s = min(render_s, time.perf_counter() - t)
        coverage = float((out.alpha.numpy() >= 0.5).mean())
        return Frame(len(g), coverage, cold_s, cut_s, render_s, stream.last.visited, cold_bytes)


def budget_sweep(stores: list, renderer, budgets: list[float], cache_mb: int, width: int, height: int) -> None:
    """Frame time of the largest store against its splat budget (splats per pixel), beside the
    smallest store at the default budget: how much of a frame's cost follows the splats drawn.
    """
    (small, small_path, small_tiles), (large, large_path, large_tiles) = stores[0], stores[-1]
    print(f"\nframe time against the splat budget: largest store ({large:,} splats) vs smallest ({small:,})")
    print(f"{'altitude m':>10} {'store':>12} {'budget/px':>9} {'drawn':>10} {'frame s':>8} {'vs smallest':>11}")
    small_cams, large_cams = cameras(small_tiles, width, height), cameras(large_tiles, width, height)
    for k, (alt, _) in enumerate(ALTITUDES):
        rows = [(small, small_path, small_cams[k], 1.0)] + [(large, large_path, large_cams[k], b) for b in budgets]
        base = None
        for n, path, cam, b in rows:
            f = frame(open_store(path), renderer, cam, cache_mb, splat_budget_per_pixel=b)
            base = base or f.seconds
            print(f"{alt:>10,.0f} {n:>12,} {b:>9.2f} {f.drawn:>10,} {f.seconds:>8.3f} "
                  f"{f.seconds / base:>10.2f}x", flush=True)


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


def projection(stores: list, frames: dict, target: float = 1e10) -> None:
    """A paper projection to `target` splats from the measured stores: the index grows with the
    nodes, the nodes a cut tests by the same amount for each 100x in area (a level-of-detail
    tree adds a fixed number of levels per 100x), each at the measured cost, and a cold frame
    reads what it reads at the largest store (the chunks near the camera do not change).
    """
    (n0, _, _), (n1, path1, _) = stores[0], stores[-1]
    st1 = json.loads((Path(path1) / "build_stats.json").read_text())
    steps = math.log(target / n1) / math.log(n1 / n0)  # how many more steps of the measured growth
    print(f"\npaper projection to {target:.0e} splats ({target / n1:,.0f}x the largest store), per altitude:")
    print(f"  index on disk: {st1['index_bytes'] / 2**20:,.1f} MiB at {n1:,} splats -> "
          f"{st1['index_bytes'] * target / n1 / 2**30:,.1f} GiB ({st1['nodes'] * target / n1:,.0f} nodes); "
          f"a frame reads only the index pages on its cut's path")
    print(f"{'altitude m':>12} {'tested':>8} {'-> tested':>10} {'cut ms':>8} {'-> cut ms':>10} {'cold MiB':>9}")
    for alt, _ in ALTITUDES:
        f0, f1 = frames[(n0, int(alt))], frames[(n1, int(alt))]
        tested = f1.visited + steps * (f1.visited - f0.visited)
        per_node = f1.cut_s / max(f1.visited, 1)
        print(f"{alt:>12,.0f} {f1.visited:>8,} {tested:>10,.0f} {1e3 * f1.cut_s:>8.1f} "
              f"{1e3 * per_node * tested:>10.1f} {f1.cold_bytes / 2**20:>9.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 1e8],
                    help="splat counts of the worlds (rounded to whole squares of 1e6-splat tiles)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/earth3d_lod_scaling"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--repeats", type=int, default=3, help="warm frames per camera (the least is kept)")
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
        descent(args.descent, args.frames, args.cache_mb, tuple(args.target), args.width, args.height,
                args.render_every)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    stores = []
    for size in sorted(set(args.sizes), key=tiles_for):
        path, st = build_world_store(size, args.workdir, args.workers, args.rebuild)
        rate = st["splats"] / max(st["seconds"] - st["lift_seconds"], 1e-9)
        lifting = (f"{st['lift_seconds']:.1f} s lifting, not counted" if args.workers == 1
                   else "lifting on the workers, counted")
        print(f"build {st['splats']:>12,} splats ({st['tiles']}x{st['tiles']} tiles): {st['seconds']:.1f} s "
              f"({lifting}), {rate:,.0f} splats/s with {args.workers} workers, "
              f"{st['nodes']:,} nodes, {st['bytes'] / 2**20:,.0f} MiB, {st['bytes'] / st['splats']:.1f} B/splat",
              flush=True)
        stores.append((st["splats"], path, st["tiles"]))

    pixels = args.width * args.height
    renderer = default_renderer()
    renderer.render(earth3d.Gaussians.empty(), cameras(1, args.width, args.height)[0])  # compile kernels
    frames: dict[tuple[int, int], Frame] = {}
    print(f"\n{'store splats':>14} {'altitude m':>10} {'tested':>7} {'drawn':>10} {'per px':>7} {'coverage':>9} "
          f"{'cold load s':>11} {'cut s':>7} {'render s':>9} {'frame s':>8}")
    for n, path, tiles in stores:
        store = open_store(path)
        for (alt, _), cam in zip(ALTITUDES, cameras(tiles, args.width, args.height), strict=True):
            f = frames[(n, int(alt))] = frame(store, renderer, cam, args.cache_mb, args.repeats)
            print(f"{n:>14,} {alt:>10,.0f} {f.visited:>7,} {f.drawn:>10,} {f.drawn / pixels:>7.2f} "
                  f"{f.coverage:>9.3f} {f.cold_s:>11.3f} {f.cut_s:>7.3f} {f.render_s:>9.3f} {f.seconds:>8.3f}",
                  flush=True)
    small, large = stores[0][0], stores[-1][0]
    worst = max(f.drawn for f in frames.values()) / pixels
    print(f"splats drawn per pixel, worst over all stores and altitudes: {worst:.2f} (bar <= 1) -> "
          f"{'PASS' if worst <= 1 else 'FAIL'}")
    print(f"world size ratio largest / smallest store: {large / small:,.0f}x")
    for alt, _ in ALTITUDES:
        a, b = frames[(small, int(alt))], frames[(large, int(alt))]
        ratio = b.seconds / a.seconds
        verdict = (("PASS" if ratio <= 1.3 else "FAIL") if a.coverage >= 0.9
                   else "not held: the smallest store covers under 90 % of the frame")
        print(f"frame time at {alt:>9,.0f} m: largest store {b.seconds:.3f} s (coverage {b.coverage:.2f}) vs smallest "
              f"{a.seconds:.3f} s (coverage {a.coverage:.2f}) -> ratio {ratio:.2f} (bar <= 1.3) {verdict}")
    if len(stores) > 1:
        projection(stores, frames)
    if args.budgets:
        budget_sweep(stores, renderer, args.budgets, args.cache_mb, args.width, args.height)
    if args.frames:
        n, path, tiles = stores[-1]
        world = TiledWorld(tiles * tiles * TILE_SPLATS, tiles)
        target = [str(v) for v in (*world.center(), world.ground_height())]
        subprocess.run([sys.executable, __file__, "--descent", str(path), "--frames", str(args.frames),
                        "--cache-mb", str(args.cache_mb), "--target", *target, "--width", str(args.width),
                        "--height", str(args.height), "--render-every", str(args.render_every)], check=True)


if __name__ == "__main__":
    main()

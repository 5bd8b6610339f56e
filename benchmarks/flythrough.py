"""Seconds per frame along the demo's orbit-to-street descent, per altitude band, and how flat that is.

Figure: for each altitude band, the mean seconds per 1280x720 frame (stream cut + chunk loads +
render) through the LOD store, and the flatness ratio max/min over the bands (the target is <= 1.5:
the cost of a frame should follow the pixels, not the altitude or the size of the world).
Baseline, same run, same cameras: rendering every full-detail splat (the store's leaves, no LOD)
at a few altitudes, and the ratio baseline / LOD.

    python benchmarks/flythrough.py                     # builds a demo world first if needed
    python benchmarks/flythrough.py --demo-dir earth3d_demo --frames 36
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import earth3d
from earth3d.gaussians import Gaussians
from earth3d.geometry import paths
from earth3d.renderers import default_renderer
from earth3d.stream import Stream

BANDS = [(1e5, np.inf, "> 100 km"), (1e4, 1e5, "10-100 km"), (1e3, 1e4, "1-10 km"), (1e2, 1e3, "100 m-1 km"),
         (1e1, 1e2, "10-100 m"), (0.0, 1e1, "street (< 10 m)")]


def _ensure_demo(demo_dir: Path) -> None:
    if (demo_dir / "path.json").is_file() and (demo_dir / "world.e3d" / "store.json").is_file():
        return
    print(f"building the demo world in {demo_dir} ...", flush=True)
    subprocess.run([sys.executable, "-m", "earth3d.cli", "demo", "--out", str(demo_dir), "--width", "64",
                    "--height", "36", "--frames", "2", "--quiet", "--overwrite"], check=True)


def _all_leaves(store) -> Gaussians:
    keys, leaves = list(store.root_keys()), []
    while keys:
        key = keys.pop()
        if store.is_leaf(key):
            leaves.append(store.read(key))
        else:
            keys.extend(store.children(key))
    return Gaussians.concat(leaves)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo-dir", type=Path, default=Path("earth3d_demo"))
    ap.add_argument("--frames", type=int, default=36, help="frames sampled along the descent")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--sse", type=float, default=1.0, help="screen-space error threshold, px")
    ap.add_argument("--splat-budget", type=float, default=2.0, help="splats per pixel (0: no budget)")
    ap.add_argument("--baseline-views", type=int, default=3, help="views rendered without LOD")
    args = ap.parse_args()

    _ensure_demo(args.demo_dir)
    meta = json.loads((args.demo_dir / "path.json").read_text())
    store = earth3d.store.open(args.demo_dir / meta["store"])
    lon, lat = meta["street_lonlat"]
    cams = paths.descent(lon, lat, args.frames, ground_m=meta["ground_m"], heading_deg=meta["heading_deg"],
                         street_distance_m=meta["street_m"], width=args.width, height=args.height)
    alts = np.array([c.geodetic()[2] for c in cams]) - meta["ground_m"]
    renderer = default_renderer()
    print(f"store {store.path}: {store.info()['splat_count']} full-detail splats; renderer "
          f"{type(renderer).__name__}; {args.width}x{args.height}; splat budget {args.splat_budget or 'none'} "
          f"per pixel; {args.frames} frames from "
          f"{alts[0] / 1000:.0f} km to {alts[-1]:.1f} m")

    stream = Stream(store, sse_threshold_px=args.sse, splat_budget_per_pixel=args.splat_budget or None)
    earth3d.render(stream, cams[-1], renderer)  # warm-up: JIT compilation, first chunk loads
    seconds, splats = [], []
    for i, cam in enumerate(cams):
        stream.prefetch(cams[i + 1:i + 3])
        t0 = time.perf_counter()
        out = earth3d.render(stream, cam, renderer)
        seconds.append(time.perf_counter() - t0)
        splats.append(out.n_splats)
    seconds, splats = np.array(seconds), np.array(splats)
    stream.close()

    print(f"\n{'altitude band':<18}{'frames':>7}{'s/frame':>10}{'splats':>11}")
    means = []
    for lo, hi, name in BANDS:
        sel = (alts >= lo) & (alts < hi)
        if sel.any():
            means.append(seconds[sel].mean())
            print(f"{name:<18}{sel.sum():>7}{seconds[sel].mean():>10.3f}{int(splats[sel].mean()):>11}")
    flat = max(means) / min(means)
    print(f"LOD: {seconds.mean():.3f} s/frame over the path; flatness max/min over bands = {flat:.2f}x "
          f"(target <= 1.5x); splats per frame {splats.min()}..{splats.max()}")

    # Baseline: every leaf splat, no LOD, at a few altitudes of the same path.
    everything = _all_leaves(store)
    picks = np.unique(np.linspace(0, len(cams) - 1, args.baseline_views).round().astype(int))
    print(f"\nbaseline: all {len(everything)} full-detail splats, no LOD")
    print(f"{'altitude':>12}{'LOD s':>9}{'full s':>9}{'full/LOD':>10}")
    ratios = []
    for i in picks:
        t0 = time.perf_counter()
        renderer.render(everything.rebased(cams[i].position), cams[i])
        full = time.perf_counter() - t0
        ratios.append(full / seconds[i])
        print(f"{alts[i]:>11.1f}m{seconds[i]:>9.3f}{full:>9.3f}{ratios[-1]:>9.1f}x")
    print(f"baseline / LOD: {np.mean(ratios):.1f}x on average at the same views")


if __name__ == "__main__":
    main()

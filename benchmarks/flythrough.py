"""Seconds per frame along the demo's orbit-to-street descent, per altitude band, and the LOD frames' fidelity.

Figures: for each altitude band, the mean seconds per 1280x720 frame through the LOD store (bar: the
worst band <= 0.25 s on 2 cores), and the PSNR of every LOD frame against a render of every
full-detail splat at the same view, worst and mean per band (bar: >= 33 dB in every band).
A frame's time is all its work in `earth3d.scenarios.render_path`, the loop `earth3d fly` and
`demo` use: prefetching the next views (their cuts, and loads up to a quota per frame), the stream
cut, waiting for chunk loads, concatenation and render.
Each pass flies the path with a fresh stream (an empty chunk cache); a frame's figure is its
median over the passes. Wall time is beside CPU time (all threads of the process): on a shared
machine wall time is noisy, CPU time much less so. The stage columns split the wall time.
Baseline, same run, same cameras: rendering every full-detail splat (the store's leaves, no LOD)
at every frame, the ratio baseline / LOD time, and the PSNR of the LOD frame against the
full-detail one (what the level of detail and the splat budget cost in fidelity).

    python benchmarks/flythrough.py                     # builds a demo world first if needed
    python benchmarks/flythrough.py --demo-dir earth3d_demo --frames 36 --passes 3
    python benchmarks/flythrough.py --splat-budget 0.5  # fewer splats per pixel: faster, softer
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
from earth3d.geometry import paths
from earth3d.renderers import default_renderer
from earth3d.scenarios import render_path
from earth3d.stream import Stream

BANDS = [(1e5, np.inf, "> 100 km"), (1e4, 1e5, "10-100 km"), (1e3, 1e4, "1-10 km"), (1e2, 1e3, "100 m-1 km"),
         (1e1, 1e2, "10-100 m"), (0.0, 1e1, "street (< 10 m)")]
STAGES = ("stream", "project", "bin", "raster")


def _ensure_demo(demo_dir: Path) -> None:
    if (demo_dir / "path.json").is_file() and (demo_dir / "world.e3d" / "store.json").is_file():
        return
    print(f"building the demo world in {demo_dir} ...", flush=True)
    subprocess.run([sys.executable, "-m", "earth3d.cli", "demo", "--out", str(demo_dir), "--width", "64",
                    "--height", "36", "--frames", "2", "--quiet", "--overwrite"], check=True)


def fly(store, cams, renderer, options: dict) -> np.ndarray:
    """One pass with a fresh stream: per frame (wall s, CPU s, splats, intersections, stage wall s...)."""
    rows = []
    with Stream(store, **options) as stream:
        frames = render_path(stream, cams, renderer=renderer)  # the loop every flythrough uses
        while True:
            w0, c0 = time.perf_counter(), time.process_time()
            frame = next(frames, None)
            if frame is None:
                break
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            st = getattr(renderer, "timings", {})
            rows.append([wall, cpu, frame.output.n_splats, getattr(renderer, "intersections", 0), frame.stream_s,
                         *(st.get(k, np.nan) for k in STAGES[1:])])
    return np.array(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo-dir", type=Path, default=Path("earth3d_demo"))
    ap.add_argument("--frames", type=int, default=36, help="frames sampled along the descent")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--passes", type=int, default=3, help="flights of the path; each frame's median is kept")
    ap.add_argument("--sse", type=float, default=None, help="screen-space error threshold, px (default: Stream's)")
    ap.add_argument("--splat-budget", type=float, default=None,
                    help="splats per pixel (0: no budget; default: Stream's)")
    ap.add_argument("--store", type=Path, default=None,
                    help="another store of the same world to fly (default: the demo's)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the full-detail renders")
    args = ap.parse_args()

    _ensure_demo(args.demo_dir)
    meta = json.loads((args.demo_dir / "path.json").read_text())
    store = earth3d.store.open_store(args.store or args.demo_dir / meta["store"])
    lon, lat = meta["street_lonlat"]
    cams = paths.descent(lon, lat, args.frames, ground_m=meta["ground_m"], heading_deg=meta["heading_deg"],
                         street_distance_m=meta["street_m"], width=args.width, height=args.height)
    alts = np.array([c.geodetic()[2] for c in cams]) - meta["ground_m"]
    renderer = default_renderer()
    options = {}
    if args.sse is not None:
        options["sse_threshold_px"] = args.sse
    if args.splat_budget is not None:
        options["splat_budget_per_pixel"] = args.splat_budget or None
    with Stream(store, **options) as warm:
        print(f"store {store.path}: {store.info()['splat_count']} full-detail splats; renderer "
              f"{type(renderer).__name__}; {args.width}x{args.height}; SSE threshold {warm.sse_threshold_px} px; "
              f"splat budget {warm.splat_budget_per_pixel or 'none'} per pixel; {args.frames} frames from "
              f"{alts[0] / 1000:.0f} km to {alts[-1]:.1f} m; median of {args.passes} passes")
        earth3d.render(warm, cams[-1], renderer)  # warm-up: JIT compilation (the passes start cold)
    runs = np.stack([fly(store, cams, renderer, options) for _ in range(args.passes)])
    per_frame = np.median(runs, axis=0)
    wall, cpu, splats, isect = per_frame[:, 0], per_frame[:, 1], per_frame[:, 2], per_frame[:, 3]

    print(f"\n{'altitude band':<18}{'frames':>7}{'s/frame':>9}{'cpu s':>8}{'splats':>10}{'isect':>10}   "
          + "".join(f"{k:>8}" for k in STAGES))
    bands = [((alts >= lo) & (alts < hi), name) for lo, hi, name in BANDS]
    bands = [(sel, name) for sel, name in bands if sel.any()]
    for sel, name in bands:
        stages = per_frame[sel, 4:].mean(axis=0)
        print(f"{name:<18}{sel.sum():>7}{wall[sel].mean():>9.3f}{cpu[sel].mean():>8.3f}{int(splats[sel].mean()):>10}"
              f"{int(isect[sel].mean()):>10}   " + "".join(f"{s:>8.3f}" for s in stages))
    worst = max(bands, key=lambda band: wall[band[0]].mean())
    print(f"LOD: {wall.mean():.3f} s/frame ({cpu.mean():.3f} CPU s) over the path; worst band {worst[1]} "
          f"{wall[worst[0]].mean():.3f} s/frame (bar <= 0.25 s); splats per frame "
          f"{int(splats.min())}..{int(splats.max())}")

    # Baseline: every leaf splat, no LOD, at every frame; and how close the LOD frame is.
    if args.no_baseline:
        return
    everything = store.read_leaves()
    full_s, psnr = np.zeros(len(cams)), np.zeros(len(cams))
    with Stream(store, **options) as stream:
        for i, cam in enumerate(cams):
            t0 = time.perf_counter()
            full = renderer.render(everything.rebased(cam.position), cam).rgb.numpy()
            full_s[i] = time.perf_counter() - t0
            lod = earth3d.render(stream, cam, renderer).rgb.numpy()
            psnr[i] = 10 * np.log10(1.0 / max(float(np.mean((lod - full) ** 2)), 1e-12))
    print(f"\nbaseline: all {len(everything)} full-detail splats, no LOD, at every frame; PSNR of the LOD frames "
          "against them (bar >= 33 dB in every band)")
    print(f"{'altitude band':<18}{'LOD s':>9}{'full s':>9}{'full/LOD':>10}{'PSNR worst':>12}{'mean dB':>9}")
    for sel, name in bands:
        print(f"{name:<18}{wall[sel].mean():>9.3f}{full_s[sel].mean():>9.3f}{(full_s[sel] / wall[sel]).mean():>9.1f}x"
              f"{psnr[sel].min():>12.1f}{psnr[sel].mean():>9.1f}")
    print(f"baseline / LOD: {(full_s / wall).mean():.1f}x on average at the same views; worst LOD frame "
          f"{psnr.min():.1f} dB at {alts[int(psnr.argmin())]:.1f} m")


if __name__ == "__main__":
    main()

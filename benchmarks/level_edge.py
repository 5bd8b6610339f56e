"""How visible each finer level's border is along the demo's descent, against today's fixed extents.

Figure, per finer level: the frame where its border first shows (at least `--min-length` pixels of
it in the frame), the mean colour difference across the border there and the mean difference
between neighbouring pixels elsewhere in that frame (`earth3d.scenarios.levels.border_contrast`,
0-255 units), their ratio (the bar: <= 1), and the worst ratio over every later frame in which
the border shows. Two builds of the same place, same cameras' rule, same run:

- planned: extents chosen from the descent (`descent_levels`) and finer levels faded in along
  their borders (`nested_rasters(feather=FEATHER_CELLS)`), as `earth3d demo` builds them;
- baseline: the fixed extents of the level table (`DEMO_LEVELS` / `QUICK_LEVELS`) without the
  fade-in, as the demo built them before.

    python benchmarks/level_edge.py                  # quick levels, 320x180, 60 frames
    python benchmarks/level_edge.py --full --width 640 --height 360 --frames 120   # the demo's world
    python benchmarks/level_edge.py --sky            # with the demo's atmosphere
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from earth3d.renderers import default_renderer
from earth3d.scenarios import DEMO_LEVELS, QUICK_LEVELS, build_nested_store, level_bbox, render_path
from earth3d.scenarios.descent import MAX_CELLS, QUICK_MAX_CELLS, descent_levels, street_descent
from earth3d.scenarios.levels import FEATHER_CELLS, border_contrast
from earth3d.stream import Stream
from earth3d.synth import ProceduralWorld


def measure(world, lon, lat, levels, feather, out, args):
    """Build, fly and measure one variant: per finer level (name, first frame, border, neighbours, worst ratio)."""
    t0 = time.process_time()
    store, rasters = build_nested_store(world, lon, lat, out, levels, feather=feather, overwrite=True)
    cameras, _, ground = street_descent(rasters, lon, lat, args.frames, width=args.width, height=args.height)
    splats = sum(int(np.prod(r.shape)) for r in rasters)
    frames = []
    with Stream(store) as stream:
        for frame in render_path(stream, cameras, renderer=default_renderer(), atmosphere=args.sky or False):
            frames.append(frame.output.rgb)
    rows = []
    for level in levels[1:]:
        bbox = level_bbox(lon, lat, level.half_size_m)
        first, worst = None, 0.0
        for i, (rgb, cam) in enumerate(zip(frames, cameras, strict=True)):
            c = border_contrast(rgb, cam, bbox, ground)
            if c is None or c.length_px < args.min_length:
                continue
            ratio = c.border / max(c.neighbours, 1e-9)
            worst = max(worst, ratio)
            if first is None:
                first = (i, c.border, c.neighbours, ratio, c.parallel)
        rows.append((level.name, first, worst))
    return rows, splats, time.process_time() - t0, frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the demo's full levels (default: the quick ones)")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=180)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-length", type=float, default=40.0, help="pixels of border in a frame to measure it")
    ap.add_argument("--sky", action="store_true", help="render with the demo's atmosphere")
    ap.add_argument("--frames-dir", type=Path, help="write the planned frames as PNGs here")
    args = ap.parse_args()

    world = ProceduralWorld(args.seed)
    lon, lat = world.find_city((0.0, 0.0))
    table = DEMO_LEVELS if args.full else QUICK_LEVELS
    planned = descent_levels(table, lon, lat, width=args.width, height=args.height,
                             max_cells=MAX_CELLS if args.full else QUICK_MAX_CELLS)
    print(f"city at lon={lon:.5f}, lat={lat:.5f}; {args.width}x{args.height}, {args.frames} frames")
    print("level          baseline half size   planned half size")
    for a, b in zip(table, planned, strict=True):
        print(f"{a.name:12s} {a.half_size_m:14.0f} m {b.half_size_m:16.0f} m")
    with tempfile.TemporaryDirectory() as tmp:
        base, base_cells, base_s, _ = measure(world, lon, lat, table, 0.0, Path(tmp) / "base.e3d", args)
        new, new_cells, new_s, frames = measure(world, lon, lat, planned, FEATHER_CELLS, Path(tmp) / "new.e3d", args)
    print(f"\n{'level':12s} {'variant':9s} {'frame':>5s} {'border':>7s} {'neighb':>7s} {'ratio':>6s} {'worst':>6s} {'parall':>7s}")
    for (name, bf, bw), (_, nf, nw) in zip(base, new, strict=True):
        for label, first, worst in (("baseline", bf, bw), ("planned", nf, nw)):
            if first is None:
                print(f"{name:12s} {label:9s} {'-':>5s}   border never in view over {args.min_length:g} px")
            else:
                i, b, n, r, p = first
                print(f"{name:12s} {label:9s} {i:5d} {b:7.2f} {n:7.2f} {r:6.2f} {worst:6.2f} {p:7.2f}")
    print(f"\ncells: planned {new_cells / 1e6:.2f} M, baseline {base_cells / 1e6:.2f} M "
          f"(ratio {new_cells / base_cells:.2f}); build+render CPU {new_s:.1f} s vs {base_s:.1f} s "
          f"(ratio {new_s / base_s:.2f})")
    if args.frames_dir is not None:
        from earth3d.video import write_png

        args.frames_dir.mkdir(parents=True, exist_ok=True)
        for i, rgb in enumerate(frames):
            write_png(args.frames_dir / f"frame_{i:05d}.png", rgb, overwrite=True)


if __name__ == "__main__":
    main()

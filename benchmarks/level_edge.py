"""How visible each finer level's border is along the demo's descent, against today's fixed extents.

Figure, per finer level: the frame where its border first shows (at least a frame height of it in
the frame), the mean colour difference across the border there, the mean difference between
neighbouring pixels elsewhere in that frame (`earth3d.scenarios.levels.border_contrast`, pixels 3
apart, 0-255 units) and their ratio (the issue's bar: <= 1); beside them the same border measured
in the same frame rendered without the finer level (the coarser level alone: what the place itself
shows there, e.g. a town's outskirts against forest) and the ratio border / max(neighbours,
without) (the test's bar: <= 1). Two builds of the same place and the same descent, in one run:

- planned: extents chosen from the descent (`descent_levels`), finer levels scaled to average to
  the coarser one and faded in along their borders, as `earth3d demo` builds them;
- baseline: the fixed extents of the level table (`QUICK_LEVELS` / `DEMO_LEVELS`) without either,
  as the demo built them before.

    python benchmarks/level_edge.py                  # quick levels, 320x180, 60 frames (~3 min)
    python benchmarks/level_edge.py --full --width 640 --height 360 --frames 120   # the demo's world
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from earth3d.renderers import default_renderer
from earth3d.scenarios import DEMO_LEVELS, QUICK_LEVELS, build_nested_store, level_bbox, render_path
from earth3d.scenarios.descent import MAX_CELLS, QUICK_MAX_CELLS, descent_levels, street_descent
from earth3d.scenarios.levels import FEATHER_CELLS, border_contrast
from earth3d.stream import Stream
from earth3d.synth import ProceduralWorld


def measure(world, lon, lat, levels, feather, folder: Path, args) -> tuple[list, int, float]:
    """Build, fly and measure one variant: per finer level (name, frame, contrast, contrast without it)."""
    t0 = time.process_time()
    store, rasters = build_nested_store(world, lon, lat, folder / "all.e3d", levels, feather=feather)
    cameras, _, ground = street_descent(rasters, lon, lat, args.frames, width=args.width, height=args.height)

    def frames(st, only=None):
        with Stream(st) as stream:
            path = cameras if only is None else [cameras[only]]
            return [f.output.rgb for f in render_path(stream, path, renderer=default_renderer())]

    rendered = frames(store)
    rows = []
    for k, level in enumerate(levels[1:], start=1):
        bbox = level_bbox(lon, lat, level.half_size_m)
        first = None
        for i, (rgb, cam) in enumerate(zip(rendered, cameras, strict=True)):
            c = border_contrast(rgb, cam, bbox, ground)
            if c is not None and c.length_px >= args.height:
                coarser, _ = build_nested_store(world, lon, lat, folder / f"to{k}.e3d", levels[:k], feather=feather)
                first = (i, c, border_contrast(frames(coarser, i)[0], cam, bbox, ground))
                break
        rows.append((level.name, first))
    cells = sum(r.shape[0] * r.shape[1] for r in rasters)
    return rows, cells, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the demo's full levels (default: the quick ones)")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=180)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    world = ProceduralWorld(args.seed)
    lon, lat = world.find_city((0.0, 0.0))
    table = DEMO_LEVELS if args.full else QUICK_LEVELS
    planned = descent_levels(table, lon, lat, width=args.width, height=args.height,
                             max_cells=MAX_CELLS if args.full else QUICK_MAX_CELLS)
    print(f"city at lon={lon:.5f}, lat={lat:.5f}; {args.width}x{args.height}, {args.frames} frames")
    print("level         baseline half   planned half (fade-in band)")
    for a, b in zip(table, planned, strict=True):
        band = "" if b.feather_m is None else f" ({b.feather_m:.0f} m)"
        print(f"{a.name:12s} {a.half_size_m:12.0f} m {b.half_size_m:12.0f} m{band}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "b").mkdir()
        (Path(tmp) / "p").mkdir()
        base, base_cells, base_s = measure(world, lon, lat, table, 0.0, Path(tmp) / "b", args)
        new, new_cells, new_s = measure(world, lon, lat, planned, FEATHER_CELLS, Path(tmp) / "p", args)
    print(f"\n{'level':12s} {'variant':9s} {'frame':>5s} {'border':>7s} {'neighb':>7s} {'ratio':>6s} "
          f"{'without':>7s} {'ratio2':>6s}")
    for (name, bf), (_, nf) in zip(base, new, strict=True):
        for label, first in (("baseline", bf), ("planned", nf)):
            if first is None:
                print(f"{name:12s} {label:9s} {'-':>5s}   border never {args.height} px long in a frame")
                continue
            i, c, without = first
            wo = without.border if without is not None else float("nan")
            print(f"{name:12s} {label:9s} {i:5d} {c.border:7.2f} {c.neighbours:7.2f} "
                  f"{c.border / c.neighbours:6.2f} {wo:7.2f} {c.border / max(c.neighbours, wo):6.2f}")
    print(f"\ncells: planned {new_cells / 1e6:.2f} M, baseline {base_cells / 1e6:.2f} M "
          f"(ratio {new_cells / base_cells:.2f}); build+render+measure CPU {new_s:.1f} s vs {base_s:.1f} s "
          f"(ratio {new_s / base_s:.2f})")


if __name__ == "__main__":
    main()

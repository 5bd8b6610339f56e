"""Cost of the label, instance and normal maps: CpuRenderer maps=True against maps=False.

The scene of `render_cpu.py` (a >1M-splat terrain in an oblique 1280x720 view) with a class and
an instance per splat (patches of 12 classes, objects of ~60 splats); the same view is rendered
alternately without and with maps, and the median CPU seconds (all threads; wall time is printed
too, but other work on the machine disturbs it) of each are printed with their ratio. The bar
of datasets with every map: at most 1.5x the RGB-only render.

    python benchmarks/render_maps.py [--rows 1100 --cols 1000 --frames 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_cpu import terrain_scene  # noqa: E402

from earth3d.gaussians import Gaussians  # noqa: E402
from earth3d.renderers import CpuRenderer  # noqa: E402


def labelled(g: Gaussians, cols: int) -> Gaussians:
    """The splats with classes in patches of 40 x 40 splats and instances in blocks of 8 x 8."""
    i = np.arange(len(g))
    row, col = i // cols, i % cols
    labels = ((row // 40) * 7 + (col // 40) * 3) % 12 + 1
    instances = (row // 8) * 100_000 + col // 8 + 1
    return Gaussians(g.origin, g.means, g.quats, g.scales, g.opacities, g.sh,
                     torch.from_numpy(labels.astype(np.uint8)), torch.from_numpy(instances.astype(np.int64)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1100)
    parser.add_argument("--cols", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=5)
    args = parser.parse_args()

    g, cam = terrain_scene(args.rows, args.cols)
    g = labelled(g, args.cols)
    print(f"scene: {len(g):,} labelled splats, view {cam.width}x{cam.height}")
    r = CpuRenderer()
    r.render(g, cam)  # warm-up: loads or compiles both kernels
    r.render(g, cam, maps=True)
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.frames):
        for maps in (False, True):  # alternate, so both see the same load
            t0, c0 = time.perf_counter(), time.process_time()
            out = r.render(g, cam, maps=maps)
            times[maps].append((time.perf_counter() - t0, time.process_time() - c0))
    wall = {m: statistics.median(t[0] for t in times[m]) for m in times}
    cpu = {m: statistics.median(t[1] for t in times[m]) for m in times}
    print(f"maps=False (RGB, depth, alpha):        median {cpu[False]:.3f} s CPU, {wall[False]:.3f} s wall")
    print(f"maps=True (+ label, instance, normal): median {cpu[True]:.3f} s CPU, {wall[True]:.3f} s wall")
    print(f"cost of the maps: {cpu[True] / cpu[False]:.2f}x CPU, {wall[True] / wall[False]:.2f}x wall "
          f"(bar: <= 1.5x); {int(out.label.bool().sum()):,} labelled pixels")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

"""How faithfully the default lift + default renderer reproduce the source imagery, and what the colour solve costs.

Figures, each beside a baseline measured in the same run:

1. Fidelity: PSNR / SSIM of the nadir render at one pixel per cell (default `CpuRenderer()`:
   antialiased, 0.3 px^2 low-pass) against the orthophoto, for `lift(r)` (colours solved) and
   `lift(r, solve_colours=False)` (each cell's pixel copied: the former default), on the Para
   Landsat and Duluth drone pairs, over the largest valid square (as tests/test_lifting.py).
2. Cost: CPU seconds (time.process_time, all threads: the machine may be shared, wall time is
   noise) of `lift` with and without the solve on a 1,000 x 1,000 raster (eastern Turkey SRTM,
   hypsometric colours), the best of `--reps` alternating runs, and their ratio; plus the solve's
   peak working memory per tile (tracemalloc, numpy arrays).

    python benchmarks/fidelity.py                 # needs EARTH3D_TEST_DATA or ../shared/data
    python benchmarks/fidelity.py --reps 5 --no-cost
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import earth3d
from earth3d import colour_solve
from earth3d.renderers import CpuRenderer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_lifting import _largest_valid_square, _metrics, nadir_camera  # noqa: E402


def data(*parts: str) -> str:
    root = os.environ.get("EARTH3D_TEST_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    return str(Path(root, *parts))


PAIRS = {
    "para_landsat5": ("pairs/para_landsat5/srtm.tif", "pairs/para_landsat5/rgb_b3b2b1.tif"),
    "duluth_drone": ("pairs/duluth_drone/dtm.tif", "pairs/duluth_drone/orthophoto.tif"),
}


def fidelity() -> None:
    renderer = CpuRenderer()
    print(f"{'pair':<16}{'copied PSNR':>12}{'SSIM':>8}{'solved PSNR':>13}{'SSIM':>8}{'gain dB':>9}")
    for name, (dem, ortho) in PAIRS.items():
        r = earth3d.read_raster(data(dem), data(ortho), vertical_datum="ellipsoid")
        rows, cols = (slice(None), slice(None)) if r.valid.all() else _largest_valid_square(r.valid)
        cam = nadir_camera(r)
        ref = r.rgb[rows, cols]
        before = _metrics(renderer.render(earth3d.lift(r, solve_colours=False), cam).rgb[rows, cols], ref)
        after = _metrics(renderer.render(earth3d.lift(r), cam).rgb[rows, cols], ref)
        print(f"{name:<16}{before[0]:>12.2f}{before[1]:>8.4f}{after[0]:>13.2f}{after[1]:>8.4f}"
              f"{after[0] - before[0]:>9.2f}")


def cost(reps: int) -> None:
    r = earth3d.read_raster(data("dem/eastern_turkey_srtm_3arcsec.tif"), vertical_datum="ellipsoid")
    small = earth3d.GeoRaster(r.rgb[:64, :64], r.height[:64, :64], r.valid[:64, :64], r.transform, r.crs,
                              r.vertical_datum)
    earth3d.lift(small)  # JIT warm-up
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(reps):
        for solve in (False, True):
            c0 = time.process_time()
            earth3d.lift(r, solve_colours=solve)
            times[solve].append(time.process_time() - c0)
    base, solved = min(times[False]), min(times[True])
    print(f"\nlift of {r.shape[1]} x {r.shape[0]} cells, CPU s (best of {reps}): copied colours {base:.2f}, "
          f"solved {solved:.2f}; ratio {solved / base:.2f}x (target <= 2x)")
    h, w = r.shape
    rng = np.random.default_rng(0)
    tracemalloc.start()
    colour_solve.solve_nadir_colours(r.rgb, np.ones((h, w), bool), rng.random((h, w)), sigma=0.8, opacity=0.98)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"solve's peak traced memory on {h} x {w} cells: {peak / 2**20:.0f} MiB "
          f"(tiles of {colour_solve.TILE} + {colour_solve.HALO} halo; inputs and output "
          f"{(r.rgb.nbytes * 2 + h * w * 17) / 2**20:.0f} MiB of it)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-cost", action="store_true")
    args = ap.parse_args()
    fidelity()
    if not args.no_cost:
        cost(args.reps)


if __name__ == "__main__":
    main()

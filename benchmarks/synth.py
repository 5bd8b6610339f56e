"""World synthesis throughput: km^2/s at 1 m/px and 30 m/px, and a 512 x 512 continental tile.

Bars: 1 km^2 of countryside at 1 m/px (1000 x 1000 orthophoto + DSM) in <= 1 s
and a 512 x 512 continental tile (1 km/px) in <= 1 s on 2 cores. The machine is
shared, so the figure to read is CPU time over 2 (`cpu s / 2`), which load does not
inflate. The baseline, measured in the same run, is a plain vectorised-numpy
generator that computes only fBm heights (3D value noise on the sphere, same
octave count) with no colour, climate or cities.

    python benchmarks/synth.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from earth3d.synth import ProceduralWorld
from earth3d.synth.grid import EARTH_RADIUS_M, M_PER_DEG, lattice_for


def numpy_fbm(lons: np.ndarray, lats: np.ndarray, res: float, top: float = 150_000.0) -> np.ndarray:
    """Baseline: fBm of trilinear value noise on the unit sphere, octaves from `top` down to 2 cells (numpy)."""
    lo, la = np.meshgrid(np.radians(lons), np.radians(lats))
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    out = np.zeros(lo.shape)
    lam, amp = top, 1.0
    while lam >= 2 * res:
        q = p * (EARTH_RADIUS_M / lam)
        i = np.floor(q).astype(np.int64)
        f = q - i
        u = f * f * (3 - 2 * f)
        acc = np.zeros(lo.shape)
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    h = (i[0] + dx) * 73856093 ^ (i[1] + dy) * 19349663 ^ (i[2] + dz) * 83492791
                    h = (h * 0x5BD1E995) & 0xFFFFFF
                    v = h / float(0xFFFFFF) * 2 - 1
                    w = ((u[0] if dx else 1 - u[0]) * (u[1] if dy else 1 - u[1]) * (u[2] if dz else 1 - u[2]))
                    acc += w * v
        out += amp * acc
        lam *= 0.5
        amp *= 0.59
    return out


def box(lon: float, lat: float, n: int, res: float):
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def timed(fn, repeats: int) -> tuple[float, float]:
    """Best wall time and the CPU time of that run."""
    best = (math.inf, math.inf)
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    world = ProceduralWorld(args.seed)
    city = world.find_city()
    hills = world.find_landform("hills")
    cases = [
        ("1 m/px, 1 km^2, city", city, 1000, 1.0),
        ("1 m/px, 1 km^2, countryside", hills, 1000, 1.0),
        ("30 m/px, 512 x 512", hills, 512, 30.0),
        ("1 km/px, 512 x 512 continental", hills, 512, 1000.0),
    ]
    print(f"numba threads: {numba.get_num_threads()}")
    print(f"{'case':34}{'px':>10}{'wall s':>9}{'cpu s':>8}{'km^2/s':>12}"
          f"{'baseline s':>12}{'speed-up':>10}")
    for name, (lon, lat), n, res in cases:
        b = box(lon, lat, n, res)
        world.generate(bbox=b, resolution_m=res)  # compile and warm caches
        wall, cpu = timed(lambda b=b, res=res: world.generate(bbox=b, resolution_m=res), args.repeats)
        lat_ = lattice_for(b, res)
        lons, lats = lat_.lons(), lat_.lats()
        base, _ = timed(lambda lons=lons, lats=lats, res=res: numpy_fbm(lons, lats, res), 1)
        area = (n * res / 1000.0) ** 2
        print(f"{name:34}{n * n:>10}{wall:>9.3f}{cpu:>8.3f}{area / wall:>12.4g}{base:>12.3f}{base / wall:>9.1f}x")
    print("bars: 1 km^2 of countryside at 1 m/px <= 1 s and 512 x 512 continental <= 1 s on 2 cores "
          "(read cpu s / 2)")


if __name__ == "__main__":
    main()

"""Where the procedural world's lakes lie: the lake share of the land by climate, against Earth's.

Random 1 x 1 degree blocks of land (at least half land) for several seeds; per block the lake share of
its hydrology at 500 m (200 x 200 cells from its north-west corner) and the mean annual temperature
and moisture at its centre (kernel.climate at the median node height). Printed per temperature band,
for this generator and, in the same run, a baseline checkout (default: the revision before lakes
followed the climate).

Earth: lakes cover 3.7 % of the non-glaciated land (Verpoorter et al. 2014, lakes from 0.002 km^2) or
1.8 % counting lakes from 10 ha (HydroLAKES, Messager et al. 2016), most of it in the formerly
glaciated high latitudes (Finland about 10 %, parts of the Canadian Shield more); warm land holds
far less, much of it in a few lake districts (rifts, floodplains, karst).

    python benchmarks/lakes.py [--seeds 1 2 3 4] [--blocks 12] [--baseline REV_OR_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_checkout import baseline_checkout  # noqa: E402

DEFAULT_REVISION = "2ad5372"  # lakes in every humid basin, whatever the climate
BANDS = ((-30.0, 4.0), (4.0, 10.0), (10.0, 18.0), (18.0, 40.0))


def measure(seeds: list[int], blocks: int) -> list[tuple[float, float, float]]:
    """(temperature C, moisture, lake share) per block."""
    from earth3d.synth import ProceduralWorld
    from earth3d.synth import kernel as K
    from earth3d.synth.grid import M_PER_DEG
    from earth3d.synth.hydrology import Network, hydrology_fields

    rng = np.random.default_rng(0)
    rows = []
    for seed in seeds:
        world = ProceduralWorld(seed)
        n = 0
        while n < blocks:
            lon, lat = rng.uniform(-180, 179), rng.uniform(-60, 75)
            w0 = Network(world._seeds, lon, lat, lon + 1, lat + 1, 1000.0, 0).w0
            x, y, z = (w0[..., k].ravel() for k in (0, 1, 3))
            inside = (x >= lon) & (x < lon + 1) & (y >= lat) & (y < lat + 1)
            land = inside & np.isfinite(x) & (z > 1.0)
            if land.sum() < 0.5 * inside.sum():
                continue
            n += 1
            m = np.empty(K.N_MACRO)
            K.macro_at(*K.unit_vector(lon + 0.5, lat + 0.5), world._seeds, m)
            t, w = K.climate(m, lat + 0.5, float(np.median(z[land])), m[0] - K.SEA)
            d = 500.0 / M_PER_DEG
            lons, lats = lon + (np.arange(200) + 0.5) * d, lat + 1 - (np.arange(200) + 0.5) * d
            lake = hydrology_fields(world._seeds, lons, lats, d)[..., K.H_LAKE].mean()
            rows.append((float(t), float(w), float(lake)))
    return rows


def report(name: str, rows: list[tuple[float, float, float]]) -> None:
    r = np.array(rows)
    print(f"{name}: {len(r)} blocks, lake share of the land {r[:, 2].mean() * 100:.1f} % "
          f"(median block {np.median(r[:, 2]) * 100:.1f} %, largest {r[:, 2].max() * 100:.1f} %)")
    for lo, hi in BANDS:
        sel = (r[:, 0] >= lo) & (r[:, 0] < hi)
        humid = sel & (r[:, 1] > 0.4)
        print(f"  mean temperature {lo:5.0f} .. {hi:3.0f} C: {sel.sum():3d} blocks, lake share "
              f"{r[sel, 2].mean() * 100 if sel.any() else float('nan'):5.1f} %   humid ones ({humid.sum()}): "
              f"{r[humid, 2].mean() * 100 if humid.any() else float('nan'):5.1f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--blocks", type=int, default=12, help="land blocks per seed")
    ap.add_argument("--baseline", default=DEFAULT_REVISION)
    ap.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        print(json.dumps(measure(args.seeds, args.blocks)))
        return
    report("this generator", measure(args.seeds, args.blocks))
    folder = baseline_checkout(args.baseline)
    env = dict(os.environ, PYTHONPATH=folder, NUMBA_CACHE_DIR=os.path.join(folder, ".numba_cache"))
    out = subprocess.run([sys.executable, __file__, "--dump", "--blocks", str(args.blocks), "--seeds",
                          *map(str, args.seeds)], env=env, capture_output=True, text=True, check=True)
    report(f"baseline {args.baseline}", json.loads(out.stdout.strip().splitlines()[-1]))
    print("Earth: 3.7 % of the non-glaciated land (lakes from 0.002 km^2), 1.8 % from 10 ha; most in formerly "
          "glaciated high latitudes")


if __name__ == "__main__":
    main()

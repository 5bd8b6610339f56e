"""Drainage realism of generated relief: closed depressions and the drainage-area exponent tau.

For each landform (30 m mountains, hills and lowland plains), `--tiles` tiles of 256 x 256
cells at random places (ProceduralWorld(seed).find_landform near a random point, seeds 1..N)
are measured with earth3d.metrics.drainage: the share of cells in closed depressions deeper
than 20 m and 1 m, and tau of P(A >= a) ~ a^-tau. Beside them: the real DEMs of the shared data
(Big Tujunga mountains, Jacksboro hills, Fort Worth plains, eastern Turkey plateau, Para lowland
forest) and, as the baseline in the same run, the generator of another checkout (default
the revision before the drained relief, `benchmarks/baseline_checkout.py`, run in a subprocess with its own PYTHONPATH).

Bars: share deeper than 20 m <= 1 %; deeper than 1 m no more than the real DEM of the same
landform; tau inside the range of the real DEMs.

    python benchmarks/drainage.py [--tiles 6] [--baseline REV_OR_FOLDER] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_checkout import DEFAULT_REVISION, baseline_checkout, default_data  # noqa: E402

CASES = {  # landform: (find_landform kind, real DEM of the same landform)
    "mountains": ("mountains", "dem/bigtujunga_utm11_30m.tif"),
    "hills": ("hills", "dem/jacksboro_fault_3arcsec.tif"),
    "lowland": ("plains", "pairs/para_landsat5/srtm.tif"),  # Para: lowland forest
}
REAL = ["dem/bigtujunga_utm11_30m.tif", "dem/jacksboro_fault_3arcsec.tif", "dem/fort_worth_3arcsec.tif",
        "dem/eastern_turkey_srtm_3arcsec.tif", "pairs/para_landsat5/srtm.tif"]


def heights(tiles: int, n: int = 256, res: float = 30.0) -> dict:
    """{case: [heights of each tile]} from the generator importable here."""
    from earth3d.synth import ProceduralWorld
    from earth3d.synth.grid import M_PER_DEG

    out: dict[str, list] = {}
    for case, (kind, _) in CASES.items():
        out[case] = []
        for seed in range(1, tiles + 1):
            world = ProceduralWorld(seed)
            rng = np.random.default_rng(seed)
            lon, lat = world.find_landform(kind, near_lonlat=(rng.uniform(-180, 180), rng.uniform(-50, 50)))
            d = n * res / M_PER_DEG
            dl = d / math.cos(math.radians(lat))
            out[case].append(world.generate(bbox=(lon - dl / 2, lat - d / 2, lon + dl / 2, lat + d / 2),
                                            resolution_m=res).height)
    return out


def stats(tiles: dict) -> dict:
    """{case: [(share_1m, share_20m, tau), ...]} of the tiles."""
    from earth3d.metrics.drainage import drainage_stats

    out = {}
    for case, zs in tiles.items():
        out[case] = [(s.share_1m, s.share_20m, s.tau) for s in map(drainage_stats, zs)]
    return out


def real(data: str) -> dict:
    from earth3d import read_raster
    from earth3d.metrics.drainage import drainage_stats
    from earth3d.metrics.terrain import valid_block

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in REAL:
            z, _ = valid_block(read_raster(os.path.join(data, name)))
            s = drainage_stats(z)
            out[name] = (s.share_1m, s.share_20m, s.tau)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=int, default=6)
    ap.add_argument("--baseline", default=DEFAULT_REVISION,
                    help="git revision or checkout folder whose generator is the baseline ('' for none)")
    ap.add_argument("--data", default=default_data())
    ap.add_argument("--save", help="only write the generated heights to this .npz (baseline mode)")
    args = ap.parse_args()
    if args.save:
        tiles = heights(args.tiles)
        np.savez(args.save, **{f"{c}_{k}": z for c, zs in tiles.items() for k, z in enumerate(zs)})
        return
    base = None
    if args.baseline:
        checkout = baseline_checkout(args.baseline)
        env = dict(os.environ, PYTHONPATH=checkout)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "base.npz")
            run = subprocess.run([sys.executable, __file__, "--save", path, "--tiles", str(args.tiles)],
                                 env=env, capture_output=True, text=True, cwd=checkout)
            if run.returncode != 0:
                raise SystemExit(f"baseline run failed: {run.stderr[-2000:]}")
            with np.load(path) as f:
                base = stats({c: [f[f"{c}_{k}"] for k in range(args.tiles)] for c in CASES})
    ref = real(args.data)
    taus = [v[2] for v in ref.values()]
    print("real DEMs               depr>1m %  depr>20m %    tau")
    for name, (a, b, t) in ref.items():
        print(f"  {os.path.basename(name):34}{100 * a:8.2f}{100 * b:10.2f}{t:8.3f}")
    print(f"  tau range of the real DEMs: {min(taus):.3f} .. {max(taus):.3f}")
    gen = stats(heights(args.tiles))
    print(f"\ngenerated, 30 m, {args.tiles} tiles of 256 x 256 (mean [max] over tiles); "
          f"baseline = {args.baseline or 'none'}")
    print(f"{'case':11}{'':6}{'depr>1m %':>16}{'depr>20m %':>17}{'tau':>8}   "
          "bars (20 m <= 1 %, 1 m <= real, tau in range)")
    for case, (_, dem) in CASES.items():
        for label, rows in (("this", gen[case]), ("base", base[case] if base else None)):
            if rows is None:
                continue
            r = np.array(rows)
            m, x = r.mean(axis=0), r.max(axis=0)
            ok = (x[1] <= 0.01, m[0] <= ref[dem][0], min(taus) <= m[2] <= max(taus))
            print(f"{case:11}{label:6}{100 * m[0]:8.2f} [{100 * x[0]:5.2f}]{100 * m[1]:9.2f} [{100 * x[1]:5.2f}]"
                  f"{m[2]:8.3f}   {' '.join('ok' if o else 'NO' for o in ok)}   (real {os.path.basename(dem)})")


if __name__ == "__main__":
    main()

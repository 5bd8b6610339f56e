"""City synthesis speed: 1 km^2 at 1 m/px in a city, this generator against a baseline revision.

Bar: <= 1.0 s on 2 cores. The machine may be shared, so the figure to read is CPU
time over the thread count (`cpu s / threads`), which load does not inflate. Each
generator runs in its own process (compiled and warmed first, then timed over
--repeats runs, best kept) on the same place: the centre of the city nearest
(0, 0) of --seed, offset by --offset metres.

    python benchmarks/city_speed.py [--baseline dc8ea55] [--seed 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_checkout import REPO, baseline_checkout  # noqa: E402

#: The generator before organic cities.
DEFAULT_REVISION = "dc8ea55"

_PROBE = r"""
import json, math, sys, time
import numba
from earth3d.synth import ProceduralWorld
from earth3d.synth.grid import M_PER_DEG
seed, repeats, offset = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
w = ProceduralWorld(seed)
lon, lat = w.find_city()
lat += offset / M_PER_DEG
dlat = 1000.0 / M_PER_DEG
dlon = dlat / math.cos(math.radians(lat))
box = (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)
w.generate(bbox=box, resolution_m=1.0)
best = (math.inf, math.inf)
for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    w.generate(bbox=box, resolution_m=1.0)
    best = min(best, (time.process_time() - c0, time.perf_counter() - t0))
print(json.dumps({"cpu": best[0], "wall": best[1], "threads": numba.get_num_threads()}))
"""


def run(folder: str, seed: int, repeats: int, offset: float) -> dict:
    """Time the generator whose package lies in `folder` in a fresh process."""
    env = dict(os.environ, PYTHONPATH=folder)
    res = subprocess.run([sys.executable, "-c", _PROBE, str(seed), str(repeats), str(offset)], env=env,
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"generator in {folder} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=DEFAULT_REVISION, help="folder or git revision of the baseline")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--offset", type=float, default=600.0, help="metres north of the city centre")
    args = ap.parse_args()
    new = run(str(REPO), args.seed, args.repeats, args.offset)
    base = run(baseline_checkout(args.baseline), args.seed, args.repeats, args.offset)
    for name, r in (("this generator", new), (f"baseline {args.baseline}", base)):
        print(f"{name:28} cpu {r['cpu']:7.3f} s  wall {r['wall']:7.3f} s  threads {r['threads']}  "
              f"cpu/threads {r['cpu'] / r['threads']:6.3f} s")
    print(f"ratio (this / baseline, cpu): {new['cpu'] / base['cpu']:.3f}")
    print("bar: 1 km^2 at 1 m/px in a city <= 1.0 s on 2 cores (cpu/threads)")


if __name__ == "__main__":
    main()

"""Settlements and roads: rank-size exponent, connectivity, bridges, and what drawing them costs.

Prints, over boxes of the procedural world:
- the rank-size (Zipf) exponent of the settlements above farmstead size, against Zipf's 1.0;
- the share of towns and cities that a road ends at, and the share in the largest component of
  the road graph around them;
- the number of bridges (road pieces over rivers);
- the CPU time of 1 km^2 at 1 m/px (in a town and in a city), a 512 x 512 tile at 30 m/px and a
  512 x 512 continental tile (1 km/px), with roads and settlements and without
  (ProceduralWorld(roads=False)), both in this run: the first call (network blocks computed)
  and the best of the repeats (blocks cached), as a ratio. The machine may be shared: CPU time
  over 2 cores is the figure to read.

    python benchmarks/settlements.py [--seeds 1 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from earth3d.synth import ProceduralWorld
from earth3d.synth import roads as R
from earth3d.synth import settlements as ST
from earth3d.synth.grid import M_PER_DEG


def box(lon: float, lat: float, n: int, res: float):
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def cpu(fn) -> float:
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def network_figures(world: ProceduralWorld, lon: float, lat: float, half: float) -> dict:
    b = (lon - half, lat - half, lon + half, lat + half)
    s = world.settlements(b)
    pops = [x.population for x in s if x.kind != "farm"]
    q = ST.rank_size_exponent(pops)
    big = [x for x in s if x.kind in ("city", "town")]
    V, OFF, CLS = R.network(world._seeds, b[0] - 0.5, b[1] - 0.5, b[2] + 0.5, b[3] + 0.5, R.REGIONAL)
    ends = np.concatenate([V[OFF[:-1]], V[OFF[1:] - 1]], axis=1).reshape(-1, 2)
    keys = [tuple(np.round(p, 6)) for p in ends]
    parent = {k: k for k in keys}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, c in zip(keys[0::2], keys[1::2], strict=True):
        parent[root(a)] = root(c)
    node = [tuple(np.round((x.lon, x.lat), 6)) for x in big]
    joined = [k in parent for k in node]
    comps = [root(k) for k, j in zip(node, joined, strict=True) if j]
    largest = max((comps.count(c) for c in set(comps)), default=0)
    streets = world.streets(b)
    return dict(settlements=len(s), towns_cities=len(big), zipf=q, joined=np.mean(joined) if big else 1.0,
                largest=largest / max(len(big), 1), bridges=sum(st.bridge for st in streets),
                roads=len(streets), km=sum(_length_km(st.lonlat) for st in streets))


def _length_km(v: np.ndarray) -> float:
    d = np.diff(v, axis=0)
    return float(np.hypot(d[:, 0] * np.cos(np.radians(v[:-1, 1])), d[:, 1]).sum() * M_PER_DEG / 1000.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--half", type=float, default=0.5, help="half size (degrees) of the boxes for the network figures")
    args = ap.parse_args()
    print("network (boxes of %.1f deg around each seed's city):" % (2 * args.half))
    for seed in args.seeds:
        world = ProceduralWorld(seed)
        lon, lat = world.find_city()
        f = network_figures(world, lon, lat, args.half)
        print(f"  seed {seed}: {f['settlements']} settlements, rank-size exponent {f['zipf']:.2f} "
              f"(Zipf 1.0, ratio {f['zipf']:.2f}); towns+cities {f['towns_cities']}: on a road {f['joined']:.0%}, "
              f"in the largest component {f['largest']:.0%}; {f['roads']} road pieces, {f['km']:.0f} km, "
              f"{f['bridges']} bridges")
    seed = args.seeds[0]
    world, bare = ProceduralWorld(seed), ProceduralWorld(seed, roads=False)
    lon, lat = world.find_city()
    town = next(x for x in world.settlements((lon - 0.5, lat - 0.5, lon + 0.5, lat + 0.5)) if x.kind == "town")
    hills = world.find_landform("hills")
    # the network figures above have computed (cached) the roads around the city and the town; the
    # hills are elsewhere: their first call computes the road blocks there
    cases = [("1 m/px, 1 km^2, town", (town.lon, town.lat), 1000, 1.0),
             ("1 m/px, 1 km^2, city", (lon, lat), 1000, 1.0),
             ("30 m/px, 512 x 512, town", (town.lon, town.lat), 512, 30.0),
             ("1 m/px, 1 km^2, hills (network cold)", hills, 1000, 1.0),
             ("1 km/px, 512 x 512 continental", hills, 512, 1000.0)]
    print("cost (CPU s; roads = with roads and settlements, bare = roads=False; first call, then best of "
          f"{args.repeats}; taken on a shared machine):")
    for name, (x, y), n, res in cases:
        b = box(x, y, n, res)
        bare_first = cpu(lambda: bare.generate(bbox=b, resolution_m=res))  # noqa: B023
        first = cpu(lambda: world.generate(bbox=b, resolution_m=res))  # noqa: B023
        warm = min(cpu(lambda: world.generate(bbox=b, resolution_m=res)) for _ in range(args.repeats))  # noqa: B023
        base = min(cpu(lambda: bare.generate(bbox=b, resolution_m=res)) for _ in range(args.repeats))  # noqa: B023
        print(f"  {name:34s} roads first {first:6.2f} s  warm {warm:6.2f} s ({warm / 2:5.2f} s per core of 2) | "
              f"bare {base:6.2f} s (first {bare_first:5.2f}) | ratio warm {warm / base:4.2f}, "
              f"first {first / base:5.2f}")


if __name__ == "__main__":
    main()

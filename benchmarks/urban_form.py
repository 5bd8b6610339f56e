"""Urban form of generated cities against Boeing (2019): orientation order and network figures.

For --cities city seeds (the seeds kernel.city_site derives for land-use cells of
world --seed), builds city_street_graph within --radius metres of the centre and
prints Boeing's figures per city (orientation entropy H and order phi, median
street segment length, mean node degree, shares of 4-way intersections and dead
ends; node figures over nodes within 0.85 of the radius, away from the cut), then
their spread and the bars: phi spans at least 0.1 to 0.8 with a median under 0.6,
every other figure inside the range of the paper's 100 cities (BOEING_RANGES).
Also prints the gradient-orientation entropy of 0.5 m city tiles (normalised to 1 for
isotropic texture; real imagery 0.998) when --tiles is given.

    python benchmarks/urban_form.py [--cities 20] [--radius 2500] [--tiles 3]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from earth3d.metrics.texture import ORIENTATION_BINS, texture_stats
from earth3d.metrics.urban_form import BOEING_RANGES, urban_form
from earth3d.synth import ProceduralWorld
from earth3d.synth.city import city_street_graph
from earth3d.synth.grid import M_PER_DEG
from earth3d.synth.kernel import S_CITY
from earth3d.synth.noise import hash2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cities", type=int, default=20)
    ap.add_argument("--radius", type=float, default=2500.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tiles", type=int, default=0, help="0.5 m city tiles (256 x 256) to measure")
    args = ap.parse_args()
    world = ProceduralWorld(args.seed)
    s_city = world._seeds[S_CITY]  # city seeds are hash2(ci, cj, S[S_CITY]) (kernel.city_site)
    rows = []
    print(f"{'city':>4} {'seed':>20} {'H':>6} {'phi':>6} {'med m':>7} {'deg':>6} {'4-way':>6} {'dead':>6} "
          f"{'nodes':>6} {'s':>6}")
    for k in range(args.cities):
        cs = hash2(k, 7, s_city)
        t = time.process_time()
        nodes, edges, _ = city_street_graph(cs, args.radius)
        f = urban_form(nodes, edges, within=0.85 * args.radius)
        rows.append(f)
        print(f"{k:>4} {int(cs):>20} {f.entropy:6.3f} {f.phi:6.3f} {f.median_length_m:7.1f} {f.mean_degree:6.2f} "
              f"{f.four_way:6.3f} {f.dead_end:6.3f} {f.n_nodes:>6} {time.process_time() - t:6.1f}")
    fig = {"phi": [r.phi for r in rows], "median_length_m": [r.median_length_m for r in rows],
           "mean_degree": [r.mean_degree for r in rows], "four_way": [r.four_way for r in rows],
           "dead_end": [r.dead_end for r in rows]}
    print("\nfigure            min     median  max     paper range (Boeing 2019, 100 cities)  inside")
    ok_all = True
    for name, vals in fig.items():
        lo, hi = BOEING_RANGES[name]
        v = np.array(vals)
        inside = bool(((v >= lo) & (v <= hi)).all())
        ok_all &= inside or name == "phi"
        print(f"{name:16} {v.min():7.3f} {np.median(v):7.3f} {v.max():7.3f}   {lo:7.3f} .. {hi:7.3f}"
              f"{'':18}{'yes' if inside else 'NO'}")
    phi = np.array(fig["phi"])
    bar_phi = phi.min() <= 0.1 and phi.max() >= 0.8 and np.median(phi) < 0.6
    print(f"\nbar phi: spans {phi.min():.3f} .. {phi.max():.3f} (need <= 0.1 and >= 0.8), median "
          f"{np.median(phi):.3f} (need < 0.6): {'met' if bar_phi else 'NOT met'}")
    print(f"bar other figures inside the paper's ranges: {'met' if ok_all else 'NOT met'}")
    if args.tiles:
        ents = []
        for k in range(args.tiles):
            w = ProceduralWorld(args.seed + k)
            lon, lat = w.find_city()
            dlat = 128.0 / M_PER_DEG
            dlon = dlat / math.cos(math.radians(lat))
            lat += 400.0 / M_PER_DEG
            r = w.generate(bbox=(lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2), resolution_m=0.5)
            ents.append(texture_stats(np.clip(r.rgb, 0, 1).astype(np.float64))["orient_entropy"]
                        / math.log2(ORIENTATION_BINS))
        print(f"gradient-orientation entropy of 0.5 m city tiles (normalised): "
              f"{' '.join(f'{e:.3f}' for e in ents)} (real imagery 0.998; before 0.75-0.90)")


if __name__ == "__main__":
    main()

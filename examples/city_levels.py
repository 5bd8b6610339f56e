"""A generated city at four ground resolutions (0.5 m, 2 m, 10 m, 30 m) for a few seeds.

Writes one PNG row per seed: the four panels from street level (lanes, cars, roofs,
shadows) to the 30 m view of the whole city (grey-brown texture, parks, water).
Each panel is centred 600 m east and 300 m north of the city centre.

    python examples/city_levels.py [--seeds 1,2,3] [--size 320] [--out city_levels.png]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from PIL import Image

from earth3d.synth import ProceduralWorld
from earth3d.synth.grid import M_PER_DEG

RESOLUTIONS = (0.5, 2.0, 10.0, 30.0)


def box(lon: float, lat: float, n: int, res: float) -> tuple[float, float, float, float]:
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--size", type=int, default=320, help="pixels per side of each panel")
    ap.add_argument("--out", default="city_levels.png")
    args = ap.parse_args()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        world = ProceduralWorld(seed)
        lon, lat = world.find_city()
        lon += 600.0 / (M_PER_DEG * math.cos(math.radians(lat)))
        lat += 300.0 / M_PER_DEG
        panels = []
        for res in RESOLUTIONS:
            r = world.generate(bbox=box(lon, lat, args.size, res), resolution_m=res)
            panels.append((np.clip(r.rgb, 0, 1) * 255).astype(np.uint8)[: args.size, : args.size])
        rows.append(np.concatenate(panels, axis=1))
        print(f"seed {seed}: city at ({lon:.4f}, {lat:.4f})")
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(f"wrote {args.out} (columns: {', '.join(f'{r:g} m' for r in RESOLUTIONS)})")


if __name__ == "__main__":
    main()

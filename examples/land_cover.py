"""Land cover of the procedural world: forest and farmland at 10 m, 5 m and 0.5 m, and an orbit view.

Writes two PNGs: `<out>_tiles.png` (top row forest, bottom row farmland, at 10, 5
and 0.5 m/px, 256 px each, at places of those biomes picked from the biome map)
and `<out>_orbit.png` (512 x 512 px at 4 km/px: about 2,000 km of a continent).

    python examples/land_cover.py [--seed 1] [--out land_cover]
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
from PIL import Image, ImageDraw

from earth3d.synth import BIOMES, ProceduralWorld
from earth3d.synth.grid import M_PER_DEG


def box(lon: float, lat: float, n: int, res: float):
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def biome_place(world: ProceduralWorld, name: str, rng: np.random.Generator) -> tuple[float, float]:
    """A random point inside a 3 x 3 block of biome-map cells of biome `name`, between 55 S and 55 N."""
    w, h = 720, 360
    ids = world.biome_map(w, h)
    core = ids == BIOMES.index(name)
    for axis in (0, 1):
        core = core & np.roll(core, 1, axis) & np.roll(core, -1, axis)
    js, is_ = np.nonzero(core)
    keep = np.abs(90.0 - (js + 0.5) * 180.0 / h) < 55.0
    k = rng.integers(keep.sum())
    return -180.0 + (is_[keep][k] + 0.5) * 360.0 / w, 90.0 - (js[keep][k] + 0.5) * 180.0 / h


def save(img: np.ndarray, path: str) -> None:
    tmp = path + ".tmp.png"
    Image.fromarray(img).save(tmp)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="land_cover")
    args = ap.parse_args()
    world = ProceduralWorld(args.seed)
    rng = np.random.default_rng(args.seed)
    rows = []
    for biome in ("temperate forest", "grassland/farmland"):
        lon, lat = biome_place(world, biome, rng)
        panels = []
        for res in (10.0, 5.0, 0.5):
            r = world.generate(bbox=box(lon, lat, 256, res), resolution_m=res)
            p = Image.fromarray((np.clip(r.rgb[:256, :256], 0, 1) * 255).astype(np.uint8))
            ImageDraw.Draw(p).text((4, 4), f"{biome} {res:g} m/px", fill=(255, 255, 255))
            panels.append(np.asarray(p))
        rows.append(np.concatenate(panels, axis=1))
    save(np.concatenate(rows, axis=0), f"{args.out}_tiles.png")
    lon, lat = biome_place(world, "grassland/farmland", rng)
    r = world.generate(bbox=box(lon, lat, 512, 4000.0), resolution_m=4000.0)
    save((np.clip(r.rgb[:512, :512], 0, 1) * 255).astype(np.uint8), f"{args.out}_orbit.png")
    print(f"wrote {args.out}_tiles.png and {args.out}_orbit.png (seed {args.seed}, orbit centre {lon:.2f}, {lat:.2f})")


if __name__ == "__main__":
    main()

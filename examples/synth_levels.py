"""The procedural world at four levels of one place: continental, regional, city and street.

Writes a PNG mosaic: orthophotos on the top row, hillshaded heights below.

    python examples/synth_levels.py [--seed 1] [--out synth_levels.png]
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
from PIL import Image, ImageDraw

from earth3d.synth import LEVELS, ProceduralWorld
from earth3d.synth.grid import M_PER_DEG
from earth3d.synth.shading import hillshade


def box(lon: float, lat: float, n: int, res: float):
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def grey_relief(r, exaggeration: float = 1.0) -> np.ndarray:
    """Hillshade of a GeoRaster's heights as an RGB image (edge cells repeated)."""
    z = np.pad(r.height.astype(np.float64), 1, mode="edge") * exaggeration
    lats = r.transform.f + r.transform.e * (np.arange(-1, r.shape[0] + 1) + 0.5)
    s = hillshade(z, lats, r.transform.a, -r.transform.e, strength=0.9)
    g = np.clip(0.55 * s, 0, 1)
    return np.repeat(g[..., None], 3, axis=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=384, help="pixels per side of each panel")
    ap.add_argument("--out", default="synth_levels.png")
    args = ap.parse_args()
    world = ProceduralWorld(args.seed)
    lon, lat = world.find_city()
    n = args.size
    tops, bottoms = [], []
    for name, res in LEVELS.items():
        # the finer levels look 2.5 km east of the city centre, where houses, yards and parks mix
        shift = 2500.0 / (M_PER_DEG * math.cos(math.radians(lat))) if res < 5 else 0.0
        r = world.generate(bbox=box(lon + shift, lat, n, res), resolution_m=res)
        top = Image.fromarray((r.rgb * 255).astype(np.uint8))
        ImageDraw.Draw(top).text((6, 4), f"{name}  {res:g} m/px  ({n * res / 1000:g} km)", fill=(255, 255, 255))
        tops.append(np.asarray(top))
        # coarse cells flatten relief: exaggerate it there so the panel shows it
        bottoms.append((grey_relief(r, max(1.0, math.sqrt(res / 30.0))) * 255).astype(np.uint8))
    mosaic = np.concatenate([np.concatenate(tops, axis=1), np.concatenate(bottoms, axis=1)], axis=0)
    tmp = args.out + ".tmp.png"
    Image.fromarray(mosaic).save(tmp)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: levels {', '.join(LEVELS)} around ({lon:.4f}, {lat:.4f}), seed {args.seed}")


if __name__ == "__main__":
    main()

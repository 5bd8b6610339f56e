"""Synthesize a region of the procedural world, lift it to splats, build a store and render it.

A 3 x 3 km box around the first city the world places near (0, 0), at 4 m cells, seen from
2 km up looking north-east at 35 degrees down, and from 600 m over the city center.
Writes high.png and low.png.

    python examples/synth_and_render.py [--seed 0] [--out .]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import earth3d
from earth3d import Camera
from earth3d.store import build_store
from earth3d.stream import Stream
from earth3d.synth import ProceduralWorld
from earth3d.video import write_png

HALF_DEG = 0.0135  # about 1.5 km


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()

    world = ProceduralWorld(args.seed)
    lon, lat = world.find_city()
    raster = world.generate(bbox=(lon - HALF_DEG, lat - HALF_DEG, lon + HALF_DEG, lat + HALF_DEG), resolution_m=4.0)
    splats = earth3d.lift(raster)
    ground = float(np.nanmedian(raster.height))
    print(f"city at ({lon:.4f}, {lat:.4f}): {raster.shape[1]} x {raster.shape[0]} cells, {len(splats):,} splats")

    with tempfile.TemporaryDirectory() as tmp, Stream(build_store([splats], Path(tmp) / "store")) as stream:
        views = {
            "high.png": Camera.from_geodetic(lon - 0.018, lat - 0.018, ground + 2000, heading_deg=45, pitch_deg=-35,
                                             width=960, height=540),
            "low.png": Camera.from_geodetic(lon, lat, ground + 600, pitch_deg=-90, width=960, height=540),
        }
        for name, camera in views.items():
            out = earth3d.render(stream, camera)
            write_png(args.out / name, out.rgb.cpu())
            print(f"wrote {args.out / name} ({out.n_splats:,} splats drawn)")


if __name__ == "__main__":
    main()

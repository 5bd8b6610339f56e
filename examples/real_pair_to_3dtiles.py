"""A real GeoTIFF orthophoto + DEM to an OGC 3D Tiles 1.1 tileset of Gaussian splats.

The Duluth drone pair (orthophoto and terrain model) is lifted to splats, built into an LOD store and
exported as 3D Tiles with SPZ-compressed KHR_gaussian_splatting content, ready for CesiumJS:

    python examples/real_pair_to_3dtiles.py [--data /path/to/shared/data] [--out duluth_tiles]
    earth3d serve duluth_tiles          # then open the printed address
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import earth3d
from earth3d.export import write_tileset
from earth3d.store import build_store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=Path("duluth_tiles"), help="tileset folder to write")
    args = parser.parse_args()

    pair = args.data / "pairs" / "duluth_drone"
    raster = earth3d.read_raster(pair / "dtm.tif", pair / "orthophoto.tif")
    splats = earth3d.lift(raster)
    print(f"{raster.source}: {raster.shape[1]} x {raster.shape[0]} cells -> {len(splats):,} splats")
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store([splats], Path(tmp) / "store", leaf_cap=16384)
        tileset = write_tileset(store, args.out, compression="spz")
    tiles = json.loads(Path(tileset).read_text())
    print(f"wrote {tileset}: 3D Tiles {tiles['asset']['version']}, "
          f"root geometric error {tiles['geometricError']:.1f} m")


if __name__ == "__main__":
    main()

"""Lift a real orthophoto + DEM pair to Gaussian splats and render two views of it.

Landsat 5 true colour (raw digital numbers, stretched 2-98 %) over SRTM heights,
Pará, Brazil: 287 x 310 cells of 30 m. Writes nadir.png and oblique.png.

    python examples/lift_real_pair.py [--data /path/to/shared/data] [--out .]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import numpy as np

import earth3d
from earth3d import Camera
from earth3d.geometry import crs_to_ecef, ecef_to_geodetic
from earth3d.renderers import CpuRenderer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=Path("."), help="where to write the PNGs")
    args = parser.parse_args()

    pair = args.data / "pairs" / "para_landsat5"
    raster = earth3d.read_raster(pair / "srtm.tif", pair / "rgb_b3b2b1.tif", stretch=(2, 98))
    splats = earth3d.lift(raster, backing=True)  # sharp surface splats over a hole-free backing layer
    print(f"{raster.shape[1]} x {raster.shape[0]} cells -> {len(splats)} splats ({raster.vertical_datum})")

    # The scene center as longitude, latitude and (ellipsoidal) height.
    h, w = raster.shape
    ground = float(np.median(raster.height[raster.valid]))
    center = crs_to_ecef(raster.crs, *(raster.transform @ (w / 2, h / 2)), ground)
    lon, lat, _ = ecef_to_geodetic(center)

    views = {
        "nadir": Camera.from_geodetic(lon, lat, ground + 12_000, pitch_deg=-90, width=640, height=640, fov_y_deg=45),
        # 6 km south-west of the center, 3 km up, looking north-east and 25 degrees down.
        "oblique": Camera.look_at((lon - 0.04, lat - 0.04, ground + 3_000), (lon, lat, ground),
                                  width=960, height=540, fov_y_deg=55),
    }
    renderer = CpuRenderer(antialiased=False)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, camera in views.items():
        out = renderer.render(splats, camera, background=(0.55, 0.7, 0.9))
        path = args.out / f"{name}.png"
        iio.imwrite(path, (out.rgb.clamp(0, 1).numpy() * 255).round().astype(np.uint8))
        print(f"{path}: {float(out.alpha.mean()):.3f} of the image covered")


if __name__ == "__main__":
    main()

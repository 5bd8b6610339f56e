"""Sky, sun and aerial perspective: the Rocky Mountain pair from 9 km up, a sunset, and the limb from orbit.

Writes into --out:

- rmnp_plain.png / rmnp_atmosphere.png: the RMNP DEM + Landsat pair from 9 km above the ground
  at a 25 degree downward pitch, looking north, without and with the atmosphere (sun 50 degrees
  high in the south-west);
- rmnp_sunset.png: the same view with the sun 2 degrees above the western horizon;
- rmnp_sunset_west.png: from east of the park looking west-north-west into a sun 3 degrees high;
- orbit_2000km.png: a 20 x 20 degree region of the procedural world at 6 km cells, seen from
  2,000 km up towards the limb, the sun setting over its eastern part (the night side).

    python examples/atmosphere_views.py [--data ../shared/data] [--out .]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

import earth3d
from earth3d import Camera
from earth3d.atmosphere import Sky, Sun
from earth3d.raster.read import read_raster
from earth3d.renderers import CpuRenderer
from earth3d.store import build_store
from earth3d.stream import Stream
from earth3d.synth import ProceduralWorld
from earth3d.video import write_png

RMNP_CAMERA = dict(lon_deg=-105.70, lat_deg=40.11, heading_deg=0.0, pitch_deg=-25.0)


def rmnp_views(data: Path, out: Path, renderer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the DEM's vertical datum notice
        raster = read_raster(data / "pairs" / "rmnp" / "dem.tif", data / "pairs" / "rmnp" / "rgb.tif")
    ground = float(np.nanmin(raster.height))
    with tempfile.TemporaryDirectory() as tmp, \
            Stream(build_store([earth3d.lift(raster)], Path(tmp) / "rmnp")) as stream:
        cam = Camera.from_geodetic(alt_m=ground + 9000.0, width=1280, height=720, **RMNP_CAMERA)
        lon, lat = RMNP_CAMERA["lon_deg"], RMNP_CAMERA["lat_deg"]
        views = {
            "rmnp_plain.png": False,
            "rmnp_atmosphere.png": Sky(sun=Sun.from_horizon(225.0, 50.0, lon, lat), ground_height_m=ground),
            "rmnp_sunset.png": Sky(sun=Sun.from_horizon(285.0, 2.0, lon, lat), ground_height_m=ground),
        }
        for name, sky in views.items():
            frame = earth3d.render(stream, cam, renderer, atmosphere=sky)
            write_png(out / name, frame.rgb)
            print(f"wrote {out / name} ({frame.n_splats:,} splats)")
        # Into the setting sun: from east of the park, looking west-north-west.
        west = Camera.from_geodetic(-105.42, 40.33, ground + 9000.0, 290.0, -25.0, width=1280, height=720)
        sky = Sky(sun=Sun.from_horizon(292.0, 3.0, -105.42, 40.33), ground_height_m=ground)
        frame = earth3d.render(stream, west, renderer, atmosphere=sky)
        write_png(out / "rmnp_sunset_west.png", frame.rgb)
        print(f"wrote {out / 'rmnp_sunset_west.png'} ({frame.n_splats:,} splats)")


def orbit_view(out: Path, renderer) -> None:
    world = ProceduralWorld(0)
    raster = world.generate(bbox=(-10.0, 30.0, 10.0, 50.0), resolution_m=6000.0)
    altitude = 2_000_000.0
    dip = math.degrees(math.acos(6_371_000.0 / (6_371_000.0 + altitude)))
    with tempfile.TemporaryDirectory() as tmp, \
            Stream(build_store([earth3d.lift(raster)], Path(tmp) / "world")) as stream:
        cam = Camera.from_geodetic(0.0, 22.0, altitude, 0.0, -dip + 12.0, width=1280, height=720, fov_y_deg=60)
        sky = Sky(sun=Sun.from_horizon(270.0, 0.0, 12.0, 40.0), sky_stride=4)  # sets at 12 E: night east of it
        frame = earth3d.render(stream, cam, renderer, atmosphere=sky)
        write_png(out / "orbit_2000km.png", frame.rgb)
        print(f"wrote {out / 'orbit_2000km.png'} ({frame.n_splats:,} splats)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("EARTH3D_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    renderer = CpuRenderer()
    rmnp_views(args.data, args.out, renderer)
    orbit_view(args.out, renderer)


if __name__ == "__main__":
    main()

"""Plug your own world generator into earth3d and fly down to its streets.

Any object with `generate(bbox=(west, south, east, north), resolution_m=...) -> GeoRaster` is a
world source (the `earth3d.synth.TileGenerator` protocol). This one is analytic: rolling hills with a
grid of streets and flat-roofed blocks. The script synthesizes three nested levels around a point,
lifts them to Gaussian splats, builds an LOD store and renders a descent from 30 km to street level.

    python examples/custom_generator.py --out my_world
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from earth3d import GeoRaster
from earth3d.scenarios import Level, Report, build_nested_store, render_flythrough, street_descent

M_PER_DEG = 111_320.0


class GridTown:
    """Hills, with a street every `block_m` metres and buildings between the streets."""

    def __init__(self, lat_ref: float, block_m: float = 80.0, street_m: float = 14.0, seed: int = 0):
        self.lat_ref, self.block_m, self.street_m = lat_ref, block_m, street_m
        self.rng_phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, 4)

    def generate(self, bbox, resolution_m: float = 30.0) -> GeoRaster:
        west, south, east, north = bbox
        lat0 = 0.5 * (south + north)
        dlat = resolution_m / M_PER_DEG
        dlon = dlat / np.cos(np.radians(lat0))
        w, h = max(2, round((east - west) / dlon)), max(2, round((north - south) / dlat))
        lon = west + (np.arange(w) + 0.5) * (east - west) / w
        lat = north - (np.arange(h) + 0.5) * (north - south) / h
        # Metres east of the prime meridian (at a fixed reference latitude) and north of the equator:
        # every tile, at any size and resolution, puts the streets in the same places.
        gx = lon[None, :] * M_PER_DEG * np.cos(np.radians(self.lat_ref)) + 0.0 * lat[:, None]
        gy = lat[:, None] * M_PER_DEG + 0.0 * lon[None, :]
        p = self.rng_phase
        ground = 150 + 60 * np.sin(gx / 9000 + p[0]) * np.cos(gy / 7000 + p[1]) + 8 * np.sin(gx / 900 + p[2])
        # Streets: bands `street_m` wide every `block_m`; buildings fill the blocks between them.
        on_street = ((gx % self.block_m) < self.street_m) | ((gy % self.block_m) < self.street_m)
        block = np.floor(gx / self.block_m) * 7.31 + np.floor(gy / self.block_m) * 3.17
        storeys = 2 + (np.abs(np.sin(block)) * 6).astype(int)
        building = ~on_street & (resolution_m < self.street_m)  # too coarse to resolve: leave them out
        height = ground + np.where(building, 3.2 * storeys, 0.0)
        grass = np.array([0.30, 0.45, 0.22])
        road = np.array([0.22, 0.22, 0.24])
        roof = np.stack([0.55 + 0.25 * np.sin(block), 0.35 + 0.1 * np.cos(block), 0.30 + 0 * block], -1)
        town = resolution_m < self.block_m / 4  # coarser cells would alias the street grid
        rgb = np.where(on_street[..., None] & town, road, np.where(building[..., None], roof, grass))
        transform = Affine((east - west) / w, 0, west, 0, -(north - south) / h, north)
        return GeoRaster(rgb.astype(np.float32), height.astype(np.float32), np.ones((h, w), bool), transform,
                         CRS.from_epsg(4326), "ellipsoid", f"GridTown {resolution_m} m")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("custom_world"))
    ap.add_argument("--lon", type=float, default=7.25)
    ap.add_argument("--lat", type=float, default=46.05)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=270)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()

    report = Report(quiet=False)
    levels = [Level("region", 20_000, 100.0), Level("town", 1_000, 4.0), Level("street", 120, 0.5)]
    store, rasters = build_nested_store(GridTown(args.lat), args.lon, args.lat, args.out / "world.e3d", levels,
                                        overwrite=args.overwrite, report=report)
    cameras, street, _ = street_descent(rasters, args.lon, args.lat, args.frames, street_m=30.0,
                                        start_altitude_m=30_000.0, width=args.width, height=args.height)
    video = args.out / "flythrough.mp4"
    splats = render_flythrough(store, cameras, video, overwrite=args.overwrite, report=report)
    print(f"wrote {video}: {len(cameras)} frames, {min(splats)}..{max(splats)} splats per frame, "
          f"street flight from lon={street[0]:.5f}, lat={street[1]:.5f} heading {street[2]:g} deg")
    report.summary()


if __name__ == "__main__":
    main()

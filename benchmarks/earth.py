"""EarthWorld against its data and real DEMs; ProceduralWorld (same seed) is the baseline.

Prints: import time of earth3d.synth and installed data size; over random land/coast boxes at
1 km and 10 km cells, land/sea agreement with the 1 km mask, mean CIEDE2000 difference from Blue
Marble at 4 arc-minutes, distance from every GeoNames city over 100,000 inhabitants in the boxes
to the center of its generated built-up area; Pearson correlation of heights with real DEMs, both
averaged to 8 km cells.

    python benchmarks/earth.py [--boxes 24] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("EARTH3D_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
DEMS = {
    "Big Tujunga (mountains)": "dem/bigtujunga_utm11_30m.tif",
    "Fort Worth (plains)": "dem/fort_worth_3arcsec.tif",
    "eastern Turkey (plateau, mountains)": "dem/eastern_turkey_srtm_3arcsec.tif",
    "Jacksboro (ridges)": "dem/jacksboro_fault_3arcsec.tif",
    "Celtic Sea (coast, shelf)": "dem/celtic_sea_topobathy_1arcmin.tif",
    "RMNP (high mountains)": "pairs/rmnp/dem.tif",
}


def import_time(module: str = "earth3d.synth") -> float:
    code = f"import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def random_boxes(n: int, size_deg: float, rng) -> list[tuple[float, float, float, float]]:
    from earth3d.synth.earth import data as D

    frac = D.land_fraction()
    boxes = []
    while len(boxes) < n:
        lon, lat = rng.uniform(-180, 180 - size_deg), rng.uniform(-56, 70)
        r, c = int((90 - lat) * D.GRID_N), int((lon + 180) * D.GRID_N)
        if frac[r, c] > 0.2:  # land or coast
            boxes.append((lon, lat, lon + size_deg, lat + size_deg * 0.75))
    return boxes


def block_mean(a: np.ndarray, k: int) -> np.ndarray:
    h, w = a.shape[0] // k * k, a.shape[1] // k * k
    a = a[:h, :w]
    return a.reshape(h // k, k, w // k, k, *a.shape[2:]).mean(axis=(1, 3))


def land_and_colour(worlds, boxes, res):
    from earth3d.synth.earth import data as D
    from earth3d.synth.earth.ciede import ciede2000, srgb_to_lab
    from earth3d.synth.earth.sample import sample_grid
    from earth3d.synth.grid import lattice_for

    bm = D.read_image("bmng.jpg")
    agree = {k: [] for k in worlds}
    de = {k: [] for k in worlds}
    k = max(1, round(7400.0 / res))  # pixels per 4 arc-minutes
    for box in boxes:
        lat = lattice_for(box, res)
        lats, lons = lat.lats(), lat.lons()
        ref = sample_grid(bm, lats, lons, lat.dlat, lat.dlon, D.GRID_N) / 255.0
        center = D.sample_mask(lats, lons, 1e-9, 1e-9) > 0.5  # the mask at each pixel center
        for name, w in worlds.items():
            g = w.generate(bbox=box, resolution_m=res)
            agree[name].append(np.mean((g.height > 0) == center))
            de[name].append(ciede2000(srgb_to_lab(block_mean(g.rgb, k)), srgb_to_lab(block_mean(ref, k))).mean())
    return {n: float(np.mean(v)) for n, v in agree.items()}, {n: float(np.mean(v)) for n, v in de.items()}


def city_offsets(world, boxes) -> list[float]:
    from earth3d.synth.earth import data as D
    from earth3d.synth.earth.builtup import radius_m
    from earth3d.synth.grid import M_PER_DEG, lattice_for

    p = D.places()
    dists = []
    for west, south, east, north in boxes:
        sel = np.nonzero((p["pop"] > 100_000) & (p["lon"] >= west) & (p["lon"] < east)
                         & (p["lat"] >= south) & (p["lat"] < north))[0]
        for i in sel:
            lon, lat, r = p["lon"][i], p["lat"][i], radius_m(p["pop"][i])
            half = 1.5 * r / M_PER_DEG
            cl = math.cos(math.radians(lat))
            box = (lon - half / cl, lat - half, lon + half / cl, lat + half)
            la = lattice_for(box, max(100.0, r / 20))
            lats, lons = la.lats(), la.lons()
            land = D.sample_mask(lats, lons, la.dlat, la.dlon) > 0.5
            u = world._builtup(lats, lons, la.dlat, la.dlon)[0] * land
            if u.sum() == 0:
                dists.append(math.inf)
                continue
            cy = (u.sum(1) @ lats) / u.sum()
            cx = (u.sum(0) @ lons) / u.sum()
            dists.append(math.hypot((cx - lon) * cl, cy - lat) * M_PER_DEG / 1000.0)
    return dists


def dem_cells(path: Path):
    """Real DEM as (lon, lat, height) of its valid pixels, and its lon/lat box."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(path) as ds:
        z = ds.read(1).astype(np.float64)
        nod = ds.nodata
        rows, cols = np.mgrid[0:ds.height, 0:ds.width]
        xs, ys = ds.transform * (cols + 0.5, rows + 0.5)
        crs = ds.crs
    ok = np.isfinite(z) if nod is None else (z != nod)
    xs, ys, z = xs[ok], ys[ok], z[ok]
    if not crs.is_geographic:
        xs, ys = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return xs, ys, z, (xs.min(), ys.min(), xs.max(), ys.max())


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, NaN when either side is constant."""
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def dem_correlations(worlds):
    from earth3d.synth.earth import data as D
    from earth3d.synth.earth.sample import sample_grid
    from earth3d.synth.grid import lattice_for

    rows = []
    for label, rel in DEMS.items():
        xs, ys, z, box = dem_cells(DATA / rel)
        cell = lattice_for(box, 8000.0)
        ci = np.clip(((xs - cell.west) / cell.dlon).astype(int), 0, cell.width - 1)
        ri = np.clip(((cell.north - ys) / cell.dlat).astype(int), 0, cell.height - 1)
        real = np.full((cell.height, cell.width), np.nan)
        cnt = np.bincount(ri * cell.width + ci, minlength=real.size)
        sums = np.bincount(ri * cell.width + ci, weights=z, minlength=real.size)
        full = cnt >= 0.5 * cnt.max()
        real.ravel()[full] = sums[full] / cnt[full]
        out = {"n": int(full.sum())}
        for name, w in worlds.items():
            g = w.generate(bbox=box, resolution_m=1000.0)
            gl = lattice_for(box, 1000.0)
            glat, glon = np.meshgrid(gl.lats(), gl.lons(), indexing="ij")
            gci = np.clip(((glon - cell.west) / cell.dlon).astype(int), 0, cell.width - 1)
            gri = np.clip(((cell.north - glat) / cell.dlat).astype(int), 0, cell.height - 1)
            key = (gri * cell.width + gci).ravel()
            gen = np.bincount(key, weights=g.height.ravel().astype(np.float64), minlength=real.size)
            gen /= np.maximum(np.bincount(key, minlength=real.size), 1)
            out[name] = pearson(real.ravel()[full], gen[full])
            if "Celtic" in label and name == "EarthWorld":
                land = full & (real.ravel() > 0)
                out["EarthWorld, land cells only"] = pearson(real.ravel()[land], gen[land])
        etopo = sample_grid(D.grids()[..., D.ELEV], cell.lats(), cell.lons(), cell.dlat, cell.dlon, D.GRID_N)
        out["ETOPO1 colour inversion alone"] = pearson(real.ravel()[full], etopo.ravel()[full].astype(np.float64))
        rows.append((label, out))
    return rows


RENDERS = {
    "europe_10km": ((-12.0, 34.0, 34.0, 62.0), 10000.0),
    "grenoble_1km": ((4.6, 44.6, 6.9, 45.9), 1000.0),
    "grenoble_30m": ((5.68, 45.14, 5.83, 45.24), 30.0),
    "nile_delta_30m": ((31.70, 31.30, 31.90, 31.45), 30.0),
    "hokkaido_30m": ((141.10, 42.98, 141.30, 43.11), 30.0),
}


def render(world, folder: Path) -> None:
    """PNGs of the colour and of the shaded heights of each view in RENDERS."""
    import imageio.v3 as iio

    folder.mkdir(parents=True, exist_ok=True)
    for name, (box, res) in RENDERS.items():
        t = time.process_time()
        g = world.generate(bbox=box, resolution_m=res)
        iio.imwrite(folder / f"{name}_rgb.png", (np.clip(g.rgb, 0, 1) * 255).astype(np.uint8))
        h = g.height.astype(np.float64)
        gy, gx = np.gradient(h, res)
        shade = np.clip(0.6 + 0.4 * (-gx - gy) / np.sqrt(1 + gx * gx + gy * gy), 0, 1)
        lo, hi = np.percentile(h[h > 0], [1, 99]) if (h > 0).any() else (0.0, 1.0)
        t_h = np.clip((h - lo) / max(hi - lo, 1.0), 0, 1)
        ramp = np.stack([0.25 + 0.6 * t_h, 0.45 + 0.35 * t_h, 0.2 + 0.6 * t_h], -1) * shade[..., None]
        ramp[h <= 0] = (0.1, 0.2, 0.45)
        iio.imwrite(folder / f"{name}_height.png", (ramp * 255).astype(np.uint8))
        print(f"  {name}: {g.shape[1]} x {g.shape[0]} px at {res:g} m, heights {h.min():.0f}..{h.max():.0f} m, "
              f"{time.process_time() - t:.1f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boxes", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", type=Path, default=None, help="write PNG views into this folder and stop")
    args = ap.parse_args()
    if args.render is not None:
        from earth3d.synth import EarthWorld

        render(EarthWorld(args.seed), args.render)
        return

    t_synth, t_base = import_time(), import_time("numba, torch, earth3d.raster")
    print(f"import earth3d.synth: {t_synth:.2f} s CPU (fresh process); baseline import numba, torch, earth3d.raster: "
          f"{t_base:.2f} s; ratio {t_synth / t_base:.2f} (the data load later, on first use)")
    from earth3d.synth import EarthWorld, ProceduralWorld
    from earth3d.synth.earth import data as D

    t = time.process_time()
    D.land_bits(), D.grids(), D.places()
    print(f"open the decoded data (memory maps, places): {time.process_time() - t:.2f} s CPU; cache {D.cache_dir()}")
    for pkg, size in D.data_sizes().items():
        print(f"installed {pkg}: {size / 1e6:.1f} MB")
    worlds = {"EarthWorld": EarthWorld(args.seed), "ProceduralWorld (baseline)": ProceduralWorld(args.seed)}
    rng = np.random.default_rng(args.seed)
    for res, size in ((1000.0, 1.0), (10000.0, 4.0)):
        boxes = random_boxes(args.boxes, size, rng)
        t = time.process_time()
        agree, de = land_and_colour(worlds, boxes, res)
        print(f"\n{len(boxes)} random land/coast boxes of {size} deg at {res / 1000:g} km cells "
              f"({time.process_time() - t:.1f} s CPU)")
        for name in worlds:
            print(f"  {name:28s} land/sea agreement with the 1 km mask at pixel centers {100 * agree[name]:6.2f} %"
                  f"   mean CIEDE2000 vs Blue Marble (4') {de[name]:6.2f}")
        print(f"  ratio EarthWorld / baseline: CIEDE2000 {de['EarthWorld'] / de['ProceduralWorld (baseline)']:.3f}")
        d = city_offsets(worlds["EarthWorld"], boxes)
        if d:
            print(f"  GeoNames cities > 100,000 in the boxes: {len(d)}; distance to the center of their built-up "
                  f"area: median {np.median(d):.2f} km, 90th percentile {np.percentile(d, 90):.2f} km, "
                  f"max {np.max(d):.2f} km")
        else:
            print("  no GeoNames city over 100,000 inhabitants in these boxes")
    print("\nPearson correlation with real DEMs, both averaged to 8 km cells (EarthWorld at 1 km cells)")
    for label, out in dem_correlations(worlds):
        vals = "  ".join(f"{k} {v:+.3f}" for k, v in out.items() if k != "n")
        print(f"  {label:38s} cells {out['n']:4d}  {vals}")


if __name__ == "__main__":
    main()

"""Realism of generated land cover against real imagery at the same ground resolution and land type.

Cases (real image of the shared data set vs generated tiles of the same cell size):
  rainforest 30 m   Landsat 5 Para (B3 B2 B1, raw DNs stretched as read_raster(stretch="auto"))
  coast 300 m       Landsat 7 Bahamas (nodata 0 masked)
  mountains 150 m   Landsat RMNP (0.0015 deg, about 130 x 167 m)
  farmland 5 m      NAIP North Dakota (R G B)
  park 0.5 m        Duluth drone orthophoto (alpha masked)
  city 0.5 m        the same (paths, cars, trees), against tiles near generated city centres
  suburb 0.5 m      the same, against tiles on the outer third of generated cities
  village 5 m       NAIP North Dakota, against tiles centred on generated villages in farmland

Real range: the statistics (earth3d.metrics.texture) of random all-valid crops of
the real image, widened by 15% of their span on each side. Generated: tiles of
the same size at random places of the land type (biome map / find_landform) for
several seeds; the bar is that the mean of each generated statistic falls in the
real range. The baseline is the generator of another revision (default: the one before the
drained relief, `benchmarks/baseline_checkout.py`), run in a subprocess on the same places, in
the same run.

    python benchmarks/realism.py [--seeds 1 2 3] [--places 2] [--baseline REV_OR_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_checkout import DEFAULT_REVISION, baseline_checkout  # noqa: E402

DATA = Path(os.environ.get("EARTH3D_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
M_PER_DEG = 111_319.49079327357  # earth3d.synth.grid.M_PER_DEG (kept here: the dump mode imports only synth)

# name: (real file, rgb bands, cell size m, crop px, land type)
CASES = {
    "rainforest 30 m": ("pairs/para_landsat5/rgb_b3b2b1.tif", (1, 2, 3), 30.0, 96, "rainforest"),
    "coast 300 m": ("ortho/bahamas_landsat7_rgb.tif", (1, 2, 3), 300.0, 128, "coast"),
    "mountains 150 m": ("pairs/rmnp/rgb.tif", (1, 2, 3), 150.0, 96, "mountains"),
    "farmland 5 m": ("ortho/north_dakota_naip_2020.tif", (1, 2, 3), 5.0, 256, "farmland"),
    "park 0.5 m": ("pairs/duluth_drone/orthophoto.tif", (1, 2, 3), 0.5, 96, "forest"),
    "city 0.5 m": ("pairs/duluth_drone/orthophoto.tif", (1, 2, 3), 0.5, 96, "city"),
    "suburb 0.5 m": ("pairs/duluth_drone/orthophoto.tif", (1, 2, 3), 0.5, 96, "suburb"),
    "village 5 m": ("ortho/north_dakota_naip_2020.tif", (1, 2, 3), 5.0, 256, "village"),
}


# ---------------------------------------------------------------------- real images
def read_real(path: Path, bands) -> tuple[np.ndarray, np.ndarray]:
    """RGB in [0, 1] and validity mask, scaled as read_raster(stretch="auto") scales colours."""
    import rasterio

    from earth3d.raster.read import _scale_colours

    with rasterio.open(path) as f:
        raw = f.read(list(bands)).astype(np.float64)
        valid = np.ones(raw.shape[1:], bool)
        if f.nodata is not None:
            valid &= ~(raw == f.nodata).any(axis=0)
        if f.count == 4 and f.colorinterp[3].name == "alpha":
            valid &= f.read(4) > 0
        rgb = _scale_colours(raw, valid, np.dtype(f.dtypes[0]), "auto")
    return np.clip(np.moveaxis(rgb, 0, -1), 0.0, 1.0), valid


def real_crops(rgb: np.ndarray, valid: np.ndarray, size: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to n random size x size crops whose pixels are all valid."""
    h, w = valid.shape
    c = np.pad(valid, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    ok = (c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]) == size * size
    js, is_ = np.nonzero(ok)
    if js.size == 0:
        raise ValueError(f"no all-valid {size} px crop in a {h} x {w} image")
    pick = rng.choice(js.size, size=min(n, js.size), replace=False)
    return [rgb[js[k]:js[k] + size, is_[k]:is_[k] + size] for k in pick]


# ---------------------------------------------------------------------- generated tiles
def bbox(lon: float, lat: float, n: int, res: float):
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def places(world, kind: str, count: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """`count` random places of land type `kind` (from the biome map or find_landform; no hand picking).

    The biome map is that of the same world without cities (the land's own biomes): where a city
    is drawn is what generators differ in, and the places must not move with it, or a generator
    and its baseline would be measured on different land.
    """
    from earth3d.synth import BIOMES, ProceduralWorld

    if kind == "mountains":
        out = []
        for _ in range(count):
            near = (float(rng.uniform(-180, 180)), float(rng.uniform(-60, 60)))
            out.append(world.find_landform("mountains", near_lonlat=near))
        return out
    if kind in ("city", "suburb", "village"):
        return settled_places(world, kind, count, rng)
    w, h = 720, 360
    try:
        land_only = ProceduralWorld(world.seed, cities=False)
    except TypeError:  # a generator from before cities could be turned off draws none in its biome map
        land_only = ProceduralWorld(world.seed)
    ids = land_only.biome_map(w, h)
    b = {name: k for k, name in enumerate(BIOMES)}
    pad = np.pad(ids, 1, mode="edge")
    same = np.ones_like(ids, bool)
    for dj in (0, 1, 2):
        for di in (0, 1, 2):
            same &= pad[dj:dj + h, di:di + w] == ids
    lat_ok = np.abs(90.0 - (np.arange(h) + 0.5) * 180.0 / h)[:, None] < 60.0
    if kind == "rainforest":
        mask = (ids == b["rainforest"]) & same
    elif kind == "farmland":
        mask = (ids == b["grassland/farmland"]) & same
    elif kind == "forest":
        mask = (ids == b["temperate forest"]) & same
    elif kind == "coast":
        land = (ids != b["ocean"]) & (ids != b["ice"])
        sea = pad[1:-1, 1:-1] == b["ocean"]
        near_sea = np.zeros_like(sea)
        near_land = np.zeros_like(sea)
        for dj in (-1, 0, 1):
            for di in (-1, 0, 1):
                near_sea |= np.roll(np.roll(sea, dj, 0), di, 1)
                near_land |= np.roll(np.roll(land, dj, 0), di, 1)
        mask = land & near_sea & (ids != b["desert"])
    else:
        raise ValueError(kind)
    js, is_ = np.nonzero(mask & lat_ok)
    if js.size == 0:
        raise ValueError(f"seed {world.seed}: no {kind} on the biome map")
    out = []
    for k in rng.choice(js.size, size=count, replace=js.size < count):
        # a random point inside the chosen biome-map cell
        lon = -180.0 + (is_[k] + rng.uniform(0.2, 0.8)) * 360.0 / w
        lat = 90.0 - (js[k] + rng.uniform(0.2, 0.8)) * 180.0 / h
        out.append((float(lon), float(lat)))
    return out


def _offset(lon: float, lat: float, r_m: float, rng: np.random.Generator) -> tuple[float, float]:
    a = rng.uniform(0.0, 2.0 * math.pi)
    return (lon + r_m * math.sin(a) / (M_PER_DEG * math.cos(math.radians(lat))), lat + r_m * math.cos(a) / M_PER_DEG)


def settled_places(world, kind: str, count: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Places in cities (within 0.3 of the radius of a city's centre), suburbs (0.6-0.85 of the
    radius) and villages (a village's centre, on farmland), cities and villages nearest random points.
    """
    out = []
    while len(out) < count:
        if kind == "village":
            lon, lat = places(world, "farmland", 1, rng)[0]
            near = [s for s in world.settlements((lon - 0.5, lat - 0.5, lon + 0.5, lat + 0.5)) if s.kind == "village"]
            if near:
                v = near[int(rng.integers(len(near)))]
                out.append((v.lon, v.lat))
            continue
        lon, lat = world.find_city(near_lonlat=(float(rng.uniform(-180, 180)), float(rng.uniform(-50, 50))))
        cities = [s for s in world.settlements((lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2)) if s.kind == "city"]
        radius = min(cities, key=lambda s: abs(s.lon - lon) + abs(s.lat - lat)).radius_m if cities else 3000.0
        share = rng.uniform(0.0, 0.3) if kind == "city" else rng.uniform(0.6, 0.85)
        out.append(_offset(lon, lat, share * radius, rng))
    return out


def generate_tiles(seeds, n_places: int, case_names) -> dict[str, list[np.ndarray]]:
    """Generated RGB tiles per case (uses only earth3d.synth, so any checkout can run it)."""
    from earth3d.synth import ProceduralWorld

    tiles: dict[str, list[np.ndarray]] = {name: [] for name in case_names}
    for seed in seeds:
        world = ProceduralWorld(seed)
        for name in case_names:
            _, _, res, size, kind = CASES[name]
            rng = np.random.default_rng([seed, sum(map(ord, name))])
            for lon, lat in places(world, kind, n_places, rng):
                r = world.generate(bbox=bbox(lon, lat, size, res), resolution_m=res)
                tiles[name].append(np.asarray(r.rgb, np.float64)[:size, :size])
    return tiles


def _dump(args) -> None:
    tiles = generate_tiles(args.seeds, args.places, args.cases)
    np.savez(args.dump, **{f"{k}|{i}": t for k, v in tiles.items() for i, t in enumerate(v)})


def _load(path: str) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    with np.load(path) as z:
        for key in sorted(z.files, key=lambda s: (s.split("|")[0], int(s.split("|")[1]))):
            out.setdefault(key.split("|")[0], []).append(z[key])
    return out


def baseline_tiles(checkout: str, args) -> dict[str, list[np.ndarray]] | None:
    """The same tiles from the generator of `checkout`, run in a subprocess (None if it fails)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tiles.npz")
        cmd = [sys.executable, __file__, "--dump", out, "--places", str(args.places), "--seeds",
               *map(str, args.seeds), "--cases", *args.cases]
        env = dict(os.environ, PYTHONPATH=baseline_checkout(checkout))
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"baseline generator at {checkout} failed:\n{r.stderr[-2000:]}")
            return None
        return _load(out)


# ---------------------------------------------------------------------- report
def summarise(tiles: list[np.ndarray], real_px: np.ndarray) -> dict[str, float]:
    from earth3d.metrics.texture import channel_wasserstein, texture_stats

    rows = [texture_stats(t) for t in tiles]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    px = np.concatenate([t.reshape(-1, 3) for t in tiles])
    for c, w in zip("rgb", channel_wasserstein(px, real_px), strict=True):
        mean[f"W1_{c}"] = w
    return mean


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--places", type=int, default=2, help="random places per seed and case")
    ap.add_argument("--crops", type=int, default=12, help="random crops of each real image")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--baseline", default=DEFAULT_REVISION,
                    help="git revision or checkout folder whose generator is the baseline ('' for none)")
    ap.add_argument("--json", help="also write the table to this JSON file")
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        _dump(args)
        return
    from earth3d.metrics.texture import STATS, channel_wasserstein, stat_range, texture_stats

    gen = generate_tiles(args.seeds, args.places, args.cases)
    base = baseline_tiles(args.baseline, args) if args.baseline else None
    table = {}
    n_ok = n_all = 0
    for name in args.cases:
        path, bands, res, size, _ = CASES[name]
        rgb, valid = read_real(DATA / path, bands)
        rng = np.random.default_rng(sum(map(ord, name)))
        crops = real_crops(rgb, valid, size, args.crops, rng)
        real_px = rgb[valid]
        rows = [texture_stats(c) for c in crops]
        for r, c in zip(rows, crops, strict=True):  # a crop's distance to the whole image: the spread of real colours
            r.update({f"W1_{k}": w for k, w in zip("rgb", channel_wasserstein(c, real_px), strict=True)})
        ranges = stat_range(rows, 0.15)
        ranges.update({f"W1_{k}": (0.0, ranges[f"W1_{k}"][1]) for k in "rgb"})
        g = summarise(gen[name], real_px)
        b = summarise(base[name], real_px) if base else None
        print(f"\n== {name}: {len(crops)} real {size} px crops of {path}; {len(gen[name])} generated tiles "
              f"(seeds {args.seeds})")
        print(f"{'statistic':16}{'real low':>10}{'real high':>10}{'generated':>11}{'ok':>4}{'baseline':>11}{'ok':>4}")
        table[name] = {}
        for k in (*STATS, "W1_r", "W1_g", "W1_b"):
            lo, hi = ranges[k]
            ok = lo <= g[k] <= hi
            n_ok += ok
            n_all += 1
            bo = "" if b is None else ("yes" if lo <= b[k] <= hi else "no")
            bs = "" if b is None else f"{b[k]:11.4g}"
            print(f"{k:16}{lo:10.4g}{hi:10.4g}{g[k]:11.4g}{'yes' if ok else 'no':>4}{bs}{bo:>4}")
            table[name][k] = {"real": [lo, hi], "generated": g[k], "baseline": None if b is None else b[k]}
    print(f"\ngenerated statistics inside the widened real range: {n_ok} / {n_all}")
    if base:
        nb = sum(lo <= v["baseline"] <= hi for c in table.values() for v in c.values()
                 for lo, hi in [v["real"]])
        print(f"baseline statistics inside the widened real range: {nb} / {n_all}")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()

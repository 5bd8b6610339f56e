"""World synthesis throughput: km^2/s at 1 m/px and 30 m/px, and a 512 x 512 continental tile.

Bars: 1 km^2 of countryside at 1 m/px (1000 x 1000 orthophoto + DSM) in <= 1 s
and a 512 x 512 continental tile (1 km/px) in <= 1 s on 2 cores. The machine is
shared, so the figure to read is CPU time over 2 (`cpu s / 2`), which load does not
inflate. Numba compilation is excluded (one warm-up tile elsewhere first). Each case is
timed cold (the level-0 drainage blocks neither in memory nor on disk) and warm (the tile
generated again).

Per case the stages' shares of the CPU time: macro grid, hydrology network (level-0 blocks and
tributary levels), hydrology surface (per-pixel valleys), the settlements' clearings, and the
kernel pass; land cover (landcover.cover) is timed on its own over the tile's pixel frame at the
tile centre's climate.

Baselines in the same run: a plain vectorised-numpy generator that computes only fBm heights
(3D value noise on the sphere, same octave count), and, with `--reference REV` (default: the
revision before this speed work), the generator of that revision on the same tiles: its CPU
time, and the PSNR of the rgb and the largest height difference between its tiles and these
(the speed work must not change the output beyond noise).

    python benchmarks/synth.py [--repeats 3] [--reference REV_OR_FOLDER|'']
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_checkout import baseline_checkout  # noqa: E402

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG = 111_319.49079327357
REFERENCE = "dc8ea55"  # the revision before the speed work on the drained, textured world


def numpy_fbm(lons: np.ndarray, lats: np.ndarray, res: float, top: float = 150_000.0) -> np.ndarray:
    """Baseline: fBm of trilinear value noise on the unit sphere, octaves from `top` down to 2 cells (numpy)."""
    lo, la = np.meshgrid(np.radians(lons), np.radians(lats))
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    out = np.zeros(lo.shape)
    lam, amp = top, 1.0
    while lam >= 2 * res:
        q = p * (EARTH_RADIUS_M / lam)
        i = np.floor(q).astype(np.int64)
        f = q - i
        u = f * f * (3 - 2 * f)
        acc = np.zeros(lo.shape)
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    h = (i[0] + dx) * 73856093 ^ (i[1] + dy) * 19349663 ^ (i[2] + dz) * 83492791
                    h = (h * 0x5BD1E995) & 0xFFFFFF
                    v = h / float(0xFFFFFF) * 2 - 1
                    w = ((u[0] if dx else 1 - u[0]) * (u[1] if dy else 1 - u[1]) * (u[2] if dz else 1 - u[2]))
                    acc += w * v
        out += amp * acc
        lam *= 0.5
        amp *= 0.59
    return out


def box(lon: float, lat: float, n: int, res: float):
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    return (lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2)


def cases(seed: int) -> list:
    """(name, bbox, resolution) of the benchmark tiles of world `seed`."""
    from earth3d.synth import ProceduralWorld

    world = ProceduralWorld(seed)
    city = world.find_city()
    hills = world.find_landform("hills")
    out = [("1 m/px, 1 km^2, city", city, 1000, 1.0),
           ("1 m/px, 1 km^2, countryside", hills, 1000, 1.0),
           ("30 m/px, 512 x 512", hills, 512, 30.0),
           ("1 km/px, 512 x 512 continental", hills, 512, 1000.0)]
    return [(name, box(lon, lat, n, res), res) for name, (lon, lat), n, res in out]


def clear_caches() -> None:
    """Forget the level-0 drainage blocks (memory and, where the generator has one, disk)."""
    from earth3d.synth import basins

    basins.block0.cache_clear()
    if hasattr(basins, "clear_disk_cache"):
        basins.clear_disk_cache()


def run_cases(seed: int, repeats: int, save: str | None = None) -> list:
    """Per case: (cold cpu s, warm cpu s, warm wall s); with `save`, the warm tiles into that .npz."""
    from earth3d.synth import ProceduralWorld

    world = ProceduralWorld(seed)
    todo = cases(seed)
    # compile (and load numba caches) on a tile far from the benchmark tiles
    far = (todo[1][1][0] + 90.0, todo[1][1][1], todo[1][1][2] + 90.0, todo[1][1][3])
    for res in (1.0, 1000.0):
        world.generate(bbox=(far[0], far[1], far[0] + 0.002 * res, far[1] + 0.002 * res), resolution_m=res)
    rows, tiles = [], {}
    for k, (_, b, res) in enumerate(todo):
        clear_caches()
        c0 = time.process_time()
        world.generate(bbox=b, resolution_m=res)
        cold = time.process_time() - c0
        best = (math.inf, math.inf)
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            r = world.generate(bbox=b, resolution_m=res)
            best = min(best, (time.process_time() - c0, time.perf_counter() - t0))
        rows.append((cold, best[0], best[1]))
        tiles[f"rgb{k}"], tiles[f"h{k}"] = r.rgb, r.height
    if save:
        np.savez(save, **tiles)
    return rows


def stages(seed: int) -> list:
    """Per case: CPU seconds of the stages of ProceduralWorld._evaluate (warm caches)."""
    from earth3d.synth import ProceduralWorld

    world = ProceduralWorld(seed)
    out = []
    for _, b, res in cases(seed):
        world.generate(bbox=b, resolution_m=res)
        out.append(_stage_times(world, b, res))
    return out


def _stage_times(world, b, res) -> dict:
    from earth3d.synth import hydrology as H
    from earth3d.synth import kernel as K
    from earth3d.synth.grid import lattice_for

    lat = lattice_for(b, res)
    lons, lats = lat.lons(pad=1), lat.lats(pad=1)
    t: dict[str, float] = {}
    c0 = time.process_time()
    args = world._macro(lons, lats, lat.dlat)
    t["macro grid"] = time.process_time() - c0
    hyd = H.hydrology_fields(world._seeds, lons, lats, lat.dlat, timings=t)
    c0 = time.process_time()
    clear = world._clearings(lons, lats, lat.dlon, lat.dlat)
    t["clearings"] = time.process_time() - c0
    h, w = lats.size, lons.size
    bufs = (np.empty((h, w)), np.empty((h, w)), np.empty((h, w, 3)), np.empty((h, w)), np.empty((h, w), dtype=np.uint8),
            np.empty((h, w), dtype=np.uint8), np.empty((h, w), dtype=np.int64))
    c0 = time.process_time()
    K.render(lons, lats, float(lat.dlon), float(lat.dlat), world._seeds, *args, hyd, clear, *bufs)
    t["kernel pass"] = time.process_time() - c0
    c0 = time.process_time()
    _cover_alone(world, lons, lats, res)
    t["land cover (alone)"] = time.process_time() - c0
    return t


def cover_grid(nu, nv, res, bw, farm, t, w, seed):
    """landcover.cover over an nu x nv pixel frame of cell size res at one climate (compiled on first use)."""
    from numba import njit, prange

    from earth3d.synth.landcover import N_BUF, TEX_MIN_M, TEX_TOP_M, band_weights, cover

    @njit(parallel=True)
    def grid(nu, nv, res, bw, farm, t, w, seed):
        out = np.empty((nv, nu))
        tex_w = band_weights(res, TEX_TOP_M, TEX_MIN_M)
        for j in prange(nv):
            nat = np.empty(3)
            buf = np.empty(N_BUF)
            frames = np.zeros((1, 3))
            seeds = np.full(1, seed, dtype=np.uint64)
            for i in range(nu):
                nat[0], nat[1], nat[2] = 0.3, 0.35, 0.2
                frames[0, 0], frames[0, 1], frames[0, 2] = i * res, j * res, 1.0
                out[j, i] = cover(frames, seeds, 1, res, bw, farm, 0.0, 300.0, 0.1, t, w, 0.0, 0.3, 200.0, nat, buf,
                                  tex_w)
        return out

    return grid(nu, nv, res, bw, farm, t, w, seed)


def _cover_alone(world, lons, lats, res):
    """landcover.cover over the tile's frame at the climate of the tile centre (its share of the kernel pass)."""
    from earth3d.synth import kernel as K

    lon, lat = float(lons[lons.size // 2]), float(lats[lats.size // 2])
    m = np.empty(K.N_MACRO)
    K.macro_at(*K.unit_vector(lon, lat), world._seeds, m)
    t, w = K.climate(m, lat, 300.0, m[0] - K.SEA)
    bw = np.zeros(9)
    K.biome_weights(t, w, bw)
    return cover_grid(lons.size, lats.size, res, bw, 0.8, t, w, world._seeds[K.S_FIELD])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reference", default=REFERENCE,
                    help="git revision or checkout folder whose generator is held against this one ('' for none)")
    ap.add_argument("--save", help="only time the cases and write the tiles to this .npz (reference mode)")
    args = ap.parse_args()
    if args.save:
        rows = run_cases(args.seed, args.repeats, args.save)
        np.save(args.save + ".times.npy", np.array(rows))
        return
    import numba

    from earth3d.synth.grid import lattice_for

    ref, ref_rows = None, None
    with tempfile.TemporaryDirectory() as tmp:
        if args.reference:
            checkout = baseline_checkout(args.reference)
            path = os.path.join(tmp, "ref.npz")
            run = subprocess.run([sys.executable, os.path.abspath(__file__), "--save", path, "--seed", str(args.seed),
                                  "--repeats", str(args.repeats)], env=dict(os.environ, PYTHONPATH=checkout),
                                 capture_output=True, text=True, cwd=checkout)
            if run.returncode != 0:
                raise SystemExit(f"reference run failed: {run.stderr[-2000:]}")
            with np.load(path) as f:
                ref = {k: f[k] for k in f.files}
            ref_rows = np.load(path + ".times.npy")
        path = os.path.join(tmp, "this.npz")
        rows = run_cases(args.seed, args.repeats, path)
        with np.load(path) as f:
            this = {k: f[k] for k in f.files}
    print(f"numba threads: {numba.get_num_threads()}; seed {args.seed}; reference = {args.reference or 'none'}")
    print(f"{'case':32}{'px':>9}{'cold cpu/2':>11}{'warm cpu/2':>11}{'wall s':>8}{'km^2/s':>9}"
          f"{'fbm s':>7}{'ref cpu/2':>10}{'speed-up':>9}{'PSNR dB':>9}{'max |dh| m':>11}")
    for k, ((name, b, res), (cold, cpu, wall)) in enumerate(zip(cases(args.seed), rows, strict=True)):
        lat_ = lattice_for(b, res)
        c0 = time.process_time()
        numpy_fbm(lat_.lons(), lat_.lats(), res)
        base = time.process_time() - c0
        n = lat_.lons().size * lat_.lats().size
        area = n * res * res / 1e6
        line = f"{name:32}{n:>9}{cold / 2:>11.3f}{cpu / 2:>11.3f}{wall:>8.3f}{area / (cpu / 2):>9.3g}{base / 2:>7.2f}"
        if ref is not None:
            rc = ref_rows[k][1]
            dh = float(np.abs(this[f"h{k}"].astype(np.float64) - ref[f"h{k}"]).max())
            line += f"{rc / 2:>10.3f}{rc / cpu:>8.2f}x{psnr(this[f'rgb{k}'], ref[f'rgb{k}']):>9.1f}{dh:>11.3g}"
        print(line)
    print("bars: 1 km^2 of countryside at 1 m/px <= 1 s and 512 x 512 continental <= 1 s on 2 cores "
          "(cpu s / 2); the output as the reference's: PSNR >= 45 dB")
    print("\nstages, CPU s / 2 (share of the stages' sum), warm caches:")
    for (name, _, _), t in zip(cases(args.seed), stages(args.seed), strict=True):
        parts = [k for k in t if k != "land cover (alone)"]
        tot = sum(t[k] for k in parts) or 1.0
        print(f"  {name:32}" + "  ".join(f"{k} {t[k] / 2:.3f} ({100 * t[k] / tot:.0f}%)" for k in parts)
            + f"  | land cover alone {t['land cover (alone)'] / 2:.3f}")


if __name__ == "__main__":
    main()

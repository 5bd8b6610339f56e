"""Export benchmark: PLY, SPZ and 3D Tiles throughput on lifted real terrain.

Each figure is printed with a baseline measured in the same run on the same splats:
  PLY write / read       vs  Gaussians.save / load (.npz of the raw arrays)
  SPZ encode             vs  gzip of the same splats' PLY bytes (a generic compressor)
  3D Tiles (SPZ GLBs)    vs  reading every node of the store (the export's own input)
  3D Tiles (terrain)     vs  one simplified terrain GLB of the same raster (cells/s both)

    python benchmarks/export.py [--dsm PATH] [--repeat 3]

With --store PATH (an existing store) or --splats N (a store of about N splats of tiled SRTM terrain,
built once under --workdir as benchmarks/lod_scaling.py builds it), only the splat 3D Tiles export runs,
on that store: tiles/s, MB/s written and MB/s of store chunks read, with one thread and with --workers,
against reading every node of the store in the same run.

    python benchmarks/export.py --splats 1e7 --workdir /tmp/earth3d_lod_scaling --repeat 1
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import earth3d
from earth3d import Gaussians
from earth3d.export import read_ply, write_ply, write_spz, write_terrain_glb, write_terrain_tileset, write_tileset
from earth3d.store import build_store, open_store

DEFAULT_DSM = Path(__file__).resolve().parents[2] / "shared" / "data" / "pairs" / "alexandria_lidar" / "dsm.tif"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) if repeat < 3 else statistics.median(times)


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def store_tiles(store_path: Path, out: Path, repeat: int, layout: str, workers: int | None) -> None:
    """Splat 3D Tiles export of a store (one thread, then `workers`) against reading all of its nodes."""
    from earth3d.export.tile_content import default_workers

    workers = workers or default_workers()
    store = open_store(store_path)
    keys, stack = [], list(store.root_keys())
    while stack:
        k = stack.pop()
        keys.append(k)
        stack.extend(store.children(k))
    chunk_mb = store.info()["bytes_on_disk"] / 1e6
    print(f"store {store_path}: {store.info()['splat_count']:,} splats, {len(keys):,} nodes, {chunk_mb:,.0f} MB")
    t_nodes = best_of(lambda: [open_store(store_path).read(k) for k in keys], repeat)
    print(f"  baseline: reading every node   {len(keys) / t_nodes:8.1f} nodes/s  {chunk_mb / t_nodes:8.1f} MB/s read "
          f"({t_nodes:.2f} s)")
    for threads in sorted({1, workers}):
        def export(threads: int = threads) -> None:
            write_tileset(store_path, out, overwrite=True, layout=layout, workers=threads)

        t = best_of(export, repeat)
        n_tiles = sum(1 for _ in (out / "tiles").rglob("*.glb"))
        out_mb = folder_mb(out)
        print(f"  3D Tiles ({layout}, {threads} thread{'s' if threads > 1 else ''}) {n_tiles / t:8.1f} tiles/s "
              f"{out_mb / t:8.1f} MB/s written {chunk_mb / t:8.1f} MB/s read ({n_tiles:,} tiles, {out_mb:,.0f} MB, "
              f"{t:.2f} s)   ratio to baseline (MB/s read) {t_nodes / t:.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsm", type=Path, default=DEFAULT_DSM)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--leaf-cap", type=int, default=4096)
    ap.add_argument("--store", type=Path, default=None, help="export this store only (3D Tiles)")
    ap.add_argument("--splats", type=float, default=None, help="build (once) and export a store of about N splats")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/earth3d_lod_scaling"), help="with --splats: stores")
    ap.add_argument("--layout", choices=["auto", "explicit", "implicit"], default="auto")
    ap.add_argument("--workers", type=int, default=None, help="tile-writing threads (default: the usable CPUs)")
    args = ap.parse_args()
    if args.store is not None or args.splats is not None:
        path = args.store
        if path is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from lod_scaling import build_world_store

            args.workdir.mkdir(parents=True, exist_ok=True)
            path, _ = build_world_store(args.splats, args.workdir, workers=1, rebuild=False)
        tmp = Path(tempfile.mkdtemp(prefix="earth3d-bench-"))
        try:
            store_tiles(path, tmp / "tiles", args.repeat, args.layout, args.workers)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raster = earth3d.read_raster(args.dsm)
        g = earth3d.lift(raster)
    n = len(g)
    tmp = Path(tempfile.mkdtemp(prefix="earth3d-bench-"))
    print(f"{n} splats from {args.dsm.name}")

    ply = tmp / "s.ply"
    t_ply = best_of(lambda: write_ply(g, ply, overwrite=True), args.repeat)
    ply_mb = ply.stat().st_size / 1e6
    t_npz = best_of(lambda: g.save(tmp / "s.npz"), args.repeat)
    npz_mb = (tmp / "s.npz").stat().st_size / 1e6
    print(f"PLY write   {ply_mb / t_ply:8.1f} MB/s   baseline npz save {npz_mb / t_npz:8.1f} MB/s   "
          f"ratio {(ply_mb / t_ply) / (npz_mb / t_npz):.2f}")
    t_read = best_of(lambda: read_ply(ply), args.repeat)
    t_load = best_of(lambda: Gaussians.load(tmp / "s.npz"), args.repeat)
    print(f"PLY read    {ply_mb / t_read:8.1f} MB/s   baseline npz load {npz_mb / t_load:8.1f} MB/s   "
          f"ratio {(ply_mb / t_read) / (npz_mb / t_load):.2f}")

    spz = tmp / "s.spz"
    t_spz = best_of(lambda: write_spz(g, spz, overwrite=True), args.repeat)
    raw = ply.read_bytes()
    t_gz = best_of(lambda: gzip.compress(raw, compresslevel=6), args.repeat)
    gz_mb = len(gzip.compress(raw, compresslevel=6)) / 1e6
    spz_mb = spz.stat().st_size / 1e6
    print(f"SPZ encode  {ply_mb / t_spz:8.1f} MB/s of PLY-equivalent input ({spz_mb:.2f} MB, "
          f"{ply_mb / spz_mb:.1f}x smaller "
          f"than PLY)   baseline gzip of the PLY {ply_mb / t_gz:8.1f} MB/s ({gz_mb:.2f} MB)   "
          f"ratio {t_gz / t_spz:.2f}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_store([g], tmp / "store", leaf_cap=args.leaf_cap)
    store = open_store(tmp / "store")
    keys, stack = [], list(store.root_keys())
    while stack:
        k = stack.pop()
        keys.append(k)
        stack.extend(store.children(k))
    t_tiles = best_of(lambda: write_tileset(store, tmp / "tiles", overwrite=True), args.repeat)
    n_tiles = len(list((tmp / "tiles" / "tiles").rglob("*.glb")))
    t_nodes = best_of(lambda: [open_store(tmp / "store").read(k) for k in keys], args.repeat)
    print(f"3D Tiles    {n_tiles / t_tiles:8.1f} tiles/s ({n_tiles} SPZ tiles, {t_tiles:.2f} s)   "
          f"baseline reading {len(keys)} nodes {len(keys) / t_nodes:8.1f} nodes/s   "
          f"ratio {(n_tiles / t_tiles) / (len(keys) / t_nodes):.2f}")

    cells = raster.valid.sum()
    t_terrain = best_of(lambda: write_terrain_tileset(raster, tmp / "terrain", overwrite=True), args.repeat)
    n_terrain = len(list((tmp / "terrain" / "tiles").rglob("*.glb")))
    t_glb = best_of(lambda: write_terrain_glb(raster, tmp / "terrain.glb", overwrite=True), args.repeat)
    print(f"Terrain 3D Tiles {cells / t_terrain / 1e6:6.2f} Mcells/s ({n_terrain} tiles, {t_terrain:.2f} s)   "
          f"baseline one terrain GLB {cells / t_glb / 1e6:6.2f} Mcells/s   ratio {t_glb / t_terrain:.2f}")


if __name__ == "__main__":
    main()

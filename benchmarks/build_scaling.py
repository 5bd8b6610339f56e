"""Build scaling on Dask: splats per second with 1 and 2 workers, and the ratio.

The world is a square of procedural tiles (earth3d.synth.ProceduralWorld at 30 m/px
around a city), and every stage runs in the graph: each tile is synthesized and lifted
on the worker that ingests it, then leaves and merged inner nodes are built there. Both
runs use a LocalCluster of single-threaded worker processes (1, then 2), so the ratio is
what a second worker adds; the in-process build (no Dask) is printed as the baseline,
and every store is checked to be byte-identical to it. Bar: ratio >= 1.6 on 2 cores.

    python benchmarks/build_scaling.py [--tiles 6 --tile-px 400 --repeat 2]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from functools import partial
from pathlib import Path

import distributed

import earth3d
from earth3d.store import build_store
from earth3d.synth import ProceduralWorld

TILE_DEG_PER_PX = 30.0 / 111_320.0  # 30 m cells at the equator, in degrees


def lifted_tile(seed: int, bbox: tuple[float, float, float, float]) -> earth3d.Gaussians:
    """One source: synthesize a tile of the procedural world and lift it (runs on a worker)."""
    return earth3d.lift(ProceduralWorld(seed).generate(bbox=bbox, resolution_m=30.0))


def sources(seed: int, tiles: int, tile_px: int) -> list:
    lon0, lat0 = ProceduralWorld(seed).find_city()
    side = tile_px * TILE_DEG_PER_PX
    west, south = lon0 - tiles * side / 2, lat0 - tiles * side / 2
    return [partial(lifted_tile, seed,
                    (west + i * side, south + j * side, west + (i + 1) * side, south + (j + 1) * side))
            for j in range(tiles) for i in range(tiles)]


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel a build uses, off the clock."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        build_store([partial(lifted_tile, 0, (10.0, 0.0, 10.02, 0.02))], Path(tmp) / "warm")


def digest(root: Path) -> str:
    h = hashlib.blake2b()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".e3c", ".e3i", ".json"):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def timed_build(srcs: list, out: Path, client=None) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    build_store(srcs, out, client=client)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiles", type=int, default=6, help="tiles per side of the square")
    ap.add_argument("--tile-px", type=int, default=400, help="cells per tile side")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best time counts")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/earth3d_build_scaling"))
    args = ap.parse_args()
    srcs = sources(args.seed, args.tiles, args.tile_px)

    warm_up()
    t_local = min(timed_build(srcs, args.workdir / "local") for _ in range(args.repeat))
    info = earth3d.store.open_store(args.workdir / "local").info()
    leaf_splats, n = info["splat_count"], info["splat_count_all_levels"]
    reference = digest(args.workdir / "local")
    print(f"world: {len(srcs)} procedural tiles of {args.tile_px}^2 cells at 30 m, {leaf_splats:,} full-detail splats "
          f"({n:,} with the merged levels)")
    print(f"in-process build (baseline): {t_local:.1f} s, {leaf_splats / t_local:,.0f} splats/s")

    rates = {}
    for workers in (1, 2):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        with distributed.Client(cluster) as client:
            client.run(warm_up)
            t = min(timed_build(srcs, args.workdir / f"dask{workers}", client) for _ in range(args.repeat))
        cluster.close()
        same = digest(args.workdir / f"dask{workers}") == reference
        rates[workers] = leaf_splats / t
        print(f"Dask, {workers} worker{'s' if workers > 1 else ''}: {t:.1f} s, {rates[workers]:,.0f} splats/s "
              f"(store {'byte-identical to' if same else 'DIFFERS from'} the in-process one)")
    print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x (bar >= 1.6); "
          f"2 workers / in-process: {rates[2] * t_local / leaf_splats:.2f}x")


if __name__ == "__main__":
    main()

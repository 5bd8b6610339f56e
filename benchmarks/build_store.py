"""Store build speed (splats/s) against py3dtiles' point-cloud tiling of the same points.

The world is real SRTM terrain tiled over a square (benchmarks/terrain_tiles.py), given to
earth3d.store.build_store (leaves, merged inner nodes, checksummed chunks, subtree index) as one
callable per tile, as `earth3d build` gives it rasters: each tile is lifted where it is built,
on one of the --workers processes, and the lifting is counted in the build's time. The
baseline, in the same run, is `py3dtiles convert --jobs <workers>` on the splat centers and
colours written as a binary PLY (it tiles and subsamples points, with no covariance merging;
the PLY is written before timing). py3dtiles needs an older numpy than earth3d, so it lives in
its own venv:

    python -m venv /tmp/py3dt && /tmp/py3dt/bin/pip install "py3dtiles[ply]"
    python benchmarks/build_store.py --splats 4e6 --workers 2 [--py3dtiles /tmp/py3dt/bin/py3dtiles]

Without py3dtiles the baseline is lifting the same tiles and writing them once as one .npz
(Gaussians.save), the least any store has to do.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from terrain_tiles import TiledWorld  # noqa: E402

from earth3d import Gaussians  # noqa: E402
from earth3d.store import build_store  # noqa: E402

HEADER_BYTES = 256  # room left for the PLY header, written once the points are counted


def write_ply(path: Path, sources: list) -> int:
    """The splat centers (float64 ECEF) and colours of every tile as one binary PLY, one tile in
    memory at a time; returns the number of points. The header is padded to HEADER_BYTES with a
    comment line (PLY allows comments) so that it can be written after the points.
    """
    n = 0
    with open(path, "wb") as f:
        f.seek(HEADER_BYTES)
        for source in sources:
            g = source()
            n += len(g)
            rec = np.empty(len(g), [("x", "<f8"), ("y", "<f8"), ("z", "<f8"),
                                    ("red", "u1"), ("green", "u1"), ("blue", "u1")])
            rec["x"], rec["y"], rec["z"] = g.means_ecef().T
            rec["red"], rec["green"], rec["blue"] = (g.rgb.numpy() * 255).round().astype(np.uint8).T
            f.write(rec.tobytes())
        head = ("ply\nformat binary_little_endian 1.0\n"
                f"element vertex {n}\nproperty double x\nproperty double y\nproperty double z\n"
                "property uchar red\nproperty uchar green\nproperty uchar blue\n")
        tail = "\nend_header\n"
        f.seek(0)
        f.write((head + "comment " + "-" * (HEADER_BYTES - len(head) - len("comment ") - len(tail)) + tail).encode())
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splats", type=float, default=4e6)
    ap.add_argument("--tiles", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/earth3d_build_bench"))
    ap.add_argument("--py3dtiles", type=str, default="/tmp/py3dt/bin/py3dtiles")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best time counts")
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)

    world = TiledWorld(args.splats, args.tiles)
    sources = world.sources()
    exe = Path(args.py3dtiles)
    ply = args.workdir / "points.ply"
    t = time.perf_counter()
    n = write_ply(ply, sources) if exe.is_file() else sum(len(source()) for source in sources)
    print(f"world: {n:,} splats in {len(sources)} tiles (stride {world.stride}); lifted"
          f"{' and written as PLY' if exe.is_file() else ''} in {time.perf_counter() - t:.1f} s")

    if exe.is_file():
        name = f"py3dtiles convert --jobs {args.workers}"

        def baseline() -> None:
            subprocess.run([str(exe), "convert", str(ply), "--out", str(args.workdir / "py3dtiles"), "--overwrite",
                            "--jobs", str(args.workers)], check=True, stdout=subprocess.DEVNULL)
    else:
        print(f"({exe} not found: baseline is one .npz write of the lifted tiles, lifting counted; see the "
              "docstring to install py3dtiles)")
        name = "lift + Gaussians.save (.npz)"

        def baseline() -> None:
            Gaussians.concat([source() for source in sources]).save(args.workdir / "all.npz")

    # The machine may be shared: alternate the two and keep each one's best time.
    t_store = t_base = float("inf")
    for _ in range(args.repeat):
        shutil.rmtree(args.workdir / "store", ignore_errors=True)
        t = time.perf_counter()
        store = build_store(sources, args.workdir / "store", workers=args.workers)
        t_store = min(t_store, time.perf_counter() - t)
        t = time.perf_counter()
        baseline()
        t_base = min(t_base, time.perf_counter() - t)
    info = store.info()
    print(f"earth3d.store.build_store: {t_store:.1f} s, {n / t_store:,.0f} splats/s with {args.workers} workers "
          f"({info['node_count']:,} nodes, levels {info['levels']}, {info['bytes_on_disk'] / n:.1f} B/splat; "
          f"best of {args.repeat})")
    print(f"baseline {name}: {t_base:.1f} s, {n / t_base:,.0f} splats/s (best of {args.repeat})")
    print(f"ratio earth3d / baseline splats/s: {t_base / t_store:.2f}x (bar >= 3 against py3dtiles)")


if __name__ == "__main__":
    main()

"""Soak of the stream: thousands of frames along random paths with a small chunk cache, while a
second process reads the same store; nothing may leak and nothing may fail.

Figure: resident memory (RSS) at the last frame over RSS at frame 200 (the baseline, same run),
as a ratio (the bar: within 10 %, i.e. <= 1.10), the peak RSS, the chunk cache's bytes against its
budget, the errors of both processes (none expected), and frames per second (wall and CPU).

The paths: random waypoints over the store's extent, heights log-uniform from 30 m to 60 km above
its ground, random headings, pitches from -90 to -15 degrees, joined by smooth segments of 40
frames; each frame goes through `earth3d.scenarios.render_path` (stream cut, prefetch, chunk loads,
CPU render) with a fresh path every segment but one stream (one cache) for the whole run. The
second process opens the same store and, until told to stop, reads random nodes (every read checks
the chunk's checksum) and takes stream cuts of random views.

    python benchmarks/soak.py                          # 2,000 frames over the Pará pair
    python benchmarks/soak.py --frames 600 --size 96x64 --cache-mb 2

Data: the Pará SRTM + Landsat pair from EARTH3D_TEST_DATA (or ../shared/data), built once into a
temporary store (or --store an existing one).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EARTH3D_TEST_DATA", ROOT.parent / "shared" / "data"))
SEGMENT = 40


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build(folder: Path) -> Path:
    from earth3d.scenarios.sources import lifted_raster
    from earth3d.store import build_store

    pair = DATA / "pairs" / "para_landsat5"
    out = folder / "para.e3d"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_store([lifted_raster(pair / "srtm.tif", pair / "rgb_b3b2b1.tif")], out, leaf_cap=1024)
    return out


def extent(store) -> tuple[float, float, float, float, float]:
    """(west, south, east, north, ground height) of the store's full-detail extent."""
    from earth3d.geometry import ecef_to_geodetic

    e = store.info()["extent_ecef_m"]
    lo, hi = np.asarray(e["bmin"]), np.asarray(e["bmax"])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    lon, lat, h = np.asarray(ecef_to_geodetic(corners), dtype=np.float64).reshape(-1, 3).T
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()), float(np.median(h))


def random_cameras(rng: np.random.Generator, box, n: int, width: int, height: int) -> list:
    """`n` cameras along smooth segments between random waypoints over `box`."""
    from earth3d.geometry import Camera

    west, south, east, north, ground = box
    pad_x, pad_y = (east - west) * 0.3, (north - south) * 0.3

    def waypoint():
        return np.array([rng.uniform(west - pad_x, east + pad_x), rng.uniform(south - pad_y, north + pad_y),
                         np.log(rng.uniform(30.0, 60_000.0)), rng.uniform(0, 360), rng.uniform(-90, -15)])

    cams, a = [], waypoint()
    while len(cams) < n:
        b = waypoint()
        for t in np.linspace(0.0, 1.0, SEGMENT, endpoint=False):
            s = t * t * (3 - 2 * t)
            lon, lat, log_alt, heading, pitch = a + s * (b - a)
            cams.append(Camera.from_geodetic(lon, lat, ground + float(np.exp(log_alt)), heading, pitch, 0.0,
                                             width, height, 60.0))
        a = b
    return cams[:n]


def reader(store_path: str, stop, ready, result, seed: int) -> None:
    """The second process: random node reads and stream cuts until `stop` is set."""
    reads = cuts = 0
    try:
        from earth3d.store import open_store
        from earth3d.stream import Stream

        rng = np.random.default_rng(seed)
        store = open_store(store_path)
        keys, stack = [], list(store.root_keys())
        while stack:
            k = stack.pop()
            keys.append(k)
            stack.extend(store.children(k))
        box = extent(store)
        with Stream(store_path, cache_bytes=2 << 20) as stream:
            ready.set()
            while not stop.is_set():
                for k in rng.choice(len(keys), size=8):
                    store.read(keys[int(k)])
                    reads += 1
                for cam in random_cameras(rng, box, 4, 96, 64)[::SEGMENT // 4 or 1]:
                    stream.select(cam)
                    cuts += 1
        result.put((reads, cuts, None))
    except Exception:  # noqa: BLE001 - reported by the parent
        result.put((reads, cuts, traceback.format_exc(limit=3)))


def soak(store_path: Path, frames: int, width: int, height: int, cache_mb: float, seed: int, log=print) -> dict:
    """Fly `frames` frames with a second reader process; returns the figures (errors listed, not raised)."""
    from earth3d.renderers import CpuRenderer
    from earth3d.scenarios import render_path
    from earth3d.store import open_store
    from earth3d.stream import Stream

    store = open_store(store_path)
    box = extent(store)
    rng = np.random.default_rng(seed)
    ctx = multiprocessing.get_context("spawn")
    stop, ready, result = ctx.Event(), ctx.Event(), ctx.Queue()
    second = ctx.Process(target=reader, args=(str(store_path), stop, ready, result, seed + 1))
    second.start()
    ready.wait(300)  # the reader reads while every frame is drawn
    errors: list[str] = []
    rss = {}
    cache_budget = int(cache_mb * 2**20)
    most_cached = 0
    done = 0
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        with Stream(store, cache_bytes=cache_budget, threads=2) as stream:
            renderer = CpuRenderer()
            while done < frames:
                cams = random_cameras(rng, box, min(SEGMENT * 5, frames - done), width, height)
                try:
                    for frame in render_path(stream, cams, renderer=renderer):
                        done += 1
                        if not np.isfinite(frame.output.rgb.numpy()).all():
                            errors.append(f"frame {done}: non-finite pixels")
                        most_cached = max(most_cached, stream.cached_bytes)
                        if done in (1, 200) or done % 250 == 0 or done == frames:
                            rss[done] = rss_bytes()
                            log(f"frame {done:5d}: RSS {rss[done] / 2**20:7.1f} MiB, cache "
                                f"{stream.cached_bytes / 2**20:5.2f} MiB")
                except Exception:  # noqa: BLE001 - reported in the figures
                    errors.append(traceback.format_exc(limit=4))
                    done += 1
    finally:
        stop.set()
        second.join(120)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    reads, cuts, reader_error = result.get(timeout=10) if not result.empty() else (0, 0, "the reader died")
    if reader_error:
        errors.append(f"second process: {reader_error}")
    return {"frames": done, "wall_s": wall, "cpu_s": cpu, "rss": rss,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "most_cached": most_cached, "cache_budget": cache_budget, "reader_reads": reads, "reader_cuts": cuts,
            "reader_exit": second.exitcode, "errors": errors, "nodes": store.info()["node_count"]}


def report(fig: dict) -> list[str]:
    rss = fig["rss"] or {0: 0}
    base = rss.get(200) or rss[min(rss)] or 1
    end = rss[max(rss)]
    return [
        f"frames                 {fig['frames']} ({fig['frames'] / fig['wall_s']:.1f} fps wall, "
        f"{fig['frames'] / fig['cpu_s']:.1f} per CPU s; machine shared, under load)",
        f"store                  {fig['nodes']} nodes",
        f"RSS at frame 200       {base / 2**20:.1f} MiB (baseline)",
        f"RSS at the end         {end / 2**20:.1f} MiB: ratio {end / base:.3f} (bar <= 1.10)",
        f"peak RSS               {fig['peak_rss'] / 2**20:.1f} MiB",
        f"chunk cache            at most {fig['most_cached'] / 2**20:.2f} MiB of a {fig['cache_budget'] / 2**20:.2f} "
        "MiB budget (between frames)",
        f"second process         {fig['reader_reads']} chunk reads, {fig['reader_cuts']} cuts, "
        f"exit {fig['reader_exit']}",
        f"errors                 {len(fig['errors'])}",
        *(f"  - {' | '.join(e.strip().splitlines()[-3:])}" for e in fig["errors"][:5]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", default="128x80", help="WIDTHxHEIGHT of a frame")
    parser.add_argument("--cache-mb", type=float, default=4.0, help="the stream's chunk cache budget")
    parser.add_argument("--store", type=Path, default=None, help="an existing store (default: build one)")
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    width, height = (int(v) for v in a.size.lower().split("x"))
    folder = Path(tempfile.mkdtemp(prefix="earth3d-soak-"))
    try:
        store = a.store or build(folder)
        fig = soak(store, a.frames, width, height, a.cache_mb, a.seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\n".join(report(fig)))
    rss = fig["rss"] or {0: 0}
    leaked = rss[max(rss)] > 1.10 * (rss.get(200) or rss[min(rss)])
    return 1 if fig["errors"] or leaked else 0


if __name__ == "__main__":
    sys.exit(main())

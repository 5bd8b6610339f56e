"""Crash test: builds into one output, killed at random moments, raced by second writers.

Round after round, `earth3d build` runs as a separate process into the same --out (replacing the
previous round's store with --overwrite, or into a fresh location), is SIGKILLed at a random moment
of its run, and is raced by a second `earth3d build` started at a random moment into the same
--out (half of them with other inputs). After each round:

- a store at --out (the previous round's, or the one that finished) opens, every chunk passes its
  checksum, it renders, and it is byte for byte one of the uninterrupted builds of the inputs;
- the second writer either was refused in one line (another build holds the lock) or, when it
  started after the first had finished, built its own store;
- the first command run again (a resume when nothing was at --out before, a fresh build with
  --overwrite otherwise) gives a store byte-identical to the uninterrupted build, and leaves no
  work folder or lock behind.

Run:
    python benchmarks/crash.py [--rounds 20] [--seed 0] [--keep DIR]

Data: crops of the Pará SRTM + Landsat pair from EARTH3D_TEST_DATA (or ../shared/data).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EARTH3D_TEST_DATA", ROOT.parent / "shared" / "data"))
KEEP = (".e3c", ".e3i", ".json")
LEAF_CAP = 256


def make_inputs(folder: Path, size: int = 64) -> dict[str, list[str]]:
    """Two input sets (DEM + orthophoto crops of the real Pará pair): 'a' (two tiles), 'b' (one other tile)."""
    import rasterio
    from rasterio.windows import Window

    def crop(src: Path, dst: Path, window: Window) -> None:
        with rasterio.open(src) as ds:
            data, profile = ds.read(window=window), ds.profile
            profile.update(width=window.width, height=window.height, transform=ds.window_transform(window),
                           tiled=False, compress=None)
        profile.pop("blockxsize", None)
        profile.pop("blockysize", None)
        with rasterio.open(dst, "w", **profile) as out:
            out.write(data)

    pair = DATA / "pairs" / "para_landsat5"
    folder.mkdir(parents=True, exist_ok=True)
    windows = {"a0": Window(0, 0, size, size), "a1": Window(size, 0, size, size), "b0": Window(150, 150, size, size)}
    for name, window in windows.items():
        crop(pair / "srtm.tif", folder / f"{name}_dem.tif", window)
        crop(pair / "rgb_b3b2b1.tif", folder / f"{name}_rgb.tif", window)

    def args(names: list[str]) -> list[str]:
        return ["--dem", *(str(folder / f"{n}_dem.tif") for n in names),
                "--ortho", *(str(folder / f"{n}_rgb.tif") for n in names)]

    return {"a": args(["a0", "a1"]), "b": args(["b0"])}


def command(inputs: list[str], out: Path, overwrite: bool) -> list[str]:
    return [sys.executable, "-m", "earth3d.cli", "build", "--quiet", "--leaf-cap", str(LEAF_CAP), *inputs,
            "--out", str(out), *(["--overwrite"] if overwrite else [])]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}


def files(root: Path) -> dict[str, bytes]:
    """The store's chunk, index and metadata files by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in KEEP}


def _wait_for_lock(proc: subprocess.Popen, out: Path) -> float:
    """Wait until `proc` holds the lock of `out` (or has exited); returns that moment (perf_counter)."""
    lock = out.with_name(f".{out.name}.lock")
    while proc.poll() is None and not lock.exists():
        time.sleep(0.005)
    return time.perf_counter()


def verify(out: Path) -> int:
    """Open the store, read every node (each read checks the chunk's size and checksum), render a view.

    Returns the number of nodes read.
    """
    from earth3d.store import open_store

    store = open_store(out)
    keys, n = list(store.root_keys()), 0
    while keys:
        key = keys.pop()
        store.read(key)
        n += 1
        keys.extend(store.children(key))
    assert n == store.info()["node_count"], f"{out}: {n} nodes reachable, the index says {store.info()['node_count']}"
    from earth3d.geometry import Camera, ecef_to_geodetic
    from earth3d.renderers import CpuRenderer
    from earth3d.stream import Stream

    e = store.info()["extent_ecef_m"]
    lon, lat, h = np.asarray(ecef_to_geodetic((np.asarray(e["bmin"]) + np.asarray(e["bmax"])) / 2)).reshape(3)
    camera = Camera.from_geodetic(float(lon), float(lat), float(h) + 4000.0, 0.0, -90.0, 0.0, 64, 48, 60.0)
    with Stream(store, cache_bytes=64 << 20) as stream:
        rgb = CpuRenderer().render(stream.select(camera), camera).rgb.numpy()
    assert (rgb.max(axis=-1) > 0.04).mean() > 0.05, f"{out}: the render is blank"
    return n


@dataclass
class Summary:
    rounds: int = 0
    killed: int = 0
    killed_before_done: int = 0
    second_writers: int = 0
    second_refused: int = 0
    first_refused: int = 0
    second_built: int = 0
    stores_verified: int = 0
    nodes_verified: int = 0
    reruns_identical: int = 0
    resumed: int = 0
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"rounds                      {self.rounds}",
            f"first writer SIGKILLed      {self.killed} ({self.killed_before_done} before it finished)",
            f"second writers              {self.second_writers} ({self.second_refused} refused by the lock, "
            f"{self.second_built} built after the first, {self.first_refused} took the lock first)",
            f"surviving stores verified   {self.stores_verified} "
            f"({self.nodes_verified} chunks checked, each store rendered)",
            f"reruns byte-identical       {self.reruns_identical} of {self.rounds} "
            f"({self.resumed} resumed a killed build)",
            f"failures                    {len(self.failures)}",
            *(f"  - {f}" for f in self.failures),
        ]


def run(rounds: int = 20, seed: int = 0, work: Path | None = None, log=print,  # noqa: C901 - one round, in order
        size: int = 64) -> Summary:
    """The crash test; returns its summary (failures listed, not raised)."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="earth3d-crash-")) if work is None else work
    work.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs(work / "inputs", size)
    refs, took, phase = {}, {}, {}
    for name, args in inputs.items():
        out = work / f"ref_{name}.e3d"
        t = time.perf_counter()
        proc = subprocess.Popen(command(args, out, True), env=env())
        started = _wait_for_lock(proc, out)
        lock = out.with_name(f".{out.name}.lock")
        while proc.poll() is None and lock.exists():  # held from the first check to the store in place
            time.sleep(0.005)
        phase[name] = time.perf_counter() - started
        assert proc.wait() == 0, f"the uninterrupted build of {name} failed"
        took[name] = time.perf_counter() - t
        refs[name] = files(out)
    log(f"uninterrupted builds: {took['a']:.1f} s (a, {len(refs['a'])} files; {phase['a']:.1f} s holding the "
        f"lock), {took['b']:.1f} s (b) wall, under load")
    out = work / "out.e3d"
    s = Summary()
    for i in range(rounds):
        s.rounds += 1
        fresh = not out.exists() or rng.random() < 0.4
        if fresh and out.exists():
            shutil.rmtree(out)
        before = files(out) if out.exists() else None
        first = subprocess.Popen(command(inputs["a"], out, not fresh), env=env(), stderr=subprocess.PIPE, text=True)
        second, other = None, "a"
        # the second writer starts this long after the first (both then import, check and reach for the
        # lock: it finds the first's while that one builds); the kill comes this long after the first
        # holds the lock (its imports and checks done)
        race_at = rng.uniform(0.0, 1.0) * phase["a"] if rng.random() < 0.6 else None
        kill_at = rng.uniform(0.0, 1.0) * phase["a"] if rng.random() < 0.8 else None
        launched, locked = time.perf_counter(), None
        lock = out.with_name(f".{out.name}.lock")
        while first.poll() is None:
            now = time.perf_counter()
            if locked is None and lock.exists():
                locked = now
            if race_at is not None and second is None and now - launched >= race_at:
                other = rng.choice(["a", "b"])
                second = subprocess.Popen(command(inputs[other], out, True), env=env(), stderr=subprocess.PIPE,
                                          text=True)
            if kill_at is not None and locked is not None and now - locked >= kill_at:
                first.send_signal(signal.SIGKILL)
                s.killed += 1
                break
            time.sleep(0.01)
        first.wait()
        if first.returncode == -signal.SIGKILL:
            s.killed_before_done += 1
        elif first.returncode != 0:
            said = first.stderr.read() if first.stderr else ""
            if said.count("earth3d: error:") == 1 and "another build is writing it" in said:
                s.first_refused += 1  # the second writer reached the lock first
            else:
                s.failures.append(f"round {i}: the first writer failed: {said[-300:]}")
        if second is not None:
            s.second_writers += 1
            _, err = second.communicate()
            lines = [x for x in err.splitlines() if x.strip()]
            if second.returncode == 0:
                s.second_built += 1
            elif len(lines) == 1 and "another build is writing it" in lines[0]:
                s.second_refused += 1
            else:
                s.failures.append(f"round {i}: second writer exit {second.returncode}: {err[-300:]}")
        # the store at --out: the previous one, or a finished one; never a damaged one
        if out.exists():
            try:
                s.nodes_verified += verify(out)
                s.stores_verified += 1
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                s.failures.append(f"round {i}: surviving store: {type(exc).__name__}: {exc}")
            got = files(out)
            if got not in (refs["a"], refs["b"]) and got != before:
                s.failures.append(f"round {i}: the store at --out is none of the uninterrupted builds")
        # the rerun after the kill
        resumed = not out.exists() and out.with_name(f".{out.name}.building").exists()
        rerun = subprocess.run(command(inputs["a"], out, out.exists()), env=env(), capture_output=True, text=True)
        if rerun.returncode != 0:
            s.failures.append(f"round {i}: the rerun failed: {rerun.stderr[-300:]}")
        elif files(out) == refs["a"]:
            s.reruns_identical += 1
            s.resumed += resumed
        else:
            s.failures.append(f"round {i}: the rerun's store differs from the uninterrupted build")
        leftovers = sorted(p.name for p in work.iterdir() if p.name.startswith("."))
        if leftovers:
            s.failures.append(f"round {i}: left behind: {leftovers}")
            for name in leftovers:  # keep the next rounds independent
                p = work / name
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        same = rerun.returncode == 0 and files(out) == refs["a"]
        log(f"round {i + 1:2d}: {'fresh' if fresh else 'over a store'}, kill at "
            f"{'-' if kill_at is None else f'{kill_at:.1f} s'} (exit {first.returncode}), second writer "
            f"{'-' if second is None else f'{other} at {race_at:.1f} s (exit {second.returncode})'}, "
            f"rerun {'resumed' if resumed else 'fresh'}: {'identical' if same else 'DIFFERENT'}")
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=64, help="cells per side of each input tile")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    a = parser.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="earth3d-crash-"))
    try:
        summary = run(a.rounds, a.seed, work, size=a.size)
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(summary.lines()))
    return 1 if summary.failures else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())

"""Store builds on Dask and on any fsspec location: same bytes as in-process, crash-safe, clear errors."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import warnings
from functools import partial
from pathlib import Path

import fsspec
import numpy as np
import pytest
from affine import Affine
from conftest import assert_same_files

import earth3d
from earth3d.errors import Earth3dError, OutputError, StoreError
from earth3d.store import build_store, open_store
from earth3d.store import chunk as chunkfile
from earth3d.store.distributed import build_on_dask

distributed = pytest.importorskip("distributed")

LEAF_CAP = 512
KEEP = (".e3c", ".e3i", ".json")


def world_sources(n: int = 2, crop: int | None = 140) -> list:
    """Picklable callables lifting the n x n tiles of (a crop of) the real RMNP DEM + orthophoto."""
    from conftest import data_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raster = earth3d.read_raster(data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif"))
    h, w = raster.shape if crop is None else (crop, crop)
    rows, cols = np.linspace(0, h, n + 1).astype(int), np.linspace(0, w, n + 1).astype(int)
    out = []
    for i in range(n):
        for j in range(n):
            r0, r1, c0, c1 = rows[i], rows[i + 1], cols[j], cols[j + 1]
            sub = earth3d.GeoRaster(raster.rgb[r0:r1, c0:c1], raster.height[r0:r1, c0:c1], raster.valid[r0:r1, c0:c1],
                                    raster.transform @ Affine.translation(c0, r0), raster.crs, raster.vertical_datum,
                                    raster.source)
            out.append(partial(earth3d.lift, sub, opacity=1.0, sigma=1.0))
    return out


def files(root) -> dict[str, bytes]:
    """The store's chunk, index and metadata files by relative path, from any fsspec location."""
    fs, path = fsspec.core.url_to_fs(str(root))
    path = path.rstrip("/")
    return {p[len(path) + 1:]: fs.cat_file(p) for p in sorted(fs.find(path)) if p.endswith(KEEP)}


def check_no_partial_chunks(root: Path) -> int:
    """Every chunk file present is complete and valid (a torn write leaves only a temporary)."""
    n = 0
    for f in (root / "chunks").rglob("*.e3c"):
        level, x = int(f.parts[-3]), int(f.parts[-2])
        y, z = map(int, f.stem.split("_"))
        chunkfile.load(f, (level, x, y, z))
        n += 1
    return n


@pytest.fixture(scope="module")
def sources():
    return world_sources()


@pytest.fixture(scope="module")
def reference(sources, tmp_path_factory):
    """The uninterrupted in-process build."""
    out = tmp_path_factory.mktemp("ref") / "world"
    store = build_store(sources, out, leaf_cap=LEAF_CAP)
    assert store.info()["node_count"] > 40
    return files(out)


# ------------------------------------------------------------------------------ crashes
def _killed_build(out: str, target: str, nth: int, torn: bool, on_dask: bool, sources: list) -> None:
    """Run in a fresh child process (spawned: torch's thread pool does not survive a fork): build, and
    SIGKILL this process at the nth atomic write of a file whose name contains `target` (a torn write: half
    the temporary written, nothing renamed)."""
    replace, seen = os.replace, [0]

    def hook(src, dst):
        if target in str(dst):
            seen[0] += 1
            if seen[0] == nth:
                if torn:
                    os.truncate(src, os.path.getsize(src) // 2)
                else:
                    replace(src, dst)
                os.kill(os.getpid(), signal.SIGKILL)
        replace(src, dst)

    os.replace = hook
    if on_dask:
        with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as c:
            build_store(sources, out, leaf_cap=LEAF_CAP, client=c)
    else:
        build_store(sources, out, leaf_cap=LEAF_CAP)


# (file name part, nth write, torn, on Dask): while spilling a source, after and during leaf
# chunk writes, during an inner-node write, during the index, during store.json.
MOMENTS = [
    ("/spill/", 3, True, False),
    (".e3c", 4, False, True),
    (".e3c", 9, True, False),
    (".e3c", 60, True, True),
    (".e3i", 1, True, False),
    ("store.json", 1, True, False),
]


@pytest.mark.parametrize("target, nth, torn, on_dask", MOMENTS)
def test_killed_build_resumes_to_identical_store(sources, reference, tmp_path, target, nth, torn, on_dask):
    out = tmp_path / "world"
    child = multiprocessing.get_context("spawn").Process(
        target=_killed_build, args=(str(out), target, nth, torn, on_dask, sources))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL, f"the build was not killed at write {nth} of {target}"
    assert not (out / "store.json").exists()
    with pytest.raises(StoreError, match="unfinished build"):
        open_store(out)
    check_no_partial_chunks(out)
    if torn:
        assert any(out.rglob("*.tmp")), "the kill did not happen inside a write"

    resumed = build_store(sources, out, leaf_cap=LEAF_CAP)
    assert_same_files(files(out), reference)
    assert resumed.info()["node_count"] == sum(k.endswith(".e3c") for k in reference)


def test_resume_with_other_settings_is_refused(sources, tmp_path):
    out = tmp_path / "world"
    child = multiprocessing.get_context("spawn").Process(
        target=_killed_build, args=(str(out), ".e3c", 3, False, False, sources))
    child.start()
    child.join(120)
    before = files(out)
    with pytest.raises(ValueError, match="leaf_cap=512.*not 256"):
        build_store(sources, out, leaf_cap=256)
    with pytest.raises(ValueError, match="sh_k=1.*not 16"):
        build_store(sources, out, leaf_cap=LEAF_CAP, sh_degree=3)
    assert files(out) == before


# ------------------------------------------------------------------------------ fsspec locations
def test_memory_store_in_process_and_on_threads(sources, reference):
    url = "memory://earth3d-test/world"
    store = build_store(sources, url, leaf_cap=LEAF_CAP)
    assert files(url) == reference
    key = store.root_keys()[0]
    assert len(store.read(key)) == store.entry(key)["count"]  # readable through the URL too
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as c:
        build_store(sources, "memory://earth3d-test/dask", leaf_cap=LEAF_CAP, client=c)
    assert files("memory://earth3d-test/dask") == reference
    fsspec.filesystem("memory").rm("/earth3d-test", recursive=True)


@pytest.mark.parametrize("url, match", [("s3://earth3d-no-bucket/world", r"pip install 'earth3d\[s3\]'"),
                                        ("nosuchfs://x/world", "no fsspec filesystem handles nosuchfs://")])
def test_url_without_backend_is_refused(sources, url, match):
    with pytest.raises(Earth3dError, match=match):  # DependencyError for s3://, InputError for an unknown scheme
        build_store(sources, url, leaf_cap=LEAF_CAP)


def test_location_holding_something_else_is_refused(sources, tmp_path):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(OutputError, match=f"{other}: a non-empty folder that holds no earth3d store"):
        build_store(sources, other, leaf_cap=LEAF_CAP)
    assert [p.name for p in other.iterdir()] == ["cat.jpg"]
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    with pytest.raises(OutputError, match=f"{afile}: is a file"):
        build_store(sources, afile, leaf_cap=LEAF_CAP, workers=2)
    assert afile.read_text() == "keep me"


def test_unreachable_scheduler_is_refused(sources, tmp_path):
    out = tmp_path / "world"
    t = time.time()
    with pytest.raises(ConnectionError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        build_on_dask(sources, out, scheduler="tcp://127.0.0.1:9", connect_timeout=1.0)
    assert time.time() - t < 30
    assert not out.exists()


# ------------------------------------------------------------------------------ a cluster of processes
@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_process_cluster_builds_identical_store(sources, reference, client, tmp_path):
    out = tmp_path / "world"
    seen, stop = [], threading.Event()

    def reader():  # a reader during the build: no store yet, and never a partial chunk
        while not stop.is_set():
            if out.is_dir() and not (out / "store.json").exists():
                seen.append(check_no_partial_chunks(out))
            time.sleep(0.01)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        store = build_store(sources, out, leaf_cap=LEAF_CAP, client=client)
    finally:
        stop.set()
        watcher.join()
    assert len(set(client.run(os.getpid).values()) - {os.getpid()}) == 2  # ran on two other processes
    assert files(out) == reference
    assert store.info()["node_count"] == sum(k.endswith(".e3c") for k in reference)
    assert seen and max(seen) > 0


def test_process_cluster_with_sources_in_memory(sources, reference, client, tmp_path):
    """Gaussians already in memory are spilled by the caller, not shipped; same bytes."""
    build_store([s() for s in sources], tmp_path / "world", leaf_cap=LEAF_CAP, client=client)
    assert files(tmp_path / "world") == reference


def test_memory_store_with_process_workers_is_refused(sources, client):
    with pytest.raises(ValueError, match="memory:// store lives in one process"):
        build_store(sources, "memory://earth3d-test/procs", leaf_cap=LEAF_CAP, client=client)
    assert not fsspec.filesystem("memory").exists("/earth3d-test/procs")


def test_worker_killed_mid_build(client, tmp_path):
    full = world_sources(crop=None)
    out_ref, out = tmp_path / "ref", tmp_path / "world"
    build_store(full, out_ref, leaf_cap=LEAF_CAP)
    pids = client.run(os.getpid)
    killed = []

    def killer():  # SIGKILL one worker as soon as the first node is written
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            if (out / "chunks").is_dir() and any((out / "chunks").rglob("*.e3c")):
                assert not (out / "store.json").exists()
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            time.sleep(0.002)

    t = threading.Thread(target=killer)
    t.start()
    try:
        build_store(full, out, leaf_cap=LEAF_CAP, client=client)
    finally:
        t.join()
    assert killed, "no worker was killed during the build"
    assert files(out) == files(out_ref)


# ------------------------------------------------------------------------------ command line
@pytest.mark.slow  # ~26 s: starts a 2-process local cluster, then waits out a connection to a dead scheduler
def test_cli_build_on_a_local_cluster_and_bad_scheduler(tmp_path, capsys):
    from earth3d.cli import main

    region = ["--synth", "9.70", "0.33", "9.74", "0.36", "--synth-resolution", "200", "--leaf-cap", "256", "--quiet"]
    assert main(["build", *region, "--out", str(tmp_path / "one")]) == 0
    assert main(["build", *region, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    assert files(tmp_path / "two") == files(tmp_path / "one")
    capsys.readouterr()
    assert main(["build", *region, "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "three")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in err[0]
    assert not (tmp_path / "three").exists()

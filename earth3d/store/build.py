"""Building a store: `build_store`, which runs the per-node tasks of earth3d.store.tasks in this
process or, for builds that outgrow it, as a Dask graph (earth3d.store.distributed).

Example:
    >>> from earth3d.store import build_store
    >>> store = build_store([gaussians], "out/world.store", leaf_cap=32768)  # doctest: +SKIP
    >>> store.info()["node_count"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from typing import Iterable, Literal

from tqdm import tqdm

from ..errors import InputError
from .distributed import build_on_dask
from .fs import Location
from .identity import source_identity
from .lock import writing
from .store import Store, open_store
from .tasks import Source, build_leaf, build_parent, finalize, ingest, leaf_tasks, parent_tasks, plan


def _have_dask(workers: int) -> bool:
    """Whether dask.distributed is there for a local cluster; without it a build asked for
    several workers runs in this process (same bytes, slower) and says so once.
    """
    try:
        import distributed  # noqa: F401
    except ImportError:
        warnings.warn(f"workers={workers}: dask.distributed is not installed, building in one process "
                      "(pip install 'earth3d[dask]' to build on several)", stacklevel=3)
        return False
    return True


def build_store(sources: Iterable[Source], out_path: str | os.PathLike | Location, *, leaf_cap: int = 32768,
                bucket_level: int | None = None, sh_degree: int | None = None, workers: int = 1,
                client=None, scheduler: str | None = None, keep_work: bool = False,
                progress: bool = False, restart: bool = False,
                on_change: Literal["refuse", "restart"] = "refuse") -> Store:
    """Build (or resume) a store at `out_path` (a folder or fsspec URL) from Gaussians or
    callables returning them.

    The tasks run in this process, unless a `dask.distributed.Client` (`client`), a
    scheduler address (`scheduler`) or `workers` > 1 (a local cluster of that many
    processes) is given: then they run as a Dask graph (earth3d.store.distributed). Both
    write the same bytes.

    Args:
        sources: Gaussians, or callables returning Gaussians (run once each, when ingested).
        out_path: the store folder or fsspec URL; an unfinished build there is resumed.
        leaf_cap: most splats in a leaf node.
        bucket_level: octree level of the spill buckets (default: chosen from the first source).
        sh_degree: SH degree stored (default: the first source's).
        workers: local Dask worker processes (1: build in this process).
        client: a `dask.distributed.Client` to build on.
        scheduler: the address of a Dask scheduler to build on.
        keep_work: keep the build's work folder (spill files) after it finishes.
        progress: show progress bars (tasks done / total).
        restart: discard whatever is at `out_path` (an unfinished build or an old store) first.
        on_change: an unfinished build of other sources there is refused ("refuse") or
            discarded ("restart").

    Returns:
        The opened store.

    Raises:
        InputError: no sources, bad settings, or sources with invalid splats.
        InputError: an unfinished build of other sources is there (on_change="refuse").
        OutputExistsError: a finished store is there (without restart).
        OutputError: `out_path` is a file or a folder that is not a store, or another build
            holds its lock (`earth3d.store.lock.OutputLockedError`).

    Example:
        >>> store = build_store([lambda: lift(raster)], "world.store")  # doctest: +SKIP
    """
    if client is not None or scheduler is not None or (workers > 1 and _have_dask(workers)):
        return build_on_dask(sources, out_path, client=client, scheduler=scheduler, workers=workers,
                             leaf_cap=leaf_cap, bucket_level=bucket_level, sh_degree=sh_degree,
                             keep_work=keep_work, progress=progress, restart=restart, on_change=on_change)
    sources = list(sources)
    if not sources:
        raise InputError(f"{out_path}: a build needs at least one source")
    with writing(out_path):
        _build_here(sources, out_path, leaf_cap, bucket_level, sh_degree, keep_work, progress, restart, on_change)
    return open_store(out_path)


def _build_here(sources: list[Source], out_path, leaf_cap: int, bucket_level: int | None, sh_degree: int | None,
                keep_work: bool, progress: bool, restart: bool, on_change: Literal["refuse", "restart"]) -> None:
    """The in-process build: every task in order, in this process."""
    p = plan(out_path, leaf_cap=leaf_cap, bucket_level=bucket_level, sh_degree=sh_degree,
             sources=[source_identity(s) for s in sources], restart=restart, on_change=on_change)
    for i, src in enumerate(tqdm(sources, desc="sources", unit="source", disable=not progress)):
        p, _ = ingest(p, i, src)
    nodes = [k for task in tqdm(leaf_tasks(p), desc="leaf tasks", disable=not progress) for k in build_leaf(p, task)]
    all_nodes = list(nodes)
    levels = parent_tasks(nodes)
    with tqdm(total=sum(map(len, levels)), desc="inner nodes", disable=not progress) as bar:
        for level_tasks in levels:
            for key, children in level_tasks:
                build_parent(p, key, children)
                bar.update()
            all_nodes.extend(k for k, _ in level_tasks)
    finalize(p, all_nodes, keep_work=keep_work)

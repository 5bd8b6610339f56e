"""Building a store as a Dask graph, for builds that outgrow one machine.

The graph is made of the same per-node tasks as the in-process build
(earth3d.store.tasks), so both write the same bytes:

- one `ingest` task per callable source (reading, synthesis and lifting run on the worker
  that ingests it; Gaussians already in the caller's memory are spilled by the caller);
  the first runs alone when it fixes the build's SH size and bucket level;
- one `build_leaf` task per leaf group;
- one `build_parent` task per inner node, depending on the tasks that write its
  children (no barrier between levels: a parent starts as soon as its children exist);
- one `finalize` task that writes the index and store.json.

Tasks exchange only small values (plans, bucket counts, node keys); splats travel
through the store location, which every worker must reach (a shared folder or an
object store URL). Every node is written once and atomically with its checksum, so a
rerun after a crash, or a task retried after its worker died, skips finished nodes.
"""

from __future__ import annotations

import os
from typing import Iterable, Literal

from tqdm import tqdm

from ..errors import DependencyError, InputError
from ..gaussians import Gaussians
from .fs import is_local, location
from .identity import source_identity
from .keys import Key
from .lock import writing
from .store import Store, open_store
from .tasks import BuildPlan, Source, build_leaf, build_parent, finalize, ingest, leaf_tasks, parent_tasks, plan

CONNECT_TIMEOUT_S = 10.0


def _dask():
    try:
        import distributed
    except ImportError:
        raise DependencyError("Dask builds need dask.distributed: pip install 'earth3d[dask]'") from None
    return distributed


def connect(client=None, scheduler: str | None = None, workers: int | None = None,
            timeout: float = CONNECT_TIMEOUT_S):
    """(client, owned): the given client, one connected to `scheduler`, or one on a new local
    cluster of `workers` single-threaded processes. `owned` clients are closed by the caller.
    """
    distributed = _dask()
    if client is not None:
        return client, False
    if scheduler is not None:
        try:
            return distributed.Client(scheduler, timeout=timeout), True
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: "
                                  f"{exc}") from None
    if workers is None or workers < 1:
        raise InputError(f"workers={workers} must be >= 1 for a local Dask cluster")
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    return distributed.Client(cluster, set_as_default=False), True


def _one_thread() -> None:
    """Kernels inside a task use the task's own thread only: a worker's thread count is its
    parallelism, so n single-threaded workers use n cores, not n times numba's and torch's pools.
    """
    import multiprocessing

    import numba

    numba.set_num_threads(1)  # per calling thread
    if multiprocessing.parent_process() is not None:  # a worker process of its own (torch's pool is per process)
        import torch

        torch.set_num_threads(1)


def _parent(p: BuildPlan, key: Key, children: list[Key], *after) -> Key:
    """build_parent as a graph node: `after` are the children's tasks, so it runs after them."""
    _one_thread()
    build_parent(p, key, children)
    return key


def _leaf(p: BuildPlan, task) -> list[Key]:
    _one_thread()
    return build_leaf(p, task)


def _ingest(p: BuildPlan, index: int, source: Source) -> BuildPlan:
    _one_thread()
    return ingest(p, index, source)[0]


def _ingest_all(client, distributed, p: BuildPlan, sources: list[Source], progress: bool) -> BuildPlan:
    """Spill every source. Callables (reading, synthesis, lifting) run on the workers; Gaussians
    already in this process's memory are spilled here rather than shipped to a worker. The first
    source runs alone when it fixes the build's SH size and bucket level, as in-process.
    """
    def submit_or_run(i: int, src: Source):
        if isinstance(src, Gaussians):
            return ingest(p, i, src)[0]
        return client.submit(_ingest, p, i, src, pure=False)

    start = 0
    if p.sh_k is None or p.bucket_level is None:
        first = submit_or_run(0, sources[0])
        p = first if isinstance(first, BuildPlan) else _wait(distributed, [first], "first source", progress)[0]
        start = 1
    remote = [f for f in (submit_or_run(i, src) for i, src in enumerate(sources) if i >= start)
              if not isinstance(f, BuildPlan)]
    _wait(distributed, remote, "sources", progress)
    return p


def _finish(p: BuildPlan, nodes: list[Key], keep_work: bool) -> int:
    finalize(p, nodes, keep_work=keep_work)
    return len(nodes)


def _wait(distributed, futures: list, desc: str, progress: bool) -> list:
    """Results of `futures` in their order, with a progress bar (tasks done / total);
    the first failed task's error is raised.
    """
    with tqdm(total=len(futures), desc=desc, disable=not progress) as bar:
        for f in distributed.as_completed(futures, loop=futures[0].client.loop) if futures else ():
            f.result()
            bar.update()
    return [f.result() for f in futures]


def _check_reachable(client, out) -> None:
    """memory:// lives in one process: refuse it when the workers are other processes."""
    if is_local(out) or out.protocol != "memory":
        return
    pids = set(client.run(os.getpid).values())
    if pids != {os.getpid()}:
        raise InputError(f"{out}: a memory:// store lives in one process, but the Dask workers run in others; "
                         "use a shared folder or object store URL, or a cluster with processes=False")


def build_on_dask(sources: Iterable[Source], out_path, *, client=None, scheduler: str | None = None,
                  workers: int | None = None, leaf_cap: int = 32768, bucket_level: int | None = None,
                  sh_degree: int | None = None, keep_work: bool = False, progress: bool = False,
                  connect_timeout: float = CONNECT_TIMEOUT_S, restart: bool = False,
                  on_change: Literal["refuse", "restart"] = "refuse") -> Store:
    """Build (or resume) a store at `out_path` (folder or fsspec URL) on a Dask cluster: the
    given `client`, the scheduler at `scheduler`, or a local cluster of `workers` processes.
    Returns the opened store. Nothing is written before the location and the cluster check out;
    the lock, the sources' identities, `restart` and `on_change` work as in
    `earth3d.store.build_store`.
    """
    out = location(out_path)
    distributed = _dask()
    client, owned = connect(client, scheduler, workers, connect_timeout)
    try:
        _check_reachable(client, out)
        sources = list(sources)
        if not sources:
            raise InputError(f"{out}: a build needs at least one source")
        with writing(out):
            _build(client, distributed, out, sources, leaf_cap, bucket_level, sh_degree, keep_work, progress,
                   restart, on_change)
    finally:
        if owned:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    return open_store(out)


def _build(client, distributed, out, sources: list[Source], leaf_cap: int, bucket_level: int | None,
           sh_degree: int | None, keep_work: bool, progress: bool, restart: bool,
           on_change: Literal["refuse", "restart"]) -> None:
    """Every task of the build as a graph on `client`."""
    p = plan(out, leaf_cap=leaf_cap, bucket_level=bucket_level, sh_degree=sh_degree,
             sources=[source_identity(s) for s in sources], restart=restart, on_change=on_change)
    p = _ingest_all(client, distributed, p, sources, progress)

    tasks = leaf_tasks(p)
    leaf_futures = [client.submit(_leaf, p, t, pure=False) for t in tasks]
    writer: dict[Key, object] = {}
    nodes: list[Key] = []
    for fut, keys in zip(leaf_futures, _wait(distributed, leaf_futures, "leaf tasks", progress), strict=False):
        for k in keys:
            writer[tuple(k)] = fut
        nodes.extend(tuple(k) for k in keys)
    parents = []
    for level_tasks in parent_tasks(nodes):
        for key, children in level_tasks:
            deps = list({id(writer[c]): writer[c] for c in children}.values())
            writer[key] = client.submit(_parent, p, key, children, *deps, pure=False)
            parents.append(writer[key])
    all_nodes = nodes + _wait(distributed, parents, "inner nodes", progress)
    writer.clear()
    del leaf_futures, parents
    client.submit(_finish, p, all_nodes, keep_work, pure=False).result()

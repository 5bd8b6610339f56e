"""The on-disk LOD octree of splats: building, the format, reading (docs/FORMAT.md).

`build_store(sources, path)` builds (or resumes) a store and `open_store(path)` opens one; the
per-node build tasks (`plan`, `ingest`, `leaf_tasks`, `build_leaf`, `build_parent`, `finalize`)
for other schedulers are in `earth3d.store.tasks`; errors are `earth3d.errors.StoreError` and
`ChunkError`.

Example:
    >>> from earth3d.store import build_store, open_store
    >>> build_store([gaussians], "world.store")  # doctest: +SKIP
    >>> open_store("world.store").info()  # doctest: +SKIP
"""

from .build import build_store
from .chunk import FORMAT_VERSION, Splats
from .keys import CUBE_SIDE_M, Key, cell_center, cell_size
from .store import Store, open_store

__all__ = [
    "CUBE_SIDE_M", "FORMAT_VERSION", "Key", "Splats", "Store", "build_store", "cell_center", "cell_size", "open_store",
]

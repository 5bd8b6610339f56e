"""The on-disk LOD octree of splats: building, the format, reading (docs/FORMAT.md)."""

from .build import BuildPlan, LeafTask, build, build_leaf, build_parent, finalize, ingest, leaf_tasks, parent_tasks, plan
from .chunk import FORMAT_VERSION, Splats
from .errors import ChunkError, StoreError
from .keys import CUBE_SIDE_M, Key, cell_center, cell_size
from .merge import merge
from .store import Store, open_store

open = open_store  # noqa: A001  (earth3d.store.open(path), like the built-in for files)

__all__ = [
    "BuildPlan", "CUBE_SIDE_M", "ChunkError", "FORMAT_VERSION", "Key", "LeafTask", "Splats", "Store", "StoreError",
    "build", "build_leaf", "build_parent", "cell_center", "cell_size", "finalize", "ingest", "leaf_tasks", "merge",
    "open", "open_store", "parent_tasks", "plan",
]

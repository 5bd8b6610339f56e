"""Where a store keeps its files (docs/FORMAT.md): store.json, chunk files and subtree index files.

Both the build tasks (earth3d.store.tasks) and the reader (earth3d.store.store) use these paths,
so neither imports the other.
"""

from __future__ import annotations

from .fs import Location, location
from .keys import Key

STORE_FORMAT = "earth3d.store"  # the "format" field of store.json
META_FILE = "store.json"
WORK_FOLDER = "build"  # an unfinished build's state, removed when it finishes


def chunk_path(root: Location, key: Key) -> Location:
    """The chunk file of node `key` (level, x, y, z) in the store at `root`."""
    level, x, y, z = key
    return location(root) / "chunks" / str(level) / str(x) / f"{y}_{z}.e3c"


def index_path(root: Location, key: Key) -> Location:
    """The index file of the subtree rooted at node `key` in the store at `root`."""
    level, x, y, z = key
    return location(root) / "index" / str(level) / str(x) / f"{y}_{z}.e3i"

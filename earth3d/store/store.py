"""Reading a store: metadata, the index on demand, and chunks."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict

import numpy as np

from ..errors import InputFileError, StoreError
from ..gaussians import Gaussians
from . import chunk as chunkfile
from .chunk import FLAG_LEAF, FORMAT_VERSION, READ_VERSIONS
from .fs import Location, location
from .index import read_index
from .keys import Key, as_key, child, subtree_root
from .layout import META_FILE, STORE_FORMAT, WORK_FOLDER, chunk_path, index_path

INDEX_CACHE_FILES = 512


class Store:
    """An opened store. Subtree index files are read when first needed and kept in a small LRU.

    Raises:
        InputFileError: `path` is not a folder.
        StoreError: the folder is not a finished earth3d store of a version this reader reads.
    """

    def __init__(self, path: str | os.PathLike | Location):
        self.path = location(path)
        meta_path = self.path / META_FILE
        if not self.path.is_dir():
            raise InputFileError(f"{self.path}: no such store folder")
        if not meta_path.is_file():
            unfinished = (self.path / WORK_FOLDER).is_dir()
            hint = " (an unfinished build: run the build again to resume it)" if unfinished else ""
            raise StoreError(f"{self.path}: not an earth3d store, store.json is missing{hint}")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{meta_path}: unreadable store metadata ({exc})") from exc
        if not isinstance(meta, dict):
            raise StoreError(f"{meta_path}: store metadata is not a JSON object")
        if meta.get("format") != STORE_FORMAT:
            raise StoreError(f"{meta_path}: format {meta.get('format')!r} is not {STORE_FORMAT!r}")
        if meta.get("version") not in READ_VERSIONS:
            raise StoreError(f"{meta_path}: store format version {meta.get('version')}, "
                             f"this earth3d reads versions {', '.join(map(str, READ_VERSIONS))} "
                             f"(writes {FORMAT_VERSION})")
        _check_meta(meta, meta_path)
        self.meta = meta
        self._subtrees: OrderedDict[Key, dict] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, nodes={self.meta['node_count']}, splats={self.meta['splat_count_leaves']})"

    # ------------------------------------------------------------------ metadata
    def info(self) -> dict:
        """Extent (ECEF AABB), levels, node and splat counts, bytes on disk, format version.

        Returns:
            A JSON-ready dict of the store's description.
        """
        m = self.meta
        return {
            "path": str(self.path),
            "format_version": m["version"],
            "extent_ecef_m": m["extent"],
            "levels": tuple(m["levels"]),
            "node_count": m["node_count"],
            "leaf_count": m["leaf_count"],
            "splat_count": m["splat_count_leaves"],
            "splat_count_all_levels": m["splat_count_total"],
            "bytes_on_disk": m["chunk_bytes"] + m["index_bytes"],
            "sh_degree": m["sh_degree"],
            "leaf_cap": m["leaf_cap"],
        }

    @property
    def sh_degree(self) -> int:
        """SH degree of the stored splats."""
        return int(self.meta["sh_degree"])

    def root_keys(self) -> list[Key]:
        """Keys of the level-0 nodes."""
        return [tuple(k) for k in self.meta["roots"]]

    # ------------------------------------------------------------------ index
    def _subtree(self, root: Key) -> dict:
        with self._lock:
            table = self._subtrees.get(root)
            if table is not None:
                self._subtrees.move_to_end(root)
                return table
        path = index_path(self.path, root)
        table = read_index(path, root) if path.is_file() else {}
        with self._lock:
            self._subtrees[root] = table
            while len(self._subtrees) > INDEX_CACHE_FILES:
                self._subtrees.popitem(last=False)
        return table

    def has(self, key: Key) -> bool:
        """Whether the store holds node `key`."""
        key = as_key(key)
        return key in self._subtree(subtree_root(key))

    def entry(self, key: Key) -> np.void:
        """The index entry of a node: level, xyz, child_mask, flags, count, nbytes, error, bmin, bmax, checksum."""
        key = as_key(key)
        found = self._subtree(subtree_root(key)).get(key)
        if found is None:
            path = index_path(self.path, subtree_root(key))
            if not path.is_file() and (key[0] == 0 and list(key) in self.meta["roots"] or key[0] > 0):
                raise StoreError(f"{self.path}: the index file {path} of node (level={key[0]}, x={key[1]}, "
                                 f"y={key[2]}, z={key[3]}) is missing: a damaged store (rebuild it)")
            raise KeyError(f"{self.path}: no node (level={key[0]}, x={key[1]}, y={key[2]}, z={key[3]}) in the store")
        return found

    def is_leaf(self, key: Key) -> bool:
        """Whether node `key` is a leaf (full detail)."""
        return bool(self.entry(key)["flags"] & FLAG_LEAF)

    def children(self, key: Key) -> list[Key]:
        """Keys of the node's existing children (empty for a leaf)."""
        mask = int(self.entry(key)["child_mask"])
        return [child(as_key(key), o) for o in range(8) if mask >> o & 1]

    # ------------------------------------------------------------------ chunks
    def chunk_path(self, key: Key) -> Location:
        """The chunk file of node `key`."""
        return chunk_path(self.path, as_key(key))

    def read_leaves(self) -> Gaussians:
        """Every full-detail splat of the store: its leaves, concatenated (no level of detail).

        Check `info()["splat_count"]` first: this loads them all into memory.

        Returns:
            The Gaussians of all leaves.
        """
        keys, leaves = list(self.root_keys()), []
        while keys:
            key = keys.pop()
            if self.is_leaf(key):
                leaves.append(self.read(key))
            else:
                keys.extend(self.children(key))
        return Gaussians.concat(leaves)

    def read(self, key: Key) -> Gaussians:
        """A node's splats (offsets from its cell center), validated against the index entry.

        Args:
            key: The node (level, x, y, z).

        Returns:
            The node's splats, with their origin at the cell center.

        Raises:
            KeyError: The store has no such node.
            ChunkError: The chunk file is missing, truncated, or fails its checksum.
        """
        key = as_key(key)
        e = self.entry(key)
        head, arr = chunkfile.load(self.chunk_path(key), key, int(e["nbytes"]), bytes(e["checksum"]))
        return Gaussians.from_arrays(np.array(head["origin"], dtype=np.float64), arr["means"], arr["quats"],
                                     arr["scales"], arr["opacities"], arr["sh"], arr.get("labels"),
                                     arr.get("instances"))


#: What store.json must hold, and of what kind, for the reader to use it.
_META_FIELDS = {"sh_degree": int, "leaf_cap": int, "levels": list, "node_count": int, "leaf_count": int,
                "splat_count_leaves": int, "splat_count_total": int, "chunk_bytes": int, "index_bytes": int,
                "extent": dict, "roots": list}


def _check_meta(meta: dict, path) -> None:
    """Refuse a store.json that lacks a field, holds one of the wrong kind, or non-finite extents."""
    for name, kind in _META_FIELDS.items():
        if name not in meta:
            raise StoreError(f"{path}: store metadata lacks {name!r} (a damaged or hand-edited store.json; "
                             "rebuild the store)")
        if not isinstance(meta[name], kind) or isinstance(meta[name], bool):
            raise StoreError(f"{path}: store metadata field {name!r} is {meta[name]!r}, expected a {kind.__name__}")
    try:
        extent = np.array([meta["extent"]["bmin"], meta["extent"]["bmax"]], dtype=np.float64)
        roots = [tuple(int(v) for v in k) for k in meta["roots"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: store metadata 'extent' or 'roots' is malformed ({exc})") from None
    if extent.shape != (2, 3) or not np.isfinite(extent).all():
        raise StoreError(f"{path}: store metadata 'extent' is not two finite points: {meta['extent']!r}")
    if not roots or any(len(k) != 4 or k[0] != 0 for k in roots):
        raise StoreError(f"{path}: store metadata 'roots' {meta['roots']!r} is not a list of level-0 nodes")


def open_store(path: str | os.PathLike | Location) -> Store:
    """Open a built store, a folder or fsspec URL (see docs/FORMAT.md).

    Args:
        path: The store folder, or a URL such as memory://world or s3://bucket/world.

    Returns:
        The opened Store (index files are read on demand).

    Raises:
        InputFileError: `path` is not a folder.
        StoreError: the folder is not a finished earth3d store of a version this reader reads.

    Example:
        >>> store = open_store("world.store")  # doctest: +SKIP
        >>> store.info()["splat_count"]  # doctest: +SKIP
    """
    return Store(path)

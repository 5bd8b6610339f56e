"""Errors raised by the store, each naming the store path and node."""

from __future__ import annotations


class StoreError(ValueError):
    """A store that cannot be opened or read (wrong version, incomplete, corrupt index)."""


class ChunkError(StoreError):
    """A node's chunk that is missing, truncated, corrupt or inconsistent with the index."""

    def __init__(self, key, path, what: str):
        self.key = tuple(int(v) for v in key)
        self.path = path
        level, x, y, z = self.key
        super().__init__(f"node (level={level}, x={x}, y={y}, z={z}) chunk {self.path}: {what}")

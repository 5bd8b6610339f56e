"""The index entries a stream has met, as arrays: a cut tests whole groups of nodes in one numpy call.

A store reads its index one subtree file at a time, when a node is first reached. A `NodeTable`
copies each entry it is asked for into growing arrays (box, error, splat count, bytes, leaf flag)
once, and gives nodes small integer rows; a cut then works on rows, and per-node Python work is
a dictionary lookup the first time a node is met.
"""

from __future__ import annotations

import numpy as np

from .store import Store
from .store.chunk import FLAG_LEAF
from .store.keys import Key, as_key, child


class NodeTable:
    """Rows for the nodes of one store, filled on demand from its index entries."""

    def __init__(self, store: Store, capacity: int = 1024):
        self.store = store
        self.keys: list[Key] = []
        self._rows: dict[Key, int] = {}
        self._children: list[np.ndarray | None] = []
        self.center = np.empty((capacity, 3))
        self.half_axes = np.empty((capacity, 3, 3))
        self.error = np.empty(capacity)
        self.count = np.empty(capacity, dtype=np.int64)
        self.nbytes = np.empty(capacity, dtype=np.int64)
        self.leaf = np.empty(capacity, dtype=bool)

    def __len__(self) -> int:
        return len(self.keys)

    def _grow(self) -> None:
        for name in ("center", "half_axes", "error", "count", "nbytes", "leaf"):
            old = getattr(self, name)
            new = np.empty((2 * len(old), *old.shape[1:]), dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def row(self, key: Key) -> int:
        """The row of a node, reading its index entry the first time (KeyError if the store lacks it)."""
        r = self._rows.get(key)
        if r is not None:
            return r
        e = self.store.entry(key)
        r = len(self.keys)
        if r == len(self.error):
            self._grow()
        self.center[r], self.half_axes[r], self.error[r] = e["obb_center"], e["obb_half_axes"], e["error"]
        self.count[r], self.nbytes[r], self.leaf[r] = e["count"], e["nbytes"], bool(e["flags"] & FLAG_LEAF)
        self._children.append(None)
        self._rows[key] = r
        self.keys.append(key)
        return r

    def rows(self, keys: list[Key]) -> np.ndarray:
        """Rows (int64) of several nodes."""
        return np.array([self.row(as_key(k)) for k in keys], dtype=np.int64)

    def children(self, r: int) -> np.ndarray:
        """Rows of a node's existing children (empty for a leaf)."""
        kids = self._children[r]
        if kids is None:
            if self.leaf[r]:
                return np.array([], dtype=np.int64)
            key = self.keys[r]
            mask = int(self.store.entry(key)["child_mask"])
            kids = self.rows([child(key, o) for o in range(8) if mask >> o & 1])
            self._children[r] = kids
        return kids

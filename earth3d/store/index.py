"""Subtree index files: the entries of the nodes of levels L0 .. L0 + 4 under one root.

Like 3D Tiles implicit tiling, the index is split so that no reader loads it
whole: a reader opens the subtree file of a node only when it reaches it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import StoreError
from .chunk import FORMAT_VERSION, READ_VERSIONS
from .fs import Location, write_atomic
from .keys import Key, as_key

INDEX_MAGIC = b"E3DINDEX"
INDEX_HEADER = np.dtype([("magic", "S8"), ("version", "<u4"), ("count", "<u4"), ("checksum", "V16"),
                         ("reserved", "<u8")])
ENTRY = np.dtype([
    ("level", "<u1"), ("child_mask", "<u1"), ("flags", "<u2"), ("xyz", "<u4", (3,)), ("count", "<u4"),
    ("nbytes", "<u8"), ("error", "<f8"), ("bmin", "<f8", (3,)), ("bmax", "<f8", (3,)),
    ("obb_center", "<f8", (3,)), ("obb_half_axes", "<f8", (3, 3)), ("checksum", "V16"),
])


def entry_key(entry: np.void) -> Key:
    """The node key (level, x, y, z) of an index entry."""
    return as_key((entry["level"], *entry["xyz"]))


def write_index(path: Location, entries: np.ndarray) -> None:
    """Write a subtree index (entries sorted by level, x, y, z) atomically."""
    entries = np.sort(np.ascontiguousarray(entries, dtype=ENTRY), order=["level", "xyz"])
    body = entries.tobytes()
    head = np.zeros((), INDEX_HEADER)
    head["magic"], head["version"], head["count"] = INDEX_MAGIC, FORMAT_VERSION, len(entries)
    head["checksum"] = np.void(hashlib.blake2b(body, digest_size=16).digest())
    write_atomic(path, head.tobytes() + body)


def read_index(path: Location, root: Key) -> dict[Key, np.void]:
    """Entries of one subtree file keyed by node key, validated."""
    where = f"index file {path} (subtree root level={root[0]}, x={root[1]}, y={root[2]}, z={root[3]})"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoreError(f"{where}: missing") from None
    if len(data) < INDEX_HEADER.itemsize:
        raise StoreError(f"{where}: truncated header")
    head = np.frombuffer(data[:INDEX_HEADER.itemsize], INDEX_HEADER)[0]
    if head["magic"] != INDEX_MAGIC:
        raise StoreError(f"{where}: not an earth3d index file")
    if head["version"] not in READ_VERSIONS:
        raise StoreError(f"{where}: format version {int(head['version'])}, this reader reads versions "
                         f"{', '.join(map(str, READ_VERSIONS))}")
    body = data[INDEX_HEADER.itemsize:]
    if len(body) != int(head["count"]) * ENTRY.itemsize:
        raise StoreError(f"{where}: {len(body)} entry bytes, expected {int(head['count'])} entries (truncated)")
    if hashlib.blake2b(body, digest_size=16).digest() != bytes(head["checksum"]):
        raise StoreError(f"{where}: checksum mismatch (corrupt)")
    entries = np.frombuffer(body, ENTRY)
    return {entry_key(e): e for e in entries}

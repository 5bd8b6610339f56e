"""Errors raised by the store, each naming the store path and node (defined in `earth3d.errors`)."""

from ..errors import ChunkError, StoreError

__all__ = ["ChunkError", "StoreError"]

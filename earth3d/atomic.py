"""Writing a file so that a reader sees the old file or the complete new one, never a torn one.

Every file earth3d writes goes through `replacing`: the content is written under a hidden
temporary name in the destination folder, renamed over the destination when the write
succeeds, and removed when it fails. A killed process leaves at most a stray `*.tmp` file,
which no reader takes for a result (temporary names end in `.tmp`, so a writer that would
pick a format from the name must be told the format).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

Bytes = bytes | bytearray | memoryview


def temporary_sibling(path: str | os.PathLike) -> Path:
    """The temporary name that `replacing` writes `path` under: same folder, hidden, ends in `.tmp`."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed over `path`, on failure removed."""
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, chunks: Bytes | Iterable[Bytes]) -> None:
    """Write bytes (one buffer or an iterable of buffers) to `path` atomically."""
    with replacing(path) as tmp, open(tmp, "wb") as f:
        for chunk in ([chunks] if isinstance(chunks, (bytes, bytearray, memoryview)) else chunks):
            f.write(chunk)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2) + "\n").encode())

"""Safe file output shared by the exporters: refuse to clobber, write to a temporary name, rename."""

from __future__ import annotations

import json
import os
from pathlib import Path


def check_target(path: str | os.PathLike, overwrite: bool) -> Path:
    """The output path, after checking that it may be written (its folder exists; it does not, unless overwrite)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {path.parent} does not exist")
    return path


def write_bytes_atomic(path: str | os.PathLike, chunks) -> None:
    """Write byte chunks to `path` via a temporary file in the same folder, then rename over it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            for chunk in ([chunks] if isinstance(chunks, (bytes, bytearray, memoryview)) else chunks):
                f.write(chunk)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2) + "\n").encode())

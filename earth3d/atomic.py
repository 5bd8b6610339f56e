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

from .errors import OutputError, OutputExistsError

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


def check_output(path: str | os.PathLike, overwrite: bool, *, folder: bool = False,
                 make_parent: bool = True, flag: str = "--overwrite") -> Path:
    """The one overwrite policy: check that `path` may be written, before any work starts.

    An output may be written when it does not exist, or when it exists, is of the expected kind
    (a file, or a folder when `folder`), and `overwrite` is set. Its parent folder is created when
    `make_parent` (and must already exist otherwise). Nothing is deleted here: writers replace an
    old output only once the new one is complete (`replacing`).

    Args:
        path: the output file or folder.
        overwrite: whether an existing output may be replaced.
        folder: the output is a folder (a store, a tileset, a dataset) rather than a file.
        make_parent: create the parent folder when it is missing.
        flag: how the caller spells the overwrite option, for the message.

    Returns:
        `path` as a Path.

    Raises:
        OutputExistsError: the output exists and `overwrite` is not set.
        OutputError: the output is of the wrong kind, or its parent is missing or is a file.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "view.png"
        >>> check_output(out, overwrite=False) == out
        True
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise OutputError(f"{path}: is a file, expected a folder")
        if not folder and path.is_dir():
            raise OutputError(f"{path}: is a folder, expected a file name")
        if not overwrite:
            raise OutputExistsError(f"{path}: already exists (pass {flag} to replace it)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: {parent} is a file, not a folder")
            break
    if not path.parent.is_dir():
        if not make_parent:
            raise OutputError(f"{path}: folder {path.parent} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
    return path

"""Where a store lives: a local folder or any fsspec URL (memory://, s3://, gs://, ...).

Local folders are plain `pathlib.Path`s and keep the write-to-a-temporary-name-then-rename
discipline. Other locations are `upath.UPath`s over their fsspec filesystem; a file there
is written with one put, which object stores make visible whole or not at all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Union

import fsspec
from upath import UPath

from ..atomic import write_bytes_atomic
from ..errors import DependencyError, InputError, OutputError

Location = Union[Path, UPath]
LOCAL_PROTOCOLS = ("", "file", "local")
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


def location(where: str | os.PathLike | Location) -> Location:
    """A Path for a local folder or file:// URL, else a UPath; a clear error for a URL
    whose scheme has no installed fsspec backend.
    """
    if isinstance(where, UPath):
        return Path(where.path) if where.protocol in LOCAL_PROTOCOLS else where
    if isinstance(where, Path):
        return where
    text = os.fspath(where)
    if "://" not in text:
        return Path(text)
    scheme = text.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(scheme)
        path = UPath(text)
    except ImportError as exc:
        extra = EXTRAS.get(scheme)
        hint = f" (pip install 'earth3d[{extra}]')" if extra else ""
        raise DependencyError(f"{text}: the {scheme}:// filesystem needs a package that is not "
                              f"installed{hint}: {exc}") from None
    except ValueError as exc:
        raise InputError(f"{text}: no fsspec filesystem handles {scheme}:// URLs ({exc})") from None
    return Path(path.path) if path.protocol in LOCAL_PROTOCOLS else path


def is_local(path: Location) -> bool:
    """Whether `path` is on the local filesystem (a Path, not a UPath)."""
    return not isinstance(path, UPath)


def write_atomic(path: Location, data: bytes) -> None:
    """Write `data` so that a reader sees the old file or the complete new one.

    Local: a temporary name in the same folder, then a rename; a killed process leaves at
    most a stray temporary file. There is no fsync: a chunk torn by a power cut fails its
    checksum and is rebuilt on resume. Elsewhere: a single put of the whole object.
    """
    if isinstance(path, UPath):
        path.fs.pipe_file(path.path, bytes(data))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)


def file_size(path: Location) -> int:
    """Size in bytes (FileNotFoundError when missing)."""
    return int(path.stat().st_size) if isinstance(path, UPath) else os.path.getsize(path)


def remove_tree(path: Location) -> None:
    """Remove a folder and everything under it, if it is there."""
    if not isinstance(path, UPath):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.fs.rm(path.path, recursive=True)


def check_build_target(out: Location) -> None:
    """Refuse a location that holds something other than a store or an unfinished build:
    a file, or a non-empty folder without store.json or build/.
    """
    if out.is_file():
        raise OutputError(f"{out}: is a file, not a store folder; choose another location")
    if out.is_dir() and not (out / "store.json").is_file() and not (out / "build").is_dir():
        if next(iter(out.iterdir()), None) is not None:
            raise OutputError(f"{out}: a non-empty folder that holds no earth3d store or unfinished build; "
                             "choose an empty or new location")

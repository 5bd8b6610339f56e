"""The exporters' output guard: refuse to clobber a file or to write into a missing folder."""

from __future__ import annotations

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


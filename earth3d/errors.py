"""The errors every stage of earth3d raises.

One root, `Earth3dError`; each subclass also derives from the builtin exception a caller would
catch without knowing earth3d (rasterio's `RasterioIOError(RasterioError, OSError)` pattern), so
``except ValueError`` keeps working while ``except Earth3dError`` catches everything earth3d
reports on purpose. A message names the file, value or option at fault and says what is wrong.
The command line prints ``earth3d: error: <message>`` for any of these and a traceback only for
bugs.

Example:
    >>> from earth3d.errors import Earth3dError, InputError
    >>> try:
    ...     raise InputError("dem.tif: has no CRS")
    ... except ValueError as exc:
    ...     isinstance(exc, Earth3dError)
    True
"""

from __future__ import annotations

__all__ = [
    "ChunkError",
    "DependencyError",
    "Earth3dError",
    "InputError",
    "InputFileError",
    "InputNotFoundError",
    "OutputExistsError",
    "OutputError",
    "StoreError",
]


class Earth3dError(Exception):
    """Root of every error earth3d raises on purpose (bad input, a damaged store, a refused output)."""


class InputError(Earth3dError, ValueError):
    """A value given to earth3d is out of range or malformed (a bbox, a size, an option)."""


class InputFileError(Earth3dError, OSError):
    """An input file that is missing, unreadable, or holds something earth3d cannot use."""


class InputNotFoundError(InputFileError, FileNotFoundError):
    """An input file or folder that does not exist."""


class OutputError(Earth3dError, OSError):
    """An output that cannot be written where asked (a missing folder, a file in the way)."""


class OutputExistsError(OutputError, FileExistsError):
    """An output that already exists and would be replaced without ``overwrite``."""


class DependencyError(Earth3dError, ImportError):
    """An optional dependency that a feature needs is not installed (the message names the extra)."""


class StoreError(Earth3dError, ValueError):
    """A store that cannot be opened or read (wrong version, incomplete, corrupt index)."""


class ChunkError(StoreError):
    """A node's chunk that is missing, truncated, corrupt or inconsistent with the index.

    Args:
        key: the node's (level, x, y, z).
        path: the chunk file.
        what: what is wrong with it.
    """

    def __init__(self, key, path, what: str):
        self.key = tuple(int(v) for v in key)
        self.path = path
        level, x, y, z = self.key
        super().__init__(f"node (level={level}, x={x}, y={y}, z={z}) chunk {self.path}: {what}")

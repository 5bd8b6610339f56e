"""What a build's sources are, by content: the key an interrupted build is resumed under.

A source is Gaussians or a callable returning them (`functools.partial(lifted_raster, dem, ortho)`,
a lambda over a raster, ...). Its identity is a digest of what it would produce from:

- Gaussians, numpy arrays and rasters: their bytes;
- a file named by a path argument: its absolute path, size and modification time;
- a callable: its module and name, its code, its bound arguments and closure, recursively;
- numbers, strings, tuples, dicts: their values.

Two runs of a build resume each other only when every source has the same identity (and the
same settings): a rerun with other files, changed files or other parameters starts over instead
of reusing the spill files of the earlier run. A source that cannot be identified (an object
that neither pickles nor is made of the kinds above) has no identity: a build with one is never
resumed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import types
from pathlib import Path

import numpy as np

__all__ = ["UNKNOWN", "describe", "source_identity"]

#: The identity of a source that cannot be identified (never equal to a saved one).
UNKNOWN = "unknown"
_MAX_DEPTH = 12


class _Unidentifiable(Exception):
    pass


def _feed(h, obj, depth: int, seen: set[int]) -> None:  # noqa: C901 - one branch per kind, flat
    if depth > _MAX_DEPTH:
        raise _Unidentifiable("nested too deep")
    kind = type(obj)
    h.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if obj is None or isinstance(obj, (bool, int, float, complex, bytes)):
        h.update(repr(obj).encode())
    elif isinstance(obj, str):
        h.update(obj.encode())
        if os.path.isfile(obj):  # a path given as a string: the file's identity too
            _feed_file(h, Path(obj))
    elif isinstance(obj, os.PathLike):
        path = Path(os.fspath(obj))
        h.update(str(path).encode())
        _feed_file(h, path)
    elif isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).data.cast("B"))
    elif kind.__module__ == "torch" and hasattr(obj, "detach"):  # a tensor (Gaussians' fields)
        _feed(h, obj.detach().cpu().numpy(), depth + 1, seen)
    elif isinstance(obj, np.generic):
        h.update(obj.tobytes())
    elif isinstance(obj, (tuple, list)):
        h.update(str(len(obj)).encode())
        for item in obj:
            _feed(h, item, depth + 1, seen)
    elif isinstance(obj, dict):
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _feed(h, obj[key], depth + 1, seen)
    elif id(obj) in seen:
        h.update(b"<cycle>")
    elif isinstance(obj, functools.partial):
        seen.add(id(obj))
        _feed(h, (obj.func, obj.args, obj.keywords), depth + 1, seen)
    elif isinstance(obj, types.FunctionType):
        seen.add(id(obj))
        _feed_function(h, obj, depth, seen)
    elif isinstance(obj, (types.BuiltinFunctionType, type)):
        h.update(f"{getattr(obj, '__module__', '')}.{obj.__qualname__}".encode())
    elif isinstance(obj, types.MethodType):
        seen.add(id(obj))
        _feed(h, (obj.__func__, obj.__self__), depth + 1, seen)
    elif dataclasses.is_dataclass(obj):
        seen.add(id(obj))
        for f in dataclasses.fields(obj):
            h.update(f.name.encode())
            _feed(h, getattr(obj, f.name), depth + 1, seen)
    else:
        seen.add(id(obj))
        try:
            h.update(pickle.dumps(obj, protocol=4))
        except Exception as exc:  # noqa: BLE001 - anything unpicklable has no identity
            raise _Unidentifiable(f"{kind.__qualname__} does not pickle ({exc})") from None


def _feed_file(h, path: Path) -> None:
    try:
        st = path.stat()
    except OSError:
        h.update(b"<missing>")
        return
    h.update(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())


def _feed_function(h, fn: types.FunctionType, depth: int, seen: set[int]) -> None:
    h.update(f"{fn.__module__}.{fn.__qualname__}".encode())
    if fn.__name__ == "<lambda>" or "<locals>" in fn.__qualname__:
        code = fn.__code__
        h.update(code.co_code)
        _feed(h, tuple(c for c in code.co_consts if not isinstance(c, types.CodeType)), depth + 1, seen)
        _feed(h, code.co_names, depth + 1, seen)
        _feed(h, [c.cell_contents for c in fn.__closure__ or ()], depth + 1, seen)
    _feed(h, (fn.__defaults__, fn.__kwdefaults__), depth + 1, seen)


def source_identity(source) -> str:
    """A digest of what `source` (Gaussians or a callable returning them) produces its splats from.

    Args:
        source: one source of a build.

    Returns:
        A hex digest, or `UNKNOWN` when the source cannot be identified.

    Example:
        >>> from functools import partial
        >>> source_identity(partial(max, 1, 2)) == source_identity(partial(max, 1, 2))
        True
        >>> source_identity(partial(max, 1, 2)) == source_identity(partial(max, 1, 3))
        False
    """
    h = hashlib.blake2b(digest_size=16)
    try:
        _feed(h, source, 0, set())
    except _Unidentifiable:
        return UNKNOWN
    return h.hexdigest()


def describe(source) -> str:
    """A short human name for `source`, for messages: the files it reads, or its function's name."""
    if isinstance(source, functools.partial):
        files = [os.path.basename(os.fspath(a)) for a in source.args if isinstance(a, (str, os.PathLike))
                 and not isinstance(a, str) or (isinstance(a, str) and os.path.isfile(a))]
        name = getattr(source.func, "__name__", type(source.func).__name__)
        return f"{name}({', '.join(files)})" if files else name
    return getattr(source, "__name__", type(source).__name__)

"""Numba's on-disk cache of earth3d's kernels, invalidated by any change to earth3d's source.

Numba checks only the file of the function it caches: a kernel that calls a kernel of
another module (compiled into it) would load stale machine code after that other module
changed, for instance in an editable install after a pull, and give silently wrong
results. earth3d's kernels are therefore cached with a freshness stamp of the whole
package (every source file's path, size and modification time) in place of their own
file's: when any file changes, every earth3d kernel compiles afresh once. Where the
kernels are cached is numba's choice as usual ($NUMBA_CACHE_DIR, else beside the
source, else the user's cache folder); other packages' kernels are not touched.

`install()` runs when earth3d is imported, before any kernel is defined.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent

__all__ = ["install", "package_stamp"]


def package_stamp(root: str | os.PathLike = PACKAGE_ROOT) -> str:
    """A digest of the path, size and modification time of every Python file under `root`.

    Args:
        root: The folder whose sources are stamped.

    Returns:
        A hex digest that changes when any of those files is added, removed or modified.

    Example:
        >>> len(package_stamp())
        40
    """
    digest = hashlib.sha1()
    base = Path(root)
    for folder, dirs, files in os.walk(base):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(folder) / name
                st = path.stat()
                digest.update(f"{path.relative_to(base)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _stamp() -> str:
    return package_stamp()


def _inside_package(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(PACKAGE_ROOT)
    except OSError:
        return False


def _stamped(locator: type) -> type:
    """A subclass of numba cache locator `locator` for earth3d's files, stamped by the whole package."""

    class Stamped(locator):
        @classmethod
        def from_function(cls, py_func, py_file):
            return super().from_function(py_func, py_file) if _inside_package(py_file) else None

        def get_source_stamp(self):
            return _stamp()

    Stamped.__name__ = Stamped.__qualname__ = f"Earth3d{locator.__name__}"
    return Stamped


def install() -> None:
    """Put package-stamped locators ahead of numba's own (once; a no-op where numba lacks them)."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    classes: list = caching.CacheImpl._locator_classes
    if any(c.__name__.startswith("Earth3d") for c in classes):
        return
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    ours = [_stamped(getattr(caching, n)) for n in names if hasattr(caching, n)]
    classes[:0] = ours

"""earth3d's numba kernels are cached with a stamp of the whole package, so a change to any
source file (a kernel compiled into another module's kernel) invalidates every cached kernel."""

from __future__ import annotations

import os
import subprocess
import sys

from earth3d._numba_cache import package_stamp


def test_stamp_follows_every_source_file(tmp_path):
    (tmp_path / "sub").mkdir()
    a, b = tmp_path / "a.py", tmp_path / "sub" / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not a source")
    first = package_stamp(tmp_path)
    assert package_stamp(tmp_path) == first
    (tmp_path / "notes.txt").write_text("still not a source, longer")
    assert package_stamp(tmp_path) == first
    b.write_text("y = 20\n")  # another size
    second = package_stamp(tmp_path)
    assert second != first
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 1_000_000))  # same size, touched
    third = package_stamp(tmp_path)
    assert third != second
    (tmp_path / "sub" / "c.py").write_text("")
    assert package_stamp(tmp_path) != third


def test_kernels_use_the_package_stamp(tmp_path):
    """In a fresh process (its own cache folder): earth3d's kernels are located by the stamped
    locators and carry the package's stamp; a kernel of another module keeps numba's own."""
    (tmp_path / "other_kernels.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    script = """
import importlib
from numba.core import caching
import earth3d
from earth3d._numba_cache import _stamp
from earth3d.synth import basins, kernel
import other_kernels
for d in (kernel.render, basins._route):
    loc = d._cache._impl.locator
    assert type(loc).__name__.startswith("Earth3d"), type(loc)
    assert loc.get_source_stamp() == _stamp()
assert not type(other_kernels.twice._cache._impl.locator).__name__.startswith("Earth3d")
assert other_kernels.twice(21) == 42
importlib.reload(earth3d)  # installing twice adds nothing
assert sum(c.__name__.startswith("Earth3d") for c in caching.CacheImpl._locator_classes) == 3
print("ok")
"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]

"""Building a store as one output: checked before the work starts, put in place only when complete.

`build_store` wraps `earth3d.store.build` with the output policy of `earth3d.atomic.check_output`
for a folder, plus one rule of its own: an existing folder is replaced only when it is an earth3d
store (it holds store.json), never an unrelated folder. A local build goes to a hidden sibling
work folder that is renamed over the old store at the end; an fsspec URL is built in place (a store
there is complete once its store.json is written). `build_nested_store` synthesizes the nested
levels of a world around one place, lifts them and builds one store from them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence, cast

from ..atomic import check_output
from ..errors import OutputError, OutputExistsError
from ..lifting import lift
from ..raster import GeoRaster
from ..store import Store, open_store
from ..store import build_store as store_build
from ..store.fs import Location, is_local, location
from ..store.lock import output_lock
from .levels import DEMO_LEVELS, FEATHER_CELLS, Level, nested_rasters
from .report import Report


def check_store_output(out: str | os.PathLike, overwrite: bool, *, flag: str = "overwrite=True") -> Location:
    """Check, before any work, that a store may be written at `out` (a folder or an fsspec URL).

    Args:
        out: the store folder or URL.
        overwrite: whether an existing store there may be replaced.
        flag: how the caller spells the overwrite option, for the message (`--overwrite` on the
            command line).

    Returns:
        The location (a Path for a local folder, else a UPath).

    Raises:
        OutputExistsError: a store is there and `overwrite` is not set.
        OutputError: something other than an earth3d store is there (a file, or a folder without
            store.json): it is never replaced.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "world.e3d"
        >>> check_store_output(out, overwrite=False) == out
        True
    """
    where = location(out)
    if is_local(where):
        assert isinstance(where, Path)
        check_output(where, overwrite, folder=True, flag=flag)
        if where.exists() and not (where / "store.json").is_file():
            raise OutputError(f"{where}: exists and is not an earth3d store (no store.json); refusing to replace it")
    elif (where / "store.json").is_file() and not overwrite:
        raise OutputExistsError(f"{where}: already exists (pass {flag} to replace it)")
    return where


def build_store(sources: Sequence, out: str | os.PathLike, *, overwrite: bool = False, leaf_cap: int = 32768,
                workers: int = 1, scheduler: str | None = None, report: Report | None = None) -> Store:
    """Build a store from splat sources at `out`, replacing an old store only once the new one is complete.

    Args:
        sources: Gaussians, or callables returning them (lifted lazily, on Dask workers when distributed).
        out: the store folder or fsspec URL.
        overwrite: replace an existing store there (a folder that is not a store is never replaced).
        leaf_cap: most splats in a leaf chunk.
        workers: processes of a local Dask cluster (1: in this process).
        scheduler: address of a running Dask scheduler to build on instead.
        report: progress ("build store" stage, progress bars unless quiet); silent by default.

    Returns:
        The built store, open for reading.

    Raises:
        OutputExistsError: a store is there and `overwrite` is not set.
        OutputError: something other than a store is there.

    Example:
        >>> import earth3d                                              # doctest: +SKIP
        >>> store = build_store([earth3d.lift(raster)], "world.e3d", overwrite=True)  # doctest: +SKIP
    """
    report = report or Report(quiet=True)
    where = check_store_output(out, overwrite)
    with report.stage("build store"):
        if is_local(where):
            assert isinstance(where, Path)
            work = where.with_name(f".{where.name}.building")
            with output_lock(where):  # one writer: a second build into `out` is refused while this one runs
                _recover(where)
                check_store_output(out, overwrite)
                store_build(sources, work, leaf_cap=leaf_cap, workers=workers, scheduler=scheduler,
                            progress=not report.quiet, restart=overwrite, on_change="restart")
                _finish_store(work, where)
        else:
            store_build(sources, cast(os.PathLike, where), leaf_cap=leaf_cap, workers=workers, scheduler=scheduler,
                        progress=not report.quiet, restart=overwrite, on_change="restart")
    return open_store(cast(os.PathLike, where))  # a UPath is a path-like the store layer opens


def _recover(out: Path) -> None:
    """Undo a build killed between the two renames of `_finish_store`: put the old store back."""
    old = out.with_name(f".{out.name}.old")
    if old.exists():
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(out)


def _finish_store(work: Path, out: Path) -> None:
    """Put a finished build in place of `out` (an old store is removed only after the new one is complete)."""
    old = out.with_name(f".{out.name}.old")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    work.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def build_nested_store(generator, lon: float, lat: float, store_path: str | os.PathLike,
                       levels: Sequence[Level] = DEMO_LEVELS, *, leaf_cap: int = 8192, workers: int = 1,
                       overwrite: bool = False, report: Report | None = None,
                       feather: float = FEATHER_CELLS) -> tuple[Store, list[GeoRaster]]:
    """Synthesize nested rasters around (lon, lat), lift them and build one store.

    Each finer level fades in along its border (see `nested_rasters`); to choose the extents a
    camera path needs, pass the levels through `earth3d.scenarios.descent.descent_levels` first.

    Args:
        generator: any world source with `generate(bbox=, resolution_m=) -> GeoRaster`.
        lon: target longitude, degrees.
        lat: target latitude, degrees.
        store_path: the store folder or fsspec URL.
        levels: the nesting, coarse to fine (`DEMO_LEVELS`, `QUICK_LEVELS` or your own `Level`s; the
            demo passes them through `descent_levels`).
        leaf_cap: most splats in a leaf chunk.
        workers: processes of a local Dask cluster building the store (1: in this process).
        overwrite: replace an existing store at `store_path`.
        report: progress; silent by default.
        feather: width of each finer level's fade-in band, in cells of the coarser level (0: none).

    Returns:
        (the store, the rasters coarse to fine).

    Raises:
        OutputExistsError: a store is there and `overwrite` is not set (checked before synthesis).
        OutputError: something other than a store is there.

    Example:
        >>> from earth3d.synth import ProceduralWorld                   # doctest: +SKIP
        >>> world = ProceduralWorld(0)  # doctest: +SKIP
        >>> lon, lat = world.find_city()  # doctest: +SKIP
        >>> store, rasters = build_nested_store(world, lon, lat, "world.e3d", QUICK_LEVELS)  # doctest: +SKIP
    """
    report = report or Report(quiet=True)
    check_store_output(store_path, overwrite)
    rasters = nested_rasters(generator, lon, lat, levels, report, feather=feather)
    store = build_lifted_store(rasters, store_path, leaf_cap=leaf_cap, workers=workers, overwrite=overwrite,
                               report=report)
    return store, rasters


def build_lifted_store(rasters: Sequence[GeoRaster], store_path: str | os.PathLike, *, leaf_cap: int = 8192,
                       workers: int = 1, overwrite: bool = False, report: Report | None = None) -> Store:
    """Lift rasters (`earth3d.lift`, one stage of `report`) and build one store of their splats.

    The second half of `build_nested_store`, for rasters prepared another way (the demo adds its
    `street_detail` raster to the nested ones first).

    Args:
        rasters: the rasters, such as `nested_rasters` returns them.
        store_path: the store folder or fsspec URL.
        leaf_cap: most splats in a leaf chunk.
        workers: processes of a local Dask cluster building the store (1: in this process).
        overwrite: replace an existing store at `store_path`.
        report: progress; silent by default.

    Returns:
        The store.

    Example:
        >>> store = build_lifted_store(rasters, "world.e3d", overwrite=True)  # doctest: +SKIP
    """
    report = report or Report(quiet=True)
    with report.stage("lift"):
        parts = [lift(r) for r in rasters]
    return build_store(parts, store_path, overwrite=overwrite, leaf_cap=leaf_cap, workers=workers, report=report)

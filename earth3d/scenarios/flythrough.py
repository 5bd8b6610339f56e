"""A flythrough to video: render a camera path from a store into an mp4 (and a poster, and PNG frames)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..atomic import check_output
from ..geometry import Camera
from ..renderers import Renderer
from ..store import Store
from ..stream import Stream
from ..video import Mp4Writer, write_png
from .path import render_path
from .report import Report

if TYPE_CHECKING:
    from ..atmosphere import Sky, Sun


def render_flythrough(store: Store, cameras: Sequence[Camera], video: str | os.PathLike, *,
                      poster: tuple[str | os.PathLike, int] | None = None, frames_dir: str | os.PathLike | None = None,
                      fps: float = 24.0, sse: float = 1.0, splat_budget: float | None = 1.0, cache_mb: int = 1024,
                      renderer: Renderer | None = None, atmosphere: "bool | Sky | Sun | None" = False,
                      overwrite: bool = False, report: Report | None = None) -> list[int]:
    """Render `cameras` from a store through a prefetching Stream into an H.264 mp4.

    Args:
        store: the store to fly through.
        cameras: the path (e.g. from `street_descent` or `earth3d.geometry.paths`).
        video: the mp4 to write (it appears only once complete).
        poster: (PNG path, frame index): also write that frame as a PNG.
        frames_dir: also write every frame as `frame_00000.png`, ... into this folder.
        fps: frames per second of the video.
        sse: screen-space error threshold in pixels (a node is drawn once its error is under this).
        splat_budget: most splats per pixel drawn (`Stream`'s `splat_budget_per_pixel`; None: the
            screen-space error alone decides).
        cache_mb: chunk cache budget, MiB.
        renderer: the rasterizer (default: gsplat on CUDA, else the CPU one).
        atmosphere: the sky and aerial perspective drawn over each frame (see `earth3d.render`).
        overwrite: replace existing outputs.
        report: progress ("render" stage and a frame progress bar); silent by default.

    Returns:
        The number of splats drawn per frame.

    Raises:
        OutputExistsError: an output exists and `overwrite` is not set (checked before rendering).
        OutputError: an output path is a folder, or its parent is a file.
        ValueError: `video` does not end in .mp4, or the frames have odd sides.

    Example:
        >>> cameras, street, ground = street_descent(rasters, lon, lat, 120)    # doctest: +SKIP
        >>> splats = render_flythrough(store, cameras, "flythrough.mp4", overwrite=True)  # doctest: +SKIP
    """
    report = report or Report(quiet=True)
    check_output(video, overwrite, flag="overwrite=True")
    if poster is not None:
        check_output(poster[0], overwrite, flag="overwrite=True")
    frames_dir = None if frames_dir is None else Path(frames_dir)
    splats = []
    with Stream(store, cache_bytes=cache_mb * 2**20, sse_threshold_px=sse,
                splat_budget_per_pixel=splat_budget) as stream, report.stage("render"), \
            Mp4Writer(video, fps, overwrite=overwrite) as mp4:
        frames = render_path(stream, cameras, renderer=renderer, atmosphere=atmosphere)
        for frame in report.progress(frames, len(cameras), "frames"):
            rgb = frame.output.rgb
            splats.append(frame.output.n_splats)
            mp4.append(rgb)
            if poster is not None and frame.index == poster[1]:
                write_png(poster[0], rgb, overwrite=overwrite)
            if frames_dir is not None:
                write_png(frames_dir / f"frame_{frame.index:05d}.png", rgb, overwrite=overwrite)
    return splats

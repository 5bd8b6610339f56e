"""`write`: a labelled multi-view dataset of a world or a store, for nerfstudio, COLMAP and segmentation.

The folder (see README "Datasets"):

    images/frame_00000.png        RGB (8-bit)
    depth/frame_00000.png | .npy  metres: 16-bit with `earth3d_depth_scale` metres per unit, or float32
    normals/frame_00000.png       camera-frame normals (OpenCV axes), (n + 1) / 2 * 255
    labels/frame_00000.png        class ids (8-bit; where the renderer gives a label map)
    labels/frame_00000_colour.png the same ids as indexed colour (the class table's colours as palette)
    instances/frame_00000.png     instance ids as 16-bit indices into frame_00000_ids.npy, the view's
                                  int64 ids (0, none, first); a view of more than 65,535 objects:
                                  frame_00000.npy, the int64 ids (where the renderer gives instances)
    transforms.json               nerfstudio (OPENCV camera model, camera-to-world with OpenGL axes)
    sparse/0/                     COLMAP model (PINHOLE cameras, world-to-camera poses, points3D)
    points3D.ply                  the same points for nerfstudio's `ply_file_path`
    georef.json                   the local ENU frame: origin lon/lat/h, CRS, local -> ECEF

The whole folder is written under a hidden temporary name beside `out` and renamed into place
when complete: a failure leaves nothing, and an old dataset is replaced only by a complete one.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Literal, Sequence

import numpy as np

from ..atomic import check_output
from ..errors import InputError, OutputError
from ..geometry import Camera, geodetic_to_ecef
from ..renderers import Renderer, default_renderer
from ..scenarios.report import Report
from .colmap import _pycolmap, write_colmap
from .georef import LocalFrame
from .maps import (
    DRAWN_ALPHA,
    MAX_PNG_DEPTH_SCALE,
    class_palette,
    depth_scale_for,
    encode_depth_png,
    encode_normals,
    index_instances,
    normals_from_depth,
    rgb_to_uint8,
)
from .nerfstudio import transforms
from .png import save_label_pngs, save_png
from .presets import PresetOptions, check_preset, sample_cameras
from .source import DatasetSource, open_source

DepthFormat = Literal["auto", "png", "npy"]


def _check(preset, n_views, width, height, depth_format, max_points, region) -> tuple[float, float, float, float]:
    from ..synth.grid import check_bbox

    check_preset(preset)
    if int(n_views) < 1:
        raise InputError(f"n_views={n_views} must be at least 1")
    if width <= 0 or height <= 0 or width > 16384 or height > 16384:
        raise InputError(f"width={width} height={height}: each must be between 1 and 16384 pixels")
    if depth_format not in ("auto", "png", "npy"):
        raise InputError(f"depth_format={depth_format!r} must be 'auto', 'png' or 'npy'")
    if max_points < 0:
        raise InputError(f"max_points={max_points} must be >= 0")
    try:
        return check_bbox(region)
    except ValueError as exc:
        raise InputError(f"region {region!r}: {exc}") from None


def check_dataset_output(out: str | os.PathLike, overwrite: bool, flag: str = "overwrite=True") -> Path:
    """`out` may be written: absent, or an earth3d dataset (it holds transforms.json) with `overwrite`."""
    out = check_output(out, overwrite, folder=True, flag=flag)
    if out.exists() and any(out.iterdir()) and not (out / "transforms.json").is_file():
        raise OutputError(f"{out}: exists and is not an earth3d dataset (no transforms.json); refusing to replace it")
    return out


def _depth_bound(cameras: Sequence[Camera], bbox, heights: tuple[float, float]) -> float:
    """A bound on the depths the views see: 1.5 x the farthest corner of the region's box (between the
    source's lowest and highest heights) from any camera.
    """
    w, s, e, n = bbox
    lon, lat, h = (a.ravel() for a in np.meshgrid([w, e], [s, n], list(heights), indexing="ij"))
    pts = geodetic_to_ecef(lon, lat, h)
    pos = np.stack([c.position for c in cameras])
    return 1.5 * float(np.linalg.norm(pos[:, None] - pts[None], axis=-1).max())


def _render_view(src: DatasetSource, renderer: Renderer, camera: Camera, sky, maps_kw: dict):
    gaussians = src.stream.select(camera)
    raw = renderer.render(gaussians, camera, (0.0, 0.0, 0.0), **maps_kw)
    rgb = raw.rgb
    if sky is not None:
        from ..atmosphere import apply_atmosphere

        rgb = apply_atmosphere(raw, camera, sky).rgb
    return raw, rgb


#: Threads that encode and write the files of the views.
WRITERS = 4


def _background() -> None:
    """Run this writer thread at a lower priority (Linux: a thread is a task with its own nice
    value), so that encoding fills the cores the renderer leaves idle instead of preempting its
    parallel loops, whose slowest thread sets the frame time.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + 10, 19))
    except (AttributeError, OSError):  # other systems, or not permitted: the caller's priority
        pass


def writer_pool() -> ThreadPoolExecutor:
    """The threads that encode and write the views' files while the next view renders."""
    return ThreadPoolExecutor(WRITERS, initializer=_background)


def _np(t) -> np.ndarray | None:
    return None if t is None else (t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t))


def _to_numpy(raw) -> SimpleNamespace:
    """The maps of a RenderOutput as numpy arrays (None where the renderer gave none)."""
    return SimpleNamespace(depth=_np(raw.depth), alpha=_np(raw.alpha), normal=_np(getattr(raw, "normal", None)),
                           label=_np(getattr(raw, "label", None)), instance=_np(getattr(raw, "instance", None)))


def _write_view(folder: Path, i: int, camera: Camera, raw: SimpleNamespace, rgb: np.ndarray, depth_format: str,
                depth_scale: float) -> dict:
    """Write one view's files (numpy maps, `_to_numpy`); return its transforms.json paths."""
    name = f"frame_{i:05d}"
    paths = {"file_path": f"images/{name}.png"}
    save_png(folder / paths["file_path"], rgb_to_uint8(rgb))
    depth = raw.depth
    drawn = (raw.alpha >= DRAWN_ALPHA) & (depth > 0)
    if depth_format == "png":
        paths["depth_file_path"] = f"depth/{name}.png"
        save_png(folder / paths["depth_file_path"], encode_depth_png(depth, drawn, depth_scale))
    else:
        paths["depth_file_path"] = f"depth/{name}.npy"
        np.save(folder / paths["depth_file_path"], np.where(drawn, depth, 0.0).astype(np.float32))
    normal = raw.normal
    if normal is None:
        normal = normals_from_depth(depth, drawn, camera.fx, camera.fy, camera.cx, camera.cy)
    paths["earth3d_normal_path"] = f"normals/{name}.png"
    save_png(folder / paths["earth3d_normal_path"], encode_normals(normal))
    if raw.label is not None:
        paths["earth3d_label_path"] = f"labels/{name}.png"
        paths["earth3d_label_colour_path"] = f"labels/{name}_colour.png"
        save_label_pngs(folder / paths["earth3d_label_path"], folder / paths["earth3d_label_colour_path"],
                        raw.label, class_palette())
    if raw.instance is not None:
        indexed = index_instances(raw.instance)
        if indexed is None:
            paths["earth3d_instance_path"] = f"instances/{name}.npy"
            np.save(folder / paths["earth3d_instance_path"], np.asarray(raw.instance, np.int64))
        else:
            paths["earth3d_instance_path"] = f"instances/{name}.png"
            paths["earth3d_instance_ids_path"] = f"instances/{name}_ids.npy"
            save_png(folder / paths["earth3d_instance_path"], indexed[0])
            np.save(folder / paths["earth3d_instance_ids_path"], indexed[1])
    return paths


def _write_points(folder: Path, frame: LocalFrame, src: DatasetSource, bbox, cameras, names, max_points: int,
                  seed: int) -> int:
    """COLMAP sparse/0 and points3D.ply from the region's splat centres (at most `max_points`)."""
    g = src.region_splats(bbox) if max_points > 0 else None
    if g is not None and len(g) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(g), max_points, replace=False))
        g = g[keep]
    if g is None or len(g) == 0:
        xyz, rgb = np.zeros((0, 3)), np.zeros((0, 3), np.uint8)
    else:
        xyz = frame.to_local(g.means_ecef())
        rgb = np.clip(np.rint(g.rgb.detach().cpu().numpy() * 255.0), 0, 255).astype(np.uint8)
    write_colmap(folder / "sparse" / "0", frame, cameras, names, xyz, rgb)
    write_ply(folder / "points3D.ply", xyz, rgb)
    return len(xyz)


def write_ply(path: Path, xyz: np.ndarray, rgb: np.ndarray) -> None:
    """A binary PLY point cloud (float x, y, z; uchar red, green, blue)."""
    rec = np.empty(len(xyz), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    rec["xyz"], rec["rgb"] = xyz, rgb
    head = ("ply\nformat binary_little_endian 1.0\n"
            f"element vertex {len(xyz)}\nproperty float x\nproperty float y\nproperty float z\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    path.write_bytes(head.encode() + rec.tobytes())


def _install(work: Path, out: Path) -> None:
    """Rename the finished work folder to `out` (an old dataset is removed only after)."""
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        out.rename(old)
    work.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write(
    source,
    region: Sequence[float],
    preset: str,
    n_views: int,
    width: int,
    height: int,
    out: str | os.PathLike,
    seed: int = 0,
    overwrite: bool = False,
    *,
    options: PresetOptions | None = None,
    resolution_m: float = 30.0,
    renderer: Renderer | None = None,
    atmosphere: bool = False,
    depth_format: DepthFormat = "auto",
    max_points: int = 100_000,
    progress: bool = False,
    cache_mb: int = 512,
    sse: float = 1.0,
) -> Path:
    """Render N views of a sensor preset over a region and write them as a dataset folder.

    Args:
        source: a store (a `Store`, or its folder or URL) or a world (anything with
            `generate(bbox=, resolution_m=)`, e.g. `earth3d.synth.ProceduralWorld(seed)`: the region is
            synthesized at `resolution_m` and built into a small store first).
        region: (west, south, east, north) degrees.
        preset: "satellite", "aerial", "drone", "drone-grid" or "street" (`earth3d.dataset.PRESETS`).
        n_views: number of views (at least 1).
        width: image width, pixels.
        height: image height, pixels.
        out: the dataset folder to write.
        seed: the camera sampling seed.
        overwrite: replace an existing dataset at `out`.
        options: sensor settings (`PresetOptions`).
        resolution_m: cell size a world is synthesized at, metres.
        renderer: the rasterizer (default: `earth3d.renderers.default_renderer()`).
        atmosphere: draw the sky and aerial perspective on the RGB images (sun from `options`).
        depth_format: "png" (16-bit with a scale), "npy" (float32 metres), or "auto" (png unless the
            views are so far that a unit would exceed 10 cm, as from orbit).
        max_points: most splat centres in points3D (a random subset beyond).
        progress: show a progress bar on stderr.
        cache_mb: chunk cache, MiB.
        sse: screen-space error threshold of the level-of-detail cut, pixels.

    Returns:
        The dataset folder.

    Raises:
        InputError: an unknown preset, n_views < 1, a bad size, region or option, a region outside the store.
        OutputExistsError: `out` exists and `overwrite` is not set (checked before any work).
        OutputError: `out` is a file or a folder that is not a dataset.

    Example:
        >>> from earth3d.synth import ProceduralWorld                                   # doctest: +SKIP
        >>> write(ProceduralWorld(0), (7.44, 46.94, 7.46, 46.96), "drone", 24, 640, 480, "views")  # doctest: +SKIP
    """
    bbox = _check(preset, n_views, width, height, depth_format, max_points, region)
    options = options or PresetOptions()
    options.check()
    out = check_dataset_output(out, overwrite)
    _pycolmap()  # a missing optional dependency fails before any work
    work = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    report = Report(quiet=not progress)
    renderer = renderer or default_renderer()
    maps_kw = {"maps": True} if "maps" in inspect.signature(renderer.render).parameters else {}
    try:
        for sub in ("images", "depth", "normals", "labels", "instances", "_scratch"):
            (work / sub).mkdir(parents=True)
        with open_source(source, bbox, renderer, work / "_scratch", resolution_m=resolution_m, cache_mb=cache_mb,
                         sse=sse) as src:
            with report.stage("cameras"):
                cameras = sample_cameras(preset, bbox, n_views, width, height, src.ground, seed, options, src.raster)
            lon0, lat0 = 0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3])
            frame = LocalFrame.at(lon0, lat0, float(src.ground(np.array([lon0]), np.array([lat0]))[0]))
            scale = depth_scale_for(_depth_bound(cameras, bbox, src.height_range()))
            fmt = depth_format if depth_format != "auto" else ("png" if scale <= MAX_PNG_DEPTH_SCALE else "npy")
            sky = _sky(options, lon0, lat0, frame.height) if atmosphere else None
            with report.stage("render"), writer_pool() as pool:
                # Files are encoded on writer threads (PNG compression releases the GIL) while the next
                # view renders; at most 2 x WRITERS views wait in memory.
                pending: list[Future] = []
                for i, cam in report.progress(enumerate(cameras), total=len(cameras), desc="views"):
                    raw, rgb = _render_view(src, renderer, cam, sky, maps_kw)
                    pending.append(pool.submit(_write_view, work, i, cam, _to_numpy(raw), rgb.detach().cpu().numpy(),
                                               fmt, scale))
                    if len(pending) > 2 * WRITERS:
                        pending[-2 * WRITERS - 1].result()
                files = [f.result() for f in pending]
            with report.stage("points"):
                names = [Path(f["file_path"]).name for f in files]
                n_points = _write_points(work, frame, src, bbox, cameras, names, max_points, seed)
        shutil.rmtree(work / "_scratch")
        for sub in ("labels", "instances"):
            if not any((work / sub).iterdir()):
                (work / sub).rmdir()
        extra: dict = {"ply_file_path": "points3D.ply", "earth3d_depth_format": fmt,
                 "earth3d_preset": {"name": preset, "seed": seed, "n_views": int(n_views), **vars(options)},
                 "earth3d_points3D": n_points, "earth3d_atmosphere": bool(atmosphere),
                 "earth3d_normals": "camera frame, OpenCV axes (x right, y down, z forward), (n + 1) / 2 * 255"}
        if fmt == "png":
            extra["earth3d_depth_scale"] = scale
        (work / "transforms.json").write_text(json.dumps(transforms(frame, cameras, files, extra), indent=1))
        (work / "georef.json").write_text(json.dumps(frame.georef(bbox), indent=1))
        _install(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report.say(f"wrote {out} ({len(cameras)} views {width}x{height}, {n_points} points3D)")
    return out


def _sky(options: PresetOptions, lon: float, lat: float, ground_m: float):
    from ..atmosphere import Sky
    from ..geometry.sun import Sun

    return Sky(sun=Sun.from_horizon(options.sun_azimuth_deg, options.sun_elevation_deg, lon, lat),
               ground_height_m=ground_m)

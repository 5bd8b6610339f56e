"""Reading a dataset folder back: its images and ECEF cameras (and, on request, its depth maps), its instance maps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..geometry import Camera
from .nerfstudio import cameras_from_transforms


def read(folder: str | os.PathLike, depth: bool = False) -> tuple[list[np.ndarray], list[Camera]] | tuple[
        list[np.ndarray], list[Camera], list[np.ndarray]]:
    """Images (float32 in [0, 1]) and cameras (ECEF) of a dataset written by `earth3d.dataset.write`.

    Args:
        folder: the dataset folder.
        depth: also return the depth maps (float metres, 0 where nothing was drawn).

    Returns:
        (images, cameras), or (images, cameras, depths) with `depth`.

    Raises:
        InputFileError: no readable transforms.json with earth3d's local frame in `folder`.

    Example:
        >>> images, cameras = read("views")                                  # doctest: +SKIP
    """
    import imageio.v3 as iio

    folder = Path(folder)
    path = folder / "transforms.json"
    try:
        meta = json.loads(path.read_text())
        cameras = cameras_from_transforms(meta)
        images = [iio.imread(folder / f["file_path"])[..., :3].astype(np.float32) / 255.0 for f in meta["frames"]]
        if not depth:
            return images, cameras
        depths = []
        for f in meta["frames"]:
            p = folder / f["depth_file_path"]
            d = np.load(p) if p.suffix == ".npy" else iio.imread(p) * float(meta["earth3d_depth_scale"])
            depths.append(np.asarray(d, np.float64))
        return images, cameras, depths
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise InputFileError(f"{path}: not a readable earth3d dataset ({exc})") from exc


def read_instances(folder: str | os.PathLike) -> list[np.ndarray]:
    """The instance maps of a dataset written by `earth3d.dataset.write`: (H, W) int64 ids per view, 0 for none.

    A view's instances are a 16-bit PNG of indices into its own id table (`instances/*_ids.npy`),
    or int64 ids in .npy where it sees more than 65,535 objects (see the dataset folder in README).

    Args:
        folder: the dataset folder.

    Returns:
        One map per view, in the order of transforms.json's frames.

    Raises:
        InputFileError: no readable transforms.json, or a view without an instance map (a renderer
            without labels wrote it) or with an unreadable one.

    Example:
        >>> instances = read_instances("views")                              # doctest: +SKIP
    """
    import imageio.v3 as iio

    folder = Path(folder)
    path = folder / "transforms.json"
    try:
        maps = []
        for f in json.loads(path.read_text())["frames"]:
            p = folder / f["earth3d_instance_path"]
            if p.suffix == ".npy":
                maps.append(np.asarray(np.load(p), np.int64))
            else:
                ids = np.asarray(np.load(folder / f["earth3d_instance_ids_path"]), np.int64)
                maps.append(ids[iio.imread(p)])
        return maps
    except (KeyError, TypeError, ValueError, IndexError, OSError) as exc:
        raise InputFileError(f"{path}: no readable instance maps ({exc})") from exc

"""Reading a dataset folder back: its images and ECEF cameras (and, on request, its depth maps)."""

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

"""A COLMAP sparse model (`sparse/0`) of the dataset's views, written with pycolmap.

Cameras are PINHOLE (fx, fy, cx, cy; COLMAP's pixel centres are at +0.5, as earth3d's), one per
distinct set of intrinsics; images hold the world-to-camera pose (`cam_from_world`: rotation and
translation, COLMAP's OpenCV camera axes) in the dataset's local ENU frame; points3D are splat
centres with their colours (8-bit). Points carry no tracks (no 2D observations): they are a
point cloud to start from, as nerfstudio's and gsplat's COLMAP loaders use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DependencyError
from ..geometry import Camera
from .georef import LocalFrame


def _pycolmap():
    try:
        import pycolmap
    except ImportError as exc:
        raise DependencyError("writing a COLMAP model needs pycolmap: pip install earth3d[dataset]") from exc
    return pycolmap


def write_colmap(folder: str | os.PathLike, frame: LocalFrame, cameras: Sequence[Camera], names: Sequence[str],
                 points_local: np.ndarray, colours: np.ndarray) -> Path:
    """Write cameras, images and points3D (binary) into `folder`.

    Args:
        folder: the model folder (e.g. "<dataset>/sparse/0"); created.
        frame: the local frame of the poses and points.
        cameras: one per image.
        names: image names relative to the images folder (e.g. "frame_00000.png").
        points_local: (N, 3) point positions in the local frame.
        colours: (N, 3) uint8 colours.

    Returns:
        The folder.
    """
    pycolmap = _pycolmap()
    rec = pycolmap.Reconstruction()
    ids: dict[tuple, int] = {}
    for cam in cameras:
        key = (cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy)
        if key not in ids:
            ids[key] = len(ids) + 1
            rec.add_camera_with_trivial_rig(pycolmap.Camera(
                model="PINHOLE", width=cam.width, height=cam.height, params=[cam.fx, cam.fy, cam.cx, cam.cy],
                camera_id=ids[key]))
    for i, (cam, name) in enumerate(zip(cameras, names, strict=True)):
        c2w = frame.camera_to_local(cam)
        rot = c2w[:3, :3].T
        pose = pycolmap.Rigid3d(pycolmap.Rotation3d(rot), -rot @ c2w[:3, 3])
        camera_id = ids[(cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy)]
        rec.add_image_with_trivial_frame(pycolmap.Image(name=name, camera_id=camera_id, image_id=i + 1), pose)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rec.write(str(folder))
    write_points3d_bin(folder / "points3D.bin", points_local, colours)
    return folder


#: A point of COLMAP's points3D.bin without a track: id, xyz, rgb, error, track length (0).
POINT3D = np.dtype([("id", "<u8"), ("xyz", "<f8", 3), ("rgb", "u1", 3), ("error", "<f8"), ("track", "<u8")])


def write_points3d_bin(path: Path, points: np.ndarray, colours: np.ndarray) -> None:
    """COLMAP's binary points3D (ids from 1, error -1: not triangulated), written in one go."""
    rec = np.zeros(len(points), POINT3D)
    rec["id"] = np.arange(1, len(points) + 1)
    rec["xyz"], rec["rgb"], rec["error"] = points, colours, -1.0
    path.write_bytes(np.uint64(len(points)).tobytes() + rec.tobytes())

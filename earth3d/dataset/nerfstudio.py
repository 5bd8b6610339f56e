"""transforms.json in nerfstudio's format (the "nerfstudio-data" parser).

Fields (docs.nerf.studio, "Data conventions" / nerfstudio_dataparser.py): `camera_model`
("OPENCV"), `fl_x`, `fl_y`, `cx`, `cy`, `w`, `h`, the distortion `k1`, `k2`, `p1`, `p2` (0 here),
and `frames`, each with `file_path`, `transform_matrix` (4x4 camera-to-world, OpenGL camera axes:
x right, y up, z back), `depth_file_path` (and `mask_path` where given). Intrinsics shared by all
frames are written once at the top; otherwise per frame. `ply_file_path` names the initial point
cloud. Keys that nerfstudio does not read are prefixed `earth3d_` (the depth scale, the label maps,
the local frame).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..geometry import Camera
from .georef import LocalFrame

#: OpenCV camera axes (x right, y down, z forward) <-> OpenGL's (x right, y up, z back).
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])
INTRINSICS = ("fl_x", "fl_y", "cx", "cy", "w", "h")


def intrinsics(camera: Camera) -> dict:
    """Nerfstudio's pinhole fields of `camera` (no distortion)."""
    return {"fl_x": float(camera.fx), "fl_y": float(camera.fy), "cx": float(camera.cx), "cy": float(camera.cy),
            "w": int(camera.width), "h": int(camera.height)}


def transform_matrix(frame: LocalFrame, camera: Camera) -> np.ndarray:
    """4x4 camera-to-world (local frame) pose with OpenGL camera axes."""
    pose = frame.camera_to_local(camera)
    pose[:3, :3] = pose[:3, :3] @ OPENCV_TO_OPENGL
    return pose


def transforms(frame: LocalFrame, cameras: Sequence[Camera], files: Sequence[dict], extra: dict | None = None) -> dict:
    """The transforms.json document.

    Args:
        frame: the local frame the poses are written in.
        cameras: one per view.
        files: per view, the file paths relative to the dataset folder: "file_path" and optionally
            "depth_file_path", "mask_path" and earth3d's own ("earth3d_label_path", ...).
        extra: more top-level keys (the depth scale, the ply file, ...).

    Returns:
        The JSON-ready dict.
    """
    shared = [intrinsics(c) for c in cameras]
    same = all(s == shared[0] for s in shared)
    meta: dict = {"camera_model": "OPENCV"}
    if same:
        meta.update(shared[0])
        meta.update(k1=0.0, k2=0.0, p1=0.0, p2=0.0)
    frames = []
    for cam, paths, own in zip(cameras, files, shared, strict=True):
        f = dict(paths)
        f["transform_matrix"] = transform_matrix(frame, cam).tolist()
        if not same:
            f.update(own, k1=0.0, k2=0.0, p1=0.0, p2=0.0)
        frames.append(f)
    meta["frames"] = frames
    meta["earth3d_frame"] = "ENU metres at earth3d_origin_ecef (see georef.json)"
    meta["earth3d_origin_ecef"] = [float(v) for v in frame.origin_ecef]
    meta["earth3d_enu_to_ecef"] = frame.enu_to_ecef.tolist()
    meta.update(extra or {})
    return meta


def cameras_from_transforms(meta: dict) -> list[Camera]:
    """The Cameras (ECEF) of a transforms.json document written by `transforms`."""
    frame = LocalFrame(0.0, 0.0, 0.0, np.asarray(meta["earth3d_origin_ecef"], np.float64),
                       np.asarray(meta["earth3d_enu_to_ecef"], np.float64))
    out = []
    for f in meta["frames"]:
        pose = np.asarray(f["transform_matrix"], np.float64).copy()
        pose[:3, :3] = pose[:3, :3] @ OPENCV_TO_OPENGL
        k = {name: f.get(name, meta.get(name)) for name in INTRINSICS}
        out.append(frame.camera_from_local(pose, k["w"], k["h"], k["fl_x"], k["fl_y"], k["cx"], k["cy"]))
    return out

"""Writing rendered frames: PNG images, depth maps and H.264 mp4 videos, all atomically
(`earth3d.atomic`), so an interrupted run never leaves a truncated file where a good one was.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import torch

from .atomic import check_output, replacing, temporary_sibling, write_json_atomic


def to_uint8(image) -> np.ndarray:
    """An (H, W, 3) float image in [0, 1] (numpy or torch) as uint8."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_png(path: str | os.PathLike, image, overwrite: bool = True) -> Path:
    """Write an RGB (H, W, 3) image (float in [0, 1] or uint8) or a 16-bit grey image as PNG."""
    path = check_output(path, overwrite, flag="overwrite=True")
    arr = image if isinstance(image, np.ndarray) and image.dtype in (np.uint8, np.uint16) else to_uint8(image)
    with replacing(path) as tmp:
        iio.imwrite(tmp, arr, extension=".png")
    return path


def write_depth(path: str | os.PathLike, depth, alpha=None, overwrite: bool = True) -> Path:
    """Write a depth map: `.npy` keeps float32 metres (0 where nothing was drawn); `.png` stores
    16-bit grey scaled to the drawn range, near bright and far dark, with 0 for empty pixels.
    """
    path = Path(path)
    if isinstance(depth, torch.Tensor):
        depth = depth.detach().cpu().numpy()
    depth = np.asarray(depth, dtype=np.float32)
    drawn = depth > 0 if alpha is None else (np.asarray(alpha) > 1e-3) & (depth > 0)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        path = check_output(path, overwrite, flag="overwrite=True")
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.save(f, np.where(drawn, depth, 0.0).astype(np.float32))
        return path
    if suffix != ".png":
        raise ValueError(f"depth output {path} must end in .png or .npy")
    grey = np.zeros(depth.shape, dtype=np.uint16)
    if drawn.any():
        # Log scale: street-level scenes span centimetres to the horizon.
        logd = np.log(np.where(drawn, depth, 1.0))
        lo, hi = logd[drawn].min(), logd[drawn].max()
        scaled = 1.0 - (logd - lo) / max(hi - lo, 1e-6)
        grey[drawn] = (1 + scaled[drawn] * 65534).astype(np.uint16)
    return write_png(path, grey, overwrite=overwrite)


def write_json(path: str | os.PathLike, obj, overwrite: bool = True) -> Path:
    """Write `obj` as indented JSON."""
    path = check_output(path, overwrite, flag="overwrite=True")
    write_json_atomic(path, obj)
    return path


class Mp4Writer:
    """H.264 (libx264, yuv420p) mp4 written frame by frame; the file appears only on `close()`.

    Use as a context manager; on an exception the partial file is removed.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 24.0, quality: int = 8, overwrite: bool = False):
        self.path = check_output(path, overwrite, flag="overwrite=True")
        if self.path.suffix.lower() != ".mp4":
            raise ValueError(f"video output {self.path} must end in .mp4")
        if not (fps > 0):
            raise ValueError(f"fps={fps} must be positive")
        self._tmp = temporary_sibling(self.path)
        self._fps, self._quality = float(fps), quality
        # imageio-ffmpeg's frame writer, started by the first frame (it needs the size)
        self._encoder: Generator[None, np.ndarray | None, None] | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def append(self, image) -> None:
        """Add one (H, W, 3) frame; every frame must have the size of the first, with even sides."""
        frame = to_uint8(image)
        size = frame.shape[:2]
        if self._encoder is None or self._size is None:
            if size[0] % 2 or size[1] % 2:
                raise ValueError(f"video frames must have even width and height, got {size[1]}x{size[0]}")
            self._size = size
            self._encoder = encoder = imageio_ffmpeg.write_frames(
                str(self._tmp), (size[1], size[0]), fps=self._fps, codec="libx264", quality=self._quality,
                pix_fmt_out="yuv420p", macro_block_size=2, ffmpeg_log_level="error",
                output_params=["-f", "mp4"],  # the temporary name has no .mp4 for ffmpeg to go by
            )
            encoder.send(None)
        else:
            encoder = self._encoder
            if size != self._size:
                raise ValueError(f"video frame {self.frames} is {size[1]}x{size[0]}, expected "
                                 f"{self._size[1]}x{self._size[0]}")
        encoder.send(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> Path:
        if self._encoder is None:
            raise ValueError(f"no frames were written to {self.path}")
        self._encoder.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            if self._encoder is not None:
                self._encoder.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

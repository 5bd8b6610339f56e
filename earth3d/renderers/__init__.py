"""Renderers: the `Renderer` protocol, the CPU tile rasterizer and the gsplat (CUDA) backend."""

from __future__ import annotations

import torch

from .base import Renderer, RenderOutput
from .cpu import CpuRenderer
from .gsplat_backend import GsplatRenderer


def default_renderer(antialiased: bool = True) -> Renderer:
    """GsplatRenderer when a CUDA device is present and gsplat is installed, else CpuRenderer.

    Args:
        antialiased: gsplat's antialiased mode (opacity compensation of the low-pass filter).

    Returns:
        The renderer.
    """
    has_cuda = torch.cuda.is_available() and torch.cuda.device_count() > 0
    if has_cuda:
        try:
            import gsplat  # noqa: F401
        except ImportError:
            return CpuRenderer(antialiased=antialiased)
        return GsplatRenderer(antialiased=antialiased)
    return CpuRenderer(antialiased=antialiased)


__all__ = ["CpuRenderer", "GsplatRenderer", "RenderOutput", "Renderer", "default_renderer"]

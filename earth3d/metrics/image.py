"""Statistics of orthophotos: colour histograms and the spectral slope of luminance."""

from __future__ import annotations

import numpy as np

from .terrain import Spectrum, power_spectrum

LUMA = np.array([0.2126, 0.7152, 0.0722])


def _rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB, got shape {img.shape}")
    return img


def colour_histograms(image: np.ndarray, bins: int = 32, valid: np.ndarray | None = None) -> np.ndarray:
    """Normalised per-channel histograms (3, bins) of an RGB image in [0, 1]."""
    img = _rgb(image)
    px = img.reshape(-1, 3) if valid is None else img[np.asarray(valid, bool)]
    if px.size == 0:
        raise ValueError("image has no valid pixels")
    hist = np.stack([np.histogram(px[:, c], bins=bins, range=(0.0, 1.0))[0] for c in range(3)]).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def luminance(image: np.ndarray) -> np.ndarray:
    return _rgb(image) @ LUMA


def image_spectrum(image: np.ndarray, pixel_size: float = 1.0) -> Spectrum:
    """Radially averaged power spectrum of the luminance and its log-log slope (natural images: about 2)."""
    return power_spectrum(luminance(image), pixel_size)

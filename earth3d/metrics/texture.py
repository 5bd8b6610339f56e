"""Texture and colour statistics of orthophotos, to compare generated land cover with real imagery.

`texture_stats` measures one RGB image (values in [0, 1]) at its own pixel size:
per-channel mean and standard deviation, the log-log slope of the luminance power
spectrum, the luminance gradient magnitude (median, 95th percentile, kurtosis), the
entropy of gradient orientations and the fraction of near-uniform pixels (5 x 5
local standard deviation of luminance under 0.01). `wasserstein_1d` is the
earth mover's distance between two samples of one channel. `stat_range` spans the
statistics of several real images (or crops of one), widened by a margin, and
`outside` lists the statistics of a generated image that fall out of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from ..errors import InputError
from .terrain import power_spectrum

LUMA = np.array([0.2126, 0.7152, 0.0722])
UNIFORM_STD = 0.01  # a pixel is near-uniform when the 5 x 5 std of luminance around it is below this
ORIENTATION_BINS = 18
# Names of the scalar statistics of texture_stats, in print order.
STATS = ("mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b", "spectral_slope",
         "grad_median", "grad_p95", "grad_kurtosis", "orient_entropy", "uniform_frac")


def _check_rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"image must be (H, W, 3) RGB, got shape {img.shape}")
    if min(img.shape[:2]) < 16:
        raise InputError(f"image of {img.shape[0]} x {img.shape[1]} px is too small for texture statistics (>= 16 px)")
    if not np.isfinite(img).all():
        raise InputError("image has NaN or infinite values: crop it to its valid part first")
    return img


def _box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over the (2r+1)^2 window of each interior pixel (valid part only: shape shrinks by 2r)."""
    c = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    k = 2 * r + 1
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return s / (k * k)


def local_std(lum: np.ndarray, r: int = 2) -> np.ndarray:
    """Standard deviation of `lum` over the (2r+1) x (2r+1) window of each interior pixel."""
    m = _box_mean(lum, r)
    m2 = _box_mean(lum * lum, r)
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def texture_stats(image: np.ndarray) -> dict[str, float]:
    """The statistics named in STATS of one RGB image in [0, 1] (every pixel valid).

    Gradients are central differences of luminance per pixel (so images are
    compared at the same ground resolution); orientation entropy is in bits over
    ORIENTATION_BINS bins of the gradient direction modulo 180 degrees, weighted by
    magnitude (log2(18) = 4.17 for isotropic texture, lower for aligned edges).

    Args:
        image: (H, W, 3) float RGB, H and W >= 16, no NaN.

    Returns:
        A dict of the STATS names to floats.

    Raises:
        InputError: when the image is not (H, W, 3), too small or has NaNs.

    Example:
        >>> import numpy as np
        >>> s = texture_stats(np.random.default_rng(0).random((64, 64, 3)))
        >>> round(s["mean_r"], 1)
        0.5
    """
    img = _check_rgb(image)
    lum = img @ LUMA
    out: dict[str, float] = {}
    for c, name in enumerate("rgb"):
        out[f"mean_{name}"] = float(img[..., c].mean())
    for c, name in enumerate("rgb"):
        out[f"std_{name}"] = float(img[..., c].std())
    out["spectral_slope"] = power_spectrum(lum, 1.0).beta
    gy = 0.5 * (lum[2:, 1:-1] - lum[:-2, 1:-1])
    gx = 0.5 * (lum[1:-1, 2:] - lum[1:-1, :-2])
    g = np.hypot(gx, gy).ravel()
    out["grad_median"] = float(np.median(g))
    out["grad_p95"] = float(np.percentile(g, 95))
    var = g.var()
    out["grad_kurtosis"] = float(((g - g.mean()) ** 4).mean() / var ** 2) if var > 0 else 0.0
    ang = np.mod(np.arctan2(gy, gx).ravel(), math.pi)
    hist = np.bincount(np.minimum((ang / math.pi * ORIENTATION_BINS).astype(int), ORIENTATION_BINS - 1),
                       weights=g, minlength=ORIENTATION_BINS)
    tot = hist.sum()
    p = hist[hist > 0] / tot if tot > 0 else np.ones(1)
    out["orient_entropy"] = float(-(p * np.log2(p)).sum())
    out["uniform_frac"] = float((local_std(lum) < UNIFORM_STD).mean())
    return out


def wasserstein_1d(a: np.ndarray, b: np.ndarray, n: int = 512) -> float:
    """Earth mover's distance between the 1-D distributions of samples a and b (quantile integral)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise InputError("wasserstein_1d needs two non-empty samples")
    q = (np.arange(n) + 0.5) / n
    return float(np.abs(np.quantile(a, q) - np.quantile(b, q)).mean())


def channel_wasserstein(image: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Per-channel Wasserstein distance between two RGB images (or (N, 3) pixel arrays)."""
    a = np.asarray(image, np.float64).reshape(-1, 3)
    b = np.asarray(reference, np.float64).reshape(-1, 3)
    return tuple(wasserstein_1d(a[:, c], b[:, c]) for c in range(3))  # type: ignore[return-value]


def stat_range(samples: Iterable[Mapping[str, float]], widen: float = 0.15) -> dict[str, tuple[float, float]]:
    """(low, high) of each statistic over `samples`, widened by `widen` of the span on each side.

    The margin is `widen` times the span, but never less than `widen` times the
    magnitude of the mid value for a span near zero (one sample, or equal ones).
    """
    rows = list(samples)
    if not rows:
        raise InputError("stat_range needs at least one sample")
    out = {}
    for k in rows[0]:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        lo, hi = float(v.min()), float(v.max())
        pad = widen * max(hi - lo, 0.0)
        if hi - lo < 1e-3 * max(abs(hi), abs(lo), 1e-9):
            pad = widen * max(abs(0.5 * (lo + hi)), 1e-3)
        out[k] = (lo - pad, hi + pad)
    return out


def outside(stats: Mapping[str, float], ranges: Mapping[str, tuple[float, float]]) -> list[str]:
    """Names of the statistics in `stats` that fall outside `ranges`."""
    return [k for k, (lo, hi) in ranges.items() if k in stats and not lo <= stats[k] <= hi]

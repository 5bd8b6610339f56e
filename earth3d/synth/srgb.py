"""The sRGB transfer functions (IEC 61966-2-1), for mixing colours in linear light.

Generated colours are sRGB-encoded, and a pixel that covers several surfaces sums their light:
its colour is the area-weighted mean of their linear values, encoded. Scalar numba versions for
the kernels, numpy versions for arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _decode_exact(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encode_exact(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.maximum(x, 0.0) ** (1.0 / 2.4) - 0.055)


# Tables of the kernels' versions, linearly interpolated: 4096 steps in the sRGB value, and in the
# square root of the linear one (the encoding is steep near 0, smooth in the square root).
_N = 4096
_DECODE = _decode_exact(np.linspace(0.0, 1.0, _N + 1))
_ENCODE = _encode_exact(np.linspace(0.0, 1.0, _N + 1) ** 2)


@njit(inline="always")
def srgb_to_linear(c):
    """The linear value of one sRGB value, clamped to [0, 1] first (the table, within 1e-6)."""
    t = min(max(c, 0.0), 1.0) * _N
    i = min(int(t), _N - 1)
    return _DECODE[i] + (_DECODE[i + 1] - _DECODE[i]) * (t - i)


@njit(inline="always")
def linear_to_srgb(x):
    """The sRGB value of one linear value, clamped to [0, 1] first (the table, within 1e-5)."""
    t = math.sqrt(min(max(x, 0.0), 1.0)) * _N
    i = min(int(t), _N - 1)
    return _ENCODE[i] + (_ENCODE[i + 1] - _ENCODE[i]) * (t - i)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """The linear values of sRGB values (any shape), clamped to [0, 1] first.

    Example:
        >>> float(to_linear(np.array(1.0)))
        1.0
    """
    return _decode_exact(np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0))


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB values of linear values (any shape), clamped to [0, 1] first.

    Example:
        >>> round(float(to_srgb(to_linear(np.array(0.5)))), 6)
        0.5
    """
    return _encode_exact(np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0))

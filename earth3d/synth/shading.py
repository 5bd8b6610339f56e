"""Baked sun shading (hillshade) of a lon/lat height grid, so nadir orthophotos read as satellite images."""

from __future__ import annotations

import math

import numpy as np

from .grid import M_PER_DEG

SUN_AZIMUTH_DEG = 315.0
SUN_ELEVATION_DEG = 45.0


def hillshade(height: np.ndarray, lats: np.ndarray, dlon: float, dlat: float, strength: float = 0.6) -> np.ndarray:
    """Sun shading relative to flat ground (flat = 1) of the interior of a grid padded by one cell.

    height: (H + 2, W + 2) metres, north row first; lats: (H + 2,) cell-centre latitudes.
    Returns (H, W). The shading is the first-order (linear in the slope) part of
    Lambert's law, softly limited by tanh to 1 +- `strength`: it is odd in the
    slope, so rough detail does not darken a surface on average, and a coarse
    cell's shade stays close to the average shade of the finer cells inside it.
    """
    res_x = dlon * M_PER_DEG * np.cos(np.radians(lats[1:-1]))[:, None]
    res_y = dlat * M_PER_DEG
    dzdx = (height[1:-1, 2:] - height[1:-1, :-2]) / (2.0 * res_x)
    dzdy = (height[:-2, 1:-1] - height[2:, 1:-1]) / (2.0 * res_y)
    az, alt = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
    lx, ly, lz = math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt)
    linear = -(dzdx * lx + dzdy * ly) / lz
    return 1.0 + strength * np.tanh(linear / strength)

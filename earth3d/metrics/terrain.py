"""Geostatistics of elevation models: spectra, semivariogram, slopes, hypsometry, relief.

Every function takes heights (H, W) in metres plus the cell size in metres
(use `cell_size_m` to get it from a GeoRaster in any CRS, geographic included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Geod
from scipy import ndimage

_GEOD = Geod(ellps="WGS84")


def cell_size_m(raster) -> tuple[float, float]:
    """Cell size (dx, dy) in metres of a GeoRaster; geographic CRSs are measured at the raster centre."""
    crs = CRS.from_user_input(raster.crs)
    rx, ry = raster.resolution
    if not crs.is_geographic:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return rx * factor, ry * factor
    left, bottom, right, top = raster.bounds()
    lon, lat = 0.5 * (left + right), 0.5 * (bottom + top)
    _, _, dx = _GEOD.inv(lon - rx / 2, lat, lon + rx / 2, lat)
    _, _, dy = _GEOD.inv(lon, lat - ry / 2, lon, lat + ry / 2)
    return float(dx), float(dy)


def valid_block(raster) -> tuple[np.ndarray, np.ndarray]:
    """Heights and colours of the largest central block of a GeoRaster whose rows and columns are all valid.

    Spectra and variograms need a complete rectangle; nodata borders (rotated
    footprints, the part of a DEM outside its orthophoto) are cut away, and
    scattered holes (under 1 % of the cells) are filled from the nearest valid cell.
    """
    valid = raster.valid & np.isfinite(raster.height)
    if valid.all():
        return raster.height, raster.rgb
    if valid.mean() >= 0.99:
        # scattered holes (a few nodata pixels): fill each from its nearest valid cell
        idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
        return raster.height[idx[0], idx[1]], raster.rgb[idx[0], idx[1]]
    rows, cols = np.flatnonzero(valid.all(axis=1)), np.flatnonzero(valid.all(axis=0))
    if rows.size < 16 or cols.size < 16:
        # no full rows/columns: shrink a central window until it is complete
        h, w = valid.shape
        for f in np.linspace(0.95, 0.2, 16):
            r0, c0 = int(h * (1 - f) / 2), int(w * (1 - f) / 2)
            sl = (slice(r0, h - r0), slice(c0, w - c0))
            if valid[sl].all() and min(h - 2 * r0, w - 2 * c0) >= 16:
                return raster.height[sl], raster.rgb[sl]
        raise ValueError(f"raster {raster.source!r} has no complete block of valid heights of 16 x 16 cells")
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    if not valid[sl].all():
        raise ValueError(f"raster {raster.source!r} has nodata inside its valid area; crop it first")
    return raster.height[sl], raster.rgb[sl]


def _check(height: np.ndarray, min_size: int = 8) -> np.ndarray:
    z = np.asarray(height, dtype=np.float64)
    if z.ndim != 2 or min(z.shape) < min_size:
        raise ValueError(f"heights must be a 2D array at least {min_size}x{min_size}, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("heights contain NaN or infinite values; fill or crop nodata first")
    return z


def detrend_plane(z: np.ndarray) -> np.ndarray:
    """Heights minus their least-squares plane (removes regional tilt before spectral analysis)."""
    h, w = z.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.column_stack([xx.ravel(), yy.ravel(), np.ones(z.size)])
    coef, *_ = np.linalg.lstsq(a, z.ravel(), rcond=None)
    return z - (a @ coef).reshape(h, w)


@dataclass
class Spectrum:
    """Radially averaged power spectrum: wavenumber k (cycles/m), power, and the fitted log-log slope."""

    k: np.ndarray
    power: np.ndarray
    beta: float
    amplitude: float
    band: tuple[float, float]

    def predict(self, k: np.ndarray) -> np.ndarray:
        return self.amplitude * np.asarray(k, dtype=np.float64) ** -self.beta


def power_spectrum(height: np.ndarray, dx: float, dy: float | None = None, band: tuple[float, float] = (4.0, 0.25),
                   n_bins: int = 40) -> Spectrum:
    """Radially averaged 2D power spectrum P(k) ∝ k^-β of a DEM, and β fitted over a mid band.

    The surface is plane-detrended and Hann-windowed (windowed power is rescaled
    to the unwindowed variance). `band` = (shortest wavelength in cells, longest
    wavelength as a fraction of the shorter side): the fit uses wavelengths
    between `band[0]` cells and `band[1]` of the extent, away from the grid
    scale (noise, interpolation) and the domain scale (few samples).
    """
    z = detrend_plane(_check(height))
    dy = dx if dy is None else dy
    h, w = z.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    f = np.fft.fft2(z * win)
    p = (np.abs(f) ** 2) * dx * dy / (h * w) / np.mean(win ** 2)
    ky = np.fft.fftfreq(h, d=dy)
    kx = np.fft.fftfreq(w, d=dx)
    kr = np.hypot(*np.meshgrid(kx, ky))
    kmin = 1.0 / (min(h * dy, w * dx))
    kmax = 0.5 / max(dx, dy)
    edges = np.geomspace(kmin, kmax, n_bins + 1)
    idx = np.digitize(kr.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < n_bins)
    counts = np.bincount(idx[ok], minlength=n_bins)
    sums = np.bincount(idx[ok], weights=p.ravel()[ok], minlength=n_bins)
    keep = counts > 0
    k = np.sqrt(edges[:-1] * edges[1:])[keep]
    power = sums[keep] / counts[keep]
    lo = 1.0 / (band[1] * min(h * dy, w * dx))
    hi = 1.0 / (band[0] * max(dx, dy))
    sel = (k >= lo) & (k <= hi) & (power > 0)
    if sel.sum() < 3:
        raise ValueError(f"too few spectral bins in the fit band for a {h}x{w} grid; use a larger DEM")
    slope, intercept = np.polyfit(np.log(k[sel]), np.log(power[sel]), 1)
    return Spectrum(k=k, power=power, beta=float(-slope), amplitude=float(np.exp(intercept)), band=(lo, hi))


@dataclass
class Variogram:
    """Isotropic semivariogram γ(lag) and the Hurst exponent / fractal dimension fitted at short lags."""

    lags: np.ndarray
    gamma: np.ndarray
    hurst: float
    fractal_dimension: float


def semivariogram(height: np.ndarray, dx: float, dy: float | None = None, n_lags: int = 16,
                  fit_lags: tuple[int, int] = (1, 8)) -> Variogram:
    """Semivariogram along rows and columns at lags 1..2^k cells; γ(h) ∝ h^(2H), D = 3 - H.

    The fit uses lags between `fit_lags` cells (short lags, where the power law holds).
    """
    z = _check(height)
    dy = dx if dy is None else dy
    h, w = z.shape
    steps = np.unique(np.geomspace(1, max(1, min(h, w) // 4), n_lags).astype(int))
    lag_list, gam_list = [], []
    for s in steps:
        gx = 0.5 * np.mean((z[:, s:] - z[:, :-s]) ** 2)
        gy = 0.5 * np.mean((z[s:, :] - z[:-s, :]) ** 2)
        lag_list.append(s * 0.5 * (dx + dy))
        gam_list.append(0.5 * (gx + gy))
    lags, gam = np.array(lag_list), np.array(gam_list)
    sel = (steps >= fit_lags[0]) & (steps <= fit_lags[1]) & (gam > 0)
    if sel.sum() < 2:
        raise ValueError("semivariogram is zero at short lags (flat surface); no fractal dimension")
    slope = np.polyfit(np.log(lags[sel]), np.log(gam[sel]), 1)[0]
    hurst = float(np.clip(slope / 2.0, 0.0, 1.0))
    return Variogram(lags=lags, gamma=gam, hurst=hurst, fractal_dimension=3.0 - hurst)


def slope_degrees(height: np.ndarray, dx: float, dy: float | None = None) -> np.ndarray:
    """Slope angle (degrees) of every cell from central differences in metres."""
    z = np.asarray(height, dtype=np.float64)
    dy = dx if dy is None else dy
    gy, gx = np.gradient(z, dy, dx)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def hypsometric_integral(height: np.ndarray) -> float:
    """(mean - min) / (max - min): near 1 for young uplands, near 0 for old eroded lowlands."""
    z = _check(height, 2)
    lo, hi = z.min(), z.max()
    if hi <= lo:
        raise ValueError("heights are constant; the hypsometric integral is undefined")
    return float((z.mean() - lo) / (hi - lo))


def local_relief(height: np.ndarray, window: int = 11) -> np.ndarray:
    """Max minus min height in a square moving window of `window` cells."""
    z = _check(height, 2)
    return ndimage.maximum_filter(z, size=window) - ndimage.minimum_filter(z, size=window)

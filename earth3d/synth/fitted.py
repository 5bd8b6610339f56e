"""FittedGenerator: new terrain with the statistics of a real exemplar DEM (and its orthophoto).

Fitting measures the exemplar's power spectrum (exponent beta and amplitude,
then the power in every octave band, which also sets the slope distribution)
and its colours by height. Generating is spectral
synthesis on the sphere: octaves of seeded gradient noise (random phases) whose
amplitudes follow the fitted power law, so the result is unbounded, seamless
and deterministic like the procedural world. The octave law is calibrated by
simulation: a patch is synthesised, measured with the same estimator, and the
exponent and amplitude corrected until they match the exemplar.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from affine import Affine
from numba import njit, prange
from pyproj import CRS

from ..metrics.terrain import cell_size_m, power_spectrum, slope_degrees, valid_block
from ..raster.georaster import GeoRaster
from .base import resolve_region
from .grid import EARTH_RADIUS_M, M_PER_DEG, MAX_PIXELS, lattice_for
from .kernel import make_seeds, unit_vector
from .noise import noise, smoothstep, unit
from .shading import hillshade

N_PALETTE = 16


N_OCTAVES = 48


@njit(parallel=True, cache=True)
def _synth(lons, lats, res, hurst, amp, band_gain, top, seed):
    """Sum of noise octaves o with amplitude amp * band_gain[o] * (lambda / top)^hurst, from `top` to one cell."""
    out = np.empty((lats.shape[0], lons.shape[0]))
    for j in prange(lats.shape[0]):
        for i in range(lons.shape[0]):
            x, y, z = unit_vector(lons[i], lats[j])
            lam, total = top, 0.0
            for o in range(N_OCTAVES):
                t = lam / res
                if t <= 0.6:
                    break
                wgt = math.exp(-0.5 / (t * t)) * smoothstep(0.6, 1.1, t)
                f = EARTH_RADIUS_M / lam
                so = seed + np.uint64(o) * np.uint64(0x9E3779B97F4A7C15)
                off = unit(so) * 131.0
                n = noise(x * f + off, y * f - off, z * f + 0.7 * off, so)
                total += amp * band_gain[o] * (lam / top) ** hurst * wgt * n
                lam *= 0.5
            out[j, i] = total
    return out


@dataclass
class FittedModel:
    """What fitting keeps: the spectral law, height and slope statistics, colours by height."""

    beta: float
    amplitude: float
    hurst: float
    octave_amplitude: float
    top_wavelength_m: float
    mean_height: float
    std_height: float
    cell_m: float
    slope_quantiles: np.ndarray
    palette: np.ndarray | None
    band_gain: np.ndarray | None = None


class FittedGenerator:
    """A TileGenerator with the spectral exponent, amplitude, slopes and colours of a real exemplar."""

    def __init__(self, model: FittedModel, seed: int = 0, max_pixels: int = MAX_PIXELS):
        self.model = model
        self.seed = int(seed)
        self.max_pixels = int(max_pixels)
        self._seed = make_seeds(self.seed)[0]

    @classmethod
    def fit(cls, exemplar, ortho=None, seed: int = 0, iterations: int = 3) -> "FittedGenerator":
        """Fit a generator to a real exemplar: its power spectrum (per band), hypsometry and colours.

        Args:
            exemplar: a DEM path or a GeoRaster (which carries its own colours).
            ortho: an orthophoto path, with a DEM path only (adds the colours).
            seed: the seed of the generated detail.
            iterations: calibration rounds of the spectrum.

        Returns:
            The fitted generator, a `TileGenerator`.

        Raises:
            ValueError: `ortho` given with a GeoRaster, or an exemplar of another type.

        Example:
            >>> gen = FittedGenerator.fit("bigtujunga.tif", seed=1)          # doctest: +SKIP
            >>> raster = gen.generate(bbox=(0.0, 0.0, 0.1, 0.1), resolution_m=30)  # doctest: +SKIP
        """
        if isinstance(exemplar, (str, os.PathLike)):
            from ..raster.read import read_raster

            raster = read_raster(exemplar, ortho)
            has_rgb = ortho is not None
        elif isinstance(exemplar, GeoRaster):
            if ortho is not None:
                raise ValueError("pass `ortho` only with a DEM path; a GeoRaster carries its own colours")
            raster, has_rgb = exemplar, True
        else:
            raise ValueError(f"exemplar must be a DEM path or a GeoRaster, got {type(exemplar).__name__}")
        z, rgb = valid_block(raster)
        z = np.asarray(z, dtype=np.float64)
        dx, dy = cell_size_m(raster)
        cell = 0.5 * (dx + dy)
        spec = power_spectrum(z, dx, dy)
        slopes = slope_degrees(z, dx, dy)
        top = cell * max(z.shape)  # no power law is known beyond the exemplar's extent
        model = FittedModel(
            beta=spec.beta, amplitude=spec.amplitude, hurst=min(max((spec.beta - 2.0) / 2.0, 0.0), 1.5),
            octave_amplitude=float(z.std()), top_wavelength_m=top, mean_height=float(z.mean()),
            std_height=float(z.std()), cell_m=cell,
            slope_quantiles=np.percentile(slopes, np.linspace(0, 100, 21)),
            palette=_palette(z, rgb) if has_rgb else None,
        )
        model.band_gain = np.ones(N_OCTAVES)
        gen = cls(model, seed=seed)
        gen._calibrate(spec, iterations)
        return gen

    def _calibrate(self, target, iterations: int) -> None:
        """Correct the octave exponent and amplitude until a synthesised patch measures like the exemplar."""
        m = self.model
        n = 256
        d = n * m.cell_m / M_PER_DEG
        steps = (np.arange(n) + 0.5) * d / n
        patches = [(10.0 + steps, 0.5 * d - steps), (-70.0 + steps, 30.0 - steps), (120.0 + steps, -20.0 - steps)]
        k0 = math.sqrt(target.band[0] * target.band[1])

        def measure():
            zs = [_synth(lo, la, m.cell_m, m.hurst, m.octave_amplitude, m.band_gain, m.top_wavelength_m,
                         self._seed) for lo, la in patches]
            specs = [power_spectrum(z, m.cell_m) for z in zs]
            beta = float(np.mean([s.beta for s in specs]))
            power = float(np.exp(np.mean([np.log(s.predict(k0)) for s in specs])))
            mean_spec = (specs[0].k, np.exp(np.mean([np.log(s.power) for s in specs], axis=0)))
            return beta, power, float(np.mean([z.std() for z in zs])), mean_spec

        def fit_law():
            for _ in range(iterations):
                beta, power, _, _ = measure()
                m.hurst = min(max(m.hurst + 0.5 * (target.beta - beta), 0.0), 1.5)
                m.octave_amplitude *= math.sqrt(target.predict(k0) / power)

        fit_law()
        # per band: scale each octave by the ratio of the exemplar's power to the synthesised
        # power at its wavenumber, so the whole spectrum (and with it the slopes) follows the exemplar
        # (octaves spread over about two octaves of wavenumber: the correction is smoothed over
        # neighbouring bands, limited to a factor of 2, and the finest octaves share the last one)
        log_k, log_p = np.log(target.k), np.log(target.power)
        lam_o = m.top_wavelength_m / 2.0 ** np.arange(N_OCTAVES)
        k_o = np.log(0.7 / lam_o)
        lo, hi = np.log(target.band[0]), np.log(1.0 / (2.0 * m.cell_m))
        inside = (k_o >= lo) & (k_o <= hi)
        for _ in range(iterations):
            got_k, got_p = measure()[3]
            ratio = np.interp(k_o, log_k, log_p) - np.interp(k_o, np.log(got_k), np.log(got_p))
            ratio = np.convolve(np.where(inside, ratio, 0.0), [0.25, 0.5, 0.25], mode="same")
            step = np.clip(np.exp(0.5 * ratio), 0.5, 2.0)
            last = np.flatnonzero(inside)[-1]
            step[last + 1:] = step[last]
            m.band_gain *= np.where(k_o >= lo, step, 1.0)
        fit_law()  # the exponent over the fit band has the last word
        m.std_height = measure()[2]

    def generate(self, region=None, resolution_m: float = 30.0, *, bbox=None, tile=None) -> GeoRaster:
        """New terrain over a bbox or tile key, in EPSG:4326 cells of `resolution_m` (as ProceduralWorld)."""
        box = resolve_region(region, bbox, tile)
        lat = lattice_for(box, resolution_m, self.max_pixels)
        m = self.model
        lons, lats = lat.lons(pad=1), lat.lats(pad=1)
        z = m.mean_height + _synth(lons, lats, lat.res_y_m, m.hurst, m.octave_amplitude, m.band_gain,
                                   m.top_wavelength_m, self._seed)
        shade = hillshade(z, lats, lat.dlon, lat.dlat)
        height = z[1:-1, 1:-1]
        if m.palette is not None:
            q = _normal_cdf((height - m.mean_height) / max(m.std_height, 1e-9))
            pos = np.clip(q * N_PALETTE - 0.5, 0, N_PALETTE - 1)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, N_PALETTE - 1)
            t = (pos - lo)[..., None]
            base = m.palette[lo] * (1 - t) + m.palette[hi] * t
        else:
            base = np.full(height.shape + (3,), 0.45)
        rgb = np.clip(base * shade[..., None], 0.0, 1.0).astype(np.float32)
        return GeoRaster(rgb=rgb, height=height.astype(np.float32), valid=np.ones(height.shape, dtype=bool),
                         transform=Affine(lat.dlon, 0.0, lat.west, 0.0, -lat.dlat, lat.north),
                         crs=CRS.from_epsg(4326), vertical_datum="ellipsoid",
                         source=f"FittedGenerator(beta={m.beta:.2f}, seed={self.seed}) {resolution_m} m/px")


def _palette(z: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Mean colour of each of N_PALETTE height-quantile classes (colour follows elevation: valleys, slopes, peaks)."""
    edges = np.percentile(z, np.linspace(0, 100, N_PALETTE + 1))
    idx = np.clip(np.searchsorted(edges, z.ravel(), side="right") - 1, 0, N_PALETTE - 1)
    px = rgb.reshape(-1, 3).astype(np.float64)
    counts = np.bincount(idx, minlength=N_PALETTE)
    sums = np.stack([np.bincount(idx, weights=px[:, c], minlength=N_PALETTE) for c in range(3)], axis=1)
    pal = sums.astype(np.float64) / np.maximum(counts, 1)[:, None]
    empty = counts == 0
    if empty.any():
        pal[empty] = px.mean(axis=0)
    return pal


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(x)

"""Terrain and image metrics on surfaces with known answers, comparison reports, fitted generators."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from conftest import data_path

from earth3d.metrics import (
    cell_size_m,
    colour_histograms,
    compare,
    hypsometric_integral,
    local_relief,
    plot_compare,
    power_spectrum,
    semivariogram,
    slope_degrees,
)
from earth3d.raster.georaster import GeoRaster
from earth3d.synth import FittedGenerator


def fbm_surface(n: int, beta: float, seed: int = 0) -> np.ndarray:
    """Gaussian random surface with power spectrum exactly proportional to k^-beta (random phases)."""
    rng = np.random.default_rng(seed)
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    k[0, 0] = 1.0
    amp = k ** (-beta / 2.0)
    amp[0, 0] = 0.0
    spec = amp * np.exp(2j * np.pi * rng.random((n, n)))
    return np.real(np.fft.ifft2(spec)) * n


@pytest.mark.parametrize("beta", [2.6, 3.2, 3.8])
def test_power_spectrum_recovers_known_beta(beta):
    z = fbm_surface(256, beta, seed=int(beta * 10))
    spec = power_spectrum(z, dx=10.0)
    assert abs(spec.beta - beta) < 0.15
    assert spec.k.min() > 0 and (spec.power > 0).all()


def test_semivariogram_gives_hurst_of_fbm():
    beta = 3.4  # H = (beta - 2) / 2 = 0.7, D = 2.3
    z = fbm_surface(256, beta, seed=3)
    v = semivariogram(z, dx=5.0)
    assert abs(v.hurst - 0.7) < 0.1
    assert abs(v.fractal_dimension - 2.3) < 0.1
    assert np.all(np.diff(v.gamma[:5]) > 0)


def test_slope_hypsometry_relief_on_a_plane():
    yy, xx = np.mgrid[0:50, 0:60].astype(float)
    z = 0.1 * xx * 10.0  # 10 m cells, gradient 0.1
    s = slope_degrees(z, dx=10.0)
    np.testing.assert_allclose(s, math.degrees(math.atan(0.1)), atol=1e-9)
    assert hypsometric_integral(z) == pytest.approx(0.5)
    assert np.allclose(local_relief(z, window=5)[10:-10, 10:-10], 4 * 1.0)
    with pytest.raises(ValueError, match="constant"):
        hypsometric_integral(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="NaN"):
        power_spectrum(np.full((32, 32), np.nan), 1.0)


def test_cell_size_in_metres_for_geographic_rasters():
    def raster(crs, res, top):
        n = 10
        return GeoRaster(np.zeros((n, n, 3), np.float32), np.zeros((n, n), np.float32), np.ones((n, n), bool),
                         Affine(res, 0, 0, 0, -res, top), crs)

    dx, dy = cell_size_m(raster("EPSG:4326", 0.001, 60.0 + 0.005))
    assert dy == pytest.approx(111.4, rel=0.01)
    assert dx / dy == pytest.approx(math.cos(math.radians(60.0)), rel=0.01)
    assert cell_size_m(raster("EPSG:32611", 30.0, 4e6)) == (30.0, 30.0)


def test_colour_histograms_are_normalised():
    img = np.random.default_rng(0).random((20, 30, 3))
    h = colour_histograms(img, bins=16)
    assert h.shape == (3, 16) and np.allclose(h.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="RGB"):
        colour_histograms(np.zeros((4, 4)))


def test_compare_real_dems_and_plot(tmp_path):
    mountains = data_path("dem", "bigtujunga_utm11_30m.tif")
    plains = data_path("dem", "fort_worth_3arcsec.tif")
    same = compare(str(mountains), str(mountains))
    assert same.beta_difference == 0.0 and same.slope_wasserstein_deg == 0.0
    rep = compare(str(plains), str(mountains))
    assert rep.real.slope_median_deg > 15 > 3 > rep.generated.slope_median_deg
    assert rep.slope_wasserstein_deg > 10
    text = str(rep)
    assert "spectral exponent beta" in text and "Wasserstein" in text
    assert set(rep.as_dict()) >= {"beta_difference", "slope_wasserstein_deg", "generated", "real"}
    png = plot_compare(rep, tmp_path / "cmp.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="PNG"):
        plot_compare(rep, tmp_path / "cmp.jpg")


@pytest.mark.parametrize("name", ["bigtujunga_utm11_30m.tif", "jacksboro_fault_3arcsec.tif"])
def test_fitted_generator_matches_exemplar_beta(name):
    path = data_path("dem", name)
    gen = FittedGenerator.fit(str(path), seed=2)
    m = gen.model
    d = 256 * m.cell_m / 111195.0
    out = gen.generate(bbox=(-40.0, 20.0, -40.0 + d / math.cos(math.radians(20.0)), 20.0 + d), resolution_m=m.cell_m)
    beta = power_spectrum(out.height, m.cell_m).beta
    assert abs(beta - m.beta) <= 0.2, (beta, m.beta)
    # new terrain, not a copy: heights vary around the exemplar's mean
    assert abs(out.height.mean() - m.mean_height) < 3 * m.std_height
    again = gen.generate(bbox=(-40.0, 20.0, -40.0 + d / math.cos(math.radians(20.0)), 20.0 + d),
                         resolution_m=m.cell_m)
    assert np.array_equal(out.height, again.height)


def test_fitted_generator_takes_colours_from_the_orthophoto():
    dem, rgb = data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif")
    gen = FittedGenerator.fit(str(dem), str(rgb), seed=1)
    assert gen.model.palette is not None and gen.model.palette.shape == (16, 3)
    out = gen.generate(bbox=(0.0, 0.0, 0.2, 0.2), resolution_m=230.0)
    assert out.rgb.std() > 0.01
    with pytest.raises(ValueError, match="DEM path or a GeoRaster"):
        FittedGenerator.fit(42)

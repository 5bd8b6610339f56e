"""Compare a generated terrain (and orthophoto) with a real one: one printable report, one figure."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import wasserstein_distance

from ..atomic import replacing
from ..raster.georaster import GeoRaster
from .image import colour_histograms, image_spectrum
from .terrain import (
    cell_size_m,
    hypsometric_integral,
    local_relief,
    power_spectrum,
    semivariogram,
    slope_degrees,
    valid_block,
)


@dataclass
class TerrainStats:
    """Summary statistics of one DEM (and its orthophoto when it has one)."""

    name: str
    cell_m: float
    beta: float
    spectrum_k: np.ndarray = field(repr=False)
    spectrum_power: np.ndarray = field(repr=False)
    fractal_dimension: float
    hurst: float
    slope_median_deg: float
    slope_p90_deg: float
    slopes: np.ndarray = field(repr=False)
    hypsometric_integral: float
    local_relief_median_m: float
    image_beta: float | None = None
    colour_hist: np.ndarray | None = field(default=None, repr=False)


def _as_raster(src) -> GeoRaster:
    if isinstance(src, GeoRaster):
        return src
    if isinstance(src, (str, os.PathLike)):
        from ..raster.read import read_raster

        return read_raster(src)
    raise ValueError(f"expected a GeoRaster or a DEM path, got {type(src).__name__}")


def terrain_stats(src, name: str = "", with_image: bool = True) -> TerrainStats:
    """All terrain statistics of a GeoRaster or DEM path (cell sizes in metres, geographic CRSs handled)."""
    r = _as_raster(src)
    dx, dy = cell_size_m(r)
    z, rgb = valid_block(r)
    spec = power_spectrum(z, dx, dy)
    vario = semivariogram(z, dx, dy)
    slopes = slope_degrees(z, dx, dy).ravel()
    stats = TerrainStats(
        name=name or r.source, cell_m=float(0.5 * (dx + dy)), beta=spec.beta, spectrum_k=spec.k,
        spectrum_power=spec.power, fractal_dimension=vario.fractal_dimension, hurst=vario.hurst,
        slope_median_deg=float(np.median(slopes)), slope_p90_deg=float(np.percentile(slopes, 90)), slopes=slopes,
        hypsometric_integral=hypsometric_integral(z), local_relief_median_m=float(np.median(local_relief(z))),
    )
    if with_image and rgb is not None:
        stats.image_beta = image_spectrum(rgb, 0.5 * (dx + dy)).beta
        stats.colour_hist = colour_histograms(rgb)
    return stats


@dataclass
class CompareReport:
    """Generated vs real: each statistic side by side and the distances between them."""

    generated: TerrainStats
    real: TerrainStats
    beta_difference: float
    fractal_dimension_difference: float
    slope_wasserstein_deg: float
    hypsometric_difference: float
    colour_histogram_l1: float | None

    def as_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("generated", "real")}
        for side in ("generated", "real"):
            s = getattr(self, side)
            out[side] = {k: v for k, v in asdict(s).items() if not isinstance(v, np.ndarray)}
        return out

    def __str__(self) -> str:
        g, r = self.generated, self.real
        rows = [
            ("cell size (m)", g.cell_m, r.cell_m),
            ("spectral exponent beta", g.beta, r.beta),
            ("fractal dimension D", g.fractal_dimension, r.fractal_dimension),
            ("median slope (deg)", g.slope_median_deg, r.slope_median_deg),
            ("90th pct slope (deg)", g.slope_p90_deg, r.slope_p90_deg),
            ("hypsometric integral", g.hypsometric_integral, r.hypsometric_integral),
            ("median local relief (m)", g.local_relief_median_m, r.local_relief_median_m),
        ]
        if g.image_beta is not None and r.image_beta is not None:
            rows.append(("image spectral slope", g.image_beta, r.image_beta))
        lines = [f"{'statistic':<26}{'generated':>12}{'real':>12}", "-" * 50]
        lines += [f"{n:<26}{a:>12.3f}{b:>12.3f}" for n, a, b in rows]
        lines.append("-" * 50)
        lines.append(f"|beta difference|         {self.beta_difference:.3f}")
        lines.append(f"slope Wasserstein (deg)   {self.slope_wasserstein_deg:.3f}")
        if self.colour_histogram_l1 is not None:
            lines.append(f"colour histogram L1       {self.colour_histogram_l1:.3f}")
        return "\n".join(lines)


def compare(generated, real) -> CompareReport:
    """Compare two terrains (GeoRasters or DEM paths); printable, `.as_dict()` for JSON."""
    g = terrain_stats(generated, "generated")
    r = terrain_stats(real, "real")
    colour = None
    if g.colour_hist is not None and r.colour_hist is not None:
        colour = float(np.abs(g.colour_hist - r.colour_hist).sum(axis=1).mean())
    return CompareReport(
        generated=g, real=r, beta_difference=abs(g.beta - r.beta),
        fractal_dimension_difference=abs(g.fractal_dimension - r.fractal_dimension),
        slope_wasserstein_deg=float(wasserstein_distance(g.slopes, r.slopes)),
        hypsometric_difference=abs(g.hypsometric_integral - r.hypsometric_integral),
        colour_histogram_l1=colour,
    )


def plot_compare(report: CompareReport, path: str | os.PathLike) -> Path:
    """PNG with the power spectra (log-log) and the slope distributions of both terrains, side by side."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plot_compare needs matplotlib: pip install 'earth3d[viz]'") from e
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plot_compare writes PNG; {path} does not end in .png")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for s, colour in ((report.generated, "tab:orange"), (report.real, "tab:blue")):
        a.loglog(s.spectrum_k, s.spectrum_power, color=colour, label=f"{s.name}: beta = {s.beta:.2f}")
        b.hist(s.slopes, bins=60, range=(0, 60), density=True, histtype="step", color=colour, lw=1.5,
               label=f"{s.name}: median {s.slope_median_deg:.1f} deg")
    a.set_xlabel("wavenumber (cycles / m)")
    a.set_ylabel("power (m^2 m^2)")
    a.set_title("radially averaged power spectrum")
    a.legend()
    b.set_xlabel("slope (degrees)")
    b.set_ylabel("density")
    b.set_title(f"slopes (Wasserstein {report.slope_wasserstein_deg:.2f} deg)")
    b.legend()
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path

"""Statistics of terrain and imagery, to compare generated worlds with real ones."""

from .compare import CompareReport, TerrainStats, compare, plot_compare, terrain_stats
from .image import colour_histograms, image_spectrum, luminance
from .terrain import (
    Spectrum,
    Variogram,
    cell_size_m,
    detrend_plane,
    hypsometric_integral,
    local_relief,
    power_spectrum,
    semivariogram,
    slope_degrees,
    valid_block,
)
from .texture import channel_wasserstein, stat_range, texture_stats, wasserstein_1d

__all__ = [
    "CompareReport", "TerrainStats", "colour_histograms", "compare", "image_spectrum", "luminance",
    "plot_compare", "terrain_stats",
    "channel_wasserstein", "stat_range", "texture_stats", "wasserstein_1d",
    "Spectrum", "Variogram", "cell_size_m", "detrend_plane", "hypsometric_integral", "local_relief",
    "power_spectrum", "semivariogram", "slope_degrees", "valid_block",
]

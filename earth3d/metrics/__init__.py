"""Statistics of terrain and imagery, to compare generated worlds with real ones."""

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
)

__all__ = [
    "Spectrum", "Variogram", "cell_size_m", "detrend_plane", "hypsometric_integral", "local_relief",
    "power_spectrum", "semivariogram", "slope_degrees",
]

"""The rivers of the procedural world as vector data: chains of level-0 river channels along their
meandering courses (the network hydrology.py draws).
"""

from __future__ import annotations

import numpy as np

from .basins import NS
from .channels import RIVER_MIN_M2, WIDTH_M
from .hydrology import Network
from .meanders import course


class River:
    """A river centreline: lon/lat vertices (degrees) with, at each, the drainage area (m^2), the
    runoff area (m^2: the share of the drainage area whose water reaches the river; smaller where
    it crosses dry land) and the water's width (m, `channels.water_width_m`).
    """

    def __init__(self, lon: np.ndarray, lat: np.ndarray, area_m2: np.ndarray, runoff_m2: np.ndarray):
        self.lon, self.lat, self.area_m2, self.runoff_m2 = lon, lat, area_m2, runoff_m2
        self.width_m = WIDTH_M * np.sqrt(np.sqrt(area_m2 * runoff_m2) / 1e8)  # channels.water_width_m

    def __repr__(self) -> str:
        return (f"River({self.lon.size} vertices, up to {self.area_m2.max() / 1e6:.0f} km^2, "
                f"{self.width_m.max():.0f} m wide)")


def rivers(seeds: np.ndarray, west: float, south: float, east: float, north: float) -> list[River]:
    """The rivers (level-0 channels carrying water) whose nodes lie in the box, as chains of polylines.

    Each chain runs from a source (or the box edge) downstream until it leaves the box, reaches
    the sea, or joins a river already listed (its last vertex is then the junction); neither
    drainage nor runoff area falls along a chain. The vertices follow each river's meandering
    course as the finest rasters draw it.
    """
    net = Network(seeds, west, south, east, north, 1000.0, 0)
    ni, nj = int(net.NI[0]), int(net.NJ[0])
    n = ni * nj
    lon0, lat0 = net.VX[:n, 0], net.VY[:n, 0]
    inside = np.isfinite(lon0) & (lon0 >= west) & (lon0 < east) & (lat0 >= south) & (lat0 < north)
    is_river = inside & (net.RUNOFF[:n] >= RIVER_MIN_M2)  # as channels._is_river
    rec = net.REC
    has_up = np.zeros(n, dtype=bool)
    for c in np.flatnonzero(is_river):
        if rec[c] >= 0:
            has_up[rec[c]] = True
    out: list[River] = []
    seen = np.zeros(n, dtype=bool)
    starts = list(np.flatnonzero(is_river & ~has_up)) + list(np.flatnonzero(is_river & has_up))
    for c in starts:
        if seen[c]:
            continue
        xs, ys, areas, runoff = [net.VX[c, 0]], [net.VY[c, 0]], [net.AREA[c]], [net.RUNOFF[c]]
        while True:
            seen[c] = True
            lon, lat = course(net.VX[c], net.VY[c], net.MEA[c])
            xs.extend(lon)
            ys.extend(lat)
            areas.extend([net.AREA[c]] * len(lon))
            runoff.extend([net.RUNOFF[c]] * len(lon))
            r = rec[c]
            # blocks are flooded apart (basins.py), so where a basin straddles a block border a
            # receiver may carry less area than its donor, or lead back round a cycle: end there
            if (r < 0 or not is_river[r] or seen[r] or net.VX[c, 0] == net.VX[c, NS]
                    or net.AREA[r] < net.AREA[c] or net.RUNOFF[r] < net.RUNOFF[c]):
                break
            c = r
        if len(xs) > 1:
            out.append(River(np.array(xs), np.array(ys), np.array(areas), np.array(runoff)))
    return out

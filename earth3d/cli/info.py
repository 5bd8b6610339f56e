"""`earth3d info`: describe a store (extent, levels, splat counts, size on disk, format version)."""

from __future__ import annotations

import json as json_mod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from ._common import Common, check_input


@dataclass(kw_only=True)
class Info(Common):
    """Describe a store: extent, levels, splat counts, size on disk, format version."""

    store: tyro.conf.Positional[Path]
    """The store folder."""
    json: bool = False
    """Print the description as JSON."""

    def run(self) -> None:
        """Print the store's description (as JSON with --json)."""
        from ..geometry import ecef_to_geodetic
        from ..store import open_store

        check_input(self.store, "store")
        info = open_store(self.store).info()
        extent = info["extent_ecef_m"]
        lo, hi = np.asarray(extent["bmin"], np.float64), np.asarray(extent["bmax"], np.float64)
        lon, lat, h = ecef_to_geodetic(0.5 * (lo + hi))
        info["center_lonlath"] = [round(float(lon), 7), round(float(lat), 7), round(float(h), 2)]
        info["extent_size_m"] = [round(float(v), 2) for v in hi - lo]
        if self.json:
            print(json_mod.dumps(info, indent=2, default=list))
            return
        width = max(len(k) for k in info)
        for key, value in info.items():
            if key == "bytes_on_disk":
                value = f"{value} ({value / 2**20:.2f} MiB)"
            print(f"{key:<{width}}  {value}")

"""The procedural world's own large scales, as a pure function of position (for its fine detail).

`CoarseProcedural(world)` evaluates the ProceduralWorld on fixed 1-degree blocks at
`res_m` (default 8 km). Every block of a 1-degree latitude band has the same lattice
(`lattice_for` depends on the block's centre latitude only), so a band's blocks form one
regular row lattice with its own column spacing; rows are uniform over the globe. Values
between rows and columns are bilinear, so the field depends on position only, never on the
tile asked for; the finer world minus this field is its detail below about `res_m`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..grid import lattice_for


class CoarseProcedural:
    """Height and colour of `world` at about `res_m` cells, sampled at any points."""

    def __init__(self, world, res_m: float = 8000.0, max_blocks: int = 4096):
        self.world = world
        self.res_m = float(res_m)
        self.rows_per_deg = lattice_for((0.0, 0.0, 1.0, 1.0), self.res_m).height
        self.max_blocks = int(max_blocks)
        self._blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cols: dict[int, int] = {}

    def cols_per_deg(self, band: int) -> int:
        """Columns per degree of latitude band `band` (0 is 90 N .. 89 N)."""
        if band not in self._cols:
            self._cols[band] = lattice_for((-180.0, 89.0 - band, -179.0, 90.0 - band), self.res_m).width
        return self._cols[band]

    def block(self, band: int, col: int) -> np.ndarray:
        """(rows, cols, 4) float32 height and rgb of block (band, col); col 0 starts at 180 W."""
        key = (band, col)
        if key in self._blocks:
            self._blocks.move_to_end(key)
            return self._blocks[key]
        west, north = -180.0 + col, 90.0 - band
        g = self.world.generate(bbox=(west, north - 1.0, west + 1.0, north), resolution_m=self.res_m)
        arr = np.concatenate([g.height[..., None], g.rgb], axis=-1).astype(np.float32)
        if arr.shape[:2] != (self.rows_per_deg, self.cols_per_deg(band)):
            raise RuntimeError(f"coarse block {key} has shape {arr.shape[:2]}, expected a fixed lattice")
        self._blocks[key] = arr
        if len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
        return arr

    def _row(self, r: int, lons: np.ndarray) -> np.ndarray:
        """Global row r interpolated along longitude at `lons`: (len(lons), 4)."""
        n = self.rows_per_deg
        band, rr = divmod(r, n)
        w = self.cols_per_deg(band)
        u = (lons + 180.0) * w - 0.5
        c0 = np.floor(u).astype(np.int64)
        f = (u - c0)[:, None]
        c0 %= 360 * w
        c1 = (c0 + 1) % (360 * w)
        blocks = np.unique(np.concatenate([c0 // w, c1 // w]))
        row = np.concatenate([self.block(band, int(b))[rr] for b in blocks], axis=0)
        pos0 = np.searchsorted(blocks, c0 // w) * w + c0 % w
        pos1 = np.searchsorted(blocks, c1 // w) * w + c1 % w
        return row[pos0] * (1.0 - f) + row[pos1] * f

    def sample(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """(len(lats), len(lons), 4) height and rgb at the lattice lats x lons (bilinear)."""
        n = self.rows_per_deg
        t = (90.0 - lats) * n - 0.5
        r0 = np.floor(t).astype(np.int64)
        f = (t - r0)[:, None, None]
        r0c = np.clip(r0, 0, 180 * n - 1)
        r1c = np.clip(r0 + 1, 0, 180 * n - 1)
        uniq = np.unique(np.concatenate([r0c, r1c]))
        rows = np.stack([self._row(int(r), lons) for r in uniq])
        a, b = rows[np.searchsorted(uniq, r0c)], rows[np.searchsorted(uniq, r1c)]
        return (a * (1.0 - f) + b * f).astype(np.float32)

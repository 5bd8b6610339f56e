"""What the land's surface is at a cell: its farmed share and its bare rock (numba, kernel.render's helpers).

Farmland follows climate (grassland and temperate belts, by the moisture and patch noise), not
steep land and not mountains or ice; around cities (periurban.city_zone's ring) whatever the
biome; and around towns, villages and farmsteads (clearings.clearing) on hillsides too, for pasture
and shifting fields, up to slopes a plough or a herd still works. Bare rock shows on steep slopes;
where it is warm and wet enough for forest, roots and growth hold soil on far steeper ground
(tropical and temperate forests stand on 35-45 degree slopes).
"""

from __future__ import annotations

from numba import njit

from .noise import smoothstep


@njit(cache=True)
def farm_share(bw, moist, peri, cleared, slope, mtn, ice):
    """Farmed share (0..1) of a cell.

    Args:
        bw: biome weights (kernel.biome_weights).
        moist: the macro moisture signal that places farm belts (kernel: m[6] + 0.5 m[5]).
        peri: a city's field ring (periurban.city_zone), 0 in the built-up city.
        cleared: the settlements' clearing share (clearings.clearing), 0 in the built-up city.
        slope: the land-cover slope (gradient, m/m).
        mtn: mountain-belt weight.
        ice: ice weight.

    Returns:
        The share of the cell in fields.
    """
    belt = max(1.4 * (bw[5] + 0.6 * bw[4] + 0.4 * bw[7]) * smoothstep(-0.25, 0.05, moist), peri)
    flat = belt * (1.0 - smoothstep(0.08, 0.2, slope))
    hills = cleared * (1.0 - smoothstep(0.3, 0.55, slope))
    return min(max(flat, hills) * (1.0 - mtn) * (1.0 - ice), 1.0)


@njit(cache=True)
def bare_rock(slope, moisture, temperature, land):
    """Share of bare rock of a cell of `slope` (gradient) at a climate (moisture 0..1, temperature C)."""
    veg = smoothstep(0.45, 0.8, moisture) * smoothstep(4.0, 14.0, temperature)
    return smoothstep(0.5 + 0.4 * veg, 0.9 + 0.5 * veg, slope) * land

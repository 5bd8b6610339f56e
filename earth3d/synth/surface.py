"""What the land's surface is at a cell: its farmed share and its bare rock (numba, kernel.render's helpers).

Farmland follows climate (grassland and temperate belts, by the moisture and patch noise), not
steep land and not mountains or ice; around cities (periurban.city_zone's ring) whatever the
biome; and around towns, villages and farmsteads (clearings.clearing) on hillsides too, for pasture
and shifting fields, up to slopes a plough or a herd still works. Bare rock shows on steep slopes;
where it is warm and wet enough for forest, roots and growth hold soil on far steeper ground
(tropical and temperate forests stand on 35-45 degree slopes).

Aspect: a slope facing the equator takes more of the noon sun than one facing the pole, so it is
warmer and, where water is short, drier: the tree line and the snow line lie higher on it, and in
dry climates it opens to grass while the slope facing the pole keeps its forest (the north-facing
woods of the Rockies, the Tian Shan, the Mediterranean).
"""

from __future__ import annotations

from numba import njit

from .noise import smoothstep

# The aspect's effect grows with the gradient toward the pole (in full at ASPECT_SLOPE) and fades
# toward the equator, where the noon sun stands high (in full poleward of ASPECT_LAT_DEG); in full it
# shifts the temperature that the tree and snow lines see, and kernel.render's land-cover patch noise
# in dry climates, by these much.
ASPECT_SLOPE, ASPECT_LAT_DEG, ASPECT_TREE_C, ASPECT_PATCH = 0.3, 15.0, 1.5, 0.5


@njit(cache=True)
def sun_tilt(h_north, h_south, span_m, lat):
    """How much a cell's surface faces the equator, -1 (the pole) to 1, from its heights `span_m` north
    and south of it (m): its rise toward the pole over ASPECT_SLOPE, clamped, faded out toward the equator.
    """
    if span_m <= 0.0:
        return 0.0
    hemi = min(max(lat / ASPECT_LAT_DEG, -1.0), 1.0)  # +1 poleward of ASPECT_LAT_DEG north, -1 south
    return min(max((h_north - h_south) / span_m * hemi / ASPECT_SLOPE, -1.0), 1.0)


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

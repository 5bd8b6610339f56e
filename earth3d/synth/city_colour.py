"""How a city pixel looks: city_pixel's area shares laid over the land's colour (numba).

The city palette (asphalt, kerbs and sidewalks, paved yards, lawns, street trees, yellow lines)
lives here; roofs and cars carry their own colours in city_pixel's output.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import city as C
from .landcover import band_weights, octave_noise
from .noise import NOISE2_STD, lerp

# Asphalt: aged, and about a third of the roofs' brightness (fresh asphalt is darker still: 0.04-0.07
# along the road centrelines of the WorldView-3 tile of Las Vegas, against 0.32-0.38 around them), so
# that from 10-30 m the arterials show as the dark lines real images of cities show.
ROAD_RGB = np.array([0.16, 0.16, 0.17])
WALK_RGB = np.array([0.50, 0.49, 0.47])
PAVED_RGB = np.array([0.42, 0.415, 0.40])
LAWN_RGB = np.array([0.32, 0.40, 0.21])
TREE_RGB = np.array([0.12, 0.21, 0.09])
YELLOW_RGB = np.array([0.85, 0.75, 0.35])


# Texture of the city's surfaces: blotches (octaves of noise of 16 and 8 m: stains, patches, wear),
# mottle (4 and 2 m: patches of wear and dirt) and grain (1 and 0.5 m: gravel, membranes, cracks,
# tufts), each about unit standard deviation at 0.5 m cells and band-limited to the cell size, so
# that coarser cells average the finer ones' (none at 30 m). Real imagery of a city at 0.5 m has
# texture everywhere: without it roofs and streets are flat colours, half a tile's pixels uniform,
# against a few per cent in real tiles. Hard surfaces weathered evenly (membranes, gravel, asphalt,
# slabs) carry most of theirs in the grain; as strong a mottle read as clouds or marble on roofs
# and as camouflage on asphalt. Lawns and crowns have both alike.
CITY_TEX_TOP_M = 16.0
CITY_TEX_MIN_M = 0.5
_BANDS = (6.0, 1.5)  # octaves from the first of these wavelengths down are mottle, from the second grain
_BAND_NORM = 1.0 / math.sqrt(2.0)  # two octaves in each band
# relative contrast of the blotches, the mottle and the grain, per surface
BLOTCH = np.array([0.06, 0.04, 0.08, 0.15, 0.15])  # roof, asphalt, paving, lawn, crowns
MOTTLE = np.array([0.03, 0.04, 0.06, 0.25, 0.21])
GRAIN = np.array([0.12, 0.10, 0.14, 0.25, 0.21])


@njit(cache=True)
def city_texture_weights(res):
    """The band weights of city_texture's octaves at cell size `res` (the same for every pixel of a tile)."""
    return band_weights(res, CITY_TEX_TOP_M, CITY_TEX_MIN_M)


@njit(cache=True)
def city_texture(u, v, weights, seed, out):
    """The texture factors of the five surfaces (BLOTCH, MOTTLE, GRAIN) at (u, v) metres of the city
    frame into out (5,); `weights` = city_texture_weights(res).

    The octaves of landcover.band_texture (the same noise, seeds and band weights), summed in three bands.
    """
    blotch, mottle, grain = 0.0, 0.0, 0.0
    lam = CITY_TEX_TOP_M
    for o in range(weights.shape[0]):
        val = weights[o] * octave_noise(u, v, lam, o, seed)
        if lam >= _BANDS[0]:
            blotch += val
        elif lam >= _BANDS[1]:
            mottle += val
        else:
            grain += val
        lam *= 0.5
    k_norm = _BAND_NORM / NOISE2_STD
    for k in range(5):
        out[k] = max(1.0 + (BLOTCH[k] * blotch + MOTTLE[k] * mottle + GRAIN[k] * grain) * k_norm, 0.2)
    return out


@njit(cache=True)
def city_colour(cout, nat, urban, tex):
    """Lay city_pixel's output `cout` over the land colour `nat` (3,), in place; return the crowns' height (m).

    On the fringe (`urban`, the built-up share, under 0.5) city_pixel leaves whole blocks as land,
    the streets they own included, and yards turn to the land cover; the streets left are opaque
    down to a share of 0.1, under which they fade out at the city's very edge.
    Where `urban` is 1 only the residential yards (C.YARD_RES) show the land colour: elsewhere the
    result does not depend on `nat` (kernel.render skips the land cover there).
    `tex` (5,): the texture factors (city_texture) of roofs, asphalt, paving, lawns and crowns at the pixel.
    """
    shadow = min(cout[C.SHADOW], 1.0)
    canopy = min(cout[C.CANOPY], 1.0)
    asphalt = max(cout[C.ROAD] + cout[C.LOT] - cout[C.MARK] - cout[C.MARK_Y] - cout[C.CAR_A], 0.0)
    wr = min(10.0 * urban, 1.0)
    paved = cout[C.ROAD] + cout[C.LOT] + cout[C.SIDEWALK_A]
    g_roof, g_asphalt, g_paved, g_lawn, g_tree = tex[0], tex[1], tex[2], tex[3], tex[4]
    for c in range(3):
        street = (asphalt * ROAD_RGB[c] * g_asphalt + cout[C.MARK] * 0.85 + cout[C.MARK_Y] * YELLOW_RGB[c]
                  + cout[C.CAR_A] * cout[C.CAR_R + c] + cout[C.SIDEWALK_A] * WALK_RGB[c] * g_paved)
        col = (wr * street + (1.0 - wr) * paved * nat[c] + cout[C.ROOF_A] * cout[C.ROOF_R + c] * g_roof
               + cout[C.YARD_RES] * lerp(nat[c], LAWN_RGB[c] * g_lawn, 0.6 * urban)
               + cout[C.YARD_COM] * lerp(nat[c], PAVED_RGB[c] * g_paved, urban)
               + cout[C.PARK] * lerp(nat[c], LAWN_RGB[c] * g_lawn, urban))
        col = lerp(col, TREE_RGB[c] * g_tree, canopy)
        nat[c] = col * (1.0 - 0.5 * shadow)
    return cout[C.CANOPY_H] * (1.0 - cout[C.ROOF_A])

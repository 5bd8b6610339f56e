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
from .srgb import linear_to_srgb, srgb_to_linear, to_linear

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


# The palette's constant colours in linear light, and the shadow's: sunlit ground of sRGB 0.45 reads
# half that in a building's shadow (lit by the sky alone: a quarter of the light).
_MARK_LIN = float(to_linear(np.array(0.85)))
_YELLOW_LIN = to_linear(YELLOW_RGB)
SHADOW_LIGHT = float(to_linear(np.array(0.5 * 0.45)) / to_linear(np.array(0.45)))


@njit(cache=True)
def city_colour(cout, nat, urban, tex):
    """Lay city_pixel's output `cout` over the land colour `nat` (3,), in place; return the crowns' height (m).

    The surfaces are mixed by their areas in linear light, as a sensor's pixel sums the light of
    what it sees, and the mix is encoded to sRGB: mixed as sRGB values, a pixel of bright roofs and
    dark asphalt and trees is darker than the light it stands for, more so the coarser it is. Cast
    shadows dim the ground, not the roofs beside it. (Mixed as sRGB values and with the shadows
    dimming whole pixels, a 60 m cell of a city centre held two thirds of the light of its 0.5 m
    cells, and cities were dark discs from 10 km up.)
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
    # Cast shadows fall on the ground first (the shadow share lies outside the buildings that cast it),
    # then on other roofs: dimming the whole pixel would dim its roofs with the ground's shadow.
    roof_a = min(cout[C.ROOF_A], 1.0)
    ground_a = 1.0 - roof_a
    on_ground = min(shadow, ground_a)
    light_ground = 1.0 - (1.0 - SHADOW_LIGHT) * on_ground / ground_a if ground_a > 0.0 else 1.0
    light_roof = 1.0 - (1.0 - SHADOW_LIGHT) * min(shadow - on_ground, roof_a) / roof_a if roof_a > 0.0 else 1.0
    for c in range(3):
        land = srgb_to_linear(nat[c])
        street = cout[C.MARK] * _MARK_LIN + cout[C.MARK_Y] * _YELLOW_LIN[c]
        if asphalt > 0.0:
            street += asphalt * srgb_to_linear(ROAD_RGB[c] * g_asphalt)
        if cout[C.CAR_A] > 0.0:
            street += cout[C.CAR_A] * srgb_to_linear(cout[C.CAR_R + c])
        if cout[C.SIDEWALK_A] > 0.0:
            street += cout[C.SIDEWALK_A] * srgb_to_linear(WALK_RGB[c] * g_paved)
        col = wr * street + (1.0 - wr) * paved * land
        green = cout[C.YARD_RES] + cout[C.PARK]
        if green > 0.0:
            lawn = srgb_to_linear(LAWN_RGB[c] * g_lawn)
            col += cout[C.YARD_RES] * lerp(land, lawn, 0.6 * urban) + cout[C.PARK] * lerp(land, lawn, urban)
        if cout[C.YARD_COM] > 0.0:
            col += cout[C.YARD_COM] * lerp(land, srgb_to_linear(PAVED_RGB[c] * g_paved), urban)
        col *= light_ground
        if roof_a > 0.0:
            col += roof_a * light_roof * srgb_to_linear(cout[C.ROOF_R + c] * g_roof)
        if canopy > 0.0:
            col = lerp(col, light_ground * srgb_to_linear(TREE_RGB[c] * g_tree), canopy)
        nat[c] = linear_to_srgb(col)
    return cout[C.CANOPY_H] * (1.0 - cout[C.ROOF_A])

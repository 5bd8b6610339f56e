"""How a city pixel looks: city_pixel's area shares laid over the land's colour (numba).

The city palette (asphalt, kerbs and sidewalks, paved yards, lawns, street trees, yellow lines)
lives here; roofs and cars carry their own colours in city_pixel's output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import city as C
from .noise import lerp

# Asphalt: aged, and about a third of the roofs' brightness (fresh asphalt is darker still: 0.04-0.07
# along the road centrelines of the WorldView-3 tile of Las Vegas, against 0.32-0.38 around them), so
# that from 10-30 m the arterials show as the dark lines real images of cities show.
ROAD_RGB = np.array([0.16, 0.16, 0.17])
WALK_RGB = np.array([0.50, 0.49, 0.47])
PAVED_RGB = np.array([0.42, 0.415, 0.40])
LAWN_RGB = np.array([0.32, 0.40, 0.21])
TREE_RGB = np.array([0.12, 0.21, 0.09])
YELLOW_RGB = np.array([0.85, 0.75, 0.35])


@njit(cache=True)
def city_colour(cout, nat, urban, tex):
    """Lay city_pixel's output `cout` over the land colour `nat` (3,), in place; return the crowns' height (m).

    On the fringe (`urban`, the built-up share, under 0.5) city_pixel leaves whole blocks as land,
    the streets they own included, and yards turn to the land cover; the streets left are opaque
    down to a share of 0.1, under which they fade out at the city's very edge.
    Where `urban` is 1 only the residential yards (C.YARD_RES) show the land colour: elsewhere the
    result does not depend on `nat` (kernel.render skips the land cover there).
    `tex` is a small colour texture in [-1, 1].
    """
    shadow = min(cout[C.SHADOW], 1.0)
    canopy = min(cout[C.CANOPY], 1.0)
    asphalt = max(cout[C.ROAD] + cout[C.LOT] - cout[C.MARK] - cout[C.MARK_Y] - cout[C.CAR_A], 0.0)
    wr = min(10.0 * urban, 1.0)
    paved = cout[C.ROAD] + cout[C.LOT] + cout[C.SIDEWALK_A]
    for c in range(3):
        street = (asphalt * ROAD_RGB[c] * (1.0 + 0.1 * tex) + cout[C.MARK] * 0.85 + cout[C.MARK_Y] * YELLOW_RGB[c]
                  + cout[C.CAR_A] * cout[C.CAR_R + c] + cout[C.SIDEWALK_A] * WALK_RGB[c])
        col = (wr * street + (1.0 - wr) * paved * nat[c] + cout[C.ROOF_A] * cout[C.ROOF_R + c]
               + cout[C.YARD_RES] * lerp(nat[c], LAWN_RGB[c], 0.6 * urban)
               + cout[C.YARD_COM] * lerp(nat[c], PAVED_RGB[c], urban)
               + cout[C.PARK] * lerp(nat[c], LAWN_RGB[c], urban))
        col = lerp(col, TREE_RGB[c] * (1.0 + 0.2 * tex), canopy)
        nat[c] = col * (1.0 - 0.5 * shadow)
    return cout[C.CANOPY_H] * (1.0 - cout[C.ROOF_A])

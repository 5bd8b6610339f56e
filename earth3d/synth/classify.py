"""The class and instance of one pixel of the procedural world, from the cover fractions the kernel computes.

The kernel paints a pixel's colour in layers, each over the ones before by a fraction
(land cover, then rock, snow and beaches, then the city, then water). The same layers,
applied to a vector of class shares instead of a colour, give the share of the pixel that
each class of `earth3d.classes` covers; the pixel's class is the largest share (numba).
Instances: the building, car or crown covering most of the pixel (city.city_pixel's INST_*
slots) when the class is roof, car or tree; the farmed parcel covering most of it
(landcover.fields) when the class is cropland; else 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import classes as K
from . import city as C
from . import landcover as LC

N_CLASSES = K.N_CLASSES


@njit(cache=True)
def _paint(share, cls, a):
    """Cover a fraction `a` of the pixel with class `cls` over what is there."""
    a = min(max(a, 0.0), 1.0)
    if a == 0.0:  # nothing to cover (the shares stay exactly as they are)
        return
    for k in range(share.shape[0]):
        share[k] *= 1.0 - a
    share[cls] += a


@njit(cache=True)
def pixel_class(buf, bw, ice, rock, snow, beach, city_w, cout, river_f, lake_f, sea_f, sea_ice, share):
    """(class id, instance id) of a pixel.

    Args:
        buf: landcover.cover's buffer (F_* cover fractions, parcel id).
        bw: biome weights (kernel.biome_weights).
        ice: ice-cap weight.
        rock: rock overlay weight.
        snow: snow overlay weight.
        beach: beach overlay weight.
        city_w: weight of the city overlay (0 where city_pixel was not evaluated).
        cout: city_pixel's output.
        river_f: river fraction.
        lake_f: lake fraction.
        sea_f: sea fraction.
        sea_ice: sea-ice weight.
        share: scratch (N_CLASSES,) for the class shares.
    """
    for k in range(N_CLASSES):
        share[k] = 0.0
    desert = True
    for k in range(1, 9):
        if bw[k] > bw[6]:
            desert = False
    open_cls = K.BARE if desert else K.GRASS
    fcov, alp, scree = buf[LC.F_FOREST], buf[LC.F_ALPINE], buf[LC.F_SCREE]
    share[K.FOREST] = fcov
    share[open_cls] += max(1.0 - fcov - alp, 0.0)
    share[K.GRASS] += alp * (1.0 - scree)
    share[K.BARE] += alp * scree
    _paint(share, K.WETLAND, buf[LC.F_WET])
    _paint(share, K.CROPLAND, buf[LC.F_CROP])
    if ice > 0.5:
        _paint(share, K.SNOW_ICE, ice)
    _paint(share, K.BARE, rock)
    _paint(share, K.SNOW_ICE, snow)
    _paint(share, K.SAND, beach)
    if city_w > 0.0:
        paint_city(share, city_w, cout)
    _paint(share, K.WATER, river_f)
    _paint(share, K.WATER, lake_f)
    _paint(share, K.WATER, sea_f * (1.0 - sea_ice))
    _paint(share, K.SNOW_ICE, sea_f * sea_ice)
    return largest_share(share, cout, buf[LC.F_PARCEL])


@njit(cache=True)
def paint_city(share, city_w, cout):
    """Cover a fraction `city_w` of the pixel with city_pixel's output `cout`: roads, cars, paved ground,
    lawns, roofs and, over them, urban crowns.
    """
    canopy = min(cout[C.CANOPY], 1.0)
    keep = city_w * (1.0 - canopy)
    for k in range(N_CLASSES):
        share[k] *= 1.0 - city_w
    # cars stand on roads and car parks (C.LOT, paved ground): off each in proportion
    asphalt = cout[C.ROAD] + cout[C.LOT]
    free = 1.0 - min(cout[C.CAR_A] / asphalt, 1.0) if asphalt > 0.0 else 1.0
    share[K.ROAD] += keep * cout[C.ROAD] * free
    share[K.CAR] += keep * cout[C.CAR_A]
    share[K.PAVED] += keep * (cout[C.SIDEWALK_A] + cout[C.YARD_COM] + cout[C.LOT] * free)
    share[K.GRASS] += keep * (cout[C.YARD_RES] + cout[C.PARK])
    share[K.ROOF] += keep * cout[C.ROOF_A]
    share[K.TREE] += city_w * canopy


@njit(cache=True)
def largest_share(share, cout, parcel):
    """(class id, instance id) of the class with the largest share (ties: the lower id, from 1): the
    building, car or crown of `cout` for roofs, cars and urban trees, the field `parcel` for cropland.
    """
    best = 1
    for k in range(2, N_CLASSES):
        if share[k] > share[best]:
            best = k
    inst = 0.0
    if best == K.ROOF:
        inst = cout[C.INST_BUILDING]
    elif best == K.CAR:
        inst = cout[C.INST_CAR]
    elif best == K.TREE:
        inst = cout[C.INST_TREE]
    elif best == K.CROPLAND:
        inst = parcel
    return np.uint8(best), np.int64(inst)

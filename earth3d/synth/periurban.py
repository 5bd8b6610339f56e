"""A city's built-up density and the farmland around it, at a point near the city (numba).

Cities feed on the land around them: in forest, steppe or desert alike, fields reach out some km
past the built-up edge. Round the edge, the share of field parcels farmed is full out to PERI_NEAR
and none past PERI_FAR metres beyond it, each a fixed distance plus a share of the city's radius.
Farther out, clearing does not spread as a ring: it follows the roads out of the city, and so does
the city itself, in fingers of built-up land (FINGER_GAIN): a city is a star, not a disc. Along
CORRIDORS (2 to 5 bearings per city, evenly spread with a jitter, wandering sideways by some km as
roads do), fields reach 0.4-1 times CORRIDOR_LEN_M past the radius, in fingers about
2 CORRIDOR_HALF_M wide, with side roads cleared on either side (a fishbone). Noises of 12 and 4 km
(PERI_SHAPE, PERI_RAGGED) stretch both, so that the zone's border is ragged. The zone ends
PERI_MARGIN_M inside the city's land-use cell (`bound`), so that it never meets the cell's border,
and the built-up density fades out over BUILT_EDGE_M before the border nearest the centre, so
that a city too large for its cell ends round, not cut square along the cell's sides.
Everything is a smooth function of the position, so a coarse pixel is the mean of the finer ones
and the zone is the same at every level.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .grid import EARTH_RADIUS_M
from .noise import noise, rehash, smoothstep, unit

PERI_FARM = 0.9
PERI_IN_M = 1000.0  # fields come in over this many metres past the edge (the city's own fringe: gardens, woods)
PERI_NEAR = (1500.0, 0.2)
PERI_FAR = (3500.0, 0.6)
PERI_SHAPE = (12_000.0, 0.4)  # wavelength m and amplitude of the noise that makes the zone irregular
PERI_RAGGED = (4_000.0, 0.25)  # a finer one that makes its border ragged
PERI_MARGIN_M = 1500.0
CORRIDORS = (2, 5)  # fewest and most corridors out of a city
CORRIDOR_HALF_M = 2500.0  # Gaussian half width of the farmed finger along a corridor
CORRIDOR_LEN_M = 25_000.0  # a corridor's farmland reaches up to this far past the city's radius
CORRIDOR_WANDER = (20_000.0, 4000.0)  # wavelength m and amplitude m of a corridor's sideways wander
CORRIDOR_SIDE = (4000.0, 5000.0, 700.0)  # side roads: spacing along a corridor, length, Gaussian half width (m)
EDGE_WOBBLE = (2500.0, 0.45)  # wavelength m and amplitude of the built-up edge's wobble
FINGER_GAIN = 0.7  # along a corridor the built-up city reaches 1 + FINGER_GAIN times as far
BUILT_EDGE_M = 5000.0  # the built-up density fades out over this distance before the cell's nearest border
FINGER_HALF = 0.3  # Gaussian half width of a built-up finger, in city radii
BUILT_REACH = 2.5 * (1.0 + FINGER_GAIN)  # no built-up density past this many radii


@njit(cache=True)
def corridor_axes(c_seed, c_rad):
    """The corridors of a city: (n, 3) rows of (cosine, sine of the bearing, farmland length m).

    2 to 5 bearings (CORRIDORS) evenly spread with a jitter, from the city's seed; each corridor's
    farmland reaches its own share (0.4-1) of CORRIDOR_LEN_M past the city's radius `c_rad` (m).
    Computed once per city: `city_zone` reads them at every pixel.
    """
    h = rehash(c_seed, 40)
    n = CORRIDORS[0] + int(unit(h) * (CORRIDORS[1] - CORRIDORS[0] + 1))
    phi0 = 2.0 * math.pi * unit(rehash(h, 1))
    axes = np.empty((n, 3))
    for k in range(n):
        hk = rehash(h, 2 + k)
        phi = phi0 + 2.0 * math.pi * (k + 0.5 * (unit(hk) - 0.5)) / n
        axes[k, 0], axes[k, 1] = math.cos(phi), math.sin(phi)
        axes[k, 2] = c_rad + CORRIDOR_LEN_M * (0.4 + 0.6 * unit(rehash(hk, 1)))
    return axes


@njit(cache=True)
def corridor_share(du, dv, wander, c_rad, c_seed, axes, sides):
    """(farmland share, built-up finger share), each 0..1, of the point (du, dv) metres east and
    north of a city's centre on its corridors (`corridor_axes`).

    The farmland share fades out over the last 40 % of a corridor's length; side roads leave it
    every CORRIDOR_SIDE[0] metres (jittered), cleared CORRIDOR_SIDE[2] metres to either side of them
    out to CORRIDOR_SIDE[1] metres from the corridor: the "fishbone" of farmland cut out of a
    forest (only with `sides`: the built-up city does not need them). The finger share is the
    built-up city's growth along the same roads: a Gaussian FINGER_HALF radii wide about the axis,
    growing in over the first radius.
    """
    h = rehash(c_seed, 40)
    step, length, half = CORRIDOR_SIDE
    f_half = FINGER_HALF * c_rad
    best = 0.0
    finger = 0.0
    for k in range(axes.shape[0]):
        c, s = axes[k, 0], axes[k, 1]
        along = du * c + dv * s
        if along <= 0.0:
            continue
        # the finger starts at the centre: the wander grows in over its first CORRIDOR_HALF_M
        perp = -du * s + dv * c + wander * smoothstep(0.0, CORRIDOR_HALF_M, along)
        finger = max(finger, math.exp(-(perp / f_half) ** 2) * smoothstep(0.0, c_rad, along))
        share = math.exp(-(perp / CORRIDOR_HALF_M) ** 2)
        if sides and abs(perp) < length:
            hk = rehash(h, 2 + k)
            for m in range(int(math.floor(along / step)), int(math.floor(along / step)) + 2):
                a = (m + 0.3 * (unit(rehash(hk, 10 + m)) - 0.5)) * step
                side = math.exp(-((along - a) / half) ** 2) * smoothstep(length, 0.6 * length, abs(perp))
                share = max(share, side)
        length_k = axes[k, 2]
        best = max(best, share * (1.0 - smoothstep(0.6 * length_k, length_k, along)))
    return best, finger


@njit(cache=True)
def city_zone(du, dv, x, y, z, c_rad, bound, c_seed, seed, axes):
    """(built-up density, share of field parcels farmed) at (du, dv) metres east and north of a city's centre.

    Args:
        du: offset east from the city's centre (m) in the land-use cell's frame.
        dv: offset north (m).
        x: the point's unit vector, x (the noises live on the sphere, so they are seamless).
        y: its y.
        z: its z.
        c_rad: the city's radius (m).
        bound: the zone ends inside this distance from the centre (m).
        c_seed: the city's seed (its corridors).
        seed: the world's edge seed (the noises).
        axes: the city's `corridor_axes(c_seed, c_rad)`.

    Returns:
        The density is exp(-(1.5 r)^2) in the wobbled radius r, shrunk along the corridors by up to
        1 + FINGER_GAIN (0 past BUILT_REACH radii, and faded out over BUILT_EDGE_M before `bound` +
        PERI_MARGIN_M, the cell's border nearest the centre); the farmed share is 0 to PERI_FARM (0 where the
        point is too far for either).
    """
    dist = math.hypot(du, dv)
    far = PERI_FAR[0] + (1.0 + PERI_FAR[1]) * c_rad
    # beyond this distance the farmed share is 0 for any value of the noises (each under 1 in size)
    reach = max(((1.0 + PERI_SHAPE[1] + PERI_RAGGED[1]) * (far - c_rad) + c_rad) / (1.0 - EDGE_WOBBLE[1]),
                c_rad + CORRIDOR_LEN_M)
    if dist >= BUILT_REACH * c_rad and dist >= min(reach, bound):
        return 0.0, 0.0
    f = EARTH_RADIUS_M / EDGE_WOBBLE[0]
    wobble = 1.0 + EDGE_WOBBLE[1] * noise(x * f, y * f, z * f, seed)
    fw = EARTH_RADIUS_M / CORRIDOR_WANDER[0]
    wander = CORRIDOR_WANDER[1] * noise(x * fw, y * fw, z * fw, seed ^ np.uint64(13))
    beyond = dist * wobble - c_rad
    cor, finger = corridor_share(du, dv, wander, c_rad, c_seed, axes, beyond > 0.0)
    # the city grows out along its roads: fingers of built-up land along the corridors
    r = dist * wobble / (1.0 + FINGER_GAIN * finger)
    dens = math.exp(-(1.5 * r / c_rad) ** 2) if dist < BUILT_REACH * c_rad else 0.0
    dens *= smoothstep(bound + PERI_MARGIN_M, bound + PERI_MARGIN_M - BUILT_EDGE_M, dist)
    if beyond <= 0.0:
        return dens, 0.0
    fs, fr = EARTH_RADIUS_M / PERI_SHAPE[0], EARTH_RADIUS_M / PERI_RAGGED[0]
    stretch = (1.0 + PERI_SHAPE[1] * noise(x * fs, y * fs, z * fs, seed ^ np.uint64(7))
               + PERI_RAGGED[1] * noise(x * fr, y * fr, z * fr, seed ^ np.uint64(11)))
    near = PERI_NEAR[0] + PERI_NEAR[1] * c_rad
    ring = 1.0 - smoothstep(near, far - c_rad, beyond / stretch)
    # the corridors' fingers have ragged edges too: their share is read through the same stretch
    cor = min(cor * stretch, 1.0)
    peri = (PERI_FARM * smoothstep(0.0, PERI_IN_M, beyond / stretch) * max(ring, cor)
            * smoothstep(bound, bound - 4000.0, dist))
    return dens, peri


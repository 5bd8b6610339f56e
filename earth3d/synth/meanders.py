"""Meandering rivers: the course of a level-0 river channel off its chord (numba).

Per river channel (a row of hydrology.Network.MEA) a whole number of half-waves of a skewed,
swelling meander, so the course meets its chord at both nodes, where channels join, and reaches
that widen and narrow. The rasters (hydrology.surface: the valley floor and the water follow the
course), the road lattice's water (roads.py) and the vector rivers (rivers.py) read the same
functions, so they agree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .basins import NS
from .grid import M_PER_DEG
from .noise import rehash, smoothstep, unit

# Meanders of level-0 rivers (Leopold & Wolman 1960: wavelength 10-14 channel widths; rivers on
# steep slopes run straight): per channel (MEA columns) the number of half-waves along it, the
# amplitude (m), the second harmonic's share (skewed lobes), a phase, the wavelength (m) and the
# number of bank undulations (widening and narrowing reaches, a few widths long).
MEANDER_WAVES = 11.0  # wavelength in water widths (times 0.8..1.2 per channel)
MEANDER_FADE = (3.0, 8.0)  # meanders fade out between these wavelengths in cells (level agreement)
M_HALF, M_AMP, M_SKEW, M_PHASE, M_WAVE, M_BANK = range(6)
N_MEANDER = 6


@njit(cache=True)
def meander_offset(u, mea):
    """Lateral offset (m, to the left of the flow) of a meandering river at u in [0, 1] along its
    channel (parameters `mea`, one MEA row): whole half-waves, so zero at both nodes, where
    channels join; the amplitude swells and shrinks along the channel.
    """
    x = math.pi * mea[M_HALF] * u
    swell = 0.75 + 0.25 * math.sin(3.0 * math.pi * u + mea[M_PHASE])
    return mea[M_AMP] * swell * (math.sin(x) + mea[M_SKEW] * math.sin(2.0 * x))


@njit(cache=True)
def bank_factor(u, mea):
    """Width factor of a river at u along its channel: reaches widen and narrow by up to 20 %."""
    x = 2.0 * math.pi * mea[M_BANK] * u
    return 1.0 + 0.12 * math.sin(x + mea[M_PHASE]) + 0.08 * math.sin(2.3 * x + 2.0 * mea[M_PHASE])


@njit(cache=True)
def meander_point(ax, ay, bx, by, u, t, mea):
    """(lon, lat) of a river's meandering course at parameter t of the sub-segment a-b (degrees),
    which lies at u along its channel: the chord's point moved by `meander_offset` to its left.
    """
    lon, lat = ax + (bx - ax) * t, ay + (by - ay) * t
    if mea[M_AMP] <= 0.0:
        return lon, lat
    coslat = math.cos(math.radians(lat))
    ux, uy = (bx - ax) * coslat, by - ay
    ln = math.sqrt(ux * ux + uy * uy)
    if ln <= 0.0:
        return lon, lat
    m = meander_offset(u, mea) / M_PER_DEG
    return lon - uy / ln * m / coslat, lat + ux / ln * m


@njit(cache=True)
def meander_params(vx, vy, drop, width, h, mea):
    """Meander parameters of a river channel (polyline vx, vy; fall `drop` m; water `width` m)."""
    length = 0.0
    for s in range(NS):
        c = math.cos(math.radians(0.5 * (vy[s] + vy[s + 1])))
        length += math.hypot((vx[s + 1] - vx[s]) * c, vy[s + 1] - vy[s]) * M_PER_DEG
    if length <= 0.0:
        return
    wave = MEANDER_WAVES * width * (0.8 + 0.4 * unit(rehash(h, 20)))
    halves = max(1.0, float(round(2.0 * length / wave)))
    # sinuosity about 1.05-1.5; rivers on steep gradients run straighter (braided, confined)
    straight = smoothstep(0.02, 0.003, max(drop, 0.0) / length)
    mea[M_HALF] = halves
    mea[M_AMP] = min(wave * (0.06 + 0.16 * unit(rehash(h, 21))), 0.08 * length) * straight
    mea[M_SKEW] = 0.7 * (unit(rehash(h, 22)) - 0.5)
    mea[M_PHASE] = 2.0 * math.pi * unit(rehash(h, 23))
    mea[M_WAVE] = 2.0 * length / halves
    mea[M_BANK] = max(1.0, round(length / (3.0 * width)))


@njit(cache=True)
def course(vx, vy, mea, min_per=1):
    """A river channel's meandering course after its first vertex: (lon, lat) every eighth of a
    meander wavelength or so along each sub-segment (meander_point), so that it follows the
    course the rasters draw at their finest; at least `min_per` points a sub-segment.
    """
    per = min_per
    if mea[M_AMP] > 0.0:
        per = max(min(int(math.ceil(4.0 * mea[M_HALF] / NS)), 64), min_per)
    lon, lat = np.empty(NS * per), np.empty(NS * per)
    for s in range(NS):
        for i in range(per):
            t = (i + 1) / per
            lon[s * per + i], lat[s * per + i] = meander_point(vx[s], vy[s], vx[s + 1], vy[s + 1], (s + t) / NS, t,
                                                               mea)
    return lon, lat

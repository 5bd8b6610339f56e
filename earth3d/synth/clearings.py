"""Clearings: the farmland that towns, villages and farmsteads clear around them (numba).

A settlement in a forest is not a cluster of roofs in unbroken trees: its people farm the land
around it, so from the air it is a clearing of fields, larger for a larger place (the bare
patches with roads to them of a rainforest frontier, the field islands of a boreal or temperate
forest). Each town, village and farmstead (settlements.sites) clears the land out to about
CLEAR_RADII x its drawn radius, times a regional factor (REGION_GAIN, a noise over
REGION_M: frontiers where clearings merge into open farmland, and quiet regions where they are
islands in the forest): a rounded rectangle per site (a super-Gaussian in the site's own frame,
turned and stretched up to ASPECT_MAX by the site's seed, as lots are cleared), summed over the
sites (neighbouring clearings merge), its edge frayed by noise at 1.6 km, 400 m and 120 m (so that
a farmstead's clearing of a few hundred metres is ragged, not a disc). The kernel takes the result
as a share of farmland (kernel.render's `clear`, surface.farm_share): fields of the land-cover
palette where the land can be farmed (not too steep, not mountains or ice; cities draw their own,
periurban.city_zone).

The field is a pure function of position and of the cell size. Cells draw a clearing with its edge
once it spans 4 cells and not under 2 (`_weight`); the rest of it is spread over the cells around
the site as its area share, so a coarse cell holds about what the finer cells average to. A kind of
settlement whose largest clearing is under one cell is left out (farmsteads at cells over about
650 m, villages over 2.9 km, towns over 6.1 km).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import settlements as ST
from .grid import EARTH_RADIUS_M, M_PER_DEG
from .noise import noise, rehash, smoothstep, unit
from .overlay import BIN_PX, pixel_bins

# Clearing radius over the drawn radius, per settlement kind (cities: periurban.city_zone).
CLEAR_RADII = np.array([0.0, 3.0, 4.0, 3.5])
REACH = 2.2  # a site's term is negligible (under 0.008) past this many clearing radii, along its long axis
REGION_M = 300_000.0  # wavelength of the regional factor
REGION_GAIN = (0.3, 1.25)  # its range
ASPECT_MAX = 2.5  # a clearing is up to this much longer than wide (its area stays that of the radius)
# The sum of the sites' terms, frayed by noise of this amplitude, is cleared from EDGE[0] (none)
# to EDGE[1] (all): the edge lies near 0.95 clearing radii from a lone site.
FRAY = 0.35
EDGE = (0.3, 0.6)
AREA_R2 = 3.3  # a lone clearing's area over its radius squared (the super-Gaussian's edge at 0.95 radii)
FRAY_M = (1600.0, 400.0, 120.0)  # wavelengths of the fraying noise
FRAY_GAIN = (1.0, 0.5, 0.35)  # and their amplitudes


def _largest_clearing_m(kind: int) -> float:
    """The clearing radius (m) of the most populous settlement of `kind`."""
    return float(CLEAR_RADII[kind] * ST.RADIUS_M * (ST.POP_RANGE[kind, 1] / 100.0) ** 0.45 * REGION_GAIN[1])


@njit(cache=True)
def _weight(clear_m, res_m):
    """How much of a clearing of radius `clear_m` cells of `res_m` draw with its edge: all from 4 cells
    across, none under 2 (the rest is spread over the cells as a share, so a coarse cell holds what the
    finer cells average to).
    """
    return smoothstep(res_m, 2.0 * res_m, clear_m)


@njit(parallel=True, cache=True)
def clearing(lons, lats, dlon, dlat, SITES, seed, out):
    """Cleared share (0..1) of the cells centred at lats x lons around the settlements SITES (rows settlements.F_*)."""
    nrow, ncol = lats.shape[0], lons.shape[0]
    res = dlat * M_PER_DEG
    coslo = 1.0
    for j in range(nrow):
        coslo = min(coslo, math.cos(math.radians(lats[j])))
    coslo = max(coslo, 1e-6)
    n = SITES.shape[0]
    region_seed = rehash(seed, 7)
    R = np.empty(n)
    # per site: its frame's axes (east, north components of the long axis) and half-lengths (m)
    ax, ay, along, across = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    # and the share of it the cells resolve, and the squared width of the rest spread over the cells
    W, L2 = np.empty(n), np.empty(n)
    X0, X1, Y0, Y1 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for e in range(n):
        la, lo = math.radians(SITES[e, ST.F_LAT]), math.radians(SITES[e, ST.F_LON])
        f = EARTH_RADIUS_M / REGION_M
        g = noise(math.cos(la) * math.cos(lo) * f, math.cos(la) * math.sin(lo) * f, math.sin(la) * f, region_seed)
        R[e] = (CLEAR_RADII[int(SITES[e, ST.F_KIND])] * SITES[e, ST.F_RADIUS]
                * (REGION_GAIN[0] + (REGION_GAIN[1] - REGION_GAIN[0]) * smoothstep(-0.15, 0.45, g)))
        h = np.uint64(SITES[e, ST.F_SEED])
        theta = math.pi * unit(rehash(h, 11))
        stretch = math.sqrt(1.0 + (ASPECT_MAX - 1.0) * unit(rehash(h, 12)))
        ax[e], ay[e] = math.cos(theta), math.sin(theta)
        along[e], across[e] = R[e] * stretch, R[e] / stretch
        W[e] = _weight(R[e], res)
        L2[e] = R[e] * R[e] + res * res
        r = (REACH * max(along[e], math.sqrt(L2[e])) + res) / M_PER_DEG
        X0[e], X1[e] = SITES[e, ST.F_LON] - r / coslo, SITES[e, ST.F_LON] + r / coslo
        Y0[e], Y1[e] = SITES[e, ST.F_LAT] - r, SITES[e, ST.F_LAT] + r
    cnt, idx, nbx = pixel_bins(lons, lats, dlon, dlat, X0, X1, Y0, Y1)
    # each octave only where the cells resolve it (4 cells a wavelength)
    gains = np.empty(3)
    for k in range(3):
        gains[k] = FRAY_GAIN[k] * smoothstep(0.5 * FRAY_M[k], 0.25 * FRAY_M[k], res)
    for j in prange(nrow):
        lat = lats[j]
        c = math.cos(math.radians(lat))
        for i in range(ncol):
            b = (j // BIN_PX) * nbx + i // BIN_PX
            if cnt[b + 1] == cnt[b]:
                out[j, i] = 0.0
                continue
            lon = lons[i]
            s = 0.0  # resolved clearings: the sum their edge is drawn from
            diffuse = 0.0  # unresolved clearings: their share of the cell, spread over the cell
            for q in range(cnt[b], cnt[b + 1]):
                e = idx[q]
                dx = ((lon - SITES[e, ST.F_LON] + 180.0) % 360.0 - 180.0) * c * M_PER_DEG
                dy = (lat - SITES[e, ST.F_LAT]) * M_PER_DEG
                if W[e] > 0.0:
                    pa = (dx * ax[e] + dy * ay[e]) / along[e]
                    pc = (dy * ax[e] - dx * ay[e]) / across[e]
                    d4 = pa ** 4 + pc ** 4  # a rounded rectangle's (distance / radius)^4
                    if d4 < REACH ** 4:
                        s += W[e] * math.exp(-d4)
                if W[e] < 1.0:
                    d2 = (dx * dx + dy * dy) / L2[e]
                    if d2 < REACH * REACH:
                        diffuse += (1.0 - W[e]) * AREA_R2 * R[e] * R[e] / (math.pi * L2[e]) * math.exp(-d2)
            drawn = 0.0
            if s > 0.0:
                la, lo = math.radians(lat), math.radians(lon)
                x, y, z = math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)
                fray = 0.0
                for k in range(3):
                    if gains[k] > 0.0:
                        f = EARTH_RADIUS_M / FRAY_M[k]
                        fray += gains[k] * noise(x * f, y * f, z * f, rehash(seed, k + 1))
                drawn = smoothstep(EDGE[0], EDGE[1], s + FRAY * fray)
            out[j, i] = min(drawn + diffuse, 1.0)


def clearing_tile(seeds: np.ndarray, lons: np.ndarray, lats: np.ndarray, dlon: float, dlat: float,
                  noise_seed: np.uint64, kinds: tuple[int, ...] = (ST.TOWN, ST.VILLAGE, ST.FARM)) -> np.ndarray:
    """Cleared share (H, W) of the cells centred at lats x lons (degrees, cells dlon x dlat degrees).

    Args:
        seeds: the world's seed array (kernel.make_seeds).
        lons: cell centre longitudes (W,), increasing.
        lats: cell centre latitudes (H,), decreasing.
        dlon: cell width, degrees.
        dlat: cell height, degrees.
        noise_seed: seed of the fraying noise.
        kinds: the settlement kinds that clear (settlements.TOWN, VILLAGE, FARM); those whose largest
            clearing is under one cell are left out.

    Returns:
        float64 (H, W) in [0, 1]: 1 where the land is cleared for fields.
    """
    out = np.zeros((lats.size, lons.size))
    res = dlat * M_PER_DEG
    if lons.size == 0 or lats.size == 0:
        return out
    parts = []
    for kind in kinds:
        largest = _largest_clearing_m(kind)
        if largest <= res:
            continue
        # the farthest a site of this kind reaches: its long axis, or its share spread over cells of
        # res (narrower, as res is under its radius)
        reach = (REACH * math.sqrt(ASPECT_MAX) * largest + 2.0 * res) / M_PER_DEG
        coslat = max(math.cos(math.radians(min(max(abs(lats.min()), abs(lats.max())) + reach, 89.0))), 0.02)
        rows = ST.sites(seeds, float(lons.min()) - reach / coslat, max(float(lats.min()) - reach, -90.0),
                        float(lons.max()) + reach / coslat, min(float(lats.max()) + reach, 90.0), kind)
        parts.append(rows[rows[:, ST.F_KIND] == kind])
    if parts and sum(len(p) for p in parts):
        clearing(lons, lats, float(dlon), float(dlat), np.ascontiguousarray(np.concatenate(parts)),
                 np.uint64(noise_seed), out)
    return out

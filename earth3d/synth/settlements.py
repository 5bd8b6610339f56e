"""Settlements of the procedural world: cities, towns, villages and farmsteads (numba).

A hierarchy of jittered lattices, each a pure function of the world seed and the cell index:

- cities: at most one per 0.5 degree land-use cell (kernel.city_site, where kernel.render draws
  city_pixel): the most suitable of a few hashed sites;
- towns on a 1/8 degree lattice, villages on 1/32 degree, farmsteads on 1/128 degree: per cell
  a few hashed candidate sites scored by suitability (kernel.site_score: land, not mountains,
  ice or desert, flat, not too high, coasts; here also rivers: a site near a level-0 river is
  favoured, one in the river or a lake refused); the best one holds the settlement with a
  probability that rises with its score, unless it lies within reach of a larger settlement.

Populations are Pareto with exponent 1 within each kind's range (cities 20 000 up, towns
2 000 - 20 000, villages 100 - 2 000, farmsteads 5 - 100), and the occupancy of each lattice
is set so that the counts per area follow the same law across kinds: the sizes follow Zipf's
rank-size rule. The drawn radius grows with the population (RADIUS_M x (pop / 100)^0.45).

Per 0.5 degree cell the towns and villages, and per 1/8 degree block the farmsteads, are cached
(lru_cache): a block is a pure function of its index, so no result depends on which tile asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numba import njit

from . import kernel as K
from .basins import NS, Q0_DEG, register_seeds
from .channels import _is_river, water_width_m
from .grid import M_PER_DEG
from .noise import hash2, rehash, unit

KINDS = ("city", "town", "village", "farm")
CITY, TOWN, VILLAGE, FARM = range(4)
STEP_DEG = np.array([K.CELL_DEG, 1.0 / 8.0, 1.0 / 32.0, 1.0 / 128.0])  # lattice of each kind
POP_RANGE = np.array([[K.CITY_POP_MIN, 1e7], [2000.0, K.CITY_POP_MIN], [100.0, 2000.0], [5.0, 100.0]])
# Share of lattice cells (of suitable land) that hold a settlement. With Pareto(1) populations the
# count above a population P falls as 1/P, so each kind needs (range ratio - 1) times the count of
# all larger kinds per area; the city occupancy (kernel.city_site) sets the scale.
OCCUPANCY = np.array([K.CITY_OCCUPANCY, 0.6, 0.75, 0.7])
N_CAND = 3  # candidate sites per lattice cell
RADIUS_M = 150.0  # drawn radius of a settlement of 100 people; grows as population^0.45
RIVER_NEAR_M = 3000.0  # sites this close to a river are favoured
# Lakes: a town, village or farmstead site is tested against the lake share of cells this size (m) for its
# kind (cities: the hydrology keeps lakes off their sites; houses are drawn on land only, so a settlement
# may stand on a shore, not with its centre in the lake) ...
LAKE_TEST_RES_M = np.array([1000.0, 1000.0, 500.0, 250.0])
LAKE_REFUSE = 0.2  # ... and refused where that share, interpolated to the site, passes this
# Site arrays: one row per settlement.
F_LON, F_LAT, F_POP, F_KIND, F_RADIUS, F_SEED = range(6)
N_F = 6


@dataclass(frozen=True)
class Settlement:
    """A settlement: centre (degrees), population, kind ("city", "town", "village" or "farm") and drawn radius (m)."""

    lon: float
    lat: float
    population: float
    kind: str
    radius_m: float = 0.0


@njit(cache=True)
def radius_of(pop):
    """Drawn radius (m) of a settlement of `pop` people."""
    return RADIUS_M * (pop / 100.0) ** 0.45


@njit(cache=True)
def pareto(u, a, b):
    """Population at quantile u of a Pareto(1) law truncated to [a, b)."""
    return 1.0 / (1.0 / a - u * (1.0 / a - 1.0 / b))


@njit(cache=True)
def _river_near(lon, lat, VX, VY, AREA, RUNOFF, I0, J0, NI, NJ):
    """Distance (m) from (lon, lat) to the nearest level-0 river bank."""
    ci = int(math.floor((lon + 180.0) / Q0_DEG)) - I0
    cj = int(math.floor((lat + 90.0) / Q0_DEG)) - J0
    coslat = math.cos(math.radians(lat))
    best = math.inf
    for a in range(max(cj - 2, 0), min(cj + 3, NJ)):
        for b in range(max(ci - 2, 0), min(ci + 3, NI)):
            p = a * NI + b
            if math.isnan(VX[p, 0]) or not _is_river(p, RUNOFF):
                continue
            for s in range(NS):
                ux, uy = (VX[p, s + 1] - VX[p, s]) * coslat, VY[p, s + 1] - VY[p, s]
                vx, vy = (lon - VX[p, s]) * coslat, lat - VY[p, s]
                ll = ux * ux + uy * uy
                t = 0.0 if ll <= 0.0 else min(max((vx * ux + vy * uy) / ll, 0.0), 1.0)
                d = math.hypot(vx - t * ux, vy - t * uy) * M_PER_DEG - 0.5 * water_width_m(AREA[p], RUNOFF[p])
                best = min(best, d)
    return best


@njit(cache=True)
def _in_lake(lon, lat, LM, west, north, step):
    """Whether the lake share of the mask LM (cells of `step` degrees from (west, north); no lake outside
    it), interpolated to (lon, lat), passes LAKE_REFUSE.
    """
    nj, ni = LM.shape
    fx = (lon - west) / step - 0.5
    fy = (north - lat) / step - 0.5
    if nj == 0 or fx < -0.5 or fy < -0.5 or fx > ni - 0.5 or fy > nj - 0.5:
        return False
    fx, fy = min(max(fx, 0.0), ni - 1.0), min(max(fy, 0.0), nj - 1.0)
    i, j = min(int(fx), max(ni - 2, 0)), min(int(fy), max(nj - 2, 0))
    ax, ay = fx - i, fy - j
    i1, j1 = min(i + 1, ni - 1), min(j + 1, nj - 1)
    share = ((LM[j, i] * (1.0 - ax) + LM[j, i1] * ax) * (1.0 - ay)
             + (LM[j1, i] * (1.0 - ax) + LM[j1, i1] * ax) * ay)
    return share > LAKE_REFUSE


@njit(cache=True)
def _lattice_sites(kind, i0, i1, j0, j1, S, VX, VY, AREA, RUNOFF, I0, J0, NI, NJ, LM, west, north, step, BIG):
    """Settlements of one kind on its lattice cells [i0, i1) x [j0, j1) (rows N_F, see F_*).

    LM: the lake share of the cells of `step` degrees from (west, north) (`lake_mask`; no rows: no lake
    near). BIG holds the larger settlements nearby (rows N_F): a site within their reach is refused.
    """
    q = STEP_DEG[kind]
    lo_p, hi_p = POP_RANGE[kind, 0], POP_RANGE[kind, 1]
    out = np.empty(((i1 - i0) * (j1 - j0), N_F))
    mbuf = np.empty(K.N_MACRO)
    n = 0
    nlon = int(round(360.0 / q))
    for j in range(j0, j1):
        for i in range(i0, i1):
            h = hash2(np.int64(i % nlon), np.int64(j), S[K.S_CITY] ^ np.uint64(0x5E77 + kind))
            if unit(h) > OCCUPANCY[kind]:
                continue
            best, blon, blat = -1.0, 0.0, 0.0
            for c in range(N_CAND):
                lon = -180.0 + (i + 0.1 + 0.8 * unit(rehash(h, 2 * c + 1))) * q
                lat = -90.0 + (j + 0.1 + 0.8 * unit(rehash(h, 2 * c + 2))) * q
                sc, wet, _, _ = K.site_score(lon, lat, S, mbuf)
                if wet <= 0.0:
                    continue
                d = _river_near(lon, lat, VX, VY, AREA, RUNOFF, I0, J0, NI, NJ)
                if d < 60.0 or _in_lake(lon, lat, LM, west, north, step):
                    continue
                if d < RIVER_NEAR_M:  # rivers: water (in dry lands too), trade, flat valley floors
                    sc = min(1.0, wet * (1.0 + 0.6 * (1.0 - d / RIVER_NEAR_M)) + 0.25)
                elif sc <= 0.0:
                    continue
                if sc > best:
                    best, blon, blat = sc, lon, lat
            # suitability below 0.35 refuses; above, the chance rises to 1
            if best < 0.35 or unit(rehash(h, 40)) > (best - 0.2) / 0.5:
                continue
            pop = pareto(unit(rehash(h, 41)), lo_p, hi_p)
            rad = radius_of(pop)
            free = True
            coslat = math.cos(math.radians(blat))
            for b in range(BIG.shape[0]):
                d = math.hypot(((BIG[b, 0] - blon + 180.0) % 360.0 - 180.0) * coslat, BIG[b, 1] - blat) * M_PER_DEG
                if d < 1.5 * BIG[b, F_RADIUS] + rad + 300.0:
                    free = False
                    break
            if not free:
                continue
            o = out[n]
            o[F_LON], o[F_LAT], o[F_POP], o[F_KIND], o[F_RADIUS] = blon, blat, pop, kind, rad
            o[F_SEED] = float(h >> np.uint64(12))
            n += 1
    return out[:n]


@njit(cache=True)
def _cities(ci0, ci1, cj0, cj1, S):
    """Cities of land-use cells [ci0, ci1) x [cj0, cj1) (rows N_F), as kernel.render draws them."""
    out = np.empty(((ci1 - ci0) * (cj1 - cj0), N_F))
    mbuf = np.empty(K.N_MACRO)
    n = 0
    nlon = int(round(360.0 / K.CELL_DEG))
    for cj in range(cj0, cj1):
        if cj < 0 or cj >= nlon // 2:
            continue
        for ci in range(ci0, ci1):
            r, lon, lat, h = K.city_site(ci % nlon, cj, S, mbuf)
            if r <= 0.0:
                continue
            o = out[n]
            o[F_LON] = lon + (ci - ci % nlon) * K.CELL_DEG  # longitudes continuous with the cell index
            o[F_LAT], o[F_POP], o[F_KIND], o[F_RADIUS] = lat, K.city_population(h), CITY, r
            o[F_SEED] = float(h >> np.uint64(12))
            n += 1
    return out[:n]


_SEEDS: dict[int, np.ndarray] = {}


def _key(seeds: np.ndarray) -> int:
    """Key of a world's sub-seeds for the caches of places and roads: its drainage's key (basins.register_seeds)
    and whether it draws cities, as the places and roads of a world without cities differ from those of the
    same seed with them (under one key, whichever world came first in a process set both).
    """
    key = hash((register_seeds(seeds), int(seeds[K.S_NO_CITIES])))
    _SEEDS[key] = seeds
    return key


class RiverWindow(NamedTuple):
    """Level-0 channel arrays around a window (hydrology.Network): polylines, areas, lakes, the
    level-0 lattice's origin and size, and the channels' meanders (meanders.py MEA rows).
    """

    vx: np.ndarray
    vy: np.ndarray
    area: np.ndarray
    runoff: np.ndarray
    lake: np.ndarray
    i0: int
    j0: int
    ni: int
    nj: int
    mea: np.ndarray


def _rivers_window(S: np.ndarray, west: float, south: float, east: float, north: float) -> RiverWindow:
    """The level-0 channels around a window (see RiverWindow)."""
    from .hydrology import Network

    net = Network(S, west, south, east, north, 1000.0, 0)
    n0 = int(net.NI[0] * net.NJ[0])
    return RiverWindow(net.VX[:n0], net.VY[:n0], net.AREA[:n0], net.RUNOFF[:n0], net.LAKE[:n0],
                       int(net.I0[0]), int(net.J0[0]), int(net.NI[0]), int(net.NJ[0]), net.MEA[:n0])


def _window_lists(key: int, ci: int, cj: int, fn) -> np.ndarray:
    parts = [fn(key, ci + a, cj + b) for b in (-1, 0, 1) for a in (-1, 0, 1)]
    return np.concatenate(parts) if parts else np.empty((0, N_F))


@lru_cache(maxsize=4096)
def cities_cell(key: int, ci: int, cj: int) -> np.ndarray:
    """The city of land-use cell (ci, ci) (0 or 1 rows); ci unwrapped (longitudes follow it)."""
    return _cities(ci, ci + 1, cj, cj + 1, _SEEDS[key])


@lru_cache(maxsize=4096)
def towns_cell(key: int, ci: int, cj: int) -> np.ndarray:
    """Towns of land-use cell (ci, cj)."""
    return _sub_cell(key, ci, cj, TOWN, _window_lists(key, ci, cj, cities_cell))


@lru_cache(maxsize=4096)
def villages_cell(key: int, ci: int, cj: int) -> np.ndarray:
    """Villages of land-use cell (ci, cj)."""
    big = np.concatenate([_window_lists(key, ci, cj, cities_cell), _window_lists(key, ci, cj, towns_cell)])
    return _sub_cell(key, ci, cj, VILLAGE, big)


@lru_cache(maxsize=4096)
def farms_cell(key: int, ci: int, cj: int) -> np.ndarray:
    """Farmsteads of land-use cell (ci, cj)."""
    big = np.concatenate([_window_lists(key, ci, cj, cities_cell), _window_lists(key, ci, cj, towns_cell),
                          _window_lists(key, ci, cj, villages_cell)])
    return _sub_cell(key, ci, cj, FARM, big)


def _sub_cell(key: int, ci: int, cj: int, kind: int, big: np.ndarray) -> np.ndarray:
    if cj < 0 or cj >= int(180.0 / K.CELL_DEG):
        return np.empty((0, N_F))
    S = _SEEDS[key]
    west, south = -180.0 + ci * K.CELL_DEG, -90.0 + cj * K.CELL_DEG
    riv = _rivers_window(S, west, south, west + K.CELL_DEG, south + K.CELL_DEG)
    m = int(round(K.CELL_DEG / STEP_DEG[kind]))
    big = big[np.abs(big[:, F_LAT] - (south + 0.5 * K.CELL_DEG)) < K.CELL_DEG] if big.size else np.empty((0, N_F))
    lm, lm_west, lm_north, lm_step = lake_mask(S, riv, west, south, kind)
    out = _lattice_sites(kind, ci * m, ci * m + m, cj * m, cj * m + m, S, riv.vx, riv.vy, riv.area, riv.runoff,
                         riv.i0, riv.j0, riv.ni, riv.nj, lm, lm_west, lm_north, lm_step, big)
    out.setflags(write=False)
    return out


def lake_grid(S: np.ndarray, lons: np.ndarray, lats: np.ndarray, res: float) -> np.ndarray | None:
    """Lake share (H, W) of the cells of `res` m centred at lats x lons (degrees, lats north first), as the
    hydrology draws lakes at that cell size; None where no lake node lies in reach.
    """
    from .hydrology import Network, levels_for

    net = Network(S, float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max()), res, levels_for(res))
    if not (net.LAKE > 0.0).any():
        return None
    return np.ascontiguousarray(net.fields(lons, lats, res)[..., K.H_LAKE])


def lake_mask(S: np.ndarray, riv: RiverWindow, west: float, south: float,
              kind: int) -> tuple[np.ndarray, float, float, float]:
    """Lake share of the cells of about LAKE_TEST_RES_M[kind] in the land-use cell from (west, south) that a
    lake can reach (`lake_grid`): (share (nj, ni) north first, its west and north edges, its cell size in
    degrees); no rows where no lake reaches the cell.
    """
    from .lakes import LAKE_REACH_DEG

    c = K.CELL_DEG
    n = max(int(round(c * M_PER_DEG / LAKE_TEST_RES_M[kind])), 1)
    step = c / n
    coslat = math.cos(math.radians(min(max(abs(south), abs(south + c)), 89.0)))
    x, y = riv.vx[:, 0], riv.vy[:, 0]
    lake = riv.lake > 0.0
    none = np.empty((0, 0)), west, south + c, step
    if not lake.any():
        return none
    i0 = max(math.floor((x[lake].min() - LAKE_REACH_DEG / coslat - west) / step), 0)
    i1 = min(math.ceil((x[lake].max() + LAKE_REACH_DEG / coslat - west) / step), n)
    j0 = max(math.floor((south + c - y[lake].max() - LAKE_REACH_DEG) / step), 0)
    j1 = min(math.ceil((south + c - y[lake].min() + LAKE_REACH_DEG) / step), n)
    if i1 <= i0 or j1 <= j0:
        return none
    lons = west + (np.arange(i0, i1) + 0.5) * step
    lats = south + c - (np.arange(j0, j1) + 0.5) * step
    grid = lake_grid(S, lons, lats, step * M_PER_DEG)
    return (none[0] if grid is None else grid), west + i0 * step, south + c - j0 * step, step


_CELL_FN = (cities_cell, towns_cell, villages_cell, farms_cell)


def sites(seeds: np.ndarray, west: float, south: float, east: float, north: float,
          finest: int = FARM) -> np.ndarray:
    """Settlements of kinds CITY..finest whose centres lie in the box (rows N_F, see F_*).

    Longitudes are continuous with the box's (a box across the antimeridian has east > 180).
    """
    key = _key(seeds)
    c = K.CELL_DEG
    parts = []
    for cj in range(max(math.floor((south + 90.0) / c), 0), min(math.floor((north + 90.0) / c), int(180 / c) - 1) + 1):
        for ci in range(math.floor((west + 180.0) / c), math.floor((east + 180.0) / c) + 1):
            for kind in range(finest + 1):
                parts.append(_CELL_FN[kind](key, ci, cj))
    if not parts:
        return np.empty((0, N_F))
    out = np.concatenate(parts)
    ok = (out[:, F_LON] >= west) & (out[:, F_LON] < east) & (out[:, F_LAT] >= south) & (out[:, F_LAT] < north)
    return out[ok]


def as_settlements(rows: np.ndarray) -> list[Settlement]:
    """Site rows as Settlement records (longitudes wrapped to [-180, 180))."""
    return [Settlement(float((r[F_LON] + 180.0) % 360.0 - 180.0), float(r[F_LAT]), float(r[F_POP]),
                       KINDS[int(r[F_KIND])], float(r[F_RADIUS])) for r in rows]


def rank_size_exponent(populations: np.ndarray, top: int | None = None) -> float:
    """Zipf exponent q of log(population) = c - q log(rank), least squares over the `top` largest."""
    p = np.sort(np.asarray(populations, dtype=np.float64))[::-1]
    if top is not None:
        p = p[:top]
    if p.size < 3:
        raise ValueError(f"rank-size fit needs at least 3 settlements, got {p.size}")
    r = np.arange(1, p.size + 1)
    slope = np.polyfit(np.log(r), np.log(p), 1)[0]
    return float(-slope)

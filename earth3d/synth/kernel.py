"""The procedural world as a pure function of (position, cell size), evaluated per pixel with numba.

Fields, coarse to fine:
- macro fields (continents, mountain belts, plateaus, hilliness, moisture and
  temperature noise) from low-frequency, domain-warped 3D noise on the unit sphere;
- relief (relief.py): an eroded multifractal (gradient noise whose octaves are damped
  by the slope accumulated so far, ridged where mountains are), octaves from 150 km
  down to two cells, the last ones faded in so the spectrum is band-limited to the cell
  size, plus fluvial dissection (valley-ridge relief, V-shaped valleys) sized per landform;
- climate: temperature from latitude, noise and a 6.5 K/km lapse rate; moisture from
  noise, distance to the sea and latitude belts; biomes from a Whittaker-like table,
  land-cover patches (clearings, woods), rock on steep slopes, snow, beaches, sea ice,
  shifted by topographic position (valley or divide) and aspect (facing the equator or the pole);
- land relief, rivers and lakes from the drained relief of hydrology.py (valleys around
  a hierarchical channel network; rivers widen with drainage area and reach the sea;
  lakes fill flooded depressions of the macro relief and drain through their outlets);
- land cover with texture (landcover.py): forest crowns, gaps and shadows, grass,
  soil and rock texture, farmland parcels oriented and sized per region;
- land use: farmland fields and cities in a local metric frame of a 0.5 degree cell,
  as area averages over the pixel footprint (see city.py, landcover.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import city as C
from . import classify
from . import landcover as LC
from . import periurban as PU
from . import surface as SF
from .cell_frames import CELL_DEG, texture_frames
from .city_colour import city_colour, city_texture, city_texture_weights
from .grid import EARTH_RADIUS_M, M_PER_DEG
from .noise import fbm, hash2, lerp, noise, rehash, smoothstep, unit
from .relief import dissection, octave_table, relief, relief_texture

SEA = 0.075  # continent-field threshold of the coast
LAND_BLEND = (-0.03, -0.005)  # offshore, the drained relief blends into the noise relief over d = m[0] - SEA
N_MACRO = 7
MACRO_STEP_DEG = 1.0 / 128.0  # finest global lattice of the macro fields (about 870 m)
N_SEEDS = 16
# Per-pixel hydrology fields (earth3d.synth.hydrology computes them; render takes them as input):
# channel elevation of the valley (m), height above it (m), water fraction (river or lake),
# distance to the nearest river bank (m, negative in the channel), that river's drainage area (m^2),
# lake fraction, hillslope gradient, topographic position (+1 valley floor, -1 divide, 0 flat land).
N_HYDRO = 8
H_CHANNEL, H_HILL, H_WATER, H_RIVER_DIST, H_AREA, H_LAKE, H_SLOPE, H_TOPO = range(N_HYDRO)
# Land cover by topographic position: valleys gather water and shelter, divides shed both, so
# woods follow the valleys through open land, forests open up on dry divides, and the tree line
# climbs the valleys: the land-cover patch noise and the temperature that the tree line sees
# shift by these much between valley floor and divide.
TOPO_PATCH, TOPO_TREE_C = 0.4, 2.0
(S_WARP, S_CONT, S_BELT, S_GATE, S_PLAT, S_HILL, S_MOIST, S_TEMP, S_REL, S_CITY, S_FIELD, S_EDGE, S_RIVER, S_PATCH,
 S_LAKE) = range(15)
S_NO_CITIES = 15  # not a seed: 1 when the world draws no cities (see make_seeds)

BIOMES = ("ocean", "ice", "tundra", "boreal forest", "temperate forest", "grassland/farmland",
          "desert", "savanna", "rainforest")
# Climate prototypes (temperature C, moisture 0..1) of the land biomes 1..8.
_PROTO = np.array([[-20.0, 0.5], [-7.0, 0.45], [1.0, 0.65], [11.0, 0.75], [12.0, 0.35],
                   [21.0, 0.05], [23.0, 0.38], [25.0, 0.85]])
_BIOME_RGB = np.array(
    [[0.03, 0.09, 0.20],   # ocean (deep)
     [0.90, 0.92, 0.95],   # ice
     [0.45, 0.44, 0.36],   # tundra
     [0.13, 0.19, 0.12],   # boreal forest
     [0.18, 0.26, 0.13],   # temperate forest
     [0.43, 0.45, 0.27],   # grassland
     [0.80, 0.67, 0.48],   # desert
     [0.57, 0.51, 0.33],   # savanna
     [0.08, 0.19, 0.07]],  # rainforest
)
_ROCK = np.array([0.43, 0.40, 0.37])
_SNOW = np.array([0.94, 0.95, 0.97])
_SAND = np.array([0.84, 0.77, 0.60])
_SHELF = np.array([0.07, 0.24, 0.32])
_SHALLOW = np.array([0.22, 0.46, 0.48])
_RIVER = np.array([0.17, 0.29, 0.31])
_DESERT_ROCK = np.array([0.66, 0.47, 0.33])
_LAKE = np.array([0.04, 0.12, 0.16])


def make_seeds(seed: int, cities: bool = True) -> np.ndarray:
    """Independent 64-bit sub-seeds of one world seed; slot S_NO_CITIES says whether cities are drawn."""
    from .noise import mix64

    base = np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)
    out = np.array([mix64(base ^ np.uint64((k + 1) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF))
                    for k in range(N_SEEDS)], dtype=np.uint64)
    out[S_NO_CITIES] = 0 if cities else 1
    return out


@njit(cache=True)
def unit_vector(lon_deg, lat_deg):
    lo, la = math.radians(lon_deg), math.radians(lat_deg)
    cl = math.cos(la)
    return cl * math.cos(lo), cl * math.sin(lo), math.sin(la)


@njit(cache=True)
def macro_at(x, y, z, S, out):
    """The smooth planetary fields at unit vector (x, y, z) into out[0:N_MACRO]."""
    wx = fbm(x, y, z, 1.7, 2, 0.5, S[S_WARP])
    wy = fbm(x, y, z, 1.7, 2, 0.5, S[S_WARP] + np.uint64(1))
    wz = fbm(x, y, z, 1.7, 2, 0.5, S[S_WARP] + np.uint64(2))
    qx, qy, qz = x + 0.35 * wx, y + 0.35 * wy, z + 0.35 * wz
    out[0] = fbm(qx, qy, qz, 1.2, 7, 0.5, S[S_CONT])
    out[1] = fbm(qx, qy, qz, 1.6, 3, 0.5, S[S_BELT])
    out[2] = fbm(x, y, z, 2.5, 2, 0.5, S[S_GATE])
    out[3] = fbm(qx, qy, qz, 2.2, 3, 0.5, S[S_PLAT])
    out[4] = fbm(x, y, z, 5.0, 3, 0.5, S[S_HILL])
    out[5] = fbm(qx, qy, qz, 2.0, 3, 0.5, S[S_MOIST])
    out[6] = fbm(x, y, z, 3.0, 2, 0.5, S[S_TEMP])


@njit(parallel=True, cache=True)
def macro_grid(lons, lats, S):
    """Macro fields on a lon/lat lattice, (len(lats), len(lons), N_MACRO)."""
    g = np.empty((lats.shape[0], lons.shape[0], N_MACRO))
    for j in prange(lats.shape[0]):
        for i in range(lons.shape[0]):
            x, y, z = unit_vector(lons[i], lats[j])
            macro_at(x, y, z, S, g[j, i])
    return g


@njit(cache=True)
def landform(m):
    """(land weight, mountains, plateau, hills, base elevation m, relief amplitude m) from macro fields."""
    d = m[0] - SEA
    land = smoothstep(-0.02, 0.03, d)
    belt = 1.0 - smoothstep(0.0, 0.06, abs(m[1]))
    mtn = belt * smoothstep(-0.1, 0.2, m[2]) * smoothstep(-0.03, 0.05, d)
    plat = smoothstep(0.10, 0.17, m[3]) * smoothstep(0.02, 0.12, d) * (1.0 - mtn)
    hill = smoothstep(-0.05, 0.3, m[4])
    hilly = hill * (1.0 - mtn) * (1.0 - plat)  # hills outside mountain belts and plateaus
    if d >= 0.0:
        base = 600.0 * (1.0 - math.exp(-d / 0.12))
    else:
        base = -130.0 * smoothstep(0.0, -0.02, d) - 3800.0 * smoothstep(-0.015, -0.12, d)
    base += 1200.0 * mtn + 1300.0 * plat
    amp = 40.0 + 1100.0 * hilly * land + 3800.0 * mtn + 150.0 * (1.0 - land)
    return land, mtn, plat, hill, base, amp


@njit(cache=True)
def climate_belts(lat):
    """The latitude terms of climate(): (temperature C at sea level, and the three moisture belts)."""
    alat = abs(lat)
    return (28.0 - 50.0 * (alat / 90.0) ** 1.6, 0.25 * math.exp(-(alat / 12.0) ** 2),
            0.35 * math.exp(-((alat - 25.0) / 9.0) ** 2), 0.12 * math.exp(-((alat - 55.0) / 12.0) ** 2))


@njit(cache=True)
def climate_at(m, belts, h, d):
    """climate() with its latitude terms `belts` = climate_belts(lat) given (once per row of cells)."""
    t = belts[0] + 5.0 * m[6] - 0.0065 * max(h, 0.0)
    w = 0.42 + 0.9 * m[5] + 0.25 * (1.0 - smoothstep(0.0, 0.2, d)) + belts[1] - belts[2] + belts[3]
    return t, min(max(w, 0.0), 1.0)


@njit(cache=True)
def climate(m, lat, h, d):
    """(temperature C, moisture 0..1) at latitude `lat` and height h."""
    return climate_at(m, climate_belts(lat), h, d)


@njit(cache=True)
def biome_weights(t, w, out):
    """Soft membership of the 8 land biomes (out[1:9]) in climate space; returns the argmax id."""
    tot, best, bid = 0.0, -1.0, 1
    for k in range(8):
        dt = (t - _PROTO[k, 0]) / 7.0
        dw = (w - _PROTO[k, 1]) / 0.16
        e = math.exp(-(dt * dt + dw * dw))
        e = e * e * e
        out[k + 1] = e
        tot += e
        if e > best:
            best, bid = e, k + 1
    for k in range(8):
        out[k + 1] /= max(tot, 1e-300)
    return bid


CITY_POP_MIN = 20000.0  # smallest city; city populations are Pareto (alpha 1, Zipf's rank-size law) from here
N_CITY_CAND = 3  # candidate sites per land-use cell; the most suitable one holds the city
CITY_OCCUPANCY = 0.6  # share of land-use cells that may hold a city
BUILT_DENS = 0.03  # the city is drawn where its built-up density (periurban.city_zone) passes this


@njit(cache=True)
def city_population(h):
    """Population of the city of seed h: Pareto with exponent 1 from CITY_POP_MIN, at most 10 million."""
    return min(CITY_POP_MIN / max(1.0 - unit(rehash(h, 3)), 1e-9), 1e7)


@njit(cache=True)
def site_score(lon, lat, S, mbuf):
    """(suitability 0..1, the same where water is at hand (no dry-climate penalty), height m, slope) of a
    settlement site, from the macro fields and the noise relief.
    """
    x, y, z = unit_vector(lon, lat)
    macro_at(x, y, z, S, mbuf)
    land, mtn, plat, hill, base, amp = landform(mbuf)
    t, w = climate(mbuf, lat, base, mbuf[0] - SEA)
    dis, vee = dissection(mbuf[0] - SEA, land, mtn, plat, hill, x, y, z, S[S_REL])
    rel, slope, _, _, _ = relief(x, y, z, octave_table(200.0), amp, dis, vee, mtn, 1.0, S[S_REL])
    h = base + rel + 0.45 * amp * land * (1.0 - mtn)
    coast = 1.0 + 0.3 * (1.0 - smoothstep(0.01, 0.05, mbuf[0] - SEA))  # coasts and low plains attract
    wet = (smoothstep(0.01, 0.03, mbuf[0] - SEA) * (1.0 - smoothstep(0.05, 0.2, mtn))
           * smoothstep(2.0, 8.0, t) * (1.0 - smoothstep(26.0, 30.0, t))
           * (1.0 - smoothstep(800.0, 1500.0, h)) * (1.0 - 0.6 * hill) * (1.0 - smoothstep(0.03, 0.12, slope)))
    if abs(lat) > 70.0 or h < 3.0:
        wet = 0.0
    wet = min(wet * coast, 1.0)
    return wet * smoothstep(0.15, 0.3, w), wet, h, slope


@njit(cache=True)
def city_site(ci, cj, S, mbuf):
    """City of land-use cell (ci, cj): (radius m or 0, centre lon, centre lat, city seed).

    The most suitable of N_CITY_CAND hashed sites (site_score) within `spread` cells of the cell's
    centre, along each axis: 0.35 for the smallest cities, less for larger ones, so that the built-up
    area (out to about 2.2 radii along its corridors) and PU.BUILT_EDGE_M beyond it stay inside the cell,
    and 0.1 at least. Cities are then no lattice: with 0.2 for all, every city stood in the middle
    fifth of its cell, and from 1-2 km a pixel the cities of a region lay on an even grid.
    The radius grows with the population (city_population) as its square root, as built-up area
    does at a fixed density.
    """
    h = hash2(ci, cj, S[S_CITY])
    lon = -180.0 + (ci + 0.5) * CELL_DEG
    lat = -90.0 + (cj + 0.5) * CELL_DEG
    if unit(h) > CITY_OCCUPANCY or S[S_NO_CITIES] != 0:
        return 0.0, lon, lat, h
    cell_w = CELL_DEG * M_PER_DEG * math.cos(math.radians(lat))  # its narrower side
    radius = min(1500.0 * math.sqrt(city_population(h) / CITY_POP_MIN), 0.28 * cell_w)
    spread = min(max(0.5 - (2.2 * radius + PU.BUILT_EDGE_M) / cell_w, 0.1), 0.35)
    best = -1.0
    for k in range(N_CITY_CAND):
        lo = -180.0 + (ci + 0.5 + 2.0 * spread * (unit(rehash(h, 10 + 2 * k)) - 0.5)) * CELL_DEG
        la = -90.0 + (cj + 0.5 + 2.0 * spread * (unit(rehash(h, 11 + 2 * k)) - 0.5)) * CELL_DEG
        sc, _, _, _ = site_score(lo, la, S, mbuf)
        if sc > best:
            best, lon, lat = sc, lo, la
    if best < 0.35:
        return 0.0, lon, lat, h
    return radius, lon, lat, h


@njit(cache=True)
def zone_bound(ci, cj, c_lon, c_lat):
    """How far (m) the zone of the city at (c_lon, c_lat) in land-use cell (ci, cj) may reach from its
    centre: PU.PERI_MARGIN_M short of the cell's border nearest the centre (periurban.city_zone's `bound`).
    """
    lat0 = -90.0 + (cj + 0.5) * CELL_DEG
    cos0 = math.cos(math.radians(lat0))
    uc = ((c_lon - (-180.0 + (ci + 0.5) * CELL_DEG) + 180.0) % 360.0 - 180.0) * M_PER_DEG * cos0
    vc = (c_lat - lat0) * M_PER_DEG
    return min(0.5 * CELL_DEG * M_PER_DEG * cos0 - abs(uc), 0.5 * CELL_DEG * M_PER_DEG - abs(vc)) - PU.PERI_MARGIN_M


@njit(cache=True)
def field_frame(ci, cj, S, mbuf):
    """(orientation, parcel size m) of the fields of land-use cell (ci, cj), from its hilliness."""
    x, y, z = unit_vector(-180.0 + (ci + 0.5) * CELL_DEG, -90.0 + (cj + 0.5) * CELL_DEG)
    macro_at(x, y, z, S, mbuf)
    land, mtn, plat, hill, base, amp = landform(mbuf)
    return LC.cell_frame(ci, cj, hill, mtn, S[S_FIELD])


# One fused per-pixel pass (numba): its branches are the stages of the docstring, in order, but for the
# city's shares, which come before the land cover (a built-up pixel without gardens needs none).
@njit(parallel=True, cache=True)
def render(lons, lats, dlon, dlat, S, glon0, glat0, gstep, grid, hyd, clear,  # noqa: C901
           out_h, out_shape, out_rgb, out_water, out_biome, out_class, out_inst):
    """Evaluate the world at every cell centre (lats[j], lons[i]).

    `grid` holds the macro fields on a global lattice of step `gstep` degrees starting at
    (glon0, glat0) when it has rows; otherwise macro fields are evaluated per cell.
    `hyd` holds the hydrology fields (H_* indices) at the same cells: the land surface is the
    drained relief of earth3d.synth.hydrology, blended into the noise relief offshore.
    `clear` (H, W) is the share of the land cleared for fields around towns, villages and
    farmsteads (earth3d.synth.clearings), or has no rows where the world draws no settlements.
    Writes heights (surface: water at 0 m), the surface used for sun shading
    (the same without building walls: terrain, roof pitch, crowns), colours before
    shading, water fraction, biome ids, class ids (earth3d.classes) and instance ids
    (classify.pixel_class: buildings, cars, trees, field parcels).
    """
    nrow, ncol = lats.shape[0], lons.shape[0]
    use_grid = grid.shape[0] > 0
    res_y = dlat * M_PER_DEG
    # the unit vector of a cell is cos(lat) (cos(lon), sin(lon)), sin(lat): the longitude terms once per column
    cos_lon, sin_lon = np.empty(ncol), np.empty(ncol)
    for i in range(ncol):
        lo = math.radians(lons[i])
        cos_lon[i], sin_lon[i] = math.cos(lo), math.sin(lo)
    for j in prange(nrow):
        lat = lats[j]
        la = math.radians(lat)
        cos_lat, sin_lat = math.cos(la), math.sin(la)
        belts = climate_belts(lat)
        res = res_y  # band limit from the latitude cell size: the same for every row of a tile
        table = octave_table(res)
        tex_w = LC.band_weights(res_y, LC.TEX_TOP_M, LC.TEX_MIN_M)
        ctex_w = city_texture_weights(res_y)
        ctex = np.empty(5)
        m = np.empty(N_MACRO)
        mbuf = np.empty(N_MACRO)
        bw = np.empty(9)
        cout = np.empty(C.N_OUT)
        fcol = np.empty(LC.N_BUF)
        frames = np.empty((4, 3))
        fseeds = np.empty(4, dtype=np.uint64)
        share = np.empty(classify.N_CLASSES)
        f_theta, f_scale = 0.0, 300.0
        nat = np.empty(3)
        last_ci, last_cj = -1, -1
        c_rad, c_lon, c_lat, c_seed = 0.0, 0.0, 0.0, np.uint64(0)
        c_axes = np.empty((0, 3))
        c_bound = 0.0
        cj = min(int(math.floor((lat + 90.0) / CELL_DEG)), int(180.0 / CELL_DEG) - 1)
        lat0 = -90.0 + (cj + 0.5) * CELL_DEG
        cos0 = math.cos(math.radians(lat0))
        for i in range(ncol):
            lon = lons[i]
            x, y, z = cos_lat * cos_lon[i], cos_lat * sin_lon[i], sin_lat  # unit_vector(lon, lat)
            # ---- macro fields
            if use_grid:
                fi = (lon - glon0) / gstep
                fj = (lat - glat0) / gstep
                i0 = min(max(int(math.floor(fi)), 0), grid.shape[1] - 2)
                j0 = min(max(int(math.floor(fj)), 0), grid.shape[0] - 2)
                tx, ty = fi - i0, fj - j0
                for k in range(N_MACRO):
                    a = grid[j0, i0, k] + (grid[j0, i0 + 1, k] - grid[j0, i0, k]) * tx
                    b = grid[j0 + 1, i0, k] + (grid[j0 + 1, i0 + 1, k] - grid[j0 + 1, i0, k]) * tx
                    m[k] = a + (b - a) * ty
            else:
                macro_at(x, y, z, S, m)
            land, mtn, plat, hill, base, amp = landform(m)
            d = m[0] - SEA
            # ---- land-use cell and city
            ci = int(math.floor((lon + 180.0) / CELL_DEG)) % int(360.0 / CELL_DEG)
            if ci != last_ci or cj != last_cj:
                c_rad, c_lon, c_lat, c_seed = city_site(ci, cj, S, mbuf)
                c_axes = PU.corridor_axes(c_seed, c_rad)
                c_bound = zone_bound(ci, cj, c_lon, c_lat)
                f_theta, f_scale = field_frame(ci, cj, S, mbuf)
                last_ci, last_cj = ci, cj
            lon0 = -180.0 + (ci + 0.5) * CELL_DEG
            dl = (lon - lon0 + 180.0) % 360.0 - 180.0
            u = dl * M_PER_DEG * cos0
            v = (lat - lat0) * M_PER_DEG
            du, dv = dlon * M_PER_DEG * cos0, res_y
            dens = 0.0
            peri = 0.0
            if c_rad > 0.0:
                uc = ((c_lon - lon0 + 180.0) % 360.0 - 180.0) * M_PER_DEG * cos0
                vc = (c_lat - lat0) * M_PER_DEG
                dens, peri = PU.city_zone(u - uc, v - vc, x, y, z, c_rad, c_bound, c_seed, S[S_EDGE], c_axes)
            urban = smoothstep(BUILT_DENS, 0.2, dens)
            peri *= 1.0 - urban  # no fields in the built-up city
            cleared = clear[j, i] * (1.0 - urban) if clear.shape[0] > 0 else 0.0
            # ---- relief: eroded multifractal (on land with hydrology fields only its texture signal:
            # the drained relief below replaces its height and slopes there)
            if hyd.shape[0] > 0 and d >= LAND_BLEND[1]:
                # the texture signal only where a colour uses it (streets, crowns, rivers, sea ice; a street
                # or crown share under 1e-6 of the pixel counts as none: its term is under 1e-7)
                rel, slope_coarse, slope_cover, tex, tex_due = 0.0, 0.0, 0.0, 0.0, True
            else:
                tex_due = False
                dis, vee = dissection(d, land, mtn, plat, hill, x, y, z, S[S_REL])
                rel, slope_coarse, slope_cover, tex, _ = relief(x, y, z, table, amp, dis, vee, mtn, urban, S[S_REL])
            lift = base + 0.45 * amp * land * (1.0 - mtn)
            # ---- land: the drained relief (valleys around a channel network, no closed depressions);
            # cities sit on it as it is: flattening its hillslope term alone would step the surface
            # at every ridge, where the nearest channel changes; offshore the noise relief
            # (cells coarser than hydrology.MAX_RES_M come without hydrology fields: noise relief only)
            h = lift + rel
            lake_f = 0.0
            river_f = 0.0
            topo = 0.0
            sun_tilt = 0.0
            if hyd.shape[0] > 0:
                hy = hyd[j, i]
                landw = smoothstep(LAND_BLEND[0], LAND_BLEND[1], d)
                h = lerp(h, hy[H_CHANNEL] + hy[H_HILL], landw)
                slope_coarse = lerp(slope_coarse, hy[H_SLOPE], landw)
                slope_cover = lerp(slope_cover, hy[H_SLOPE], landw)
                lake_f = hy[H_LAKE] * landw
                river_f = max(hy[H_WATER] * landw - lake_f, 0.0)
                topo = hy[H_TOPO] * landw
                jn, js = max(j - 1, 0), min(j + 1, nrow - 1)  # aspect: the drained surface's rise to the north
                sun_tilt = landw * SF.sun_tilt(hyd[jn, i, H_CHANNEL] + hyd[jn, i, H_HILL],
                                               hyd[js, i, H_CHANNEL] + hyd[js, i, H_HILL], (js - jn) * res_y, lat)
            # ---- climate and natural colour
            t, w = climate_at(m, belts, h, d)
            bid = biome_weights(t, w, bw)
            ice = smoothstep(-8.0, -14.0, t)
            for c in range(3):
                acc = 0.0
                for k in range(1, 9):
                    acc += bw[k] * _BIOME_RGB[k, c]
                nat[c] = lerp(acc, _BIOME_RGB[1, c], ice)
            if ice > 0.5:
                bid = 1
            # ---- city first: where it hides the land (built up, no gardens, no sea) the land cover is not evaluated
            in_city = urban > 0.0 and h > 0.5
            city_w = 0.0
            if in_city:
                urban *= smoothstep(0.5, 2.0, h) * (1.0 - river_f)
                city_w = urban
                C.city_pixel(u - uc, v - vc, du, dv, dens, urban, c_seed, cout)
            wf = min(max(0.5 - h / (res * (slope_coarse + 0.02)), 0.0), 1.0)
            ltex, rock, snow, beach = 0.0, 0.0, 0.0, 0.0
            if city_w >= 1.0 and cout[C.YARD_RES] <= 0.0 and wf <= 0.0:
                fcol[:] = 0.0
            else:
                # land-cover patches (about 3 km): openings in forests, woods in open land (landcover.cover)
                fp = EARTH_RADIUS_M / 3000.0
                patch = (noise(x * fp, y * fp, z * fp, S[S_PATCH])
                         + 0.5 * noise(x * 2.1 * fp, y * 2.1 * fp, z * 2.1 * fp, S[S_PATCH] ^ np.uint64(1)))
                # farmland by climate, around cities and in the settlements' clearings (surface.farm_share)
                farm = SF.farm_share(bw, m[6] + 0.5 * m[5], peri, cleared, slope_cover, mtn, ice)
                # deserts: reddish rock and pale sand in patches
                for c in range(3):
                    nat[c] = lerp(nat[c], _DESERT_ROCK[c], bw[6] * smoothstep(-0.3, 0.5, patch) * 0.7)
                # terraced hillsides: farmed climates of warm, moist regions (the moisture noise says which)
                terrace = (min(0.5 * bw[5] + bw[7] + 0.7 * bw[8], 1.0) * smoothstep(0.1, 0.3, m[5])
                           * smoothstep(10.0, 16.0, t) * (1.0 - mtn) * (1.0 - ice))
                nfr = texture_frames(lon, lat, u, v, ci, cj, S[S_FIELD], frames, fseeds)
                # (dry divides open up where water limits trees, not in wet forests)
                dry = 1.0 - smoothstep(0.5, 0.8, w)
                topo_lc = topo if topo > 0.0 else topo * dry
                t_sun = SF.ASPECT_TREE_C * sun_tilt  # the sunny slope's warmth
                ltex = LC.cover(frames, fseeds, nfr, res_y, bw, farm, terrace, h, slope_cover,
                                t + TOPO_TREE_C * topo + t_sun, w,
                                patch - TOPO_PATCH * topo_lc + SF.ASPECT_PATCH * sun_tilt * dry, f_theta, f_scale, nat,
                                fcol, tex_w)
                rock = SF.bare_rock(slope_cover, w, t, land)  # steeper where forest holds the soil
                # snow blows off steep divides: their rock shows through
                scour = smoothstep(0.2, 0.5, slope_cover) * smoothstep(0.0, 0.8, -topo)
                snow = smoothstep(-7.0, -11.0, t + t_sun) * (1.0 - 0.7 * max(rock, scour))
                beach = ((1.0 - smoothstep(1.0, 4.0, h)) * (1.0 - smoothstep(0.02, 0.08, slope_cover))
                         * smoothstep(4.0, 10.0, t))
                for c in range(3):
                    nat[c] = lerp(nat[c], _ROCK[c] * (1.0 + 0.25 * ltex), rock)
                    nat[c] = lerp(nat[c], _SNOW[c], snow)
                    nat[c] = lerp(nat[c], _SAND[c], 0.7 * beach)
            surface = max(h, 0.0)
            shape = surface
            if in_city:
                crowns = city_colour(cout, nat, urban, city_texture(u - uc, v - vc, ctex_w, c_seed, ctex))
                shape += cout[C.RISE] + crowns
                surface += C.surface_height(cout, res) + crowns
                if urban > 0.5:
                    bid = 9
            # ---- water
            sea_ice = smoothstep(-9.0, -13.0, t)
            if tex_due and (river_f > 0.0 or sea_ice > 0.0):
                tex = relief_texture(x, y, z, table, S[S_REL])
            if river_f > 0.0:
                for c in range(3):
                    nat[c] = lerp(nat[c], _RIVER[c] * (1.0 + 0.1 * tex), river_f)
            if lake_f > 0.0:
                for c in range(3):
                    nat[c] = lerp(nat[c], lerp(_SHALLOW[c], _LAKE[c], lake_f), lake_f)
            depth = max(-h, 0.0)
            for c in range(3):
                wc = lerp(_SHALLOW[c] * (1.0 + 0.2 * ltex), _SHELF[c], smoothstep(0.0, 20.0, depth))
                wc = lerp(wc, _BIOME_RGB[0, c], smoothstep(30.0, 1500.0, depth))
                wc = lerp(wc, _BIOME_RGB[1, c] * (0.95 + 0.08 * tex), sea_ice)
                out_rgb[j, i, c] = lerp(nat[c], wc, wf)
            out_h[j, i] = surface
            out_shape[j, i] = shape
            out_water[j, i] = max(wf * (1.0 - sea_ice), river_f, lake_f)
            out_biome[j, i] = bid if h >= 0.0 else (1 if sea_ice > 0.5 else 0)
            # ---- semantics: the class covering most of the pixel and its instance
            out_class[j, i], out_inst[j, i] = classify.pixel_class(fcol, bw, ice, rock, snow, beach, city_w, cout,
                                                                  river_f, lake_f, wf, sea_ice, share)

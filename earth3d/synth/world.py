"""ProceduralWorld: an unbounded, deterministic Earth-like planet generated on demand.

Every pixel is a pure function of its cell-centre position and the cell size
(see kernel.py), so tiles can be generated in any order, on any machine, and
abut without seams; nothing is precomputed globally.
"""

from __future__ import annotations

import math

import numpy as np
from affine import Affine
from numba import njit, prange
from pyproj import CRS

from ..classes import GRASS as CLASS_GRASS
from ..classes import ROAD as CLASS_ROAD
from ..classes import ROOF as CLASS_ROOF
from ..raster.georaster import GeoRaster
from . import kernel as K
from . import periurban as PU
from .base import resolve_region
from .clearings import clearing_tile
from .grid import M_PER_DEG, MAX_PIXELS, lattice_for
from .hydrology import hydrology_fields
from .overlay import draw_tile
from .rivers import River
from .rivers import rivers as _rivers
from .roads import Street
from .settlements import Settlement, as_settlements
from .settlements import sites as _sites
from .shading import hillshade

# Cell sizes (m) of the named levels. The world is one continuous function of position and cell
# size, so any resolution works; these are the ones the levels were tuned and tested at.
LEVELS = {"continental": 1000.0, "regional": 30.0, "city": 1.0, "street": 0.25}
# Names of the ids in biome_map(): the nine Whittaker-like classes, then built-up city.
BIOMES = K.BIOMES + ("city",)
CLEAR_SALT = np.uint64(0xC1EA2)  # seed of the clearings' fraying noise, from the land-cover patch seed


SEA_MARGIN = 0.01  # continent field: the hydrology is skipped this far below where kernel.render first uses it


def _land_cells(lons: np.ndarray, lats: np.ndarray, glon0: float, glat0: float, q: float,
                grid: np.ndarray) -> np.ndarray | None:
    """Cells lats x lons whose hydrology fields kernel.render uses (all but the open sea: the continent field,
    bilinear over the macro grid as the kernel reads it, above K.LAND_BLEND[0] less SEA_MARGIN); None
    without a macro grid.
    """
    if grid.shape[0] == 0:
        return None
    fi, fj = (lons - glon0) / q, (lats - glat0) / q
    i0 = np.clip(np.floor(fi).astype(np.int64), 0, grid.shape[1] - 2)
    j0 = np.clip(np.floor(fj).astype(np.int64), 0, grid.shape[0] - 2)
    tx, ty = (fi - i0)[None, :], (fj - j0)[:, None]
    g = grid[..., 0]
    a = g[j0[:, None], i0[None, :]] * (1.0 - tx) + g[j0[:, None], i0[None, :] + 1] * tx
    b = g[j0[:, None] + 1, i0[None, :]] * (1.0 - tx) + g[j0[:, None] + 1, i0[None, :] + 1] * tx
    return a * (1.0 - ty) + b * ty - K.SEA >= K.LAND_BLEND[0] - SEA_MARGIN


class ProceduralWorld:
    """The default procedural planet. `ProceduralWorld(seed).generate(bbox=..., resolution_m=...)`.

    With `roads=True` (the default) the rasters carry the settlements and roads of
    settlements() and streets(): towns, villages and farmsteads as clusters of buildings in the
    fields they cleared (earth3d.synth.clearings) and roads as exact area shares of each cell
    (earth3d.synth.overlay); `roads=False` leaves the land and the cities alone (a baseline for
    benchmarks). With `cities=False` no city is drawn or listed: their land-use cells stay land
    (EarthWorld takes its detail from such a world, so that only real places are built up).
    """

    def __init__(self, seed: int = 0, max_pixels: int = MAX_PIXELS, roads: bool = True, cities: bool = True):
        self.seed = int(seed)
        self.max_pixels = int(max_pixels)
        self.roads = bool(roads)  # draw roads, towns, villages and farmsteads (False: cities and land only)
        self.cities = bool(cities)  # draw cities (False: their land-use cells stay land)
        self._seeds = K.make_seeds(self.seed, cities=self.cities)

    def __repr__(self) -> str:
        return f"ProceduralWorld(seed={self.seed})"

    # ------------------------------------------------------------------ evaluation
    def _macro(self, lons: np.ndarray, lats: np.ndarray, dlat: float):
        """(glon0, glat0, step, grid) of the macro fields for cells of dlat degrees (kernel.render's arguments)."""
        # Macro fields (wavelengths >= 80 km) come from a global lattice whose step is a
        # power-of-two fraction of a degree (870 m to 3.5 km, not finer than the cells);
        # bilinear interpolation keeps them pure functions of position, with errors far
        # below a millimetre of height. Cells coarser than 3.5 km evaluate them directly.
        # The choice depends on the latitude cell size only, so every tile of a grid makes the same one.
        res = dlat * M_PER_DEG
        q = K.MACRO_STEP_DEG
        while q < 1.0 / 32.0 and q * M_PER_DEG < res:
            q *= 2.0
        if res < q * M_PER_DEG:
            i0, i1 = math.floor(lons.min() / q) - 1, math.ceil(lons.max() / q) + 1
            j0, j1 = math.floor(lats.min() / q) - 1, math.ceil(lats.max() / q) + 1
            glons, glats = np.arange(i0, i1 + 1) * q, np.arange(j0, j1 + 1) * q
            return i0 * q, j0 * q, q, K.macro_grid(glons, glats, self._seeds)
        return 0.0, 0.0, q, np.empty((0, 0, K.N_MACRO))

    def _clearings(self, lons: np.ndarray, lats: np.ndarray, dlon: float, dlat: float) -> np.ndarray:
        """The share of each cell that towns, villages and farmsteads clear for fields (kernel.render's
        `clear`), or no rows when the world draws no settlements.
        """
        if not self.roads:
            return np.empty((0, 0))
        return clearing_tile(self._seeds, lons, lats, dlon, dlat, self._seeds[K.S_PATCH] ^ CLEAR_SALT)

    def _evaluate(self, lons: np.ndarray, lats: np.ndarray, dlon: float, dlat: float):
        """Raw fields at the cell centres lats x lons: DSM, shading surface, unshaded rgb, water fraction, biome,
        class and instance ids.
        """
        h, w = lats.size, lons.size
        glon0, glat0, q, grid = self._macro(lons, lats, dlat)
        out_h = np.empty((h, w))
        out_s = np.empty((h, w))
        out_rgb = np.empty((h, w, 3))
        out_w = np.empty((h, w))
        out_b = np.empty((h, w), dtype=np.uint8)
        out_c = np.empty((h, w), dtype=np.uint8)
        out_i = np.empty((h, w), dtype=np.int64)
        hyd = hydrology_fields(self._seeds, lons, lats, dlat, need=_land_cells(lons, lats, glon0, glat0, q, grid))
        clear = self._clearings(lons, lats, dlon, dlat)
        K.render(lons, lats, float(dlon), float(dlat), self._seeds, glon0, glat0, q, grid, hyd, clear,
                 out_h, out_s, out_rgb, out_w, out_b, out_c, out_i)
        if self.roads:
            # roads, towns, villages and farmsteads over the rendered cells; the class of a cell
            # they cover the most of follows them (a road, a roof, or grass on a road's verge),
            # without an instance for roads and verges
            road, built, verge = draw_tile(self._seeds, lons, lats, float(dlon), float(dlat), out_h, out_s, out_rgb,
                                           out_w)
            road_cell = road >= 0.5
            verge_cell = (verge >= 0.5) & ~road_cell
            out_c[verge_cell] = CLASS_GRASS
            out_i[verge_cell] = 0
            out_c[road_cell] = CLASS_ROAD
            out_i[road_cell] = 0
            out_c[(built >= 0.5) & ~road_cell] = CLASS_ROOF
        return out_h, out_s, out_rgb, out_w, out_b, out_c, out_i

    def generate(self, region=None, resolution_m: float = 30.0, *, bbox=None, tile=None) -> GeoRaster:
        """Orthophoto + DSM of a (west, south, east, north) box or (z, x, y) tile in EPSG:4326.

        Cells are `resolution_m` wide at the box centre (see earth3d.synth.grid);
        heights are ellipsoidal metres of the surface (water at 0 m, buildings and
        trees included); RGB is float32 in [0, 1] with baked sun shading (hillshade
        of the terrain, roof pitches and crowns; cast shadows of buildings and trees).

        Args:
            region: a (west, south, east, north) box in degrees or a (z, x, y) key of the global
                tile grid (or pass `bbox=` / `tile=` by name).
            resolution_m: cell size in metres at the region's centre.
            bbox: the box, by name.
            tile: the tile key, by name.

        Returns:
            The GeoRaster (rgb, height, valid, transform, CRS EPSG:4326, ellipsoidal heights, class and
            instance rasters: see earth3d.classes).

        Example:
            >>> raster = ProceduralWorld(7).generate(bbox=(9.70, 0.33, 9.72, 0.35), resolution_m=60)
            >>> raster.rgb.shape[2]
            3
        """
        box = resolve_region(region, bbox, tile)
        lat = lattice_for(box, resolution_m, self.max_pixels)
        colour, dsm, classes, instances = self.cells(lat.lons(), lat.lats(), lat.dlon, lat.dlat)
        transform = Affine(lat.dlon, 0.0, lat.west, 0.0, -lat.dlat, lat.north)
        return GeoRaster(rgb=colour, height=dsm, valid=np.ones(dsm.shape, dtype=bool), transform=transform,
                         crs=CRS.from_epsg(4326), vertical_datum="ellipsoid",
                         source=f"ProceduralWorld(seed={self.seed}) {resolution_m} m/px",
                         classes=classes, instances=instances)

    def cells(self, lons: np.ndarray, lats: np.ndarray, dlon: float, dlat: float):
        """Shaded rgb (H, W, 3), DSM (H, W), classes and instances of the cells centred at lats x lons.

        What `generate` returns for its lattice, for any regular run of cell centres (lons
        increasing by `dlon`, lats decreasing by `dlat`): a cell's values depend on its centre
        and size only, so part of a lattice gives the same values as the whole.

        Args:
            lons: cell centre longitudes (W,), degrees.
            lats: cell centre latitudes (H,), degrees, north first.
            dlon: cell width, degrees.
            dlat: cell height, degrees.

        Returns:
            (rgb float32, height float32, classes uint8, instances int64).
        """
        lons = np.concatenate([[lons[0] - dlon], lons, [lons[-1] + dlon]])
        lats = np.concatenate([[lats[0] + dlat], lats, [lats[-1] - dlat]])
        height, shape, rgb, water, _, classes, instances = self._evaluate(lons, lats, dlon, dlat)
        shade = hillshade(shape, lats, dlon, dlat)
        water = water[1:-1, 1:-1]
        shade = 1.0 + (1.0 - water) * (shade - 1.0)
        colour = np.clip(rgb[1:-1, 1:-1] * shade[..., None], 0.0, 1.0).astype(np.float32)
        return (colour, height[1:-1, 1:-1].astype(np.float32), np.ascontiguousarray(classes[1:-1, 1:-1]),
                np.ascontiguousarray(instances[1:-1, 1:-1]))

    def hydrology(self, region=None, resolution_m: float = 30.0, *, bbox=None, tile=None):
        """Hydrology fields of a region: (fields (H, W, N_HYDRO), affine transform in EPSG:4326).

        Fields (indices earth3d.synth.kernel.H_*): channel elevation of the cell's valley (m),
        height above it (m), water fraction (river or lake), distance to the nearest river bank
        (m, negative inside the channel), that river's drainage area (m^2), lake fraction,
        hillslope gradient and topographic position (+1 on valley floors, -1 on divides, the same
        at every cell size). Cells coarser than hydrology.MAX_RES_M have no fields (zero rows).
        """
        box = resolve_region(region, bbox, tile)
        lat = lattice_for(box, resolution_m, self.max_pixels)
        fields = hydrology_fields(self._seeds, lat.lons(), lat.lats(), lat.dlat)
        return fields, Affine(lat.dlon, 0.0, lat.west, 0.0, -lat.dlat, lat.north)

    def rivers(self, bbox) -> list[River]:
        """River centrelines in a (west, south, east, north) box: the same network the rasters draw.

        Each River holds lon/lat vertices (degrees, longitudes continuous with the box's) along its
        meandering course, as the finest rasters draw it, with the drainage area, the runoff area
        (m^2) and the water's width (m) at each vertex, from a source or the box edge downstream to
        the sea, the box edge or a junction with another listed river.

        Example:
            >>> world = ProceduralWorld(1)
            >>> lon, lat = world.find_landform("hills")
            >>> longest = max(world.rivers((lon - 0.5, lat - 0.5, lon + 0.5, lat + 0.5)), key=lambda r: r.lon.size)
        """
        from .grid import check_bbox

        west, south, east, north = check_bbox(bbox)
        return _rivers(self._seeds, west, south, east, north)

    def settlements(self, bbox) -> list[Settlement]:
        """Cities, towns, villages and farmsteads whose centres lie in a (west, south, east, north) box.

        Cities are the places the rasters draw as cities (kernel.city_site), the others are drawn
        as clusters of buildings; populations follow a rank-size law (see earth3d.synth.settlements).

        Example:
            >>> world = ProceduralWorld(1)
            >>> lon, lat = world.find_city()
            >>> towns = [s for s in world.settlements((lon - 0.3, lat - 0.3, lon + 0.3, lat + 0.3)) if s.kind == "town"]
        """
        from .grid import check_bbox

        west, south, east, north = check_bbox(bbox)
        return as_settlements(_sites(self._seeds, west, south, east, north))

    def streets(self, bbox) -> list[Street]:
        """Road and street centrelines reaching into a (west, south, east, north) box: the network the rasters draw.

        Roads between settlements (motorway, regional, track) as routed polylines, cut into
        bridge pieces where they cross rivers (Street.bridge); city streets (arterial, local,
        path) from the city generator, where the rasters draw the city (its built-up fingers
        included; not in its fields, nor through the middle of its large parks). Longitudes are
        continuous with the box's.

        Example:
            >>> world = ProceduralWorld(1)
            >>> lon, lat = world.find_city()
            >>> box = (lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2)
            >>> bridges = [s for s in world.streets(box) if s.bridge]
        """
        from .grid import check_bbox
        from .roads import network, streets_from

        west, south, east, north = check_bbox(bbox)
        V, OFF, CLS = network(self._seeds, west, south, east, north)
        m = 0.1
        out = streets_from(V, OFF, CLS, _rivers(self._seeds, west - m, south - m, east + m, north + m))
        out.extend(_city_streets(self._seeds, west, south, east, north))
        return [st for st in out if _touches(st.lonlat, west, south, east, north)]

    def biome_map(self, width: int = 512, height: int | None = None) -> np.ndarray:
        """Biome ids (indices into BIOMES) on a global equirectangular grid, north row first."""
        height = height or width // 2
        if width < 2 or height < 1 or width * height > self.max_pixels:
            raise ValueError(f"biome map size {width} x {height} must be positive and under {self.max_pixels} px")
        lons = -180.0 + (np.arange(width) + 0.5) * 360.0 / width
        lats = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
        return self._evaluate(lons, lats, 360.0 / width, 180.0 / height)[4]

    # ------------------------------------------------------------------ places
    LANDFORMS = ("mountains", "hills", "plateau", "plains")

    def find_landform(self, kind: str, near_lonlat: tuple[float, float] | None = None,
                      step_deg: float = 0.5) -> tuple[float, float]:
        """(lon, lat) of the land point of landform `kind` (one of LANDFORMS) nearest to `near_lonlat`.

        Scans a global grid of `step_deg`; the point lies well inside the landform
        (mountain belt core, plateau interior, hilly or flat lowland away from both)
        and, on the default 0.5 degree scan, in a land-use cell without a city.
        """
        if kind not in self.LANDFORMS:
            raise ValueError(f"unknown landform {kind!r}; choose one of {self.LANDFORMS}")
        lons = np.arange(-180.0, 180.0, step_deg) + 0.5 * step_deg
        lats = np.arange(-70.0, 70.0, step_deg) + 0.5 * step_deg
        f = _landform_grid(lons, lats, self._seeds)
        land, mtn, plat, hill, d = (f[..., k] for k in range(5))
        # scan points are the centres of the land-use cells: skip those that hold a city
        cis = np.floor((lons + 180.0) / K.CELL_DEG).astype(np.int64)
        cjs = np.floor((lats + 90.0) / K.CELL_DEG).astype(np.int64)
        no_city = _city_sites(cis, cjs, self._seeds)[..., 0] == 0.0 if step_deg == K.CELL_DEG else True
        inland = (land > 0.99) & (d > 0.08) & no_city
        masks = {
            "mountains": inland & (mtn > 0.8),
            "plateau": inland & (plat > 0.95) & (mtn < 0.01) & (hill < 0.5),
            "hills": inland & (hill > 0.8) & (mtn < 0.01) & (plat < 0.01),
            "plains": inland & (hill < 0.02) & (mtn < 0.01) & (plat < 0.01),
        }
        ok = masks[kind]
        if not ok.any():
            raise ValueError(f"this world has no {kind} on a {step_deg} deg scan")
        lon0, lat0 = (0.0, 0.0) if near_lonlat is None else near_lonlat
        glon, glat = np.meshgrid(lons, lats)
        dl = (glon - lon0 + 180.0) % 360.0 - 180.0
        dist = np.where(ok, np.hypot(dl * np.cos(np.radians(glat)), glat - lat0), np.inf)
        j, i = np.unravel_index(np.argmin(dist), dist.shape)
        return float(lons[i]), float(lats[j])

    # ------------------------------------------------------------------ cities
    def find_city(self, near_lonlat: tuple[float, float] | None = None, min_radius_m: float = 3000.0,
                  search_deg: float = 30.0) -> tuple[float, float]:
        """Centre (lon, lat) of the city nearest to `near_lonlat` (default 0, 0) with at least `min_radius_m`.

        Searches the land-use cells within `search_deg` of the point; raises
        ValueError when none holds a city that large.
        """
        lon0, lat0 = (0.0, 0.0) if near_lonlat is None else (float(near_lonlat[0]), float(near_lonlat[1]))
        if not -90.0 <= lat0 <= 90.0:
            raise ValueError(f"near_lonlat latitude {lat0} outside [-90, 90]")
        cell = K.CELL_DEG
        n = int(search_deg / cell)
        ci0 = int(math.floor((lon0 + 180.0) / cell))
        cj0 = min(int(math.floor((lat0 + 90.0) / cell)), int(180 / cell) - 1)
        cis = (ci0 + np.arange(-n, n + 1)) % int(360 / cell)
        cjs = np.clip(cj0 + np.arange(-n, n + 1), 0, int(180 / cell) - 1)
        sites = _city_sites(cis.astype(np.int64), np.unique(cjs).astype(np.int64), self._seeds)
        ok = sites[..., 0] >= min_radius_m
        if not ok.any():
            raise ValueError(f"no city of radius >= {min_radius_m} m within {search_deg} deg of ({lon0}, {lat0})")
        lon, lat = sites[..., 1][ok], sites[..., 2][ok]
        dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
        dist = np.hypot(dlon * np.cos(np.radians(lat0)), lat - lat0)
        k = int(np.argmin(dist))
        return float(lon[k]), float(lat[k])


@njit(parallel=True, cache=True)
def _landform_grid(lons, lats, S):
    out = np.zeros((lats.shape[0], lons.shape[0], 5))
    for a in prange(lats.shape[0]):
        m = np.empty(K.N_MACRO)
        for b in range(lons.shape[0]):
            x, y, z = K.unit_vector(lons[b], lats[a])
            K.macro_at(x, y, z, S, m)
            land, mtn, plat, hill, base, amp = K.landform(m)
            out[a, b, 0], out[a, b, 1], out[a, b, 2], out[a, b, 3] = land, mtn, plat, hill
            out[a, b, 4] = m[0] - K.SEA
    return out


@njit(parallel=True, cache=True)
def _city_sites(cis, cjs, S):
    out = np.zeros((cjs.shape[0], cis.shape[0], 3))
    for a in prange(cjs.shape[0]):
        buf = np.empty(K.N_MACRO)
        for b in range(cis.shape[0]):
            r, lon, lat, _ = K.city_site(cis[b], cjs[a], S, buf)
            out[a, b, 0], out[a, b, 1], out[a, b, 2] = r, lon, lat
    return out


def _touches(v: np.ndarray, west: float, south: float, east: float, north: float) -> bool:
    return bool(v[:, 0].max() >= west and v[:, 0].min() <= east and v[:, 1].max() >= south and v[:, 1].min() <= north)


@njit(cache=True)
def _built_up(du, dv, lon0, lat0, cos0, c_rad, bound, c_seed, edge_seed):
    """Whether the points (du, dv) metres from a city's centre (lon0, lat0) lie where the kernel draws the
    city (`bound`: kernel.zone_bound of the city).
    """
    axes = PU.corridor_axes(c_seed, c_rad)
    out = np.empty(du.shape[0], dtype=np.bool_)
    for k in range(du.shape[0]):
        x, y, z = K.unit_vector(lon0 + du[k] / (M_PER_DEG * cos0), lat0 + dv[k] / M_PER_DEG)
        out[k] = PU.city_zone(du[k], dv[k], x, y, z, c_rad, bound, c_seed, edge_seed, axes)[0] > K.BUILT_DENS
    return out


def _built_extent(lon0: float, lat0: float, cos0: float, c_rad: float, bound: float, c_seed, edge_seed) -> float:
    """The farthest distance (m) from a city's centre where the kernel draws it, over 180 bearings
    (plus a tenth: a finger may peak between two of them).
    """
    a = np.radians(np.arange(0.0, 360.0, 2.0))[:, None]
    r = np.arange(0.5, PU.BUILT_REACH, 0.02)[None, :] * c_rad
    du, dv = (r * np.cos(a)).ravel(), (r * np.sin(a)).ravel()
    drawn = _built_up(du, dv, lon0, lat0, cos0, c_rad, bound, c_seed, edge_seed)
    return 1.1 * float(np.hypot(du, dv)[drawn].max(initial=c_rad))


def _city_streets(S: np.ndarray, west: float, south: float, east: float, north: float) -> list[Street]:
    """Streets of the cities near a box from city.city_street_graph, in lon/lat (the kernel's city frame)."""
    from . import city as C
    from .settlements import CITY, F_KIND, F_LAT, F_LON, F_RADIUS

    names = ("arterial", "local", "path")
    rows = _sites(S, west - 0.3, max(south - 0.3, -90.0), east + 0.3, min(north + 0.3, 90.0), CITY)
    out = []
    for r in rows[rows[:, F_KIND] == CITY]:
        cj = min(int(math.floor((r[F_LAT] + 90.0) / K.CELL_DEG)), int(180.0 / K.CELL_DEG) - 1)
        cos0 = math.cos(math.radians(-90.0 + (cj + 0.5) * K.CELL_DEG))
        ci = int(math.floor((r[F_LON] + 180.0) / K.CELL_DEG)) % int(360.0 / K.CELL_DEG)
        seed = np.uint64(K.city_site(ci, cj, S, np.empty(K.N_MACRO))[3])  # (numba returns it as a Python int)
        bound = K.zone_bound(ci, cj, r[F_LON], r[F_LAT])
        reach = _built_extent(r[F_LON], r[F_LAT], cos0, r[F_RADIUS], bound, seed, S[K.S_EDGE])
        # the box in the city's frame (m): the graph is needed only out to its farthest corner
        u0 = (west - r[F_LON] + 180.0) % 360.0 - 180.0
        bu = [u0 * M_PER_DEG * cos0, (u0 + east - west) * M_PER_DEG * cos0]
        bv = [(y - r[F_LAT]) * M_PER_DEG for y in (south, north)]
        if math.hypot(min(max(0.0, bu[0]), bu[1]), min(max(0.0, bv[0]), bv[1])) > reach:
            continue  # the box lies past the drawn city
        nodes, edges, cls = C.city_street_graph(seed, min(reach, max(math.hypot(a, b) for a in bu for b in bv) + 50.0))
        lon = r[F_LON] + nodes[:, 0] / (M_PER_DEG * cos0)
        lat = r[F_LAT] + nodes[:, 1] / M_PER_DEG
        mid = 0.5 * (nodes[edges[:, 0]] + nodes[edges[:, 1]])
        drawn = _built_up(mid[:, 0], mid[:, 1], r[F_LON], r[F_LAT], cos0, r[F_RADIUS], bound, seed, S[K.S_EDGE])
        for (a, b), c in zip(edges[drawn], cls[drawn], strict=True):
            out.append(Street(np.array([[lon[a], lat[a]], [lon[b], lat[b]]]), names[int(c)]))
    return out

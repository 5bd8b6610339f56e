"""EarthWorld: Earth itself, its large scales from open data, its fine detail procedural.

Per pixel of a request (cell centres and size from `earth3d.synth.grid.lattice_for`, like
ProceduralWorld):

- land or sea: the 1 km GLOBE mask, averaged over the pixel (bilinear below 1 km); below
  1 km a band-limited noise of growing amplitude roughens the coast inside the mask's cells,
  so a 1 km cell stays land where the mask says land;
- height: on land, the ETOPO1 elevation (see etopo.py; sea cells excluded and filled over
  the sea so coasts do not dip) plus the ProceduralWorld's own detail, that is its height
  minus its 8 km field (see coarse.py), taken from copies shifted in longitude where
  they are land, scaled by the ratio of the real to the procedural
  local relief; the detail fades in from 8 km to 2 km pixels, so coarse pixels are the data;
  the sea surface is at 0 m (the DSM, like ProceduralWorld's water);
- colour: Blue Marble (land colour on land, sea colour at sea, both filled across the coast)
  modulated by the ProceduralWorld's colour over its own 8 km colour (texture, shading);
  the ProceduralWorld draws no cities, settlements or roads there (they would be invented
  places), so real places are the only built-up land;
- lakes: the GSHHG lake mask (1.25 arc-minutes), dark, their surface the lowest data
  elevation within one coarse cell (8 km) of the pixel;
- built-up areas: every GeoNames place of 1000+ inhabitants (see builtup.py), drawn as a
  built-up share over the land colour: below 400 m pixels as a city of the procedural city
  generator with the place's size, density and a plan that follows its country (cities.py),
  above as their mean colour and height.

Everything is a function of position and pixel size only: tiles are seamless, across the
antimeridian too, and can be generated in any order.
"""

from __future__ import annotations

import math

import numpy as np
from affine import Affine
from pyproj import CRS

from ...classes import BARE, BUILT, FOREST, GRASS, SNOW_ICE, WATER
from ...raster.georaster import GeoRaster
from ..base import resolve_region
from ..grid import M_PER_DEG, MAX_PIXELS, lattice_for
from ..roads import Street
from ..srgb import to_linear, to_srgb
from ..world import ProceduralWorld
from . import data as D
from .builtup import FRAY_WAVE_M, REACH, builtup, radius_m
from .cities import CITY_HEIGHT_M, CITY_KEEP, CITY_LINEAR_RGB, GRIDDED_COUNTRIES, centre_density, city_layer, city_seed
from .coarse import CoarseProcedural
from .noise import fbm

DETAIL_FULL_M, DETAIL_NONE_M = 2000.0, 8000.0  # pixel sizes where the procedural detail is full, absent
COARSE_M = 8000.0  # the copies' large scales, for choosing them (their land, colour and relief)
REFERENCE_M = 4000.0  # a copy's detail is its difference from its own cells of this size (drained relief from 4 km)
CITY_RES_M = 400.0  # pixels finer than this draw the cities' plans, coarser ones their mean colour
DETAIL_COLOUR_LOG = 0.25  # colour distance (log RGB) at which a copy's score falls to 1/e
DETAIL_CANDIDATES = 5  # copies (the first of SHIFTS) a node chooses from: each one drawn costs its own drainage
DETAIL_WINDOW = 64  # pixels per side of the windows a copy is drawn on (x8 below 100 m pixels)
DETAIL_MATCH_DEG = 0.25  # copies are matched to Earth on nodes this far apart (degrees)
COPY_INLAND_M = (50.0, 200.0)  # a copy's 8 km height from which it may give detail, and gives it fully
COPY_LAND_M = 20.0  # a copy's pixel gives its detail fully from this height up (none at its sea level)
LAKE_RGB = np.array([0.06, 0.13, 0.19], dtype=np.float32)
# longitude shifts of the procedural copies that give the detail, in the order they are used
SHIFTS = (0.0, 137.0, -101.0, 53.0, -151.0, 89.0, -29.0, 167.0, -67.0, 23.0, 113.0, -127.0)


def colour_class(rgb: np.ndarray) -> np.ndarray:
    """Land-cover class (earth3d.classes) of Blue Marble land colours (H, W, 3), where no detail says better.

    Bright and white: snow and ice; reddish or yellow and bright: bare ground and desert; dark
    and green: forest; the rest: grassland. The large-scale classes at 4 arc-minutes.
    """
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    lum = 0.3 * r + 0.59 * g + 0.11 * b
    out = np.full(r.shape, GRASS, dtype=np.uint8)
    out[(g >= r) & (lum < 0.17)] = FOREST
    out[(r > 1.05 * g) & (lum > 0.25)] = BARE
    low, high = np.minimum(np.minimum(r, g), b), np.maximum(np.maximum(r, g), b)
    out[(low > 0.55) & (high - low < 0.12)] = SNOW_ICE
    return out


def _inland(coarse_height: np.ndarray) -> np.ndarray:
    """Weight of a copy by its 8 km height: none near its coasts, where its detail would be sea floor and shore."""
    lo, hi = COPY_INLAND_M
    return np.clip((coarse_height - lo) / (hi - lo), 0.0, 1.0)


def detail_weight(res_m: float) -> float:
    """Share of the procedural detail kept at pixels of `res_m` (1 below 2 km, 0 above 8 km, log-linear)."""
    t = math.log(max(res_m, 1e-3) / DETAIL_FULL_M) / math.log(DETAIL_NONE_M / DETAIL_FULL_M)
    return float(min(1.0, max(0.0, 1.0 - t)))


class EarthWorld:
    """Earth steered by open data. `EarthWorld(seed).generate(bbox=..., resolution_m=...)`.

    Args:
        seed: seed of the procedural detail (the data are the same for every seed).
        max_pixels: refuse requests larger than this many pixels.

    Example:
        >>> from earth3d.synth import EarthWorld, place
        >>> lon, lat = place("Grenoble")
        >>> tile = EarthWorld(0).generate(bbox=(lon - 0.2, lat - 0.1, lon + 0.2, lat + 0.1), resolution_m=1000.0)
        >>> bool(tile.height.max() > 1000.0)  # the Alps
        True
    """

    def __init__(self, seed: int = 0, max_pixels: int = MAX_PIXELS):
        self.seed = int(seed)
        self.max_pixels = int(max_pixels)
        # the detail: land, relief and land cover, with no invented cities, towns or roads
        self.procedural = ProceduralWorld(self.seed, max_pixels=max_pixels, roads=False, cities=False)
        self._coarse = CoarseProcedural(self.procedural, COARSE_M)
        self._reference = CoarseProcedural(self.procedural, REFERENCE_M)

    def __repr__(self) -> str:
        return f"EarthWorld(seed={self.seed})"

    # ------------------------------------------------------------------ fields
    def land_share(self, lats: np.ndarray, lons: np.ndarray, dlat: float, dlon: float) -> np.ndarray:
        """Share of land of every pixel from the mask (1 km cells, or 4 arc-minute shares above 15 km)."""
        if dlat * D.GRID_N > 2.0:
            return D.sample_grid_frac(lats, lons, dlat, dlon)
        return D.sample_mask(lats, lons, dlat, dlon)

    def _coast(self, share: np.ndarray, lats, lons, res_m: float, seed: int = 101) -> np.ndarray:
        """Share over 0.5 (bool) per pixel of a mask's share, its edge roughened below 1 km."""
        if res_m >= 1000.0:
            return share > 0.5
        amp = 0.45 * min(1.0, math.log2(1000.0 / res_m) / math.log2(1000.0 / 30.0))
        edge = (share > 0.0) & (share < 1.0)
        if not edge.any():
            return share > 0.5
        n = fbm(lats, lons, self.seed + seed, wavelength_m=1500.0, finest_m=2.0 * res_m)
        return (share + amp * n) > 0.5

    def _lake_level(self, base: np.ndarray, lats, lons, dlat: float, dlon: float) -> np.ndarray:
        """A lake's surface: the lowest data elevation at the pixel and one coarse cell around (flat valleys)."""
        step = COARSE_M / M_PER_DEG
        level = base
        for dy, dx in ((step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step)):
            level = np.minimum(level, D.sample_elevation(lats + dy, lons + dx, dlat, dlon))
        return level

    def _relief(self, sampler, lats, lons) -> np.ndarray:
        """Local relief: RMS difference to the four neighbours one coarse cell away (fixed degree offsets)."""
        step = COARSE_M / M_PER_DEG
        c = sampler(lats, lons)
        acc = np.zeros_like(c)
        for dy, dx in ((step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step)):
            acc += (sampler(lats + dy, lons + dx) - c) ** 2
        return np.sqrt(acc / 4.0)

    # ------------------------------------------------------------------ generation
    def generate(self, region=None, resolution_m: float = 30.0, *, bbox=None, tile=None) -> GeoRaster:
        """Orthophoto + DSM of a (west, south, east, north) box or (z, x, y) tile in EPSG:4326.

        Same lattice and conventions as ProceduralWorld.generate: cells `resolution_m` wide
        at the box centre, ellipsoidal metres of the surface (sea at 0 m), RGB float32 in
        [0, 1] with baked sun shading.

        Args:
            region: a (west, south, east, north) box in degrees or a (z, x, y) key of the global
                tile grid (or pass `bbox=` / `tile=` by name).
            resolution_m: cell size in metres at the region's centre.
            bbox: the box, by name.
            tile: the tile key, by name.

        Returns:
            The GeoRaster (rgb, height, valid, transform, CRS EPSG:4326, ellipsoidal heights).

        Raises:
            InputError: a malformed region or a request over `max_pixels`.
            DependencyError: the `earth` extra (open data packages) is not installed.
        """
        box = resolve_region(region, bbox, tile)
        lat = lattice_for(box, resolution_m, self.max_pixels)
        lats, lons = lat.lats(), lat.lons()
        res = float(resolution_m)
        share = self.land_share(lats, lons, lat.dlat, lat.dlon)
        land = self._coast(share, lats, lons, res)
        lake_share = D.sample_lakes(lats, lons, lat.dlat, lat.dlon) * (share > 0.5)
        lake = self._coast(lake_share, lats, lons, res, seed=303) & land
        wd = detail_weight(lat.res_y_m)

        base = D.sample_elevation(lats, lons, lat.dlat, lat.dlon)
        elev = base
        col_land, col_sea = D.sample_colours(lats, lons, lat.dlat, lat.dlon)
        classes = colour_class(col_land)
        instances = np.zeros(classes.shape, dtype=np.int64)
        if wd > 0.0:  # the detail: height, colour and the classes of its land cover (Blue Marble's where none)
            dh, ratio, detail_cls, detail_inst = self._detail(lats, lons, lat.dlat, lat.dlon)
            elev = elev + wd * dh
            col_land = col_land * (1.0 + wd * (ratio - 1.0))
            has = detail_cls > 0
            classes[has], instances[has] = detail_cls[has], detail_inst[has]

        u, ids = self._builtup(lats, lons, lat.dlat, lat.dlon)
        u *= land & ~lake
        if res < CITY_RES_M:  # the city generator draws each place's streets, blocks and buildings
            col_land = col_land.astype(np.float64)
            roofs = city_layer(lats, lons, lat.dlat, lat.dlon, u.astype(np.float64), col_land,
                               *self._cities(ids), classes, instances).astype(np.float32)  # type: ignore[call-arg]
        else:  # their mean colour (in linear light, as the plans mix it) and height
            u3 = u[..., None]
            col_land = to_srgb(to_linear(col_land) * (1.0 - (1.0 - CITY_KEEP) * u3) + u3 * CITY_LINEAR_RGB)
            roofs = CITY_HEIGHT_M * u
            classes[u > 0.5], instances[u > 0.5] = BUILT, 0
        if res >= 1000.0:
            w_land = np.clip(share, 0.0, 1.0)[..., None]
        else:
            w_land = land[..., None].astype(np.float32)
        w_lake = (np.clip(lake_share, 0.0, 1.0) if res >= 1000.0 else lake)[..., None] * w_land
        col_land = col_land * (1.0 - w_lake) + LAKE_RGB * w_lake
        rgb = np.clip(col_land * w_land + col_sea * (1.0 - w_land), 0.0, 1.0).astype(np.float32)
        ground = np.maximum(self._lake_level(base, lats, lons, lat.dlat, lat.dlon), 0.5) if lake.any() else base
        height = np.where(land, np.where(lake, ground, np.maximum(elev, 0.5) + roofs), 0.0).astype(np.float32)
        water = (w_land[..., 0] < 0.5) | (w_lake[..., 0] >= 0.5)
        classes[water], instances[water] = WATER, 0
        transform = Affine(lat.dlon, 0.0, lat.west, 0.0, -lat.dlat, lat.north)
        return GeoRaster(rgb=rgb, height=height, valid=np.ones(height.shape, dtype=bool), transform=transform,
                         crs=CRS.from_epsg(4326), vertical_datum="ellipsoid",
                         source=f"EarthWorld(seed={self.seed}) {resolution_m} m/px", classes=classes,
                         instances=instances)

    def _detail(self, lats, lons, dlat: float, dlon: float):
        """Procedural height detail (m), colour ratio, class and instance per pixel, from shifted copies of the world.

        Each pixel takes its detail from the copies that look most like Earth there
        (_copy_weights: land, Blue Marble's colour, the real local relief), so forest texture
        lies under forest, fields under farmland belts and dunes under deserts; a copy with no
        weight in the tile is not generated. The weights depend on position only, so tiles stay
        seamless. The class is the class of the copy with the most weight (0 where none).
        """
        real_relief = self._relief(lambda a, b: D.sample_elevation(a, b, dlat, dlon), lats, lons)
        dh = np.zeros(lats.shape + lons.shape)
        ratio = np.zeros(dh.shape + (3,))
        classes = np.zeros(dh.shape, dtype=np.uint8)
        instances = np.zeros(dh.shape, dtype=np.int64)
        best = np.zeros(dh.shape)
        used = np.zeros(dh.shape)
        weights = self._copy_weights(lats, lons)
        # small windows where copies change within a tile (coarse pixels), few calls where they do not
        step = DETAIL_WINDOW if dlat * M_PER_DEG >= 100.0 else 8 * DETAIL_WINDOW
        h, w_ = dh.shape
        for shift, coarse_all, relief_all, weight in weights:
            # a copy is drawn only on the windows where it has weight (a cell does not depend on its tile)
            for r0 in range(0, h, step):
                for c0 in range(0, w_, step):
                    win = (slice(r0, min(r0 + step, h)), slice(c0, min(c0 + step, w_)))
                    w = weight[win]
                    if not w.any():
                        continue
                    rgb, height, cls, inst = self.procedural.cells(lons[win[1]] + shift, lats[win[0]], dlon, dlat)
                    w = w * np.clip(height / COPY_LAND_M, 0.0, 1.0)  # none of a copy's sea or shore
                    used[win] += w
                    coarse = coarse_all[win]
                    gain = np.clip((real_relief[win] + 15.0) / (relief_all[win] + 15.0), 0.1, 3.0)
                    dh[win] += w * gain * (height - coarse[..., 0])
                    ratio[win] += w[..., None] * np.clip(rgb / np.maximum(coarse[..., 1:], 0.02), 0.6, 1.6)
                    top = w > best[win]
                    classes[win][top], instances[win][top], best[win][top] = cls[top], inst[top], w[top]
        return dh, ratio + (1.0 - used)[..., None], classes, instances

    def _copy_weights(self, lats, lons):
        """[(shift, reference field (REFERENCE_M cells), local relief, weight)] of the copies with weight in the tile.

        Copies are chosen on a global lattice of nodes DETAIL_MATCH_DEG apart: a copy's score at
        a node is its inland share (`_inland`: 8 km height from 50 to 200 m) times exp(-d^2), d the distance
        between its 8 km colour and Blue Marble's colour over the node's cell in log RGB
        (DETAIL_COLOUR_LOG units) and, half as strongly, between the logs of their local reliefs;
        the best copy takes the node. The shares are bilinear between nodes (so copies change over tens of
        kilometres, as land cover does, and tiles stay seamless) and multiplied by the copy's own
        inland share at the pixel; `_detail` multiplies them by the copy's land at the pixel
        (COPY_LAND_M), so no detail comes from a copy's sea or shore.
        """
        q = DETAIL_MATCH_DEG
        j0, j1 = math.floor(lats.min() / q) - 1, math.ceil(lats.max() / q) + 1
        i0, i1 = math.floor(lons.min() / q) - 1, math.ceil(lons.max() / q) + 1
        nlat, nlon = np.clip(np.arange(j1, j0 - 1, -1) * q, -89.9, 89.9), np.arange(i0, i1 + 1) * q
        target = np.log(D.sample_colours(nlat, nlon, q, q)[0].astype(np.float64) + 0.02)
        real = self._relief(lambda a, b: D.sample_elevation(a, b, q, q), nlat, nlon)
        scores = []
        inland_first = 0.0
        for k, shift in enumerate(SHIFTS):
            if k == DETAIL_CANDIDATES and (inland_first > 0.0).all():
                break  # every node has an inland copy among the first ones: no fallback needed
            coarse = self._coarse.sample(nlat, nlon + shift).astype(np.float64)
            land = _inland(coarse[..., 0])
            relief = self._relief(lambda a, b, s=shift: self._coarse.sample(a, b + s)[..., 0], nlat, nlon)
            dc = np.linalg.norm(np.log(coarse[..., 1:] + 0.02) - target, axis=-1) / DETAIL_COLOUR_LOG
            dr = 0.5 * np.log((real + 15.0) / (relief + 15.0)) / DETAIL_COLOUR_LOG
            if k < DETAIL_CANDIDATES:
                inland_first = np.maximum(inland_first, land)
                scores.append(land * np.exp(-(dc * dc + dr * dr)))
            else:  # the later copies are fallbacks, for the nodes where none of the first is inland
                scores.append(land * np.exp(-(dc * dc + dr * dr)) * (inland_first <= 0.0))
        best = np.argmax(scores, axis=0)
        shares = [(best == k).astype(np.float64) for k in range(len(scores))]
        # bilinear weights of the pixels between nodes (rows: latitude descending)
        fy = (nlat[0] - lats) / q
        fx = (lons - nlon[0]) / q
        ry, rx = np.floor(fy).astype(np.int64), np.floor(fx).astype(np.int64)
        ty, tx = (fy - ry)[:, None], (fx - rx)[None, :]
        out = []
        for shift, share in zip(SHIFTS, shares, strict=False):
            if share.max() <= 0.0:
                continue
            a, b = share[ry][:, rx], share[ry][:, rx + 1]
            c, d = share[ry + 1][:, rx], share[ry + 1][:, rx + 1]
            w = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty
            if w.max() <= 0.0:
                continue
            coarse = self._coarse.sample(lats, lons + shift)
            w = w * _inland(coarse[..., 0])
            if w.max() <= 0.0:
                continue
            relief = self._relief(lambda a, b, s=shift: self._coarse.sample(a, b + s)[..., 0], lats, lons)
            out.append((shift, self._reference.sample(lats, lons + shift), relief, w))
        return out

    def streets(self, bbox) -> list[Street]:
        """Street centrelines of the real places reaching into a (west, south, east, north) box.

        The plans the rasters draw at pixels finer than 400 m (city.city_street_graph of each
        place's city seed, centred on its GeoNames position): arterial, local and path streets
        whose midpoint lies within the place's nominal built-up radius and nearer (in units of
        radius) to it than to any other place. Longitudes are continuous with the box's.

        Args:
            bbox: (west, south, east, north) in degrees.

        Returns:
            Street centrelines (earth3d.synth.roads.Street), one segment each.

        Example:
            >>> from earth3d.synth import EarthWorld, place
            >>> lon, lat = place("Chicago")
            >>> grid = EarthWorld(0).streets((lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01))
        """
        from ..city_graph import city_street_graph
        from ..grid import check_bbox

        west, south, east, north = check_bbox(bbox)
        ids = self._near(np.array([north, south]), np.array([west, east]), 0.0, 0.0)
        clon, clat, crad, _, cseed = self._cities(ids)
        clon = clon + np.round((0.5 * (west + east) - clon) / 360.0) * 360.0  # next to the box
        names = ("arterial", "local", "path")
        out: list[Street] = []
        for c in range(len(ids)):
            coslat = math.cos(math.radians(clat[c]))
            # as far as the box's farthest corner, at most the nominal radius
            dx = max(abs(west - clon[c]), abs(east - clon[c])) * M_PER_DEG * coslat
            dy = max(abs(south - clat[c]), abs(north - clat[c])) * M_PER_DEG
            reach = min(math.hypot(dx, dy), crad[c])
            nx = max(west - clon[c], 0.0, clon[c] - east) * M_PER_DEG * coslat
            ny = max(south - clat[c], 0.0, clat[c] - north) * M_PER_DEG
            if reach < 1.0 or math.hypot(nx, ny) > crad[c]:  # its disc does not reach the box
                continue
            nodes, edges, cls = city_street_graph(cseed[c], reach)
            lon = clon[c] + nodes[:, 0] / (M_PER_DEG * coslat)
            lat = clat[c] + nodes[:, 1] / M_PER_DEG
            mlon, mlat = lon[edges].mean(axis=1), lat[edges].mean(axis=1)
            q = np.stack([np.hypot((mlon - clon[k]) * M_PER_DEG * math.cos(math.radians(clat[k])),
                                   (mlat - clat[k]) * M_PER_DEG) / max(crad[k], 1.0) for k in range(len(ids))])
            keep = (q.argmin(axis=0) == c) & (q[c] <= 1.0) & (mlon >= west) & (mlon <= east) & (mlat >= south) \
                & (mlat <= north)
            for (a, b), k in zip(edges[keep], cls[keep], strict=True):
                out.append(Street(np.array([[lon[a], lat[a]], [lon[b], lat[b]]]), names[int(k)]))
        return out

    def _cities(self, ids: np.ndarray):
        """Per GeoNames place of `ids`: centre lon, lat (degrees), radius (m), centre density, city seed."""
        p = D.places()
        seed = np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF)
        seeds = [city_seed(int(k), str(p["country"][k]) in GRIDDED_COUNTRIES, seed) for k in ids]
        return (p["lon"][ids], p["lat"][ids], radius_m(p["pop"][ids]), centre_density(p["pop"][ids]),
                np.array(seeds, dtype=np.uint64))

    def _builtup(self, lats, lons, dlat, dlon) -> tuple[np.ndarray, np.ndarray]:
        """Built-up share per pixel, and the GeoNames indices of the places that may reach the lattice (`_near`)."""
        p = D.places()
        ids = self._near(lats, lons, dlat, dlon)
        pix = math.sqrt(dlat * dlon * math.cos(math.radians(float(np.mean(lats))))) * M_PER_DEG
        fray = fbm(lats, lons, self.seed + 505, FRAY_WAVE_M, pix) if ids.size else np.zeros((lats.size, lons.size))
        share = builtup(lats, lons, dlat, dlon, p["lon"][ids], p["lat"][ids], radius_m(p["pop"][ids]),
                        ids.astype(np.int64), np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF), fray).astype(np.float32)
        return share, ids

    def _near(self, lats, lons, dlat, dlon) -> np.ndarray:
        """GeoNames indices of the inhabited places whose built-up area may reach the lattice lats x lons."""
        p = D.places()
        r = radius_m(p["pop"])
        margin = REACH * r.max() / M_PER_DEG + dlat
        s, n = lats.min() - dlat - margin, lats.max() + dlat + margin
        west, east = lons.min() - dlon, lons.max() + dlon
        coslat = max(math.cos(math.radians(min(abs(s), abs(n), 89.0) if s * n > 0 else 0.0)), 0.05)
        m_lon = margin / coslat
        dl = (p["lon"] - 0.5 * (west + east) + 180.0) % 360.0 - 180.0
        sel = (p["lat"] >= s) & (p["lat"] <= n) & (np.abs(dl) <= 0.5 * (east - west) + m_lon)
        # each place within its own reach: its frayed, lobed disc reaches REACH radii (builtup.builtup)
        m = REACH * r / M_PER_DEG + 2 * dlat
        sel &= (p["lat"] >= lats.min() - m) & (p["lat"] <= lats.max() + m)
        sel &= (np.abs(dl) <= 0.5 * (east - west) + m / coslat) & (p["pop"] > 0)
        return np.nonzero(sel)[0]
